"""The tray lists the remote credentials (ký số từ xa) of a running agent, as the desktop
composes it (agent.cli.filesign_cmd.desktop_hooks), from the real CSC test service: one line per
provider with its credentials' names, a provider that cannot be reached in words, and a
provider that needs a sign-in in words, without the tray ever opening the browser."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from agent.cli.filesign_cmd import desktop_hooks
from agent.demo.remote import CLIENT_ID, RunningService
from agent.remote.directory import RemoteCredential
from agent.server.context import Services
from agent.server.runner import serve
from agent.ui.tray_control import TrayController
from agent.ui.tray_model import menu_model
from tests.remote.conftest import Browser
from tests.server.conftest import (  # noqa: F401 - fixtures
    Harness,
    answers,
    client_ssl,
    harness,
    make_settings,
    prompter,
    server_cert,
)

LABEL = "Dịch vụ ký số từ xa (thử nghiệm)"
DOWN = "Nhà cung cấp đang ngừng"


def _provider(name: str, label: str, url: str, secret: Path | None = None) -> dict[str, Any]:
    table: dict[str, Any] = {
        "name": name,
        "display_name": label,
        "base_url": url,
        "client_id": CLIENT_ID,
        "auth_flow": "authorization_code",
    }
    if secret is not None:
        table.update(auth_flow="client_credentials", client_secret_file=str(secret))
    return table


def _closed_port() -> int:
    """A loopback port nothing listens on (a provider that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _tray(h: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TrayController:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert h.agent is not None
    return TrayController(
        h.agent,
        asyncio.get_running_loop(),
        lambda: None,
        desktop_hooks(h.agent),
        prefs_path=tmp_path / "tray.json",
    )


def _submenus(state: Any) -> dict[str, list[str]]:
    return {e.label: [c.label for c in e.children] for e in menu_model(state) if e.children}


async def test_the_tray_lists_remote_credentials_and_says_which_provider_is_down(
    harness: Harness,  # noqa: F811
    csc: RunningService,
    secret_file: Path,
    credentials: dict[str, RemoteCredential],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    down = f"http://127.0.0.1:{_closed_port()}/csc/v2"
    await harness.start(
        remote_providers=[
            _provider("demo", LABEL, csc.url, secret_file),
            _provider("down", DOWN, down, secret_file),
        ]
    )
    tray = await _tray(harness, tmp_path, monkeypatch)
    state = await tray.refresh()
    menus = _submenus(state)
    name = {label: c.info.subject_display for label, c in credentials.items()}
    assert menus[f"Ký số từ xa: {LABEL}"] == [
        name["org"],
        name["personal_otp"],
        name["ec"],
        f"{name['revoked']} (không dùng được để ký)",  # revoked at the provider
    ]
    assert menus[f"Ký số từ xa: {DOWN}"] == ["⚠ Không kết nối được"]
    assert any(label.startswith("USB token (") for label in menus)  # the tokens are still there

    tray.handle("language:en")
    menus = _submenus(tray.state)
    assert menus[f"Remote signing: {LABEL}"][0] == name["org"]
    assert menus[f"Remote signing: {DOWN}"] == ["⚠ Cannot be reached"]


async def test_the_tray_never_opens_the_browser_for_a_provider_that_needs_a_sign_in(
    harness: Harness,  # noqa: F811
    csc: RunningService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    browser = Browser()
    services = Services(harness.tokens, harness.prompter, harness.approvals, harness.audit)
    services.browser = browser  # as the CLI composes a desktop agent
    harness.agent = await serve(
        make_settings(remote_providers=[_provider("demo", LABEL, csc.url)]),
        services=services,
        tls=harness.server_ssl,
    )
    tray = await _tray(harness, tmp_path, monkeypatch)
    state = await tray.refresh()
    assert _submenus(state)[f"Ký số từ xa: {LABEL}"] == [
        "⚠ Cần đăng nhập: chọn «Đăng nhập» khi trang web hỏi chọn chứng thư số"
    ]
    assert browser.opened == []
    assert csc.server.state.sign_hash_calls == 0
