"""What the tray's menu actions do to a running agent, on the agent's event loop.

The tray thread only hands action strings over (``loop.call_soon_threadsafe``); this controller
owns the state the menu shows and changes the agent: pause (``services.signing_paused``, which
the server's dispatcher reads), revoke a site (``services.approvals``), language, PIN cache and
log-on start. Remote credentials are read, never interactively, from the agent's certificate
directory, a hook like the programs that need the CLI's signing code (file signing, the journal
window): they come from the composition root, so the UI layer never imports the CLI or the
server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.ui.tray_model import RemoteLine, TokenLine, TrayState, text
from agent.ui.tray_prefs import (
    autostart_enabled,
    load_preferences,
    save_preferences,
    set_autostart,
)

if TYPE_CHECKING:
    from agent.ui.tray import Tray

log = logging.getLogger(__name__)

# How often the allowed-sites list is compared with approvals.json: a page allowed "always" (the
# server) or `kyso-agent sites allow|revoke` (another process) changes it behind the tray's back.
SITES_POLL_SECONDS = 2.0


@dataclass
class TrayHooks:
    """What the composition root gives the tray (None: the entry is hidden or does nothing)."""

    sign_files: Callable[[str], None] | None = None  # language -> open the file-signing program
    journal: Callable[[str], None] | None = None  # language -> show the signing journal
    set_pin_cache: Callable[[bool], None] | None = None
    pin_cache: bool = False
    pin_cache_locked: bool = False  # the managed policy sets it: shown, not changeable
    trust_status: Callable[[], bool] | None = None  # True when the browsers trust Kyso
    trust_install: Callable[[], bool] | None = None
    version: str = ""
    # The running agent's certificate directory (agent.server.operations.CertificateDirectory):
    # the remote providers' credentials are read from it, never interactively.
    certificates: Any = None
    # False under a policy that allows no site of the user's own: the user's approvals are
    # refused by the agent, so the tray does not list them as allowed.
    user_sites: bool = True


class NoticePrompter:
    """The agent's prompter, plus a desktop notification each time a page waits for the user
    (the dialog may open behind the browser). Everything else is the wrapped prompter's."""

    def __init__(self, inner: Any, notice: Callable[[], None]) -> None:
        self._inner = inner
        self._notice = notice

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def pair(self, request: Any) -> Any:
        """Ask to pair, after a notice."""
        self._notice()
        return await self._inner.pair(request)

    async def choose_certificate(self, request: Any) -> Any:
        """Ask for a certificate, after a notice."""
        self._notice()
        return await self._inner.choose_certificate(request)

    async def consent(self, request: Any) -> bool:
        """Ask for consent, after a notice."""
        self._notice()
        return bool(await self._inner.consent(request))

    async def get_pin(self, request: Any) -> str | None:
        """Ask for the PIN (the consent's notice already said a window is waiting)."""
        return await self._inner.get_pin(request)


