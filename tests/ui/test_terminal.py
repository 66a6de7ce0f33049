"""The terminal prompter: full summary shown, PIN via getpass, blocking input off the loop."""

from __future__ import annotations

import asyncio
import io
import threading

import pytest

from agent.errors import KysoError
from agent.tokens.pin import PinState
from agent.ui.api import PairingAnswer
from agent.ui.terminal import TerminalPrompter
from tests.ui import samples


class Keyboard:
    """Answers input() from a list; records which questions were asked and how."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, str]] = []

    def line(self, question: str) -> str:
        self.asked.append(("input", question))
        return self.answers.pop(0)

    def secret(self, question: str) -> str:
        self.asked.append(("getpass", question))
        return self.answers.pop(0)


def _prompter(keys: Keyboard, out: io.StringIO, **kw) -> TerminalPrompter:
    return TerminalPrompter(input_func=keys.line, pin_func=keys.secret, output=out, **kw)


async def test_pairing_consent_and_pin() -> None:
    keys, out = Keyboard("a", "", "y", "975318", ""), io.StringIO()
    prompter = _prompter(keys, out)
    assert await prompter.pair(samples.pairing()) is PairingAnswer.ALWAYS
    assert await prompter.consent(samples.consent()) is False  # Enter alone = no
    assert await prompter.consent(samples.consent()) is True
    assert await prompter.get_pin(samples.pin(PinState(final_try=True))) == "975318"
    assert await prompter.get_pin(samples.pin()) is None  # empty = cancel
    shown = out.getvalue()
    assert samples.ORIGIN in shown and "0101234567" in shown and "9f2c1e7a 9f2c1e7a" in shown
    assert "MỘT lần thử" in shown
    assert "975318" not in shown
    assert [kind for kind, _ in keys.asked] == ["input", "input", "input", "getpass", "getpass"]


async def test_locked_token_asks_nothing() -> None:
    keys, out = Keyboard(), io.StringIO()
    assert await _prompter(keys, out).get_pin(samples.pin(PinState(locked=True))) is None
    assert keys.asked == [] and "bị khóa" in out.getvalue()


async def test_certificate_choice_by_number() -> None:
    keys, out = Keyboard("2", "", "9"), io.StringIO()
    prompter = _prompter(keys, out)
    assert (await prompter.choose_certificate(samples.choice())).certificate is samples.PERSON
    assert (await prompter.choose_certificate(samples.choice())).certificate is samples.ORG
    assert await prompter.choose_certificate(samples.choice()) is None  # out of range = cancel


async def test_certificate_choice_by_token_with_the_page_preference() -> None:
    from agent.server.certificate_choice import Candidate, CertificateFilter, plan_choice

    old = samples.make_cert(expired=True)
    plan = plan_choice(
        samples.ORIGIN,
        [
            Candidate(samples.ORG, "KYSO DEMO 2", "22", True),
            Candidate(samples.PERSON, "KYSO DEMO 1", "11", True),
            Candidate(old, "KYSO DEMO 1", "11", True),
        ],
        CertificateFilter(
            thumbprints=frozenset({samples.ORG.thumbprint, samples.PERSON.thumbprint})
        ),
    )
    keys, out = Keyboard("", "2"), io.StringIO()
    prompter = _prompter(keys, out)
    # Enter takes the preselected one (the first match), a greyed number is a cancel.
    assert (await prompter.choose_certificate(plan.choice)).certificate is samples.PERSON
    assert await prompter.choose_certificate(plan.choice) is None
    shown = out.getvalue() + keys.asked[0][1]
    assert "USB token: KYSO DEMO 1 · số sê-ri / serial 11" in shown
    assert "2. CÔNG TY TNHH PHẦN MỀM HOA SEN, Hà Nội  (không dùng được / unusable)" in shown


async def test_blocking_input_does_not_block_the_loop_and_times_out() -> None:
    asked, release = threading.Event(), threading.Event()

    def slow(question: str) -> str:
        asked.set()
        release.wait(30)
        return "y"

    try:
        prompter = TerminalPrompter(input_func=slow, output=io.StringIO(), timeout_seconds=30)
        task = asyncio.create_task(prompter.consent(samples.consent()))
        # The loop gets control back while input() is still blocked in its thread.
        assert await asyncio.to_thread(asked.wait, 10)
        assert not task.done()
        release.set()
        assert await task is True
        # A user who never answers: the prompt ends with USER_TIMEOUT.
        asked.clear()
        release.clear()
        prompter.timeout_seconds = 0.2
        with pytest.raises(KysoError) as info:
            await prompter.consent(samples.consent())
        assert info.value.code == "USER_TIMEOUT" and asked.is_set()
    finally:
        release.set()


def test_pin_is_not_echoed_on_a_real_terminal(tmp_path) -> None:
    """Run the prompter in a child process on a pseudo-terminal and type the PIN into it."""
    import os
    import pty
    import select
    import sys
    import time

    script = tmp_path / "ask.py"
    script.write_text(
        "import asyncio, sys\n"
        f"sys.path.insert(0, {str(samples.__file__.rsplit('/tests/', 1)[0])!r})\n"
        "from agent.ui.terminal import TerminalPrompter\n"
        "from tests.ui import samples\n"
        "pin = asyncio.run(TerminalPrompter().get_pin(samples.pin()))\n"
        "print('GOT', len(pin or ''), flush=True)\n"
    )
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin/stdout/stderr are the pseudo-terminal
        os.execv(sys.executable, [sys.executable, str(script)])
    seen = b""

    def read_until(marker: bytes, limit: float = 20) -> None:
        nonlocal seen
        deadline = time.monotonic() + limit
        while marker not in seen and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break
        assert marker in seen, seen.decode(errors="replace")

    try:
        read_until("Mã PIN / PIN".encode())
        os.write(fd, b"864209\r")
        read_until(b"GOT 6")
    finally:
        os.waitpid(pid, 0)
        os.close(fd)
    assert b"864209" not in seen  # getpass turned echo off
