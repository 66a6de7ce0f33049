"""Red team 39: the agent's scripted prompter (unattended signing machines) sent its stored PIN
on the token's final try, which --pin-file (StaticPinProvider) refuses to do: a stale PIN in the
answers file, driven by page requests, locked the token. It now refuses too (PIN_FINAL_TRY),
unless the answers file says "final_try": "type" (a test playing a person).

SoftHSM2 never reports a final try; the flags are faked at the narrowest seam
(tests/tokens/conftest.py ``fake_pin_flags``): after a real wrong PIN (CKF_USER_PIN_COUNT_LOW)
the token reports "final try". Everything else is real: the agent, the WSS client, SoftHSM2.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from agent.tokens.module.sessions import KeySessions
from tests.conftest import cert_thumbprint
from tests.tokens.conftest import fake_pin_flags, token2_clean  # noqa: F401

DIGEST = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
STALE = "999999"  # the answers file's PIN after the real one was changed


@pytest.fixture
def logins(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per C_Login the token layer makes: True when a typed/stored PIN was sent."""
    sent: list[bool] = []
    real = KeySessions._w_login

    def spy(self: Any, token: Any, user_pin: Any) -> Any:
        sent.append(isinstance(user_pin, str))
        return real(self, token, user_pin)

    monkeypatch.setattr(KeySessions, "_w_login", spy)
    return sent


async def test_scripted_prompter_does_not_send_a_stored_pin_on_the_final_try(
    demo: dict[str, Any],
    token2_clean: Any,  # noqa: F811 (the fixture imported above)
    fake_pin_flags: Any,  # noqa: F811
    agent: Any,
    answers: Any,
    logins: list[bool],
) -> None:
    fake_pin_flags(after_wrong="final_try")
    answers.set(pin=STALE)
    client = await agent.client()
    params = {"digest": DIGEST, "certificate": cert_thumbprint(demo, "org_renewed")}
    first = await client.request("sign.hash", params)
    assert first["error"]["data"]["code"] == "PIN_FINAL_TRY"  # one try left now
    assert logins == [True]
    # The page simply asks again (the user is not there: the machine is unattended).
    second = await client.request("sign.hash", params)
    # What --pin-file does (agent.tokens.pin.StaticPinProvider): no stored PIN on a final try.
    assert second["error"]["data"]["code"] == "PIN_FINAL_TRY"
    assert logins == [True], (
        f"the stored PIN was sent again on the token's final try (C_Login with a PIN: "
        f"{logins.count(True)}); answer {second.get('error', {}).get('data', {}).get('code')}"
    )
