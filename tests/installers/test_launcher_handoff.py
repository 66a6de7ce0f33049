"""Explorer with several files selected: one launcher per file (a static verb gets "%1"), and
the launchers hand their files to one of them, so one window signs them all — no file lost,
none signed twice. Also the per-user "not at log-on" choice the launcher honours.

Run here on Linux with real processes and the launcher's POSIX lock (fcntl); on Windows the
same code takes msvcrt's lock — never run on a real Windows yet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from agent.ui import tray_winstart

from .conftest import INSTALLERS
from .test_launcher import launcher

# One launcher as Explorer starts it, reduced to the hand-off: prints the files it would sign.
ONE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("kyso_launcher", sys.argv[1])
launcher = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launcher)
print(json.dumps(launcher.collect_batch(__import__("pathlib").Path(sys.argv[2]), sys.argv[3])))
"""


def test_only_explorers_one_file_form_is_gathered() -> None:
    assert launcher.explorer_file(["sign-files", "C:\\hồ sơ\\a.xml"]) == "C:\\hồ sơ\\a.xml"
    assert launcher.explorer_file(["sign-files", "a.xml", "b.xml"]) is None  # already together
    assert launcher.explorer_file(["sign-files", "--language", "en"]) is None
    assert launcher.explorer_file(["sign-files"]) is None  # the file chooser
    assert launcher.explorer_file(["autostart"]) is None


def test_launchers_started_together_sign_every_file_exactly_once(tmp_path: Path) -> None:
    state = tmp_path / "state"
    files = [tmp_path / f"hồ sơ {n}.xml" for n in range(6)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ONE, str(INSTALLERS / "windows/kyso_launcher.py"), state, f],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files
    ]
    batches = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        batches.append(json.loads(out))
    signed = [path for batch in batches for path in batch]
    assert sorted(signed) == sorted(str(f) for f in files)  # each once: none lost, no twice
    assert any(batches) and not list((state / "handoff").glob("*.req"))


def test_a_file_posted_while_the_lock_is_held_is_never_left_behind(tmp_path: Path) -> None:
    state = tmp_path / "state"
    rounds = []

    def drain(spool: Path) -> list[str]:
        got = launcher.claim_requests(spool)
        if not rounds:
            # Another launcher posts now, finds the lock taken and exits: its file must still
            # be gathered, by the check after the lock is released.
            launcher.post_request(spool, str(tmp_path / "late.pdf"))
        rounds.append(got)
        return got

    batch = launcher.collect_batch(state, str(tmp_path / "first.xml"), drain=drain)
    assert batch == [str(tmp_path / "first.xml"), str(tmp_path / "late.pdf")]
    assert len(rounds) == 2


def test_a_launcher_that_finds_the_lock_taken_hands_its_file_over(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with launcher.single_instance(state / "handoff.lock") as leader:
        assert leader
        assert launcher.collect_batch(state, str(tmp_path / "b.xml")) == []  # exits at once
    # The holder (here a later launcher) gathers it, in the order the files were posted.
    later = launcher.collect_batch(state, str(tmp_path / "c.xml"))
    assert later == [str(tmp_path / "b.xml"), str(tmp_path / "c.xml")]


def test_gathering_waits_for_quiet_then_stops(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    now = [0.0]
    arrivals = {0.2: "b.xml", 0.7: "c.xml"}  # Explorer's other launchers, starting late

    def sleep(seconds: float) -> None:
        now[0] = round(now[0] + seconds, 2)
        if now[0] in arrivals:
            launcher.post_request(spool, str(tmp_path / arrivals[now[0]]))

    launcher.post_request(spool, str(tmp_path / "a.xml"))
    got = launcher.drain_until_quiet(spool, clock=lambda: now[0], sleep=sleep)
    assert got == [str(tmp_path / n) for n in ("a.xml", "b.xml", "c.xml")]
    assert now[0] >= 0.7 + launcher.HANDOFF_QUIET  # a quiet second after the last one


def test_a_crashed_launchers_old_request_is_dropped_not_signed(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    old = launcher.post_request(spool, str(tmp_path / "forgotten.xml"))
    then = time.time() - launcher.HANDOFF_STALE - 60
    os.utime(old, (then, then))
    fresh = str(tmp_path / "today.xml")
    launcher.post_request(spool, fresh)
    assert launcher.claim_requests(spool) == [fresh]
    assert not old.exists()


def test_logon_start_is_skipped_only_for_a_user_who_turned_it_off() -> None:
    off, unset = (lambda: 0), (lambda: None)
    assert launcher.skip_logon_start(["autostart", "--logon"], read=off)
    assert not launcher.skip_logon_start(["autostart", "--logon"], read=unset)
    assert not launcher.skip_logon_start(["autostart", "--logon"], read=lambda: 1)
    assert not launcher.skip_logon_start(["autostart"], read=off)  # the Start menu: always
    # The launcher reads the value the tray writes.
    assert launcher.OPT_OUT_KEY == tray_winstart.USER_KEY
    assert launcher.OPT_OUT_VALUE == tray_winstart.OPT_OUT_VALUE
