"""`kyso-agent sign-cms` / `verify-cms` round trips on the demo SoftHSM2 token."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from tests.conftest import pin_asks

from .test_cms import openssl_verify

CONTENT = "Tờ khai TK1-TS — Nguyễn Văn An, mức lương 8.500.000 đồng\n".encode()


@pytest.fixture
def files(tmp_path: Path, demo: dict[str, Any]) -> dict[str, Path]:
    doc = tmp_path / "tokhai.xml"
    doc.write_bytes(CONTENT)
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    bad_pin = tmp_path / "bad-pin.txt"
    bad_pin.write_text("000000\n")
    return {"doc": doc, "pin": pin, "bad_pin": bad_pin}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr().out
    try:
        return code, json.loads(out)
    except ValueError:
        return code, out


def _org(demo: dict[str, Any]) -> str:
    return demo["certificates"]["org"]["thumbprint"][:16]


def _trust_args(demo: dict[str, Any]) -> list[str]:
    return [
        "--trust",
        demo["ca"]["chain"],
        "--crl",
        demo["ca"]["crl"],
        "--crl",
        demo["ca"]["root_crl"],
    ]


def test_detached_round_trip_and_no_overwrite(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    openssl: str,
    tmp_path: Path,
) -> None:
    doc, pin = files["doc"], files["pin"]
    code, out = _run(
        capsys, "sign-cms", str(doc), "--cert", _org(demo), "--pin-file", str(pin), "--json"
    )
    assert code == 0, out
    sig_path = Path(str(doc) + ".p7s")
    assert out["output"] == str(sig_path) and out["signer"]["mst"] == "0101234567"
    first = sig_path.read_bytes()
    assert doc.read_bytes() == CONTENT  # the signed file itself is never touched

    code, out = _run(
        capsys, "verify-cms", str(sig_path), "--data", str(doc), *_trust_args(demo), "--json"
    )
    assert code == 0 and out["ok"] and out["detached"] and out["signer"]["mst"] == "0101234567"
    assert openssl_verify(openssl, demo, first, tmp_path, CONTENT).returncode == 0

    code, out = _run(
        capsys, "sign-cms", str(doc), "--cert", _org(demo), "--pin-file", str(pin), "--json"
    )
    assert code == 2 and out["error"]["code"] == "OUTPUT_EXISTS"
    assert sig_path.read_bytes() == first
    sig_path.write_bytes(b"stale")
    code, out = _run(
        capsys,
        "sign-cms",
        str(doc),
        "--cert",
        _org(demo),
        "--pin-file",
        str(pin),
        "--force",
        "--json",
    )
    assert code == 0 and sig_path.read_bytes() != b"stale"
    assert openssl_verify(openssl, demo, sig_path.read_bytes(), tmp_path, CONTENT).returncode == 0


def test_attached_with_extract(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    out_path = tmp_path / "signed.p7m"
    ec = demo["certificates"]["ec"]["thumbprint"]
    code, _ = _run(
        capsys,
        "sign-cms",
        str(files["doc"]),
        "--attached",
        "-o",
        str(out_path),
        "--cert",
        ec,
        "--pin-file",
        str(files["pin"]),
    )
    assert code == 0
    extracted = tmp_path / "extracted.xml"
    code, text = _run(
        capsys, "verify-cms", str(out_path), *_trust_args(demo), "--extract", str(extracted)
    )
    assert code == 0 and "8012345678" in text
    assert extracted.read_bytes() == CONTENT


def test_hash_only(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    digest = hashlib.sha384(CONTENT).hexdigest()
    out_path = tmp_path / "digest.p7s"
    code, out = _run(
        capsys,
        "sign-cms",
        "--hash-only",
        digest,
        "-o",
        str(out_path),
        "--cert",
        _org(demo),
        "--pin-file",
        str(files["pin"]),
        "--json",
    )
    assert code == 0 and out["hash"] == "sha384"
    code, out = _run(
        capsys,
        "verify-cms",
        str(out_path),
        "--data",
        str(files["doc"]),
        *_trust_args(demo),
        "--json",
    )
    assert code == 0 and out["digest_algorithm"] == "sha384"
    # A digest that is not the file's is refused before any PIN is asked.
    code, out = _run(
        capsys,
        "sign-cms",
        str(files["doc"]),
        "--hash-only",
        "00" * 32,
        "--cert",
        _org(demo),
        "--pin-file",
        str(files["pin"]),
        "--json",
    )
    assert code == 2 and out["error"]["code"] == "INPUT_INVALID"


def test_tampered_file_fails_verification(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = files["doc"]
    assert (
        _run(capsys, "sign-cms", str(doc), "--cert", _org(demo), "--pin-file", str(files["pin"]))[0]
        == 0
    )
    doc.write_bytes(CONTENT.replace(b"8.500.000", b"9.500.000"))
    code, out = _run(
        capsys, "verify-cms", str(doc) + ".p7s", "--data", str(doc), *_trust_args(demo), "--json"
    )
    assert code == 2 and out["error"]["code"] == "SIGNATURE_INVALID"
    code, out = _run(capsys, "verify-cms", str(doc) + ".p7s", *_trust_args(demo), "--json")
    assert code == 2 and out["error"]["code"] == "CMS_DATA_MISSING"


def test_certificate_choice_and_wrong_pin_leave_nothing_behind(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = files["doc"]
    code, out = _run(capsys, "sign-cms", str(doc), "--pin-file", str(files["pin"]), "--json")
    assert code == 2 and out["error"]["code"] == "CERT_CHOICE_NEEDED"
    code, out = _run(
        capsys,
        "sign-cms",
        str(doc),
        "--cert",
        _org(demo),
        "--pin-file",
        str(files["bad_pin"]),
        "--json",
    )
    assert code == 2 and out["error"]["code"] == "PIN_INCORRECT"
    assert not Path(str(doc) + ".p7s").exists()
    # The second token holds exactly one usable certificate: no --cert needed there.
    token2 = doc.parent / "pin2.txt"
    token2.write_text("654321")
    code, out = _run(
        capsys, "sign-cms", str(doc), "--token", "KYSO DEMO 2", "--pin-file", str(token2), "--json"
    )
    assert (
        code == 0
        and out["signer"]["thumbprint"] == demo["certificates"]["org_renewed"]["thumbprint"]
    )


def test_pin_from_environment_and_terminal(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("KYSO_PIN_FILE", str(files["pin"]))
    code, _ = _run(
        capsys, "sign-cms", str(files["doc"]), "-o", str(tmp_path / "a.p7s"), "--cert", _org(demo)
    )
    assert code == 0
    monkeypatch.delenv("KYSO_PIN_FILE")
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return "123456"

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    code, _ = _run(
        capsys, "sign-cms", str(files["doc"]), "-o", str(tmp_path / "b.p7s"), "--cert", _org(demo)
    )
    assert code == 0 and len(prompts) == 1 and "KYSO DEMO 1" in prompts[0]


def test_verify_needs_trust_and_reads_pem(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    openssl: str,
    tmp_path: Path,
) -> None:
    sig = tmp_path / "s.p7s"
    assert (
        _run(
            capsys,
            "sign-cms",
            str(files["doc"]),
            "-o",
            str(sig),
            "--cert",
            _org(demo),
            "--pin-file",
            str(files["pin"]),
        )[0]
        == 0
    )
    code, out = _run(capsys, "verify-cms", str(sig), "--data", str(files["doc"]), "--json")
    assert code == 2 and out["error"]["code"] == "INPUT_INVALID"
    pem_sig = tmp_path / "s.pem"
    subprocess.run(
        [
            openssl,
            "cms",
            "-cmsout",
            "-inform",
            "DER",
            "-in",
            str(sig),
            "-outform",
            "PEM",
            "-out",
            str(pem_sig),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    code, out = _run(
        capsys,
        "verify-cms",
        str(pem_sig),
        "--data",
        str(files["doc"]),
        *_trust_args(demo),
        "--json",
    )
    assert code == 0 and out["ok"]


@pytest.mark.parametrize(
    ("attached", "link"), [(False, "same"), (True, "same"), (False, "hardlink")]
)
def test_the_signature_never_replaces_the_signed_file_even_with_force(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    attached: bool,
    link: str,
) -> None:
    """sign-cms tokhai.xml -o tokhai.xml --force used to replace the declaration with its
    detached signature: the declaration was gone."""
    asked = pin_asks(monkeypatch)
    doc = files["doc"]
    out = doc
    if link == "hardlink":
        out = doc.with_name("lien-ket.xml")
        os.link(doc, out)
    code, report = _run(
        capsys,
        "sign-cms",
        str(doc),
        *(["--attached"] if attached else []),
        "-o",
        str(out),
        "--force",
        "--cert",
        _org(demo),
        "--pin-file",
        str(files["pin"]),
        "--json",
    )
    assert code == 2 and report["error"]["code"] == "INPUT_INVALID", report
    assert "replace the original" in report["error"]["details"]["detail"]
    assert asked == [] and doc.read_bytes() == CONTENT and out.read_bytes() == CONTENT


def test_extract_never_replaces_the_signature(
    demo: dict[str, Any], files: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    p7m = tmp_path / "tokhai.p7m"
    pin = ["--pin-file", str(files["pin"]), "--cert", _org(demo)]
    code, _ = _run(capsys, "sign-cms", str(files["doc"]), "--attached", "-o", str(p7m), *pin)
    assert code == 0
    signature = p7m.read_bytes()
    code, report = _run(
        capsys,
        "verify-cms",
        str(p7m),
        *_trust_args(demo),
        "--extract",
        str(p7m),
        "--force",
        "--json",
    )
    assert code == 2 and report["error"]["code"] == "INPUT_INVALID", report
    assert p7m.read_bytes() == signature


@pytest.mark.parametrize(
    ("mode", "mask", "expected"), [(0o600, 0o022, 0o600), (0o644, 0o077, 0o600)]
)
def test_the_signature_gets_the_files_permissions_limited_by_the_umask(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    mode: int,
    mask: int,
    expected: int,
) -> None:
    files["doc"].chmod(mode)
    pin = ["--pin-file", str(files["pin"]), "--cert", _org(demo), "--json"]
    old = os.umask(mask)
    try:
        code, report = _run(capsys, "sign-cms", str(files["doc"]), "--attached", *pin)
        assert code == 0, report
        code, _ = _run(
            capsys,
            "verify-cms",
            report["output"],
            *_trust_args(demo),
            "--extract",
            str(tmp_path / "extracted.xml"),
        )
    finally:
        os.umask(old)
    assert code == 0
    assert stat.S_IMODE(Path(report["output"]).stat().st_mode) == expected
    # The content taken out of the signature is as private as the signature.
    assert stat.S_IMODE((tmp_path / "extracted.xml").stat().st_mode) == expected
