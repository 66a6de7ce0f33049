"""sign-xml / verify-xml: nothing is lost under injected failures; one login per batch."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

from agent.cli import xml_cmd
from agent.cli.main import main
from agent.errors import KysoError
from agent.signing.signer import TokenSigner
from agent.signing.xml import check_xml_signature
from agent.tokens.pin import StaticPinProvider
from tests.conftest import cert_thumbprint, pin_asks

from .helpers import HOSO, PIN, sign_xml_cli, xmlsec_verify


def test_batch_signs_with_one_login_and_removes_originals_after_readback(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: Any,
    xmlsec1: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logins = []
    original = StaticPinProvider.get_pin  # --pin-file gives the PIN through this provider

    async def counting(self: Any, request: Any) -> str | None:
        logins.append(request.token_label)
        return await original(self, request)

    monkeypatch.setattr(StaticPinProvider, "get_pin", counting)
    code, report = sign_xml_cli(demo, files, "--remove-unsigned", capsys=capsys)
    assert code == 0 and report["signed"] == 2, report
    assert logins == ["KYSO DEMO 1"]  # one PIN prompt, one login for the whole batch
    for name in ("a", "b"):
        assert not files[name].exists()
        signed = files["dir"] / f"{name}_signed.xml"
        assert xmlsec_verify(xmlsec1, demo, signed).returncode == 0


def test_wrong_pin_leaves_everything_untouched(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any
) -> None:
    code = main(
        [
            "sign-xml",
            str(files["a"]),
            "--cert",
            cert_thumbprint(demo, "org"),
            "--pin-file",
            str(files["bad_pin"]),
            "--remove-unsigned",
            "--json",
        ]
    )
    assert code != 0
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "PIN_INCORRECT"
    assert files["a"].read_bytes() == HOSO
    assert sorted(p.name for p in files["dir"].iterdir()) == ["a.xml", "b.xml", "bad-pin", "pin"]


def test_token_removed_mid_batch_keeps_originals(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    class RemovedSigner(TokenSigner):
        async def sign(self, data: bytes, algorithm: Any) -> bytes:
            raise KysoError("TOKEN_REMOVED")

    monkeypatch.setattr(xml_cmd, "TokenSigner", RemovedSigner)
    code, report = sign_xml_cli(demo, files, "--remove-unsigned", capsys=capsys)
    assert code == 1 and report["failed"] == 2
    assert {r["error"]["code"] for r in report["results"]} == {"TOKEN_REMOVED"}
    assert files["a"].read_bytes() == HOSO and files["b"].read_bytes() == HOSO
    assert not list(files["dir"].glob("*_signed.xml"))


def test_an_unforeseen_fault_on_one_file_is_its_error_and_the_batch_goes_on(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug met on one file (here a library raising what Kyso never expects, at the call that
    signs a file) is that file's INTERNAL_ERROR in the report: the other files are signed, the
    --json report is printed whole, no traceback reaches the terminal, the original stays."""
    real = xml_cmd.sign_xml_file

    async def faulty(source: Path, *args: Any, **kwargs: Any) -> Any:
        if source.name == "a.xml":
            raise RuntimeError("a library's own failure")
        return await real(source, *args, **kwargs)

    monkeypatch.setattr(xml_cmd, "sign_xml_file", faulty)
    code, report = sign_xml_cli(demo, files, "--remove-unsigned", capsys=capsys)
    assert code == 1 and report["failed"] == 1
    first, second = report["results"]
    assert first["error"]["code"] == "INTERNAL_ERROR"
    assert "RuntimeError" in first["error"]["details"]["detail"]
    assert first["error"]["message_vi"] and first["error"]["action_en"]
    assert second["ok"] and check_xml_signature((files["dir"] / "b_signed.xml").read_bytes())
    assert files["a"].read_bytes() == HOSO and not (files["dir"] / "a_signed.xml").exists()


