"""Pairing questions end, however many sites a page can use, and a closed page leaves none.

The "two refusals per site" rule never fired where every subdomain is a site of its own in the
Public Suffix List's private section (``x.pages.dev``, ``x.github.io``...), nor for IP-literal
origins: a page framing ``https://dichvucong-gov-vn-N.pages.dev`` got a question of its naming
every 15 s for as long as the user kept refusing. Now those count against the registrable
domain under the ICANN section (every IP address against one), and, since registrable domains
cost next to nothing too, refusals in a row pause every new question, longer each time. And a
page that filled the pairing queue and closed left its places held and its questions to come.

Time is the pairing clock moved by the test (no sleeping); the user's answers wait on a gate.
"""

from __future__ import annotations

import asyncio
import json
import math

import aiohttp
import pytest

from agent.server.app import PAIRING_KEY
from agent.server.approvals import ApprovalStore
from agent.server.origin import (
    FIRST_PAUSE_SECONDS,
    FORGET_REFUSALS_SECONDS,
    MAX_PAUSE_SECONDS,
    MAX_PROMPTS_PER_WINDOW,
    PAUSE_AFTER_REFUSALS,
    PROMPT_WINDOW_SECONDS,
    SITE_STRIKES,
    PairingGuard,
    PairingRefusal,
)
from tests.server.test_pairing import Clock, GatedPairing, _refused, _until

PORTAL = "https://dichvucong.baohiemxahoi.gov.vn"
# Slower than the per-minute limit: only the refusal rules can stop a question here.
STEP = PROMPT_WINDOW_SECONDS / MAX_PROMPTS_PER_WINDOW + 1


def _asked(harness) -> list[str]:
    return [p.summary for p in harness.prompter.prompts if p.kind == "pair"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://dichvucong-gov-vn-{n}.pages.dev",  # the red team's: a free host, any name
        "https://thue-{n}.github.io",
        "https://203.0.113.{n}",
        "https://[2001:db8::{n}]",  # a /64 of IPv6 is an endless supply
    ],
)
async def test_free_subdomains_and_ip_addresses_stop_after_two_questions(harness, origin) -> None:
    harness.prompter.path.write_text(json.dumps({"pair": "deny"}))
    agent = await harness.start()
    clock = Clock(agent.runner.app[PAIRING_KEY])
    origins = [origin.format(n=n) for n in range(1, 7)]
    for each in origins:
        clock.advance(STEP)
        assert await _refused(harness, each)
    assert _asked(harness) == origins[:SITE_STRIKES]


async def test_refusals_in_a_row_pause_every_new_question(harness) -> None:
    # Every origin on a registrable domain of its own (cheap, like .xyz ones), the user
    # refusing each: after a few, no new site is asked for a while, longer after each refusal.
    harness.prompter.path.write_text(json.dumps({"pair": "deny"}))
    agent = await harness.start()
    clock = Clock(agent.runner.app[PAIRING_KEY])
    sites = iter(f"https://dichvucong.evil{n}.example" for n in range(100))

    async def asked_about_next() -> bool:
        origin = next(sites)
        assert await _refused(harness, origin)
        return _asked(harness)[-1:] == [origin]

    for _ in range(PAUSE_AFTER_REFUSALS):
        clock.advance(STEP)
        assert await asked_about_next()
    assert not await asked_about_next()  # paused: refused (4403) without a question
    # The user who does want a site meanwhile allows it from the command line (`kyso-agent
    # sites allow`, another process writing approvals.json): it connects at once, no question.
    ApprovalStore(harness.approvals.path).add(PORTAL)
    portal = await harness.client(PORTAL)
    assert (await portal.call("agent.info"))["origin"] == PORTAL
    # Each further refusal doubles the pause.
    for pause in (FIRST_PAUSE_SECONDS, 2 * FIRST_PAUSE_SECONDS):
        clock.advance(pause - 1)
        assert not await asked_about_next()
        clock.advance(1)
        assert await asked_about_next()
    clock.advance(2 * FIRST_PAUSE_SECONDS)
    assert not await asked_about_next()  # the third pause is twice as long again
    assert len(_asked(harness)) == PAUSE_AFTER_REFUSALS + 2


