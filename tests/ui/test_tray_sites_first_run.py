"""The tray and the rest of the agent agree: sites allowed or revoked with `kyso-agent sites`
(another process) appear in and leave the tray's menu, and a site revoked in the tray is gone
for the CLI; the first start offers browser trust and explains it; the menu's programs open in
the tray's language; "Mở thư mục nhật ký" opens the log folder."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agent.server.approvals import ApprovalStore
from agent.ui.tray_control import TrayController, TrayHooks
from agent.ui.tray_model import actions, menu_model, text

REPO = Path(__file__).resolve().parents[2]
BHXH = "https://dichvucong.baohiemxahoi.gov.vn"
THUE = "https://thuedientu.gdt.gov.vn"


class NoTokens:
    async def list_tokens(self) -> list[Any]:
        return []

    async def list_certificates(self) -> list[Any]:
        return []


def controller_for(tmp_path: Path, hooks: TrayHooks, approvals: Any = None) -> TrayController:
    services = SimpleNamespace(
        tokens=NoTokens(), prompter=None, approvals=approvals, signing_paused=False
    )
    agent = SimpleNamespace(port=27443, services=services)
    return TrayController(
        agent, asyncio.get_running_loop(), lambda: None, hooks, prefs_path=tmp_path / "tray.json"
    )


def cli(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`kyso-agent ARGV` as the user would run it, in its own process."""
    env = {**os.environ, "KYSO_HOME": str(home), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *argv],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


