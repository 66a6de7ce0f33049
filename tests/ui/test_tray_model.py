"""The tray menu model and its actions, without a display: what a user sees and what a click does."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agent.server.approvals import ApprovalStore
from agent.ui.tray_control import NoticePrompter, TrayController, TrayHooks
from agent.ui.tray_model import TEXT, TokenLine, TrayState, actions, menu_model, tooltip
from agent.ui.tray_prefs import autostart_enabled, load_preferences

SITE = "https://dichvucong.baohiemxahoi.gov.vn"


def labels(entries: Any) -> list[str]:
    out = []
    for e in entries:
        out.append(e.label)
        out += labels(e.children)
    return out


def find(entries: Any, label_start: str) -> Any:
    for e in entries:
        if e.label.startswith(label_start):
            return e
        inner = find(e.children, label_start)
        if inner is not None:
            return inner
    return None


STATE = TrayState(
    port=27443,
    tokens=(TokenLine("VNPT-CA token", ("CÔNG TY TNHH AN BÌNH", "Nguyễn Văn An")),),
    sites=(SITE, "https://thuedientu.gdt.gov.vn"),
    version="0.1.0",
)


def test_menu_shows_status_tokens_sites_pause_settings_version_and_quit() -> None:
    menu = menu_model(STATE)
    assert menu[0].label == "Kyso đang chạy — cổng 27443"
    tokens = find(menu, "USB token (1)")
    assert labels(tokens.children) == [
        "VNPT-CA token",
        "  CÔNG TY TNHH AN BÌNH",
        "  Nguyễn Văn An",
    ]
    sites = find(menu, "Trang được phép (2)")
    assert [s.label for s in sites.children] == [SITE, "https://thuedientu.gdt.gov.vn"]
    assert sites.children[0].children[0].label == "Thu hồi quyền"
    assert actions(menu) == [
        "sign_files",
        "journal",
        f"revoke:{SITE}",
        "revoke:https://thuedientu.gdt.gov.vn",
        "toggle_pause",
        "trust",
        "open_log",
        "language:vi",
        "language:en",
        "pin_cache",
        "autostart",
        "quit",
    ]
    assert "Phiên bản 0.1.0" in labels(menu) and "Thoát" in labels(menu)
    assert find(menu, "Ký tệp hồ sơ…").default  # a left click opens the file signing
    assert find(menu, "Tạm dừng ký số").action == "toggle_pause"
    assert tooltip(STATE).encode("latin-1")  # X11 window names are Latin-1


def test_paused_english_scripted_and_policy_locked_pin_cache() -> None:
    state = TrayState(
        port=27443, paused=True, language="en", scripted=True, pin_cache=True,
        pin_cache_locked=True, trust_missing=True,
    )  # fmt: skip
    menu = menu_model(state)
    assert menu[0].label == "Kyso: signing PAUSED — port 27443"
    assert menu[1].label.startswith("⚠ Scripted answers")
    assert find(menu, "Resume signing").action == "toggle_pause"
    assert find(menu, "No USB token plugged in") is not None
    assert find(menu, "(no site yet)") is not None
    locked = find(menu, "Keep the PIN: on (set by your administrator)")
    assert locked is not None and locked.action is None
    assert "pin_cache" not in actions(menu)
    assert find(menu, "⚠ Make the browsers trust Kyso").action == "trust"
    assert find(menu, "English").checked and not find(menu, "Tiếng Việt").checked
    assert "(paused)" in tooltip(state)


def test_every_label_has_both_languages_and_vietnamese_has_diacritics() -> None:
    for key, (vi, en) in TEXT.items():
        assert vi.strip() and en.strip(), key
    assert TEXT["pause"][0] == "Tạm dừng ký số" and TEXT["sign_files"][0] == "Ký tệp hồ sơ…"


def test_a_hostile_origin_or_token_label_is_shown_inert() -> None:
    evil = "https://xn--evil.vn\u202e\nmoc.lacol"
    menu = menu_model(TrayState(port=1, sites=(evil,), tokens=(TokenLine("tok\u200b\r\nen"),)))
    for label in labels(menu):
        assert "\u202e" not in label and "\n" not in label and "\u200b" not in label
    # The action still carries the exact stored origin, so "revoke" removes the right one.
    assert f"revoke:{evil}" in actions(menu)


class FakeTokens:
    """The token service's listing API (no hot-plug)."""

    async def list_tokens(self) -> list[Any]:
        return []

    async def list_certificates(self) -> list[Any]:
        return []