def test_a_page_with_endless_sites_gets_few_questions_a_day() -> None:
    # An attacker asking about a new site every 15 s for a day, each refused (or ignored):
    # 5 760 questions under the per-minute limit alone; now a few in the first hour, then at
    # most one an hour.
    guard = PairingGuard()
    asked = 0
    for n in range(24 * 3600 // 15):
        now = n * 15.0
        origin = f"https://a.site{n}.example"
        if guard.refusal(origin, now) is None:
            guard.asking(now)
            asked += 1
            guard.refused(origin, now, unanswered=n % 2 == 0)
    doublings = math.ceil(math.log2(MAX_PAUSE_SECONDS / FIRST_PAUSE_SECONDS))
    assert asked <= PAUSE_AFTER_REFUSALS + doublings + 24 * 3600 / MAX_PAUSE_SECONDS + 1


def test_a_yes_ends_the_run_and_quiet_forgets_it() -> None:
    guard = PairingGuard()
    for n in range(PAUSE_AFTER_REFUSALS):
        guard.refused(f"https://s{n}.example", now=0.0)
    assert guard.refusal("https://next.example", now=1.0) is PairingRefusal.PAUSED
    # The user said yes to something (a site the CLI or the tray could not have known).
    guard.allowed()
    assert guard.refusal("https://next.example", now=1.0) is None
    guard.refused("https://other.example", now=2.0)  # one refusal: no pause yet
    assert guard.refusal("https://next.example", now=3.0) is None
    # A run that ended in a pause is forgotten after an hour's quiet once the pause is over
    # (and only then: an attacker asked again the moment it ends keeps its run going).
    guard = PairingGuard()
    for n in range(PAUSE_AFTER_REFUSALS + 1):
        guard.refused(f"https://s{n}.example", now=0.0)
    assert guard.paused_until == 2 * FIRST_PAUSE_SECONDS
    quiet = guard.paused_until + FORGET_REFUSALS_SECONDS + 1
    guard.refused("https://late.example", now=quiet)
    assert guard.refusal("https://next.example", now=quiet + 1) is None
    # The new run pauses again at its third refusal.
    guard.refused("https://s9.example", now=quiet + 2)
    guard.refused("https://s10.example", now=quiet + 3)
    assert guard.refusal("https://next.example", now=quiet + 4) is PairingRefusal.PAUSED


async def test_a_closed_page_leaves_no_question_behind(harness) -> None:
    # A page opens handshakes from four sites (one question on screen, three waiting their
    # turn) and closes. Their places are given back, the question on screen is closed, and the
    # three are never shown; the next page's question is the next one the user sees.
    gate = GatedPairing(harness.prompter)
    harness.prompter.path.write_text(json.dumps({"pair": "deny"}))
    agent = await harness.start()
    pairing = agent.runner.app[PAIRING_KEY]
    listener = next(s for s in agent.sites if s.name.startswith("https://127.0.0.1"))
    origins = [f"https://a.evil{n}.example" for n in range(4)]
    page = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    url = f"wss://127.0.0.1:{harness.port}/v1/ws"
    handshakes = [
        asyncio.create_task(page.ws_connect(url, ssl=harness.client_ssl, headers={"Origin": o}))
        for o in origins
    ]
    try:
        await _until(lambda: pairing.waiting_total == len(origins) and len(gate.asked) == 1)
        assert len(pairing._pending) == len(origins) and listener.open == len(origins)
    finally:
        for task in handshakes:  # the page goes away: the browser drops its connections
            task.cancel()
        await asyncio.gather(*handshakes, return_exceptions=True)
        await page.close()
    await _until(lambda: not pairing._pending and pairing.waiting_total == 0)
    await _until(lambda: listener.open == 0)
    assert gate.withdrawn == gate.asked and len(gate.asked) == 1
    gate.open.set()
    newcomer = "https://someone.example"
    assert await _refused(harness, newcomer)  # "deny", as scripted
    assert gate.asked[1:] == [newcomer]
