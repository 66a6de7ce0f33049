"""``kyso-agent tokens | certs | doctor | demo-token info`` in-process, against the demo tokens.

The CLI runs with the test session's $KYSO_HOME (set by the ``demo`` fixture), so it finds the
demo module the same way a user's agent does: through the demo manifest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.cli.main import main
from agent.tokens import PinState
from tests.conftest import cert_thumbprint
from tests.tokens.conftest import TOKEN1, TOKEN2


def run_json(capsys, *argv: str) -> tuple[int, Any]:
    """Run the CLI and parse what it printed as JSON."""
    capsys.readouterr()
    status = main(list(argv))
    return status, json.loads(capsys.readouterr().out)


def test_tokens_json(demo, capsys):
    status, tokens = run_json(capsys, "tokens", "--json")
    assert status == 0
    by_label = {t["label"]: t for t in tokens}
    assert {TOKEN1, TOKEN2} <= set(by_label)
    for token in (by_label[TOKEN1], by_label[TOKEN2]):
        assert token["module"] == demo["module"]
        assert token["serial"] and token["pin_state"] is None
        assert token["protected_path"] is False


def test_certs_json_has_the_documented_fields(demo, capsys):
    status, certs = run_json(capsys, "certs", "--json")
    assert status == 0
    by_thumb = {c["thumbprint"]: c for c in certs}
    required = {"token", "label", "thumbprint", "subject", "mst", "cccd", "not_before",
                "not_after", "key_type", "has_private_key"}  # fmt: skip
    for cert in certs:
        assert required <= set(cert), required - set(cert)
    org = by_thumb[cert_thumbprint(demo, "org")]
    assert (org["token"], org["label"], org["mst"], org["cccd"]) == (
        TOKEN1,
        "org",
        "0101234567",
        None,
    )
    assert org["key_type"] == "RSA" and org["has_private_key"] is True
    assert "Công ty TNHH Giải pháp Kyso Việt Nam" in org["subject"]  # UTF-8, not escaped
    personal = by_thumb[cert_thumbprint(demo, "personal")]
    assert (personal["mst"], personal["cccd"]) == (None, "001190012345")
    assert by_thumb[cert_thumbprint(demo, "ec")]["key_type"] == "EC"
    assert by_thumb[cert_thumbprint(demo, "org_renewed")]["token"] == TOKEN2
    ca = [c for c in certs if c["is_ca"]]
    assert len(ca) == 1 and ca[0]["has_private_key"] is False


def test_certs_table_for_people(demo, capsys):
    assert main(["certs"]) == 0
    out = capsys.readouterr().out
    assert "MST:0101234567-001" in out and "CCCD:001190012345" in out
    assert cert_thumbprint(demo, "org")[:16] in out


def _doctor(capsys, *extra: str) -> tuple[int, dict[str, Any]]:
    return run_json(capsys, "doctor", "--json", *extra)


def test_doctor_lists_each_problem_on_the_right_certificate(demo, capsys):
    status, report = _doctor(capsys, "--module", "/nonexistent/libvendor.so")
    assert status == 0 and report["ok"] is True
    problems = {c["thumbprint"]: c["problems"] for c in report["certificates"]}
    assert problems[cert_thumbprint(demo, "expired")] == ["EXPIRED"]
    assert problems[cert_thumbprint(demo, "not_yet_valid")] == ["NOT_YET_VALID"]
    assert problems[cert_thumbprint(demo, "no_key_usage")] == ["NO_SIGNING_KEY_USAGE"]
    for usable in ("org", "branch", "personal", "org_in_o", "ec", "org_renewed"):
        assert problems[cert_thumbprint(demo, usable)] == [], usable
    modules = {m["path"]: m for m in report["modules"]}
    assert modules["/nonexistent/libvendor.so"]["loaded"] is False
    assert modules["/nonexistent/libvendor.so"]["error"]["code"] == "MODULE_LOAD_FAILED"
    assert modules["/nonexistent/libvendor.so"]["source"] == "config"
    assert modules[demo["module"]]["loaded"] is True
    assert {TOKEN1, TOKEN2} <= {t["label"] for t in report["tokens"]}
    # A missing file is not a wrong-bitness driver; nothing else is wrong with the drivers here.
    assert report["driver_findings"] == []


def test_doctor_shows_a_locked_pin_per_certificate(demo, capsys, fake_pin_flags):
    fake_pin_flags(always=PinState(locked=True))
    status, report = _doctor(capsys)
    assert status == 1 and report["ok"] is False  # nothing can be signed with a locked PIN
    for cert in report["certificates"]:
        if cert["thumbprint"] == cert_thumbprint(demo, "org"):
            assert cert["problems"] == ["PIN_LOCKED"] and cert["pin_state"] == "locked"
    main(["doctor"])
    out = capsys.readouterr().out
    assert "PIN của token đã bị khóa" in out and "PIN is locked" in out


def test_doctor_warns_about_the_final_pin_try(demo, capsys, fake_pin_flags):
    fake_pin_flags(always=PinState(count_low=True, final_try=True))
    status, report = _doctor(capsys)
    assert status == 0
    org = next(c for c in report["certificates"] if c["thumbprint"] == cert_thumbprint(demo, "org"))
    assert org["problems"] == [] and org["warnings"] == ["PIN_FINAL_TRY"]
    main(["doctor"])
    assert "ONE PIN try left" in capsys.readouterr().out


def test_demo_token_info_json_tells_a_test_what_it_needs(demo, capsys):
    status, info = run_json(capsys, "demo-token", "info", "--json")
    assert status == 0
    assert info["module"] == demo["module"] and Path(info["module"]).exists()
    conf = Path(info["softhsm2_conf"])
    assert conf.exists() and "directories.tokendir" in conf.read_text()
    assert [(t["label"], t["user_pin"]) for t in info["tokens"]] == [
        (TOKEN1, "123456"),
        (TOKEN2, "654321"),
    ]
    for key in ("root", "issuing", "chain", "crl", "root_crl"):
        assert Path(info["ca"][key]).exists(), key
    assert "BEGIN X509 CRL" in Path(info["ca"]["crl"]).read_text()
    assert info["certificates"]["org"]["thumbprint"] == cert_thumbprint(demo, "org")


def test_demo_token_info_for_people(demo, capsys):
    assert main(["demo-token", "info"]) == 0
    out = capsys.readouterr().out
    assert "KYSO DEMO 1" in out and "123456" in out and demo["ca"]["crl"] in out
