"""A wrong PIN is asked again within the same operation, like a good card reader's dialog.

Real logins on KYSO DEMO 2 (SoftHSM2 refuses the wrong PIN and sets CKF_USER_PIN_COUNT_LOW).
What SoftHSM2 never reports (a final try, a lock) is faked at the flags -> PinState seam only.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from agent.tokens import PinRequest, SignatureAlgorithm
from agent.tokens.service import MAX_PIN_ATTEMPTS
from tests.tokens.conftest import TOKEN2, pin_of
from tests.tokens.test_pin import WRONG, open_with, renewed


class Typist:
    """A person at the PIN dialog: types each PIN in turn (None = presses Cancel)."""

    def __init__(self, *pins: str | None) -> None:
        self.pins = list(pins)
        self.requests: list[PinRequest] = []

    async def get_pin(self, request: PinRequest) -> str | None:
        self.requests.append(request)
        return self.pins.pop(0) if self.pins else None


async def test_wrong_then_right_pin_signs_in_one_operation(demo, token2_clean):
    typist = Typist(WRONG, pin_of(demo, TOKEN2))
    async with token2_clean.open_key(renewed(demo), typist) as key:
        signature = await key.sign(b"retry", SignatureAlgorithm.RSA_PKCS1_SHA256)
    key.certificate.info.certificate.public_key().verify(
        signature, b"retry", padding.PKCS1v15(), hashes.SHA256()
    )
    first, second = typist.requests
    assert not first.retry and first.attempt == 1
    # The second prompt says why it is shown, with the flags the token set after the wrong PIN.
    assert second.retry and second.attempt == 2
    assert second.previous_error.code == "PIN_INCORRECT"
    assert second.state.count_low and second.token_label == TOKEN2


async def test_cancel_on_the_retry_prompt_is_user_cancelled(demo, token2_clean):
    typist = Typist(WRONG, None)
    error = await open_with(token2_clean, demo, typist)
    assert error.code == "USER_CANCELLED" and len(typist.requests) == 2


async def test_the_same_refused_pin_is_not_sent_again(demo, token2_clean, monkeypatch):
    from agent.tokens import module

    logins: list[Any] = []
    real_login = module.Pkcs11Module._w_login

    def counting(self, token, user_pin):
        logins.append(user_pin)
        return real_login(self, token, user_pin)

    monkeypatch.setattr(module.Pkcs11Module, "_w_login", counting)
    typist = Typist(WRONG, WRONG)
    error = await open_with(token2_clean, demo, typist)
    assert error.code == "PIN_INCORRECT"
    assert logins == [WRONG]  # the token was asked once: no second try burnt on a known-bad PIN


async def test_wrong_pin_before_the_final_try_warns_the_next_prompt(
    demo, token2_clean, fake_pin_flags
):
    fake_pin_flags(after_wrong="final_try")
    typist = Typist(WRONG, pin_of(demo, TOKEN2))
    async with token2_clean.open_key(renewed(demo), typist):
        pass
    retry = typist.requests[1]
    assert retry.state.final_try and retry.previous_error.code == "PIN_FINAL_TRY"


async def test_a_pin_that_locks_the_token_shows_the_lock_and_ends(
    demo, token2_clean, fake_pin_flags
):
    fake_pin_flags(after_wrong="locked")
    typist = Typist(WRONG, pin_of(demo, TOKEN2))
    error = await open_with(token2_clean, demo, typist)
    assert error.code == "PIN_LOCKED"
    # The second prompt is the lock notice (its only button closes it), never a PIN field.
    notice = typist.requests[1]
    assert notice.state.locked and notice.previous_error.code == "PIN_LOCKED"
    assert len(typist.requests) == 2


async def test_attempts_are_bounded_on_a_token_that_never_locks(demo, token2_clean):
    typist = Typist(*(f"99999{i}" for i in range(MAX_PIN_ATTEMPTS + 3)))
    error = await open_with(token2_clean, demo, typist)
    assert error.code == "PIN_INCORRECT"
    assert len(typist.requests) == MAX_PIN_ATTEMPTS


async def test_a_provider_that_knows_one_pin_does_not_retry(demo, token2_clean):
    from agent.tokens import StaticPinProvider

    provider = StaticPinProvider(WRONG)
    error = await open_with(token2_clean, demo, provider)
    assert error.code == "PIN_INCORRECT" and len(provider.requests) == 1
