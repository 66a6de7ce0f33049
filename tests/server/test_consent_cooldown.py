"""A page cannot nag the user with consent windows (docs/security.md, threat table).

After three refusals in a row within a minute (Hủy, or a window nobody answered), the origin's
signing requests are refused with CONSENT_COOLDOWN and no window for 30 s, doubling at each new
back-off up to 5 minutes; a consent given resets it. Other origins are not affected.
"""

from __future__ import annotations

import base64

from agent.server.consent_guard import (
    FORGET_AFTER_SECONDS,
    MAX_BACKOFF_SECONDS,
    ConsentGuard,
)
from tests.conftest import cert_thumbprint
from tests.server.conftest import ORIGIN

A = "https://a.kyso.test"
B = "https://b.kyso.test"


def _refuse(guard: ConsentGuard, origin: str, start: float, times: int = 3) -> float:
    for i in range(times):
        guard.refused(origin, start + i)
    return start + times - 1


def test_three_refusals_in_a_minute_hold_the_origin_off() -> None:
    guard = ConsentGuard()
    guard.refused(A, 0.0)
    guard.refused(A, 1.0)
    assert guard.wait_seconds(A, 1.0) == 0  # two: still asked
    guard.refused(A, 2.0)
    assert guard.wait_seconds(A, 2.0) == 30
    assert guard.wait_seconds(A, 31.5) == 1
    assert guard.wait_seconds(A, 32.0) == 0
    assert guard.wait_seconds(B, 2.0) == 0  # per origin


def test_refusals_spread_over_more_than_a_minute_do_not_count() -> None:
    guard = ConsentGuard()
    for t in (0.0, 40.0, 80.0, 120.0):
        guard.refused(A, t)
        assert guard.wait_seconds(A, t) == 0


def test_each_new_backoff_doubles_up_to_five_minutes() -> None:
    guard = ConsentGuard()
    now, waits = 0.0, []
    for _ in range(6):
        now = _refuse(guard, A, now)
        waits.append(guard.wait_seconds(A, now))
        now += waits[-1]
    assert waits == [30, 60, 120, 240, 300, 300]
    assert MAX_BACKOFF_SECONDS == 300


def test_a_consent_given_resets_and_a_long_quiet_forgets() -> None:
    guard = ConsentGuard()
    now = _refuse(guard, A, 0.0)
    guard.accepted(A)
    assert guard.wait_seconds(A, now) == 0
    now = _refuse(guard, A, now + 1)
    assert guard.wait_seconds(A, now) == 30  # the first length again
    now = _refuse(guard, A, now + FORGET_AFTER_SECONDS + 1)
    assert guard.wait_seconds(A, now) == 30  # ten quiet minutes: forgotten


async def test_a_page_gets_no_fourth_window_after_three_refusals(demo, harness) -> None:
    other = "https://other.kyso.test"
    await harness.start(allowed_origins=[ORIGIN, other], sign_hash_origins=[ORIGIN, other])
    harness.prompter.prompts.clear()
    (harness.tmp_path / "answers.json").write_text('{"consent": "deny", "pin": "123456"}')
    params = {
        "digest": base64.b64encode(bytes(32)).decode(),
        "certificate": cert_thumbprint(demo, "org"),
    }
    client = await harness.client()
    codes = [(await client.request("sign.hash", params))["error"]["data"] for _ in range(6)]
    assert [c["code"] for c in codes] == ["USER_CANCELLED"] * 3 + ["CONSENT_COOLDOWN"] * 3
    assert codes[-1]["details"] == {"origin": ORIGIN, "seconds": 30}
    assert sum(p.kind == "consent" for p in harness.prompter.prompts) == 3
    audited = [r["result"] for r in harness.audit_lines()]
    assert audited == ["USER_CANCELLED"] * 3 + ["CONSENT_COOLDOWN"] * 3
    # Another site is still asked (and here allowed).
    (harness.tmp_path / "answers.json").write_text('{"consent": "allow", "pin": "123456"}')
    elsewhere = await harness.client(other)
    assert "signature" in await elsewhere.call("sign.hash", params)


async def test_a_certificate_picker_closed_counts_as_a_refusal(demo, agent) -> None:
    (agent.tmp_path / "answers.json").write_text('{"certificate": "cancel", "pin": "123456"}')
    params = {"digest": base64.b64encode(bytes(32)).decode()}  # no certificate: the picker
    client = await agent.client()
    codes = [(await client.request("sign.hash", params))["error"]["data"]["code"] for _ in range(4)]
    assert codes == ["USER_CANCELLED"] * 3 + ["CONSENT_COOLDOWN"]
    assert sum(p.kind == "certificate" for p in agent.prompter.prompts) == 3