def test_an_unforeseen_fault_outside_a_batch_is_internal_error_not_a_traceback(
    capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.cli.main as cli_main
    import agent.cli.tokens_cmd as tokens_cmd

    def broken(*_args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(tokens_cmd, "build_token_service", broken)
    assert main(["certs", "--json"]) == cli_main.EXIT_INTERNAL
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["error"]["code"] == "INTERNAL_ERROR"
    assert out["error"]["details"]["detail"] == "RuntimeError: boom"


def test_disk_full_leaves_no_partial_file_and_the_original(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.files

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(agent.files.os, "fsync", full)
    code, report = sign_xml_cli(demo, files, "--remove-unsigned", capsys=capsys)
    assert code == 1
    assert report["results"][0]["error"]["code"] == "WRITE_FAILED"
    assert report["results"][0]["error"]["details"]["detail"] == "disk full"
    assert files["a"].read_bytes() == HOSO and files["b"].read_bytes() == HOSO
    assert sorted(p.name for p in files["dir"].iterdir()) == ["a.xml", "b.xml", "bad-pin", "pin"]


def test_existing_output_is_never_overwritten_without_force(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = files["dir"] / "a_signed.xml"
    existing.write_bytes(b"keep me")
    # Said before the PIN (as sign-pdf and sign-cms do): with nothing else to sign, none asked.
    asked = pin_asks(monkeypatch)
    code, report = sign_xml_cli(demo, files, capsys=capsys, inputs=(files["a"],))
    assert code == 1 and asked == []
    assert report["results"][0]["error"]["code"] == "OUTPUT_EXISTS"
    code, report = sign_xml_cli(demo, files, "--remove-unsigned", capsys=capsys)
    assert code == 1
    by_file = {Path(r["file"]).name: r for r in report["results"]}
    assert by_file["a.xml"]["error"]["code"] == "OUTPUT_EXISTS"
    assert by_file["b.xml"]["ok"]
    assert existing.read_bytes() == b"keep me" and files["a"].read_bytes() == HOSO
    # The same file twice would be signed twice to one output: refused, nothing written.
    code, report = sign_xml_cli(
        demo, files, "--force", capsys=capsys, inputs=(files["a"], files["a"])
    )
    assert code == 2 and report["error"]["code"] == "INPUT_INVALID"
    assert "given twice" in report["error"]["details"]["detail"]
    assert existing.read_bytes() == b"keep me"
    code, report = sign_xml_cli(demo, files, "--force", capsys=capsys, inputs=(files["a"],))
    assert code == 0 and existing.read_bytes() != b"keep me"


def test_original_kept_when_the_readback_check_fails(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KysoError("SIGNATURE_INVALID", {"detail": "injected"})

    monkeypatch.setattr(xml_cmd, "check_xml_signature", broken)
    code, report = sign_xml_cli(demo, files, "--remove-unsigned", capsys=capsys)
    assert code == 1
    assert {r["error"]["code"] for r in report["results"]} == {"READBACK_FAILED"}
    assert files["a"].read_bytes() == HOSO and files["b"].read_bytes() == HOSO


@pytest.mark.parametrize(
    ("cert", "code"), [("org", None), ("revoked", "CERT_REVOKED"), ("expired", "CERT_EXPIRED")]
)
def test_verify_xml_against_demo_ca_and_crl(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any, cert: str, code: str | None
) -> None:
    status = main(
        [
            "sign-xml",
            str(files["a"]),
            "--cert",
            cert_thumbprint(demo, cert),
            "--pin-file",
            str(files["pin"]),
            "--json",
            # sign-xml refuses these before the PIN; the override lets the verifier be tested.
            *(["--allow-invalid-certificate"] if code else []),
        ]
    )
    assert status == 0
    capsys.readouterr()
    ca = demo["ca"]
    status = main(
        [
            "verify-xml",
            str(files["dir"] / "a_signed.xml"),
            "--trust",
            ca["root"],
            "--trust",
            ca["issuing"],
            "--crl",
            ca["crl"],
            "--crl",
            ca["root_crl"],
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    if code is None:
        assert status == 0 and report["signer"]["mst"] == "0101234567"
    else:
        assert status == 1 and report["error"]["code"] == code


def test_verify_xml_reports_unsigned_file(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any
) -> None:
    status = main(["verify-xml", str(files["a"]), "--trust", demo["ca"]["root"], "--json"])
    assert status == 1 and json.loads(capsys.readouterr().out)["error"]["code"] == "NOT_SIGNED"


def test_certificate_choice_is_asked_when_several_are_usable(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any
) -> None:
    code = main(["sign-xml", str(files["a"]), "--pin-file", str(files["pin"]), "--json"])
    captured = capsys.readouterr()
    assert code != 0
    assert json.loads(captured.out)["error"]["code"] == "CERT_CHOICE_NEEDED"
    assert cert_thumbprint(demo, "org") in captured.err  # the list to choose from
    assert files["a"].read_bytes() == HOSO and not (files["dir"] / "a_signed.xml").exists()


def test_token_label_picks_its_single_usable_certificate(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any
) -> None:
    pin2 = files["dir"] / "pin2"
    pin2.write_text("654321")
    out_dir = files["dir"] / "signed"
    code = main(
        [
            "sign-xml",
            str(files["a"]),
            "--token",
            "KYSO DEMO 2",
            "--pin-file",
            str(pin2),
            "--out-dir",
            str(out_dir),
            "--suffix=-ky",  # a value starting with '-' needs the '=' form
            "--json",
        ]
    )
    assert code == 0, capsys.readouterr()
    signed = (out_dir / "a-ky.xml").read_bytes()
    assert check_xml_signature(signed).signer.thumbprint == cert_thumbprint(demo, "org_renewed")


def test_pin_from_terminal_without_echo_or_from_env_file(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return PIN

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    monkeypatch.delenv("KYSO_PIN_FILE", raising=False)
    thumb = cert_thumbprint(demo, "org")
    assert main(["sign-xml", str(files["a"]), str(files["b"]), "--cert", thumb]) == 0
    captured = capsys.readouterr()
    assert len(prompts) == 1 and "KYSO DEMO 1" in prompts[0]  # asked once for the batch
    assert "2 đã ký / signed, 0 lỗi / failed" in captured.out
    # The progress bar is drawn on a terminal only: in a captured or redirected stderr its
    # carriage returns made one long line of escaped "\u000dsign-xml: 50%|…" (CLI QA 38).
    assert "sign-xml:" not in captured.err and "\\u000d" not in captured.err
    monkeypatch.setenv("KYSO_PIN_FILE", str(files["pin"]))
    out = files["dir"] / "env"
    assert main(["sign-xml", str(files["a"]), "--cert", thumb, "--out-dir", str(out)]) == 0
    assert len(prompts) == 1 and (out / "a_signed.xml").exists()


def test_generic_options_from_the_command_line(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any, xmlsec1: str
) -> None:
    doc = '<Goi><DuLieu Id="d1">Hợp đồng lao động</DuLieu><Ky/></Goi>'.encode()
    files["a"].write_bytes(doc)
    thumb = cert_thumbprint(demo, "org")
    pin = ["--pin-file", str(files["pin"])]
    code = main(
        [
            "sign-xml",
            str(files["a"]),
            "--profile",
            "generic",
            "--reference",
            "#d1",
            "--container",
            "Ky",
            "--c14n",
            "exc-c14n",
            "--cert",
            thumb,
            *pin,
            "--json",
        ]
    )
    assert code == 0, capsys.readouterr()
    signed = files["dir"] / "a_signed.xml"
    result = xmlsec_verify(xmlsec1, demo, signed, "--id-attr:Id", "DuLieu")
    assert result.returncode == 0, result.stderr
    capsys.readouterr()
    # Options of the generic profile are refused for bhxh before any PIN is asked.
    code = main(
        ["sign-xml", str(files["b"]), "--reference", "#d1", "--cert", thumb, *pin, "--json"]
    )
    assert code != 0
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "INPUT_INVALID"


def test_ec_key_and_sha1_refused_before_the_pin_unless_allowed(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = []
    original = StaticPinProvider.get_pin

    async def counting(self: Any, request: Any) -> str | None:
        asked.append(request.token_label)
        return await original(self, request)

    monkeypatch.setattr(StaticPinProvider, "get_pin", counting)
    for extra, cert, code in (
        ((), "ec", "XML_ECDSA_NOT_ACCEPTED"),
        (("--hash", "sha1"), "org", "XML_SHA1_NOT_ACCEPTED"),
    ):
        status = main(
            [
                "sign-xml",
                str(files["a"]),
                "--cert",
                cert_thumbprint(demo, cert),
                "--pin-file",
                str(files["pin"]),
                "--json",
                *extra,
            ]
        )
        assert status != 0
        assert json.loads(capsys.readouterr().out)["error"]["code"] == code
    assert asked == [] and not (files["dir"] / "a_signed.xml").exists()
    code, report = sign_xml_cli(demo, files, "--allow-ecdsa", cert="ec", capsys=capsys)
    assert code == 0 and report["signed"] == 2, report
    signed = (files["dir"] / "a_signed.xml").read_bytes()
    assert check_xml_signature(signed).signature_method.endswith("ecdsa-sha256")


def test_verify_xml_says_a_signature_covers_one_part_not_that_the_file_was_modified(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any
) -> None:
    doc = '<Goi><DuLieu Id="d1">Hợp đồng lao động</DuLieu><Ky/></Goi>'.encode()
    files["a"].write_bytes(doc)
    sign = ["sign-xml", str(files["a"]), "--profile", "generic", "--reference", "#d1"]
    pin = ["--pin-file", str(files["pin"]), "--cert", cert_thumbprint(demo, "org")]
    assert main([*sign, "--container", "Ky", *pin, "--json"]) == 0
    capsys.readouterr()
    ca = demo["ca"]
    trust = ["--trust", ca["root"], "--trust", ca["issuing"], "--crl", ca["crl"]]
    verify = ["verify-xml", str(files["dir"] / "a_signed.xml"), *trust, "--crl", ca["root_crl"]]
    assert main([*verify, "--json"]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "XML_SIGNATURE_PARTIAL" and "<DuLieu>" in error["message_en"]
    assert "--profile generic" in error["action_en"]
    assert main([*verify, "--profile", "generic", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["references"] == ["#d1"]


@pytest.mark.parametrize(
    "argv",
    [
        ["sign-xml", "a.xml", "--profile", "nope"],
        ["audit", "--limit", "abc"],
        ["audit", "--sha256", "zz"],
        ["verify-xml"],
    ],
)
def test_a_usage_error_with_json_is_json(argv: list[str], capsys: Any) -> None:
    """A script asking for --json reads a code from stdout, not argparse's usage text."""
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--json"])
    assert stopped.value.code == 2
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["error"]["code"] == "INPUT_INVALID"
    assert out["error"]["message_vi"] and out["error"]["action_en"]


def test_a_usage_error_without_json_is_argparse_text(capsys: Any) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["audit", "--sha256", "zz"])
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "hex digits" in captured.err and "usage:" in captured.err


def test_an_original_that_could_not_be_removed_is_reported_with_the_reason(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--remove-unsigned asked, the file signed, but the system refused to delete the original
    (read-only folder, file in use): the report said only "signed", the reason went to stderr
    (which the desktop's window never shows). Now the entry carries why, in both languages."""
    real_rename = os.rename

    def refuse(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        # A read-only folder: the original cannot be moved aside (nor deleted).
        if Path(src) == files["a"]:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", refuse)
    code, report = sign_xml_cli(demo, files, "--remove-unsigned", capsys=capsys)
    assert code == 0, report
    first, second = report["results"]
    assert first["ok"] and not first["removed_unsigned"]
    assert "không xóa được" in first["original_kept"]["vi"]
    assert os.strerror(errno.EACCES) in first["original_kept"]["en"]
    assert second["removed_unsigned"] and "original_kept" not in second
    assert files["a"].exists() and not files["b"].exists()
    main(
        [
            "sign-xml",
            str(files["a"]),
            "--cert",
            cert_thumbprint(demo, "org"),
            "--pin-file",
            str(files["pin"]),
            "--remove-unsigned",
            "--force",
        ]
    )
    text = capsys.readouterr().out
    assert "⚠ the unsigned original is still there: signed, but" in text


def test_verify_xml_warns_when_the_dossier_names_another_unit_than_the_signer(
    demo: dict[str, Any], files: dict[str, Path], capsys: Any
) -> None:
    """Red team 26, F2: a dossier for MST 0101234567 signed with another unit's certificate
    (here the branch's, 0101234567-001) was reported VALID with nothing more, though the
    portal refuses it. The verdict stays VALID (the signature is sound) with an MST_MISMATCH
    warning read from the signed bytes, in the text and in --json."""
    status, _ = sign_xml_cli(demo, files, capsys=capsys, inputs=(files["a"],), cert="branch")
    assert status == 0
    ca = demo["ca"]
    trust = ["--trust", ca["root"], "--trust", ca["issuing"], "--crl", ca["crl"]]
    verify = ["verify-xml", str(files["dir"] / "a_signed.xml"), *trust, "--crl", ca["root_crl"]]
    assert main([*verify, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and [w["code"] for w in report["warnings"]] == ["MST_MISMATCH"]
    assert report["warnings"][0]["details"] == {
        "document_mst": "0101234567",
        "certificate_mst": "0101234567-001",
    }
    assert main(verify) == 0
    text = capsys.readouterr().out
    assert "HỢP LỆ / VALID" in text and "WARNING [MST_MISMATCH]" in text
    # The unit's own certificate: no warning.
    status, _ = sign_xml_cli(
        demo, files, "--force", capsys=capsys, inputs=(files["a"],), cert="org"
    )
    assert status == 0 and main([*verify, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []
