"""A PIN-pad reader (CKF_PROTECTED_AUTHENTICATION_PATH): the agent's window says "enter the PIN
on the card reader's keypad" while C_Login waits, a wrong PIN on the pad is told and retried in
the same operation, and Cancel ends the request as soon as the reader lets go.

Real logins on KYSO DEMO 2 (SoftHSM2). SoftHSM2 has no PIN pad, so only two things are faked,
at the narrowest seams: the token's protected-path flag (flags -> PinState) and what the
person types on the pad (the one login call, ``_w_login``, gets the PIN the "pad" collected).
"""

# The token tests' fixtures are imported below, so test arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from agent.errors import KysoError
from agent.tokens import SignatureAlgorithm, StaticPinProvider
from agent.tokens.pin import PinState
from agent.ui.scripted import ScriptedPrompter
from agent.ui.text import pin_pad_text
from tests.tokens.conftest import TOKEN2, fake_pin_flags, pin_of, token2_clean  # noqa: F401
from tests.tokens.test_pin import WRONG, open_with, renewed
from tests.ui import samples


class Pad:
    """The reader's keypad: each PIN-pad login takes the next PIN "typed" on it. A login may
    also wait until the test lets the person type (``hold``)."""

    def __init__(self, monkeypatch: Any, *typed: str) -> None:
        from agent.tokens import module

        self.typed = list(typed)
        self.logins: list[Any] = []
        self.hold: threading.Event | None = None
        real_login = module.Pkcs11Module._w_login

        def reader(instance: Any, token: Any, user_pin: Any) -> Any:
            self.logins.append(user_pin)
            if user_pin is not module.PIN_PAD:
                return real_login(instance, token, user_pin)
            if self.hold is not None:
                assert self.hold.wait(30), "the test never released the reader"
            return real_login(instance, token, self.typed.pop(0))

        monkeypatch.setattr(module.Pkcs11Module, "_w_login", reader)


def scripted(tmp_path, answers: str) -> ScriptedPrompter:
    path = tmp_path / "answers.json"
    path.write_text(answers)
    return ScriptedPrompter(path)


async def test_wrong_pin_on_the_pad_is_told_and_retried_in_the_same_operation(
    demo, token2_clean, fake_pin_flags, monkeypatch, tmp_path
):
    assert await token2_clean.list_certificates()
    fake_pin_flags(protected_path=True)
    pad = Pad(monkeypatch, WRONG, pin_of(demo, TOKEN2))
    prompter = scripted(tmp_path, '{"pin_pad": "wait"}')
    async with token2_clean.open_key(renewed(demo), prompter) as key:
        signature = await key.sign(b"pad", SignatureAlgorithm.RSA_PKCS1_SHA256)
    key.certificate.info.certificate.public_key().verify(
        signature, b"pad", padding.PKCS1v15(), hashes.SHA256()
    )
    from agent.tokens import module

    assert pad.logins == [module.PIN_PAD, module.PIN_PAD]  # Kyso never had a PIN to send
    first, second = prompter.prompts
    assert (first.kind, second.kind) == ("pin_pad", "pin_pad")
    assert prompter.count("pin") == 0  # no keyboard PIN field for a PIN-pad reader
    # The window names the token and its serial...
    token_line = dict(first.shown[0][1])["USB token"]
    assert token_line.startswith(f"{TOKEN2} (số sê-ri / serial ")
    assert first.warnings == ()
    # ... and after the wrong PIN, says so with what the token's flags now say.
    assert second.warnings[0] == "Mã PIN vừa nhập không đúng. Hãy nhập lại."
    assert second.summary == f"{TOKEN2} (count_low)"


