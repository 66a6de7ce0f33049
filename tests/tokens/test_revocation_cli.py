"""The CLI checks the certificate before the PIN: ``sign-xml`` and ``sign-cms`` refuse a revoked,
expired, not yet valid or non-signing certificate unless ``--allow-invalid-certificate``;
``doctor`` and ``certs --json`` show each certificate's revocation status. Revocation answers
come from the demo's real ``openssl ocsp`` responder on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from agent.demo.responder import DemoResponder
from tests.conftest import cert_thumbprint, pin_asks
from tests.pki_responder import clear_status_cache
from tests.signing_xml.helpers import HOSO, PIN


@pytest.fixture(autouse=True)
def fresh_cache(demo: dict[str, Any]) -> None:
    """Each test starts as a machine that never asked (the cache lives under the state root)."""
    clear_status_cache()


@pytest.fixture
def responder(demo: dict[str, Any]) -> Iterator[DemoResponder]:
    """The demo's OCSP + CRL responder on the loopback port its certificates name."""
    with DemoResponder(demo) as running:
        yield running


@pytest.fixture
def pins_asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Token labels the PIN was asked for (--pin-file goes through StaticPinProvider)."""
    return pin_asks(monkeypatch)


@pytest.fixture
def work(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "pin").write_text(PIN + "\n")
    (tmp_path / "hoso.xml").write_bytes(HOSO)
    return {"pin": tmp_path / "pin", "xml": tmp_path / "hoso.xml", "dir": tmp_path}


def _sign_xml(demo: dict[str, Any], work: dict[str, Path], name: str, *extra: str) -> int:
    return main(
        [
            "sign-xml",
            str(work["xml"]),
            "--cert",
            cert_thumbprint(demo, name),
            "--pin-file",
            str(work["pin"]),
            "--json",
            *extra,
        ]
    )


def _sign_cms(demo: dict[str, Any], work: dict[str, Path], name: str, *extra: str) -> int:
    return main(
        [
            "sign-cms",
            str(work["xml"]),
            "--cert",
            cert_thumbprint(demo, name),
            "--pin-file",
            str(work["pin"]),
            "--json",
            *extra,
        ]
    )


def test_sign_xml_refuses_a_revoked_certificate_before_the_pin(
    demo: dict[str, Any],
    work: dict[str, Path],
    responder: DemoResponder,
    pins_asked: list[str],
    capsys: Any,
) -> None:
    assert _sign_xml(demo, work, "revoked") == 2
    report = json.loads(capsys.readouterr().out)
    assert report["error"]["code"] == "CERT_REVOKED"
    assert pins_asked == [] and not (work["dir"] / "hoso_signed.xml").exists()
    assert responder.requests == 1


def test_sign_xml_with_the_override_signs_and_warns(
    demo: dict[str, Any], work: dict[str, Path], responder: DemoResponder, capsys: Any
) -> None:
    assert _sign_xml(demo, work, "revoked", "--allow-invalid-certificate") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["signed"] == 1
    assert (work["dir"] / "hoso_signed.xml").exists()
    assert "--allow-invalid-certificate: [CERT_REVOKED]" in captured.err
    assert "WARNING" in captured.err and "CẢNH BÁO" in captured.err


@pytest.mark.parametrize("sign", [_sign_xml, _sign_cms])
@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("revoked", "CERT_REVOKED"),
        ("expired", "CERT_EXPIRED"),
        ("not_yet_valid", "CERT_NOT_YET_VALID"),
        ("no_key_usage", "CERT_KEY_USAGE"),
    ],
)
def test_both_signing_commands_refuse_each_invalid_certificate(
    demo: dict[str, Any],
    work: dict[str, Path],
    responder: DemoResponder,
    pins_asked: list[str],
    capsys: Any,
    sign: Any,
    name: str,
    code: str,
) -> None:
    assert sign(demo, work, name) == 2
    assert json.loads(capsys.readouterr().out)["error"]["code"] == code
    assert pins_asked == []
    assert not list(work["dir"].glob("hoso*.p7s")) and not list(work["dir"].glob("*_signed.xml"))


def test_sign_cms_with_the_override_signs_an_expired_certificate(
    demo: dict[str, Any], work: dict[str, Path], capsys: Any
) -> None:
    assert _sign_cms(demo, work, "expired", "--allow-invalid-certificate") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["ok"] is True
    assert "[CERT_EXPIRED]" in captured.err


def test_unknown_status_warns_and_signs(
    demo: dict[str, Any], work: dict[str, Path], capsys: Any
) -> None:
    # No responder: the status cannot be known, which is not a reason to refuse.
    assert _sign_xml(demo, work, "org") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["signed"] == 1
    assert "revocation status is unknown" in captured.err
    assert "tình trạng thu hồi" in captured.err


def _sign_pdf(demo: dict[str, Any], work: dict[str, Path], name: str, *extra: str) -> int:
    from tests.signing_pdf.conftest import make_pdf

    pdf = work["dir"] / "hop-dong.pdf"
    pdf.write_bytes(make_pdf(1))
    argv = ["sign-pdf", str(pdf), "--cert", cert_thumbprint(demo, name)]
    return main([*argv, "--pin-file", str(work["pin"]), "--json", *extra])


@pytest.mark.parametrize("sign", [_sign_xml, _sign_cms, _sign_pdf])
@pytest.mark.parametrize("online", [False, True], ids=["offline", "responder up"])
def test_the_json_report_says_whether_revocation_was_checked(
    demo: dict[str, Any], work: dict[str, Path], capsys: Any, sign: Any, online: bool
) -> None:
    """A script that reads only the JSON knows when the status could not be checked."""
    if online:
        with DemoResponder(demo):
            assert sign(demo, work, "org") == 0
    else:
        assert sign(demo, work, "org") == 0
    revocation = json.loads(capsys.readouterr().out)["revocation"]
    if online:
        assert revocation["status"] == "good"
    else:
        assert revocation["status"] == "unknown" and "unreachable" in revocation["reason"]
    clear_status_cache()


def test_the_json_report_says_when_the_override_skipped_the_check(
    demo: dict[str, Any], work: dict[str, Path], capsys: Any
) -> None:
    assert _sign_cms(demo, work, "expired", "--allow-invalid-certificate") == 0
    assert json.loads(capsys.readouterr().out)["revocation"]["status"] == "not_checked"


def test_doctor_shows_revocation_status_and_flags_the_revoked_certificate(
    demo: dict[str, Any], responder: DemoResponder, capsys: Any
) -> None:
    capsys.readouterr()
    main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    by_thumb = {c["thumbprint"]: c for c in report["certificates"]}
    revoked = by_thumb[cert_thumbprint(demo, "revoked")]
    assert "REVOKED" in revoked["problems"]
    assert revoked["revocation"]["status"] == "revoked"
    org = by_thumb[cert_thumbprint(demo, "org")]
    assert org["problems"] == [] and org["revocation"]["status"] == "good"
    assert org["revocation"]["source"] == "ocsp"
    main(["doctor"])
    out = capsys.readouterr().out
    assert "đã bị thu hồi / revoked" in out
    assert "revocation: chưa bị thu hồi / not revoked (OCSP)" in out


def test_doctor_says_when_the_status_is_unknown(demo: dict[str, Any], capsys: Any) -> None:
    capsys.readouterr()
    main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    org = next(c for c in report["certificates"] if c["thumbprint"] == cert_thumbprint(demo, "org"))
    assert org["revocation"]["status"] == "unknown" and org["problems"] == []
    revoked = next(
        c for c in report["certificates"] if c["thumbprint"] == cert_thumbprint(demo, "revoked")
    )
    assert "REVOKED" not in revoked["problems"]  # not known: not claimed


def test_certs_json_carries_the_status(
    demo: dict[str, Any], responder: DemoResponder, capsys: Any
) -> None:
    capsys.readouterr()
    assert main(["certs", "--json"]) == 0
    certs = {c["thumbprint"]: c for c in json.loads(capsys.readouterr().out)}
    assert certs[cert_thumbprint(demo, "revoked")]["revocation"]["status"] == "revoked"
    assert certs[cert_thumbprint(demo, "org_renewed")]["revocation"]["status"] == "good"
    ca = [c for c in certs.values() if c["is_ca"]]
    assert ca and ca[0]["revocation"] is None  # no key, nothing to sign with


def test_doctor_warns_that_a_unit_ec_certificate_will_not_pass_net_portals(
    demo: dict[str, Any], capsys: Any
) -> None:
    capsys.readouterr()
    main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    warnings = {c["thumbprint"]: c["warnings"] for c in report["certificates"]}
    assert "ECDSA_XML" in warnings[cert_thumbprint(demo, "ec")]  # UID=MST:, EC key
    for rsa_or_person in ("org", "branch", "personal"):
        assert "ECDSA_XML" not in warnings[cert_thumbprint(demo, rsa_or_person)]
    main(["doctor"])
    assert "SignedXml" in capsys.readouterr().out
