"""Pairing cannot be used to nag: the pure rules, then the agent refusing a prompt-bombing page.

A hostile page can make the browser connect from many origins (iframes on a1.evil.example,
a2.evil.example, ...), each a fresh pairing question. The scripted prompter records every
question it answers, so the number of ``pair`` records is the number of dialogs a user saw.
"""

from __future__ import annotations

import asyncio
import json
import stat
import time

import aiohttp
import pytest

from agent.server.app import PAIRING_KEY
from agent.server.approvals import ApprovalStore
from agent.server.origin import (
    IP_SITE,
    MAX_PROMPTS_PER_WINDOW,
    PROMPT_WINDOW_SECONDS,
    SITE_STRIKES,
    UNANSWERED_RETRY_SECONDS,
    PairingGuard,
    PairingRefusal,
    site_of,
)
from agent.server.pairing import MAX_PAIRING_WAITING


@pytest.mark.parametrize(
    ("origin", "site"),
    [
        ("https://a1.evil.example", "evil.example"),
        ("https://dichvucong.baohiemxahoi.gov.vn", "baohiemxahoi.gov.vn"),
        ("https://baohiemxahoi.gov.vn", "baohiemxahoi.gov.vn"),
        ("https://ketoan.abc.com.vn:8443", "abc.com.vn"),
        # The PSL's private section (anyone gets a subdomain there): one site for the limits.
        ("https://user1.github.io", "github.io"),
        ("https://dichvucong-gov-vn-7.pages.dev", "pages.dev"),
        ("https://a.b.netlify.app", "netlify.app"),
        ("https://thue.blogspot.com", "blogspot.com"),
        ("https://gov.vn", "gov.vn"),
        # Every IP address is one site: a /64 of IPv6 addresses would be an endless supply.
        ("https://127.0.0.1:8600", IP_SITE),
        ("https://[::1]:8600", IP_SITE),
        ("https://203.0.113.9", IP_SITE),
        ("https://[2001:db8::1]", IP_SITE),
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
    # One refusal on a government site does not silence its other services (a fresh guard:
    # a third refusal in a row would pause every new question for a while, see below).
    guard = PairingGuard()
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


def test_a_question_a_full_window_ago_no_longer_counts() -> None:
    guard = PairingGuard()
    for _ in range(MAX_PROMPTS_PER_WINDOW):
        guard.asking(now=0.0)
    assert guard.refusal("https://next.example", now=PROMPT_WINDOW_SECONDS - 0.5) is (
        PairingRefusal.TOO_MANY
    )
    assert guard.refusal("https://next.example", now=PROMPT_WINDOW_SECONDS) is None


class Clock:
    """The agent's pairing clock (monotonic seconds), moved on by the test: no sleeping."""

    def __init__(self, pairing) -> None:
        self.now = time.monotonic()
        pairing.clock = self

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class GatedPairing:
    """A spy on the real scripted prompter's pairing question that holds every answer until the
    test opens the gate (the user has not clicked yet): sequencing without timing. With a
    ``clock``, the user takes ``think_seconds`` (of that clock) to answer each question.
    ``withdrawn``: the questions closed before the user answered (their pages went away)."""

    def __init__(self, prompter, clock: Clock | None = None, think_seconds: float = 0.0) -> None:
        self.asked: list[str] = []
        self.withdrawn: list[str] = []
        self.open = asyncio.Event()
        self._answer = prompter.pair
        self._clock = clock
        self._think = think_seconds
        prompter.pair = self.pair

    async def pair(self, request):
        self.asked.append(request.origin)
        try:
            await self.open.wait()
        except asyncio.CancelledError:
            self.withdrawn.append(request.origin)
            raise
        if self._clock is not None:
            self._clock.advance(self._think)
        return await self._answer(request)


async def _until(condition) -> None:
    """Wait for ``condition()`` to hold, checking between event-loop turns (no fixed sleep)."""
    async with asyncio.timeout(20):
        while not condition():
            await asyncio.sleep(0.01)


async def test_the_live_agent_asks_at_most_a_few_questions_a_minute(harness) -> None:
    # Every question answered "once" (no strikes against any site): the per-minute limit alone
    # must stop the fifth site's question. That site is told "busy, try later" (4429), never
    # "refused" (4403): it may be the user's own portal, crowded out by another page's
    # questions; once the minute has passed it is asked like any other.
    harness.prompter.path.write_text(json.dumps({"pair": "once"}))
    await harness.start()
    clock = Clock(harness.agent.runner.app[PAIRING_KEY])
    sites = [f"https://site{n}.example" for n in range(MAX_PROMPTS_PER_WINDOW + 1)]
    for origin in sites[:-1]:
        client = await harness.client(origin)
        assert (await client.call("agent.info"))["origin"] == origin
    assert await _busy(harness, sites[-1])
    assert [p.summary for p in harness.prompter.prompts if p.kind == "pair"] == sites[:-1]
    clock.advance(PROMPT_WINDOW_SECONDS + 1)
    client = await harness.client(sites[-1])
    assert (await client.call("agent.info"))["origin"] == sites[-1]
    assert [p.summary for p in harness.prompter.prompts if p.kind == "pair"] == sites


async def _busy(agent, origin: str) -> bool:
    """True when the agent closed the WebSocket from ``origin`` with 4429 (busy: try later)."""
    ws = await agent.raw_ws(origin)
    msg = await ws.receive(timeout=10)
    assert msg.type is aiohttp.WSMsgType.CLOSE, msg
    assert (msg.data, msg.extra) == (4429, "TOO_MANY_CONNECTIONS")
    return True


async def test_waiting_origins_are_bounded(harness) -> None:
    # While one question is on screen, distinct origins queue for theirs; past the bound a new
    # one is refused at once instead of holding a connection (and memory) open.
    harness.prompter.path.write_text(json.dumps({"pair": "once"}))
    await harness.start()
    pairing = harness.agent.runner.app[PAIRING_KEY]
    # The user takes a minute over each question: the per-minute limit never refuses one here.
    gate = GatedPairing(harness.prompter, Clock(pairing), think_seconds=PROMPT_WINDOW_SECONDS)
    waiting = [
        asyncio.create_task(harness.raw_ws(f"https://w{n}.example{n}"))
        for n in range(MAX_PAIRING_WAITING)
    ]
    await _until(lambda: len(pairing._pending) == MAX_PAIRING_WAITING and gate.asked)
    assert len(gate.asked) == 1  # one dialog at a time: the others wait their turn
    # The newcomer is told "busy" (4429), not "not allowed" (4403): nobody refused it, and a
    # page that gets 4403 tells its user the site is refused and to quit and reopen Kyso
    # (ORIGIN_NOT_ALLOWED's advice), while 4429 means reload a little later, which works.
    newcomer = "https://one-too-many.example"
    assert await _busy(harness, newcomer)
    assert newcomer not in gate.asked
    gate.open.set()
    for ws in await asyncio.gather(*waiting):
        assert not ws.closed  # each answered "once" in its turn
        await ws.close()
    # Once the queue has room, the same page trying again gets its question.
    ws = await harness.raw_ws(newcomer)
    assert not ws.closed and gate.asked[-1] == newcomer
    await ws.close()


async def test_a_waiter_going_away_does_not_spoil_the_answer_for_the_others(harness) -> None:
    # Two connections from one origin share one question. The second page leaves (its handler
    # is cancelled): the first must still get the user's answer, and the approval is kept.
    gate = GatedPairing(harness.prompter)
    await harness.start()
    pairing = harness.agent.runner.app[PAIRING_KEY]
    origin = "https://shared.example"
    first = asyncio.create_task(pairing.ask(origin))
    await _until(lambda: gate.asked == [origin])
    second = asyncio.create_task(pairing.ask(origin))
    await _until(lambda: pairing.waiting.get(origin) == 2)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    gate.open.set()
    assert await first is True
    assert origin in harness.approvals
    # And the other way round: the page that raised the question leaves. The question is the
    # origin's, not that page's: the other page still waits for it and gets the user's answer
    # (a "no" here would tell it the site is refused, which nobody said).
    gate.open.clear()
    other = "https://leaver.example"
    asker = asyncio.create_task(pairing.ask(other))
    await _until(lambda: gate.asked[-1:] == [other])
    follower = asyncio.create_task(pairing.ask(other))
    await _until(lambda: pairing.waiting.get(other) == 2)
    asker.cancel()
    await _until(lambda: pairing.waiting.get(other) == 1)
    assert gate.withdrawn == [] and other in pairing._pending  # still on screen
    gate.open.set()
    assert await asyncio.wait_for(follower, 10) is True
    assert other in harness.approvals


async def test_the_last_waiter_leaving_withdraws_the_question(harness) -> None:
    # Pairing's own rule, under the handshakes: once no handshake waits for an origin's
    # question, it is closed if shown, or dropped before its turn, and its places are free.
    gate = GatedPairing(harness.prompter)
    await harness.start()
    pairing = harness.agent.runner.app[PAIRING_KEY]
    shown, queued = "https://shown.example", "https://queued.example"
    asking = [asyncio.create_task(pairing.ask(o)) for o in (shown, queued)]
    await _until(lambda: gate.asked == [shown] and queued in pairing._pending)
    for task in asking:
        task.cancel()
    await asyncio.gather(*asking, return_exceptions=True)
    await _until(lambda: not pairing._pending)
    assert gate.withdrawn == [shown] and gate.asked == [shown]  # the queued one never shown
    assert pairing.waiting == {} and pairing.waiting_per_site == {}
    # The shown one counts as a question left unanswered (else showing and withdrawing would
    # get round every limit); the one never shown does not.
    assert pairing.guard.strikes == {"shown.example": 1}


# ---- the user's "always allow" answers, on disk --------------------------------------------------


def test_approvals_are_kept_exactly_and_survive_a_restart(tmp_path) -> None:
    path = tmp_path / "approvals.json"
    store = ApprovalStore(path)
    store.add("HTTPS://Portal.Example:443")  # the browser's spelling is normalised
    assert "https://portal.example" in store
    for lookalike in ("https://portal.example.evil.com", "https://portal.example:8443"):
        assert lookalike not in store
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # only this user may read or change it
    again = ApprovalStore(path)
    assert again.origins == ("https://portal.example",)
    assert again.remove("https://PORTAL.example") is True
    assert ApprovalStore(path).origins == ()
    assert again.remove("https://portal.example") is False


def test_a_hand_edited_file_is_read_normalised(tmp_path) -> None:
    path = tmp_path / "approvals.json"
    path.write_text(json.dumps({"version": 1, "origins": {"HTTPS://Portal.Example:443": {}}}))
    assert ApprovalStore(path).origins == ("https://portal.example",)


def test_a_damaged_approvals_file_is_kept_aside_not_overwritten(tmp_path) -> None:
    path = tmp_path / "approvals.json"
    damaged = b'{"origins": {"https://a.example": '  # cut short by a crash or a bad edit
    path.write_bytes(damaged)
    store = ApprovalStore(path)
    assert store.origins == ()  # the worst case: the user is asked again
    store.add("https://b.example")
    aside = list(tmp_path.glob("approvals.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged
    assert ApprovalStore(path).origins == ("https://b.example",)


async def test_the_pairing_question_names_the_domain_to_judge(agent) -> None:
    """Red team 40: a long look-alike origin wraps in the window so that its first line reads
    like the real portal; the question itself names the registrable domain."""
    agent.prompter.path.write_text(json.dumps({"pair": "deny"}))
    look_alike = "https://dichvucong.baohiemxahoi.gov.vn." + "x" * 60 + ".vn-verify.com"
    assert await _refused(agent, look_alike)
    (asked,) = [p for p in agent.prompter.prompts if p.kind == "pair"]
    question = dict(asked.shown[0][1])
    assert "tên miền «vn-verify.com»" in question["vi"], question
    assert "domain “vn-verify.com”" in question["en"], question


@pytest.mark.parametrize(
    ("origin", "domain"),
    [
        ("https://dichvucong.baohiemxahoi.gov.vn", "baohiemxahoi.gov.vn"),
        ("https://a.b.vn-verify.com.", "vn-verify.com"),
        ("https://me.github.io", "me.github.io"),  # a customer's own site, not github.io
        ("https://127.0.0.1:8443", "127.0.0.1"),
        ("https://[::1]", "::1"),
    ],
)
def test_the_shown_domain_is_the_registrable_one(origin: str, domain: str) -> None:
    from agent.server.origin import shown_domain

    assert shown_domain(origin) == domain