async def test_cancel_ends_the_request_as_soon_as_the_reader_returns(
    demo, token2_clean, fake_pin_flags, monkeypatch, tmp_path
):
    """Cancel cannot stop C_Login: the request waits for the reader (the window says to press
    Cancel on it), then ends USER_CANCELLED; a PIN typed meanwhile logs in, and is logged out
    unused."""
    from agent.tokens import module

    assert await token2_clean.list_certificates()
    fake_pin_flags(protected_path=True)
    pad = Pad(monkeypatch, pin_of(demo, TOKEN2))
    pad.hold = threading.Event()
    prompter = scripted(tmp_path, '{"pin_pad": "cancel"}')
    signed: list[bytes] = []

    async def sign() -> None:
        async with token2_clean.open_key(renewed(demo), prompter) as key:
            signed.append(await key.sign(b"x", SignatureAlgorithm.RSA_PKCS1_SHA256))

    request = asyncio.ensure_future(sign())
    # Wait for the Cancel, then the "press Cancel on the reader" notice (or a wrong early end).
    while prompter.count("pin_pad") < 2 and not request.done():
        await asyncio.sleep(0.01)
    assert [p.answer for p in prompter.prompts] == ["cancel", "wait"]
    assert not request.done()  # the reader still holds the token
    pad.hold.set()  # the person types the PIN on the pad after all
    with pytest.raises(KysoError) as err:
        await request
    assert err.value.code == "USER_CANCELLED"
    assert signed == []
    cert = await token2_clean.find_certificate(renewed(demo))
    assert token2_clean.module_for(cert.token)._open_sessions == 0  # closed, never used
    assert pad.logins == [module.PIN_PAD]


async def test_a_pad_that_locks_the_token_says_so(
    demo, token2_clean, fake_pin_flags, monkeypatch, tmp_path
):
    assert await token2_clean.list_certificates()
    fake_pin_flags(protected_path=True, after_wrong="locked")
    Pad(monkeypatch, WRONG)
    prompter = scripted(tmp_path, '{"pin_pad": "wait"}')
    error = await open_with(token2_clean, demo, prompter)
    assert error.code == "PIN_LOCKED"
    assert [p.kind for p in prompter.prompts] == ["pin_pad", "pin"]
    assert prompter.prompts[1].warnings[0].startswith("Mã PIN đã bị khóa")


async def test_a_provider_without_a_window_just_waits_for_the_reader(
    demo, token2_clean, fake_pin_flags, monkeypatch
):
    """--pin-file and other providers that cannot show a window: the reader alone asks."""
    assert await token2_clean.list_certificates()
    fake_pin_flags(protected_path=True)
    Pad(monkeypatch, pin_of(demo, TOKEN2))
    static = StaticPinProvider("never used")
    async with token2_clean.open_key(renewed(demo), static) as key:
        assert await key.sign(b"y", SignatureAlgorithm.RSA_PKCS1_SHA256)
    assert static.requests == []


def test_pin_pad_texts_in_each_language() -> None:
    request = samples.pin(PinState(count_low=True, final_try=True))
    vi, en = pin_pad_text(request, "vi"), pin_pad_text(request, "en")
    assert vi.question() == (
        "Nhập mã PIN trên bàn phím của đầu đọc thẻ",
        "Enter the PIN on the card reader's keypad",
    )
    assert en.question()[0] == "Enter the PIN on the card reader's keypad"
    assert vi.title == "Kyso — Nhập mã PIN trên đầu đọc thẻ"
    assert en.title == "Kyso — Enter the PIN on the card reader"
    assert [c.label_in("vi") for c in vi.choices] == ["Hủy"]  # Cancel always there
    # The token by label and serial; the tries left from the token's flags.
    assert vi.sections[0].fields[0].value == "KYSO DEMO 1 (số sê-ri 0a1b2c3d)"
    assert en.sections[0].fields[0].value == "KYSO DEMO 1 (serial 0a1b2c3d)"
    assert en.warnings[0].text_in("en")[0] == "ONE try left: one more wrong PIN locks the token."
    # Honest about what Cancel can do: it cannot stop the reader.
    assert "Kyso không nhìn thấy mã PIN này" in vi.note()
    assert "the reader keeps waiting until you press Cancel on the reader" in en.note()
