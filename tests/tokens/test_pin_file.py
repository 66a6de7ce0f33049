"""A PIN from a file (``--pin-file``, ``KYSO_PIN_FILE``: scheduled jobs) never costs the token
a try it can avoid: a byte-order mark is not part of the PIN, and on the token's final try a
stored PIN is not sent at all (if it is wrong too, the token locks; a person types it).

SoftHSM2 never sets the final-try flag, so that state is given at the narrowest seam: the
token's flags -> PinState function (``fake_pin_flags``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from agent.tokens.module import Pkcs11Module
from agent.tokens.pin import PinState
from tests.conftest import cert_thumbprint


def _sign_cms(tmp_path: Path, demo: dict[str, Any], pin_file: Path, capsys: Any) -> dict:
    document = tmp_path / "thu.txt"
    document.write_text("ban ke khai")
    argv = ["sign-cms", str(document), "--cert", cert_thumbprint(demo, "org")]
    main([*argv, "--pin-file", str(pin_file), "--json"])
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b""])
def test_a_pin_file_saved_with_a_byte_order_mark_signs(
    tmp_path: Path, demo: dict[str, Any], capsys: Any, newline: bytes
) -> None:
    pin = demo["tokens"][0]["user_pin"].encode()
    pin_file = tmp_path / "pin.txt"
    pin_file.write_bytes(b"\xef\xbb\xbf" + pin + newline)  # Notepad's "UTF-8 with BOM"
    report = _sign_cms(tmp_path, demo, pin_file, capsys)
    assert report.get("ok") is True, report


def test_a_stored_pin_is_not_sent_on_the_final_try(
    tmp_path: Path,
    demo: dict[str, Any],
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
    fake_pin_flags: Any,
) -> None:
    fake_pin_flags(always=PinState(count_low=True, final_try=True))
    sent: list[str] = []
    logins = Pkcs11Module.open_session

    async def counted(self: Any, cert: Any, pin: str | None) -> Any:
        sent.append("login")
        return await logins(self, cert, pin)

    monkeypatch.setattr(Pkcs11Module, "open_session", counted)
    pin_file = tmp_path / "pin.txt"
    pin_file.write_text(demo["tokens"][0]["user_pin"] + "\n")
    report = _sign_cms(tmp_path, demo, pin_file, capsys)
    assert report["error"]["code"] == "PIN_FINAL_TRY", report
    assert "type the PIN yourself" in report["error"]["details"]["detail"]
    assert sent == []  # nothing reached the token
    assert not (tmp_path / "thu.txt.p7s").exists()
