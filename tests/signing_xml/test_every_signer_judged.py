"""Interop 39 F1: verify-xml said VALID, naming one signer, for a file holding a second
signature whose certificate is expired or revoked (or unknown): only the first signature's
certificate was judged, the others only for their digest and value. Every signer is judged now,
and the others are reported (``other_signatures``).

Two signatures over one part are normal where a second party signs (a tax return signed by
the taxpayer and by a tax agent, both referencing ``#ID_1``; an e-invoice signed by seller and
buyer). xmlsec1 with the demo CA as trust anchor refuses the second signature ("certificate has
expired"); Kyso's CMS verifier refuses a SignedData with two signers outright, and its PDF
verifier (docs/portal-api.md, E418) wants every signature made with a trusted, valid, unrevoked
certificate. verify-xml instead prints VALID with the first signer only.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main

TAX = """<?xml version="1.0" encoding="utf-8"?>
<HSoThueDTu xmlns="http://kekhaithue.gdt.gov.vn/TKhaiThue">
  <HSoKhaiThue id="ID_1">
    <TTinChung><MST>0101234567</MST><TenNNT>Công ty TNHH Kyso</TenNNT></TTinChung>
  </HSoKhaiThue>
  <CKyDTu/>
</HSoThueDTu>
"""
SIGNATURE = re.compile(rb"<Signature .*?</Signature>", re.S)


def _sign(src: Path, out: Path, thumbprint: str, pin: Path, *extra: str) -> None:
    code = main(
        ["sign-xml", str(src), "--profile", "tax", "--cert", thumbprint, "--pin-file", str(pin),
         "-o", str(out), "--force", "--json", *extra]
    )  # fmt: skip
    assert code == 0, out


def _two_signers(demo: dict[str, Any], tmp_path: Path, second: str) -> Path:
    """The taxpayer's (org) signature first, then ``second``'s over the same #ID_1."""
    src = tmp_path / "tokhai.xml"
    src.write_text(TAX, encoding="utf-8")
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    certs = demo["certificates"]
    _sign(src, tmp_path / "a.xml", certs["org"]["thumbprint"], pin)
    _sign(src, tmp_path / "b.xml", certs[second]["thumbprint"], pin, "--allow-invalid-certificate")
    first = (tmp_path / "a.xml").read_bytes()
    other = SIGNATURE.search((tmp_path / "b.xml").read_bytes())
    assert other is not None
    end = first.index(b"</CKyDTu>")
    both = tmp_path / f"two-signers-{second}.xml"
    both.write_bytes(first[:end] + other.group(0) + first[end:])
    return both


def _verify_xml(demo: dict[str, Any], path: Path, capsys: pytest.CaptureFixture[str]):
    ca = demo["ca"]
    capsys.readouterr()
    code = main(
        ["verify-xml", str(path), "--trust", ca["root"], "--trust", ca["issuing"],
         "--crl", ca["crl"], "--crl", ca["root_crl"], "--json"]
    )  # fmt: skip
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("second", ["expired", "revoked"])
def test_verify_xml_judges_every_signers_certificate(
    demo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], second: str
) -> None:
    both = _two_signers(demo, tmp_path, second)
    code, report = _verify_xml(demo, both, capsys)
    assert code != 0 and report.get("ok") is False, (
        f"verify-xml calls a file VALID whose second signature was made with the {second} "
        f"certificate: {json.dumps(report, ensure_ascii=False)[:600]}"
    )


def test_xmlsec1_refuses_the_expired_second_signature(demo: dict[str, Any], tmp_path: Path) -> None:
    """The independent verdict the test above is compared with."""
    assert shutil.which("xmlsec1"), "xmlsec1 is installed by ./run.sh setup (xmlsec1 package)"
    both = _two_signers(demo, tmp_path, "expired")
    ca = demo["ca"]
    verdicts = []
    for n in (1, 2):
        proc = subprocess.run(
            ["xmlsec1", "--verify", "--trusted-pem", ca["root"], "--untrusted-pem", ca["issuing"],
             "--id-attr:id", "http://kekhaithue.gdt.gov.vn/TKhaiThue:HSoKhaiThue",
             "--node-xpath", f"(//*[local-name()='Signature'])[{n}]", str(both)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        verdicts.append((proc.returncode, proc.stderr))
    assert verdicts[0][0] == 0, verdicts[0][1]
    assert verdicts[1][0] != 0 and "certificate has expired" in verdicts[1][1], verdicts[1][1]


NESTED = """<?xml version="1.0" encoding="utf-8"?>
<ThongBao>
  <VanBan Id="vb1"><TieuDe>Quyết định phê duyệt</TieuDe></VanBan>
  <ChuKyVB/>
  <NoiDung><TenDonVi>Công ty TNHH Kyso</TenDonVi><MaSoThue>0101234567</MaSoThue></NoiDung>
  <ChuKyDV/>
</ThongBao>
"""


def test_verify_xml_reports_the_whole_document_signature_kyso_just_made(
    demo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A person signs one part (#vb1, generic --reference), then the company signs the whole
    file with Kyso (generic, URI=""; Kyso allows it: the first signature does not cover the
    new container). verify-xml looked only at the first signature in document order:

    * without --profile: NOT VALID, XML_SIGNATURE_PARTIAL "The signature covers only the
      <VanBan> element (#vb1), not the whole file", although the company's signature covers
      the whole file and every verifier accepts it;
    * with --profile generic: VALID, signer "Nguyễn Thị Hồng Nhung", references ['#vb1'];
      the company's whole-file signature was not mentioned at all.
    """
    src = tmp_path / "thongbao.xml"
    src.write_text(NESTED, encoding="utf-8")
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    certs = demo["certificates"]
    step1, step2 = tmp_path / "s1.xml", tmp_path / "s2.xml"
    for args in (
        [str(src), "--reference", "#vb1", "--container", "ChuKyVB",
         "--cert", certs["personal"]["thumbprint"], "-o", str(step1)],
        [str(step1), "--container", "ChuKyDV", "--cert", certs["org"]["thumbprint"],
         "-o", str(step2)],
    ):  # fmt: skip
        code = main(["sign-xml", *args, "--profile", "generic", "--pin-file", str(pin), "--json"])
        assert code == 0
    org = certs["org"]["thumbprint"]
    ca = demo["ca"]
    seen = []
    for extra in ([], ["--profile", "generic"]):
        capsys.readouterr()
        main(
            ["verify-xml", str(step2), *extra, "--trust", ca["root"], "--trust", ca["issuing"],
             "--crl", ca["crl"], "--crl", ca["root_crl"], "--json"]
        )  # fmt: skip
        out = capsys.readouterr().out
        seen.append((extra, org in out, json.loads(out)))
    bad = [
        f"verify-xml {' '.join(extra) or '(no --profile)'}: "
        + json.dumps(
            {k: report.get(k) for k in ("ok", "error", "references", "signature_id")}
            | {"signer": (report.get("signer") or {}).get("subject_display")},
            ensure_ascii=False,
        )[:400]
        for extra, mentions_org, report in seen
        if not (report.get("ok") and mentions_org)
    ]
    assert not bad, "the company's whole-file signature is not what verify-xml judges:\n" + (
        "\n".join(bad)
    )