@pytest.fixture
async def controller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TrayController:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    approvals = ApprovalStore(tmp_path / "approvals.json")
    approvals.add(SITE)
    approvals.add("https://other.example.vn")
    services = SimpleNamespace(
        tokens=FakeTokens(), prompter=None, approvals=approvals, signing_paused=False
    )
    agent = SimpleNamespace(port=27443, services=services)
    quit_called: list[bool] = []
    pins: list[bool] = []
    hooks = TrayHooks(set_pin_cache=pins.append, version="0.1.0")
    ctl = TrayController(
        agent,
        asyncio.get_running_loop(),
        lambda: quit_called.append(True),
        hooks,
        prefs_path=tmp_path / "tray.json",
    )
    ctl.test_quit = quit_called  # type: ignore[attr-defined]
    ctl.test_pins = pins  # type: ignore[attr-defined]
    return ctl


async def test_revoke_removes_the_site_from_approvals_json(controller, tmp_path) -> None:
    await controller.refresh()
    assert SITE in controller.state.sites
    controller.handle(f"revoke:{SITE}")
    saved = json.loads((tmp_path / "approvals.json").read_text())
    assert list(saved["origins"]) == ["https://other.example.vn"]
    assert controller.state.sites == ("https://other.example.vn",)
    assert SITE not in ApprovalStore(tmp_path / "approvals.json")


async def test_pause_sets_the_flag_the_server_reads_and_resume_clears_it(controller) -> None:
    await controller.refresh()
    controller.handle("toggle_pause")
    assert controller.services.signing_paused is True
    assert menu_model(controller.state)[0].label.startswith("Kyso đang TẠM DỪNG")
    controller.handle("toggle_pause")
    assert controller.services.signing_paused is False


async def test_settings_language_pin_cache_and_autostart_are_kept(controller, tmp_path) -> None:
    await controller.refresh()
    controller.handle("language:en")
    assert load_preferences(tmp_path / "tray.json").language == "en"
    assert menu_model(controller.state)[-1].label == "Quit"
    controller.handle("pin_cache")
    assert controller.test_pins == [True]  # applied to the running agent
    assert load_preferences(tmp_path / "tray.json").pin_cache is True
    assert autostart_enabled()
    controller.handle("autostart")
    hidden = tmp_path / "xdg/autostart/kyso-agent.desktop"
    assert "Hidden=true" in hidden.read_text() and not autostart_enabled()
    controller.handle("autostart")
    assert not hidden.exists() and autostart_enabled()
    controller.handle("quit")
    assert controller.test_quit == [True]


async def test_a_waiting_dialog_is_announced_and_answers_are_untouched(tmp_path) -> None:
    from agent.ui.scripted import ScriptedPrompter

    (tmp_path / "a.json").write_text(json.dumps({"consent": "allow"}))
    inner = ScriptedPrompter(tmp_path / "a.json")
    notices: list[bool] = []
    wrapped = NoticePrompter(inner, lambda: notices.append(True))
    from agent.ui.api import ConsentRequest

    request = ConsentRequest(SITE, "sign.xml", "Ký hồ sơ", "Sign a dossier", None)
    assert await wrapped.consent(request) is True
    assert notices == [True]
    assert wrapped.name == "scripted"  # the loud scripted line still works through the wrapper
