"""Pairing cannot be used to nag: the pure rules, then the agent refusing a prompt-bombing page.

A hostile page can make the browser connect from many origins (iframes on a1.evil.example,
a2.evil.example, ...), each a fresh pairing question. The scripted prompter records every
question it answers, so the number of ``pair`` records is the number of dialogs a user saw.
"""

from __future__ import annotations

import json
import time

import aiohttp
import pytest

from agent.server.app import PAIRING_KEY
from agent.server.origin import (
    MAX_PROMPTS_PER_WINDOW,
    PROMPT_WINDOW_SECONDS,
    SITE_STRIKES,
    UNANSWERED_RETRY_SECONDS,
    PairingGuard,
    PairingRefusal,
    site_of,
)


@pytest.mark.parametrize(
    ("origin", "site"),
    [
        ("https://a1.evil.example", "evil.example"),
        ("https://dichvucong.baohiemxahoi.gov.vn", "baohiemxahoi.gov.vn"),
        ("https://baohiemxahoi.gov.vn", "baohiemxahoi.gov.vn"),
        ("https://ketoan.abc.com.vn:8443", "abc.com.vn"),
        ("https://user1.github.io", "user1.github.io"),  # a public suffix: each user a site
        ("https://gov.vn", "gov.vn"),
        ("https://127.0.0.1:8600", "127.0.0.1"),
        ("https://[::1]:8600", "::1"),
        ("http://localhost:3000", "localhost"),
    ],
)
def test_site_is_the_registrable_domain(origin: str, site: str) -> None:
    assert site_of(origin) == site


def test_a_site_refused_twice_is_not_asked_again() -> None:
    guard = PairingGuard()
    for n in range(SITE_STRIKES):
        assert guard.refusal(f"https://a{n}.evil.example", now=n) is None
        guard.asking(now=n)
        guard.refused(f"https://a{n}.evil.example", now=n)
    assert guard.refusal("https://a9.evil.example", now=10) is PairingRefusal.SITE_REFUSED
    assert guard.refusal("https://evil.example", now=10) is PairingRefusal.SITE_REFUSED
    # Another site, even one with a similar name, is still asked.
    assert guard.refusal("https://evil-example.vn", now=10) is None
    # One refusal on a government site does not silence its other services.
    guard.refused("https://ads.baohiemxahoi.gov.vn", now=10)
    assert guard.refusal("https://dichvucong.baohiemxahoi.gov.vn", now=11) is None


def test_an_ignored_question_waits_before_it_is_asked_again() -> None:
    guard = PairingGuard()
    guard.asking(now=0)
    guard.refused("https://slow.example", now=0, unanswered=True)
    assert guard.refusal("https://slow.example", now=1) is PairingRefusal.UNANSWERED
    later = UNANSWERED_RETRY_SECONDS + 1
    assert guard.refusal("https://slow.example", now=later) is None


def test_at_most_a_few_questions_a_minute_whatever_the_sites() -> None:
    guard = PairingGuard()
    for n in range(MAX_PROMPTS_PER_WINDOW):
        assert guard.refusal(f"https://site{n}.example", now=n) is None
        guard.asking(now=n)
    assert guard.refusal("https://one-more.example", now=10) is PairingRefusal.TOO_MANY
    assert guard.refusal("https://one-more.example", now=PROMPT_WINDOW_SECONDS + 5) is None


async def _refused(agent, origin: str) -> bool:
    """True when the agent closed the WebSocket from ``origin`` with 4403."""
    ws = await agent.raw_ws(origin)
    msg = await ws.receive(timeout=10)
    assert msg.type is aiohttp.WSMsgType.CLOSE, msg
    assert (msg.data, msg.extra) == (4403, "ORIGIN_NOT_ALLOWED")
    return True


async def test_subdomain_bombing_stops_after_two_questions(agent) -> None:
    agent.prompter.path.write_text(json.dumps({"pair": "deny"}))
    for n in range(6):
        assert await _refused(agent, f"https://a{n}.evil.example")
    asked = [p.summary for p in agent.prompter.prompts if p.kind == "pair"]
    assert asked == ["https://a0.evil.example", "https://a1.evil.example"]
    # The user's own portal on another site is still asked about, and can be paired.
    agent.prompter.path.write_text(json.dumps({"pair": "once"}))
    portal = await agent.client("https://dichvucong.baohiemxahoi.gov.vn")
    assert (await portal.call("agent.info"))["origin"] == "https://dichvucong.baohiemxahoi.gov.vn"


async def test_an_unanswered_question_is_not_repeated_at_once(harness) -> None:
    harness.prompter.timeout_seconds = 0.2  # the user's patience, as a real dialog's timeout
    harness.prompter.path.write_text(json.dumps({"pair": "always", "delay_seconds": 5}))
    shown: list[str] = []
    answer = harness.prompter.pair

    async def counting_pair(request):  # a spy on the real prompter: counts dialogs shown
        shown.append(request.origin)
        return await answer(request)

    harness.prompter.pair = counting_pair
    await harness.start()
    assert await _refused(harness, "https://busy.example")  # the user did not answer in time
    assert await _refused(harness, "https://busy.example")  # reconnecting does not re-ask
    assert shown == ["https://busy.example"]
    assert "https://busy.example" not in harness.approvals
    # Only for a while: after the quiet period the origin may be asked again.
    guard = harness.agent.runner.app[PAIRING_KEY].guard
    later = time.monotonic() + UNANSWERED_RETRY_SECONDS + 1
    assert guard.refusal("https://busy.example", now=later) is None