class TrayController:
    """The tray's state and actions for one running agent."""

    def __init__(
        self,
        agent: Any,
        loop: asyncio.AbstractEventLoop,
        on_quit: Callable[[], None],
        hooks: TrayHooks,
        *,
        prefs_path: Path | None = None,
    ) -> None:
        """Read the saved preferences; nothing is shown yet."""
        self.agent = agent
        self.loop = loop
        self.on_quit = on_quit
        self.hooks = hooks
        self.prefs_path = prefs_path
        self.prefs = load_preferences(prefs_path)
        self.tray: Tray | None = None
        self.state = TrayState()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wrapped: Any = None
        if self.prefs.pin_cache is not None and not hooks.pin_cache_locked and hooks.set_pin_cache:
            hooks.set_pin_cache(self.prefs.pin_cache)
            hooks.pin_cache = self.prefs.pin_cache

    @property
    def services(self) -> Any:
        """The running agent's services."""
        return self.agent.services

    @property
    def language(self) -> str:
        """vi or en, as chosen in Settings."""
        return self.prefs.language

    async def tokens(self) -> tuple[TokenLine, ...]:
        """Plugged-in tokens with the names of their certificates (never raises)."""
        service = getattr(self.services, "tokens", None)
        if service is None:
            return ()
        try:
            tokens = await service.list_tokens()
            certs = await service.list_certificates()
        except Exception:
            log.debug("tray: listing tokens failed", exc_info=True)
            return ()
        lines = []
        for token in tokens:
            names = tuple(
                c.info.subject_display
                for c in certs
                if c.token.key == token.key and not c.info.is_ca
            )
            lines.append(TokenLine(token.label, names))
        return tuple(lines)

    async def remote(self) -> tuple[RemoteLine, ...]:
        """Each configured remote provider with its credentials' names, or why it could not be
        listed (never raises). Non-interactive: the tray never opens the browser or asks a
        provider's sign-in; the directory's cached listing is reused when it has one."""
        directory = self.hooks.certificates
        if directory is None:
            return ()
        try:
            credentials = await directory.remote_credentials(interactive=False)
            remote = directory.remote
        except Exception:
            log.debug("tray: listing remote credentials failed", exc_info=True)
            return ()
        if remote is None:
            return ()
        waiting = {p.name for p in remote.awaiting_sign_in()}
        lines = []
        for service in remote.services:
            provider = service.provider
            status = remote.statuses.get(provider.name)
            failure = None
            if provider.name in waiting:
                failure = "SIGN_IN"
            elif status is not None and not status.ok:
                failure = str((status.error or {}).get("code") or "?")
            mine = [c for c in credentials if c.provider.name == provider.name]
            lines.append(
                RemoteLine(
                    provider.label,
                    tuple(c.info.subject_display for c in mine if not c.details.problem),
                    tuple(c.info.subject_display for c in mine if c.details.problem),
                    failure,
                )
            )
        return tuple(lines)

    def _sites(self) -> tuple[str, ...]:
        """The sites the user allowed: for good, and "once" in this run (each can be revoked;
        revoking also closes the site's open connections)."""
        approvals = getattr(self.services, "approvals", None)
        if approvals is None or not self.hooks.user_sites:
            return ()
        once = getattr(approvals, "session_origins", ())
        return tuple(sorted({*approvals.origins, *once}))

    async def refresh(self) -> TrayState:
        """Rebuild the state from the agent (tokens, remote credentials, sites, pause) and
        redraw."""
        prompter = getattr(self.services, "prompter", None)
        # Read together: the wait is the slower of the two, not their sum.
        tokens, remote = await asyncio.gather(self.tokens(), self.remote())
        self.state = replace(
            self.state,
            port=getattr(self.agent, "port", None),
            tokens=tokens,
            remote=remote,
            sites=self._sites(),
            paused=bool(getattr(self.services, "signing_paused", False)),
            scripted=getattr(prompter, "name", "") == "scripted",
            language=self.language,
            pin_cache=self.hooks.pin_cache,
            pin_cache_locked=self.hooks.pin_cache_locked,
            autostart=autostart_enabled(),
            version=self.hooks.version,
            can_sign_files=self.hooks.sign_files is not None,
        )
        self._redraw()
        return self.state

    def _redraw(self) -> None:
        if self.tray is not None:
            self.tray.update(self.state)

    def notify(self, key: str, **values: object) -> None:
        """A notification in the user's language."""
        message = text(key, self.language, **values)
        if self.tray is not None:
            self.tray.notify(message)
        else:
            log.warning("Kyso: %s", message)

    def _spawn(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def handle(self, action: str) -> None:
        """Do one menu action (on the event loop)."""
        if action == "quit":
            self.on_quit()
        elif action == "toggle_pause":
            paused = not bool(getattr(self.services, "signing_paused", False))
            self.services.signing_paused = paused
            log.warning("signing %s from the tray", "paused" if paused else "resumed")
            self.notify("paused_note" if paused else "resumed_note")
            self.state = replace(self.state, paused=paused)
            self._redraw()
        elif action.startswith("revoke:"):
            origin = action.split(":", 1)[1]
            if self.services.approvals.remove(origin):
                log.warning("site %s revoked from the tray", origin)
                self.notify("revoked_note", origin=origin)
            self.state = replace(self.state, sites=self._sites())
            self._redraw()
        elif action.startswith("language:") or action in ("pin_cache", "autostart"):
            self._setting(action)
        elif action == "sign_files" and self.hooks.sign_files is not None:
            self.hooks.sign_files(self.language)
        elif action == "journal" and self.hooks.journal is not None:
            self.hooks.journal(self.language)
        elif action == "trust":
            self._spawn(self._trust())
        elif action == "open_log":
            from agent.config.paths import log_dir

            open_folder(log_dir())

    def _setting(self, action: str) -> None:
        """The Settings submenu: language, PIN cache, log-on start."""
        if action.startswith("language:"):
            self.prefs.language = "en" if action.endswith(":en") else "vi"
            save_preferences(self.prefs, self.prefs_path)
            self.state = replace(self.state, language=self.prefs.language)
            self._redraw()
        elif action == "pin_cache" and self.hooks.set_pin_cache and not self.hooks.pin_cache_locked:
            self.hooks.pin_cache = not self.hooks.pin_cache
            self.hooks.set_pin_cache(self.hooks.pin_cache)
            self.prefs.pin_cache = self.hooks.pin_cache
            save_preferences(self.prefs, self.prefs_path)
            self.state = replace(self.state, pin_cache=self.hooks.pin_cache)
            self._redraw()
        elif action == "autostart" and set_autostart(not self.state.autostart):
            self.state = replace(self.state, autostart=autostart_enabled())
            self._redraw()

    async def _trust(self) -> None:
        install = self.hooks.trust_install or _trust_install
        ok = await asyncio.to_thread(install)
        self.notify("trust_done" if ok else "trust_failed")
        if ok:
            self.state = replace(self.state, trust_missing=False)
            self._redraw()

    def install_prompt_notices(self) -> None:
        """Wrap the agent's prompter so a waiting dialog is announced by a notification."""
        prompter = getattr(self.services, "prompter", None)
        if prompter is None or isinstance(prompter, NoticePrompter):
            return
        self._wrapped = prompter

        def announce() -> None:
            self.loop.call_soon_threadsafe(self.notify, "waiting")

        self.services.prompter = NoticePrompter(prompter, announce)

    def start_first_run_checks(self) -> None:
        """Check in the background whether the browsers trust Kyso; offer the fix if not."""
        self._spawn(self._check_trust())

    async def _check_trust(self) -> None:
        check = self.hooks.trust_status or _trust_status
        try:
            trusted = await asyncio.to_thread(check)
        except Exception:
            log.debug("tray: trust status failed", exc_info=True)
            return
        if not trusted:
            self.state = replace(self.state, trust_missing=True)
            self._redraw()
            self.notify("trust_offer")

    async def follow_tokens(self) -> None:
        """Refresh the menu on every hot-plug event until cancelled."""
        service = getattr(self.services, "tokens", None)
        if service is None or not hasattr(service, "subscribe"):
            return
        queue = service.subscribe()
        try:
            while True:
                await queue.get()
                await self.refresh()
        finally:
            service.unsubscribe(queue)

    async def follow_sites(self) -> None:
        """Redraw when the allowed sites change elsewhere (a page allowed for good, the CLI),
        so the menu never offers to revoke a site that is gone or hides a new one."""
        while True:
            await asyncio.sleep(SITES_POLL_SECONDS)
            try:
                sites = self._sites()  # a stat of approvals.json; read again only when changed
            except Exception:
                log.debug("tray: reading the allowed sites failed", exc_info=True)
                continue
            if sites != self.state.sites:
                self.state = replace(self.state, sites=sites)
                self._redraw()

    def close(self) -> None:
        """Give the agent its own prompter back and stop background work."""
        if self._wrapped is not None:
            self.services.prompter = self._wrapped
            self._wrapped = None
        for task in list(self._tasks):
            task.cancel()


def open_folder(path: Path) -> None:
    """Show a folder in the desktop's file manager (never waits for it)."""
    if sys.platform.startswith("win"):
        os.startfile(path)  # type: ignore[attr-defined]
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    try:
        subprocess.Popen([opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as exc:
        log.warning("cannot open %s: %s", path, exc)


def _trust_status() -> bool:
    from agent.localtls.truststore import run_trust

    with contextlib.suppress(Exception):
        return bool(run_trust("status").ok)
    return True  # unknown: do not nag


def _trust_install() -> bool:
    from agent.localtls.truststore import run_trust

    try:
        return bool(run_trust("install").ok)
    except Exception:
        log.warning("trust install from the tray failed", exc_info=True)
        return False