async def until(condition: Any, what: str, timeout: float = 30) -> None:
    """Wait on the event loop until ``condition()`` holds (the tray's tasks run meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"never: {what}"
        await asyncio.sleep(0.02)


async def test_sites_from_the_cli_show_in_the_tray_and_a_tray_revoke_reaches_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KYSO_HOME", str(tmp_path))
    monkeypatch.setattr("agent.ui.tray_control.SITES_POLL_SECONDS", 0.05)
    store = ApprovalStore()  # the running agent's store, the file the CLI edits
    ctl = controller_for(tmp_path, TrayHooks(), store)
    await ctl.refresh()
    assert ctl.state.sites == ()
    follow = asyncio.get_running_loop().create_task(ctl.follow_sites())
    try:
        for site in (BHXH, THUE):
            done = cli(tmp_path, "sites", "allow", site)
            assert done.returncode == 0, done.stderr
        # The running tray shows both, each with its own "revoke", without a restart.
        await until(lambda: ctl.state.sites == (BHXH, THUE), "the CLI's sites in the tray")
        assert f"revoke:{BHXH}" in actions(menu_model(ctl.state))
        ctl.handle(f"revoke:{BHXH}")  # the menu's "Thu hồi quyền"
        listed = cli(tmp_path, "sites", "list", "--json")
        assert [r["origin"] for r in json.loads(listed.stdout)["sites"]] == [THUE]
        # Revoked in the CLI: gone from the menu too.
        assert cli(tmp_path, "sites", "revoke", THUE).returncode == 0
        await until(lambda: ctl.state.sites == (), "the CLI's revoke in the tray")
        assert not any(a.startswith("revoke:") for a in actions(menu_model(ctl.state)))
    finally:
        follow.cancel()


async def test_first_start_offers_browser_trust_explains_it_and_installs_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    installs: list[bool] = []
    outcome = [False, True]  # the first attempt fails, the second works

    def install() -> bool:
        installs.append(True)
        return outcome[len(installs) - 1]

    ctl = controller_for(tmp_path, TrayHooks(trust_status=lambda: False, trust_install=install))
    await ctl.refresh()
    caplog.set_level(logging.WARNING)
    ctl.start_first_run_checks()
    await until(lambda: ctl.state.trust_missing, "the first-run trust check")
    offer = text("trust_offer", "vi")
    await until(lambda: offer in caplog.text, "the trust offer")
    assert "chỉ dùng cho 127.0.0.1" in offer  # says what will happen before it happens
    entry = [e for e in menu_model(ctl.state) if e.action == "trust"]
    assert entry[0].label == "⚠ Cài đặt tin cậy cho trình duyệt"
    ctl.handle("trust")
    await until(lambda: text("trust_failed", "vi") in caplog.text, "the failure notice")
    assert ctl.state.trust_missing  # still offered
    ctl.handle("trust")
    await until(lambda: not ctl.state.trust_missing, "trust installed")
    assert installs == [True, True] and text("trust_done", "vi") in caplog.text
    entry = [e for e in menu_model(ctl.state) if e.action == "trust"]
    assert entry[0].label == "Cài đặt tin cậy cho trình duyệt"  # no warning sign any more


async def test_browsers_that_trust_kyso_are_not_nagged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checked: list[bool] = []

    def status() -> bool:
        checked.append(True)
        return True

    ctl = controller_for(tmp_path, TrayHooks(trust_status=status))
    await ctl.refresh()
    caplog.set_level(logging.WARNING)
    ctl.start_first_run_checks()
    await until(lambda: checked == [True] and not ctl._tasks, "the trust check to end")
    assert not ctl.state.trust_missing
    assert text("trust_offer", "vi") not in caplog.text


async def test_menu_programs_open_in_the_trays_language_and_the_log_folder_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KYSO_HOME", str(tmp_path / "home"))
    # The desktop's "open this folder" program: here a script that writes what it was given.
    opened = tmp_path / "opened.txt"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opener = bin_dir / "xdg-open"
    opener.write_text(
        f'#!/bin/sh\nprintf "%s" "$1" > "{opened}.tmp" && mv "{opened}.tmp" "{opened}"\n'
    )
    opener.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    started: list[tuple[str, str]] = []
    hooks = TrayHooks(
        sign_files=lambda lang: started.append(("sign_files", lang)),
        journal=lambda lang: started.append(("journal", lang)),
    )
    ctl = controller_for(tmp_path, hooks)
    await ctl.refresh()
    ctl.handle("sign_files")
    ctl.handle("language:en")
    ctl.handle("sign_files")
    ctl.handle("journal")
    assert started == [("sign_files", "vi"), ("sign_files", "en"), ("journal", "en")]
    ctl.handle("open_log")
    await until(opened.exists, "xdg-open was started")
    from agent.config.paths import log_dir

    assert Path(opened.read_text()) == log_dir()


def test_the_journal_shows_vietnam_time_the_site_or_file_and_the_signer() -> None:
    from agent.cli.filesign_cmd import journal_rows
    from agent.ui.tray_journal import journal_cells

    records = [
        {"time": "2026-12-05T17:30:05+00:00", "channel": "agent", "origin": BHXH,
         "method": "sign.xml", "outcome": "signed", "result": "OK", "sha256": "ab" * 32,
         "subject_cn": "Công ty TNHH Giải pháp Kyso Việt Nam"},
        {"time": "2026-12-05T01:02:03+00:00", "channel": "cli", "file": "to-khai\u202e.xml",
         "method": "sign-files", "outcome": "refused", "result": "PIN_INCORRECT",
         "subject_cn": "Nguyễn Văn An"},
    ]  # fmt: skip
    rows = journal_cells(journal_rows(records))
    # 17:30 UTC is 00:30 the next day in Vietnam: the date moves too.
    assert rows[0][:3] == ("2026-12-06 00:30:05", "agent", BHXH)
    # The signer as `kyso-agent audit` shows it (cut at 32 characters, the terminal's width).
    assert rows[0][5].startswith("Công ty TNHH Giải pháp Kyso") and rows[0][6].startswith("abab")
    assert rows[1][0] == "2026-12-05 08:02:03" and "PIN_INCORRECT" in rows[1][4]
    assert "\u202e" not in rows[1][2] and rows[1][2].startswith("to-khai")  # inert file name
