"""`kyso-agent sign-pdf` / `verify-pdf` on the demo SoftHSM2 token: the no-loss rules and levels."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from tests.conftest import pin_asks
from tests.signing_pdf.conftest import make_pdf, pdfsig


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    doc = tmp_path / "hopdong.pdf"
    doc.write_bytes(make_pdf(2))
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    return {"doc": doc, "pin": pin}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    try:
        return code, json.loads(captured.out)
    except ValueError:
        return code, captured.out + captured.err


def _trust(demo: dict[str, Any]) -> list[str]:
    return [
        "--trust",
        demo["ca"]["chain"],
        "--crl",
        demo["ca"]["crl"],
        "--crl",
        demo["ca"]["root_crl"],
    ]


def test_sign_verify_and_never_overwrite(demo, files, capsys) -> None:
    org = demo["certificates"]["org"]["thumbprint"]
    args = ["sign-pdf", str(files["doc"]), "--cert", org, "--pin-file", str(files["pin"])]
    code, report = _run(capsys, *args, "--page", "1", "--box", "330,60,560,135", "--json")
    assert code == 0, report
    out = Path(report["output"])
    assert out.name == "hopdong_signed.pdf" and report["visible"]
    assert report["level"] == "PAdES-B-B"
    assert "Signature is Valid" in pdfsig(out)
    # A second run does not overwrite: the signed file stays byte for byte.
    before = out.read_bytes()
    code, text = _run(capsys, *args)
    assert code != 0 and "OUTPUT_EXISTS" in str(text)
    assert out.read_bytes() == before
    code, verified = _run(capsys, "verify-pdf", str(out), *_trust(demo), "--json")
    assert code == 0 and verified["ok"], verified
    assert verified["signatures"][0]["mst"] == "0101234567"
    code, text = _run(capsys, "verify-pdf", str(out), *_trust(demo))
    assert "giờ Việt Nam" in text and "PAdES-B-B" in text


def test_remove_unsigned_only_after_a_verified_copy(demo, files, capsys, tsa) -> None:
    org = demo["certificates"]["org"]["thumbprint"]
    code, report = _run(
        capsys,
        "sign-pdf",
        str(files["doc"]),
        "--cert",
        org,
        "--pin-file",
        str(files["pin"]),
        "--tsa",
        tsa.url,
        "--remove-unsigned",
        "--json",
    )
    assert code == 0, report
    assert report["removed_unsigned"] and not files["doc"].exists()
    assert report["level"] == "PAdES-B-T"
    assert "Signature is Valid" in pdfsig(Path(report["output"]))


def test_a_wrong_pin_loses_nothing(demo, files, capsys, tmp_path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("000000\n")
    org = demo["certificates"]["org"]["thumbprint"]
    original = files["doc"].read_bytes()
    code, text = _run(
        capsys,
        "sign-pdf",
        str(files["doc"]),
        "--cert",
        org,
        "--pin-file",
        str(bad),
        "--remove-unsigned",
    )
    assert code != 0 and "PIN_INCORRECT" in str(text)
    assert files["doc"].read_bytes() == original
    assert not (tmp_path / "hopdong_signed.pdf").exists()


def test_an_encrypted_or_broken_pdf_is_refused_before_the_pin(demo, capsys, tmp_path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nnot really\n%%EOF\n")
    code, text = _run(capsys, "sign-pdf", str(broken), "--pin-file", "/nonexistent")
    assert code != 0 and "PDF_MALFORMED" in str(text)


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
def test_the_output_is_never_the_original_even_with_force(
    demo, files, capsys, monkeypatch, link
) -> None:
    asked = pin_asks(monkeypatch)
    doc = files["doc"]
    out = doc if link == "same" else doc.with_name("lien-ket.pdf")
    if link == "symlink":
        out.symlink_to(doc)
    elif link == "hardlink":
        os.link(doc, out)
    original = doc.read_bytes()
    org = demo["certificates"]["org"]["thumbprint"]
    code, report = _run(
        capsys,
        "sign-pdf",
        str(doc),
        "-o",
        str(out),
        "--force",
        "--remove-unsigned",
        "--cert",
        org,
        "--pin-file",
        str(files["pin"]),
        "--json",
    )
    assert code == 2 and report["error"]["code"] == "INPUT_INVALID", report
    assert "replace the original" in report["error"]["details"]["detail"]
    assert asked == [] and doc.read_bytes() == original and out.read_bytes() == original


@pytest.mark.parametrize(
    ("mode", "mask", "expected"), [(0o600, 0o022, 0o600), (0o644, 0o077, 0o600)]
)
def test_the_signed_pdf_gets_the_originals_permissions_limited_by_the_umask(
    demo, files, capsys, mode, mask, expected
) -> None:
    files["doc"].chmod(mode)
    org = demo["certificates"]["org"]["thumbprint"]
    old = os.umask(mask)
    try:
        code, report = _run(
            capsys,
            "sign-pdf",
            str(files["doc"]),
            "--cert",
            org,
            "--pin-file",
            str(files["pin"]),
            "--json",
        )
    finally:
        os.umask(old)
    assert code == 0, report
    assert stat.S_IMODE(Path(report["output"]).stat().st_mode) == expected


def test_verify_pdf_says_what_is_wrong_and_what_to_do(demo, files, capsys) -> None:
    """Without the CRL, hard-fail revocation cannot validate the chain: verify-pdf printed
    pyHanko's "AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE" alone. Now a sentence in
    both languages and the next step (--crl, or --no-revocation), in text and in --json."""
    org = demo["certificates"]["org"]["thumbprint"]
    args = ["sign-pdf", str(files["doc"]), "--cert", org, "--pin-file", str(files["pin"])]
    code, report = _run(capsys, *args, "--json")
    assert code == 0, report
    no_crl = ["verify-pdf", report["output"], "--trust", demo["ca"]["chain"]]
    code, verified = _run(capsys, *no_crl, "--json")
    assert code == 2 and not verified["ok"]
    signature = verified["signatures"][0]
    assert "--crl" in signature["action_en"] and "--crl" in signature["action_vi"]
    assert "CERTIFICATE_CHAIN_GENERAL_FAILURE" in signature["problem"]
    assert "thu hồi" in signature["problem_vi"]
    code, text = _run(capsys, *no_crl)
    assert code == 2 and "Vấn đề: " in text and "→ Give the CA's revocation list" in text


def test_every_trust_indication_has_words_and_a_next_step() -> None:
    from pyhanko.sign.ades.report import AdESIndeterminate

    from agent.signing.pdf.problems import trust_problem

    for indication in AdESIndeterminate:
        for timestamp in (False, True):
            problem = trust_problem(indication, timestamp=timestamp)
            assert indication.name in problem.en
            assert problem.vi and problem.action_en and problem.action_vi
    unknown = trust_problem("SOMETHING_NEW")
    assert "SOMETHING_NEW" in unknown.en and "-v" in unknown.action_en
