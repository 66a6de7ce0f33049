"""PIN handling on KYSO DEMO 2: wrong PIN, cancel, locked and final-try states, PIN pads.
(Retrying a wrong PIN within one operation: test_pin_retry.py.)

A wrong PIN is real (SoftHSM2 refuses it and sets CKF_USER_PIN_COUNT_LOW). What SoftHSM2 never
does — lock a PIN, report a final try, have a PIN pad — is faked at the flags -> PinState
function only (``fake_pin_flags`` in conftest.py); login and signing stay real.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from agent.errors import KysoError
from agent.tokens import PinRequest, PinState, SignatureAlgorithm, StaticPinProvider
from tests.conftest import cert_thumbprint
from tests.tokens.conftest import TOKEN2, pin_of

WRONG = "000000"


def renewed(demo: dict[str, Any]) -> str:
    """The certificate on KYSO DEMO 2."""
    return cert_thumbprint(demo, "org_renewed")


async def open_with(service, demo, provider) -> KysoError:
    """Try to open the KYSO DEMO 2 key; return the error it raised."""
    with pytest.raises(KysoError) as err:
        async with service.open_key(renewed(demo), provider):
            pass
    return err.value


async def test_wrong_known_pin_is_reported_and_never_sent_again(demo, token2_clean):
    """A provider with one fixed PIN (--pin-file, automation) cannot type another one: the
    token's refusal ends the operation. A person at the dialog retries: test_pin_retry.py."""
    service = token2_clean
    provider = StaticPinProvider(WRONG)
    error = await open_with(service, demo, provider)
    assert error.code == "PIN_INCORRECT"
    assert error.details["pin_state"] == "count_low"  # the token's own flag, read after
    assert len(provider.requests) == 1  # asked once, not retried with the same or another PIN
    request = provider.requests[0]
    assert (request.token_label, request.certificate.thumbprint) == (TOKEN2, renewed(demo))
    assert request.state == PinState()
    # The next attempt shows the user that a wrong PIN was entered, and the right PIN works.
    good = StaticPinProvider(pin_of(demo, TOKEN2))
    async with service.open_key(renewed(demo), good) as key:
        assert await key.sign(b"ok", SignatureAlgorithm.RSA_PKCS1_SHA256)
    assert good.requests[0].state.count_low
    assert await service.list_tokens()  # and the service is still fine


async def test_cancelled_pin_dialog_is_user_cancelled(demo, token_service):
    provider = StaticPinProvider(None)
    error = await open_with(token_service, demo, provider)
    assert error.code == "USER_CANCELLED"
    assert len(provider.requests) == 1
    d = error.to_dict()
    assert d["message_vi"] and d["action_en"]  # a message a person can act on


async def test_locked_pin_is_refused_before_any_pin_is_asked(demo, token2_clean, fake_pin_flags):
    fake_pin_flags(always=PinState(locked=True))
    provider = StaticPinProvider(pin_of(demo, TOKEN2))
    error = await open_with(token2_clean, demo, provider)
    assert error.code == "PIN_LOCKED"
    assert provider.requests == []
    token = next(t for t in await token2_clean.list_tokens() if t.label == TOKEN2)
    assert token.pin_state.tries_hint == "locked" and token.to_json()["pin_state"] == "locked"


class TypedByPerson:
    """A person at the PIN dialog: reads what it says (the request) and types the PIN."""

    def __init__(self, pin: str) -> None:
        self.pin = pin
        self.requests: list[PinRequest] = []

    async def get_pin(self, request: PinRequest) -> str | None:
        self.requests.append(request)
        return self.pin


async def test_wrong_pin_on_a_token_with_one_try_left_says_final_try(
    demo, token2_clean, fake_pin_flags
):
    # A token that allows two tries: after one wrong PIN it is on its final try.
    fake_pin_flags(after_wrong="final_try")
    error = await open_with(token2_clean, demo, StaticPinProvider(WRONG))
    assert error.code == "PIN_FINAL_TRY"
    assert error.details["pin_state"] == "final_try"
    # The next dialog knows it is the last try (the UI warns), and the right PIN a person types
    # still works; a stored PIN is not sent on the final try (test_pin_file.py).
    good = TypedByPerson(pin_of(demo, TOKEN2))
    async with token2_clean.open_key(renewed(demo), good):
        pass
    assert good.requests[0].state.final_try


async def test_wrong_pin_that_locks_the_token_says_locked_then_refuses(
    demo, token2_clean, fake_pin_flags
):
    fake_pin_flags(after_wrong="locked")
    error = await open_with(token2_clean, demo, StaticPinProvider(WRONG))
    assert error.code == "PIN_LOCKED"
    again = StaticPinProvider(pin_of(demo, TOKEN2))
    assert (await open_with(token2_clean, demo, again)).code == "PIN_LOCKED"
    assert again.requests == []


async def test_pin_pad_reader_logs_in_without_asking_kyso_for_a_pin(
    demo, token_service, fake_pin_flags, monkeypatch
):
    """A protected-authentication-path reader: the PIN is typed on the reader, so Kyso must not
    show its own PIN dialog and must call C_Login without a PIN. SoftHSM2 has no PIN pad: the
    flags say it has one, and the login call plays the reader, which collects the right PIN."""
    from agent.tokens import module

    # Certificates read before the flags change must not carry the old token state.
    assert await token_service.list_certificates()
    fake_pin_flags(protected_path=True)
    logins: list[Any] = []
    real_login = module.Pkcs11Module._w_login

    def reader(self, token, user_pin):
        logins.append(user_pin)
        typed_on_pad = pin_of(demo, TOKEN2) if user_pin is module.PIN_PAD else user_pin
        return real_login(self, token, typed_on_pad)

    monkeypatch.setattr(module.Pkcs11Module, "_w_login", reader)

    class NeverAsked:
        async def get_pin(self, request: PinRequest) -> str | None:
            raise AssertionError("a PIN-pad token must not be asked for a PIN in Kyso")

    token = next(t for t in await token_service.list_tokens() if t.label == TOKEN2)
    assert token.protected_path and token.to_json()["protected_path"] is True
    async with token_service.open_key(renewed(demo), NeverAsked()) as key:
        signature = await key.sign(b"PIN pad", SignatureAlgorithm.RSA_PKCS1_SHA256)
    public = key.certificate.info.certificate.public_key()
    public.verify(signature, b"PIN pad", padding.PKCS1v15(), hashes.SHA256())
    assert logins == [module.PIN_PAD]


async def test_a_second_key_session_waits_for_the_first_on_the_same_token(demo, token_service):
    """Login is per token: two sessions at once would log each other out. The second waits."""
    import asyncio

    pin = StaticPinProvider(pin_of(demo, TOKEN2))
    order: list[str] = []

    async def use(tag: str) -> None:
        async with token_service.open_key(renewed(demo), pin) as key:
            order.append(f"{tag} in")
            await key.sign(tag.encode(), SignatureAlgorithm.RSA_PKCS1_SHA256)
            await asyncio.sleep(0)
            order.append(f"{tag} out")

    await asyncio.gather(use("a"), use("b"))
    assert order == ["a in", "a out", "b in", "b out"]
