"""The tray menu as data: what it shows for a state, in the user's language (vi or en).

Pure, so every line and every action is tested without a display; ``agent/ui/tray.py`` turns
the entries into pystray items. Actions are stable strings; site actions carry the origin
(``revoke:https://portal.example.vn``) so the handler never has to find it by menu position.
Origins came from pages once, provider labels and credential names from the configuration and
the remote provider: all are shown through :func:`render_untrusted`.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.ui.untrusted import render_untrusted

LANGUAGES = ("vi", "en")


@dataclass(frozen=True)
class TokenLine:
    """A plugged-in token and the certificates on it (display names)."""

    label: str
    certificates: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemoteLine:
    """A configured remote-signing provider (ký số từ xa): its credentials' display names, the
    ones it will not sign with apart, or why it could not be listed (``failure``: an error
    code, or ``SIGN_IN`` when the user must sign in at the provider first)."""

    label: str
    certificates: tuple[str, ...] = ()
    unusable: tuple[str, ...] = ()  # listed, but disabled or revoked at the provider
    failure: str | None = None


@dataclass(frozen=True)
class TrayState:
    """Everything the menu shows."""

    port: int | None = None
    tokens: tuple[TokenLine, ...] = ()
    remote: tuple[RemoteLine, ...] = ()  # one per configured provider, none when unconfigured
    sites: tuple[str, ...] = ()  # origins the user allowed for good (approvals.json)
    paused: bool = False
    scripted: bool = False
    language: str = "vi"
    pin_cache: bool = False
    pin_cache_locked: bool = False  # set by the managed policy: shown, not changeable
    autostart: bool = True
    version: str = ""
    can_sign_files: bool = True
    trust_missing: bool = False  # the first-run check found a browser that does not trust Kyso


@dataclass(frozen=True)
class MenuEntry:
    """One menu line. ``action`` None and no children: a status line (shown, not clickable);
    label "-": a separator; ``children``: a submenu; ``checked``: a tick box state."""

    label: str
    action: str | None = None
    default: bool = False
    children: tuple[MenuEntry, ...] = ()
    checked: bool | None = None
    enabled: bool = True


SEPARATOR = MenuEntry("-")

# Every label in both languages: one table, so a missing translation is a KeyError in tests.
TEXT: dict[str, tuple[str, str]] = {
    "running": ("Kyso đang chạy — cổng {port}", "Kyso is running — port {port}"),
    "starting": ("Kyso đang khởi động…", "Kyso is starting…"),
    "paused": ("Kyso đang TẠM DỪNG ký số — cổng {port}", "Kyso: signing PAUSED — port {port}"),
    "scripted": (
        "⚠ Trả lời tự động (scripted) — không hỏi người dùng",
        "⚠ Scripted answers — nobody is asked",
    ),
    "tokens": ("USB token ({count})", "USB tokens ({count})"),
    "no_token": ("Chưa cắm USB token", "No USB token plugged in"),
    "no_cert": ("(không có chứng thư số)", "(no certificate)"),
    "remote": ("Ký số từ xa: {provider}", "Remote signing: {provider}"),
    "remote_unusable": ("{name} (không dùng được để ký)", "{name} (cannot sign)"),
    # Why a provider's credentials are not listed, in words; the error code stays in the log.
    "remote_SIGN_IN": (
        "⚠ Cần đăng nhập: chọn «Đăng nhập» khi trang web hỏi chọn chứng thư số",
        "⚠ Sign-in needed: choose “Sign in” when a page asks for a certificate",
    ),
    "remote_REMOTE_UNREACHABLE": ("⚠ Không kết nối được", "⚠ Cannot be reached"),
    "remote_REMOTE_TIMEOUT": ("⚠ Không trả lời", "⚠ Not answering"),
    "remote_REMOTE_BUSY": ("⚠ Đang quá tải, thử lại sau", "⚠ Overloaded: try again later"),
    "remote_REMOTE_AUTH_REFUSED": (
        "⚠ Từ chối đăng nhập của Kyso",
        "⚠ Refused Kyso's sign-in",
    ),
    "remote_REMOTE_TOKEN_EXPIRED": ("⚠ Phiên đăng nhập đã hết hạn", "⚠ The session expired"),
    "remote_REMOTE_PROTOCOL_ERROR": (
        "⚠ Trả lời không đúng chuẩn CSC",
        "⚠ Answers outside the CSC standard",
    ),
    "remote_REMOTE_INSECURE_URL": (
        "⚠ Bị từ chối: địa chỉ không dùng HTTPS",
        "⚠ Refused: the address is not HTTPS",
    ),
    "remote_failed": (
        "⚠ Không liệt kê được chứng thư số ({code})",
        "⚠ Could not list the certificates ({code})",
    ),
    "sign_files": ("Ký tệp hồ sơ…", "Sign dossier files…"),
    "journal": ("Nhật ký ký số", "Signing journal"),
    "sites": ("Trang được phép ({count})", "Allowed sites ({count})"),
    "no_sites": ("(chưa có trang nào)", "(no site yet)"),
    "revoke": ("Thu hồi quyền", "Revoke"),
    "pause": ("Tạm dừng ký số", "Pause signing"),
    "resume": ("Tiếp tục ký số", "Resume signing"),
    "trust": ("Cài đặt tin cậy cho trình duyệt", "Make the browsers trust Kyso"),
    "trust_offer": (
        "Trình duyệt trên máy này chưa tin cậy Kyso, nên trang web chưa kết nối được. Chọn "
        "«Cài đặt tin cậy cho trình duyệt» trong menu Kyso: Kyso thêm chứng thư riêng của máy "
        "này (chỉ dùng cho 127.0.0.1) vào kho tin cậy của trình duyệt; sau đó mở lại trình duyệt.",
        "The browsers on this computer do not trust Kyso yet, so pages cannot connect. Choose "
        "“Make the browsers trust Kyso” in the Kyso menu: Kyso adds this computer's own "
        "certificate (used only for 127.0.0.1) to the browsers' trust stores; then restart the "
        "browser.",
    ),
    "trust_done": (
        "Đã cài đặt tin cậy: trình duyệt tin cậy Kyso. Hãy mở lại trình duyệt.",
        "Done: the browsers trust Kyso. Restart the browser.",
    ),
    "trust_failed": (
        "Chưa cài đặt được tin cậy cho trình duyệt. Xem chi tiết bằng lệnh "
        "'kyso-agent trust status' hoặc nhờ bộ phận IT.",
        "Could not make the browsers trust Kyso. Run 'kyso-agent trust status' for details, or "
        "ask your IT department.",
    ),
    "waiting": (
        "Kyso đang chờ bạn xác nhận trong cửa sổ Kyso (cửa sổ có thể nằm sau trình duyệt).",
        "Kyso is waiting for you in its window (it may be behind the browser).",
    ),
    "paused_note": (
        "Đã tạm dừng ký số: mọi yêu cầu ký từ trang web sẽ bị từ chối cho tới khi bạn chọn "
        "«Tiếp tục ký số».",
        "Signing is paused: every signing request from a page is refused until you choose "
        "“Resume signing”.",
    ),
    "resumed_note": ("Đã tiếp tục ký số.", "Signing resumed."),
    "revoked_note": (
        "Đã thu hồi quyền của {origin}. Lần sau trang này phải hỏi lại bạn.",
        "{origin} is no longer allowed. Next time the site must ask you again.",
    ),
    "open_log": ("Mở thư mục nhật ký", "Open the log folder"),
    "settings": ("Cài đặt", "Settings"),
    "language": ("Ngôn ngữ: Tiếng Việt", "Language: English"),
    "lang_vi": ("Tiếng Việt", "Tiếng Việt"),
    "lang_en": ("English", "English"),
    "pin_cache": (
        "Nhớ mã PIN giữa các lần ký",
        "Keep the PIN between signatures",
    ),
    "pin_cache_locked": (
        "Nhớ mã PIN: {state} (do quản trị viên đặt)",
        "Keep the PIN: {state} (set by your administrator)",
    ),
    "on": ("bật", "on"),
    "off": ("tắt", "off"),
    "autostart": ("Chạy Kyso khi đăng nhập", "Start Kyso at log-on"),
    "version": ("Phiên bản {version}", "Version {version}"),
    "quit": ("Thoát", "Quit"),
}


def text(key: str, language: str, **values: object) -> str:
    """One label in ``language`` (vi when the language is unknown)."""
    vi, en = TEXT[key]
    return (en if language == "en" else vi).format(**values)


def _token_entries(state: TrayState) -> tuple[MenuEntry, ...]:
    lang = state.language
    if not state.tokens:
        return (MenuEntry(text("no_token", lang)),)
    entries: list[MenuEntry] = []
    for token in state.tokens:
        certs = tuple(
            MenuEntry("  " + render_untrusted(name, 60)) for name in token.certificates
        ) or (MenuEntry("  " + text("no_cert", lang)),)
        entries.append(MenuEntry(render_untrusted(token.label, 40)))
        entries.extend(certs)
    return tuple(entries)


def remote_failure(code: str, language: str) -> str:
    """A provider's failed listing in words (the code itself only when it has no words)."""
    key = f"remote_{code}"
    if key in TEXT:
        return text(key, language)
    return text("remote_failed", language, code=render_untrusted(code, 40))


def _remote_entries(state: TrayState) -> list[MenuEntry]:
    """One submenu per provider: its credentials, or its state in words."""
    lang = state.language
    entries = []
    for line in state.remote:
        children: tuple[MenuEntry, ...]
        if line.failure is not None:
            children = (MenuEntry(remote_failure(line.failure, lang)),)
        else:
            names = [render_untrusted(n, 60) for n in line.certificates]
            names += [
                text("remote_unusable", lang, name=render_untrusted(n, 60)) for n in line.unusable
            ]
            children = tuple(MenuEntry(n) for n in names) or (MenuEntry(text("no_cert", lang)),)
        label = text("remote", lang, provider=render_untrusted(line.label, 40))
        entries.append(MenuEntry(label, children=children))
    return entries


def _site_entries(state: TrayState) -> tuple[MenuEntry, ...]:
    lang = state.language
    if not state.sites:
        return (MenuEntry(text("no_sites", lang)),)
    return tuple(
        MenuEntry(
            render_untrusted(origin, 80),
            children=(MenuEntry(text("revoke", lang), f"revoke:{origin}"),),
        )
        for origin in state.sites
    )


def _settings_entries(state: TrayState) -> tuple[MenuEntry, ...]:
    lang = state.language
    if state.pin_cache_locked:
        on_off = text("on" if state.pin_cache else "off", lang)
        pin = MenuEntry(text("pin_cache_locked", lang, state=on_off), enabled=False)
    else:
        pin = MenuEntry(text("pin_cache", lang), "pin_cache", checked=state.pin_cache)
    return (
        MenuEntry(text("lang_vi", lang), "language:vi", checked=lang == "vi"),
        MenuEntry(text("lang_en", lang), "language:en", checked=lang == "en"),
        SEPARATOR,
        pin,
        MenuEntry(text("autostart", lang), "autostart", checked=state.autostart),
    )


def status_line(state: TrayState) -> str:
    """The first line: running or paused, and the port."""
    if state.port is None:
        return text("starting", state.language)
    return text("paused" if state.paused else "running", state.language, port=state.port)


def menu_model(state: TrayState) -> list[MenuEntry]:
    """The whole menu for a state. Pure, so it is tested without a display."""
    lang = state.language
    entries = [MenuEntry(status_line(state))]
    if state.scripted:
        entries.append(MenuEntry(text("scripted", lang)))
    entries += [
        MenuEntry(text("tokens", lang, count=len(state.tokens)), children=_token_entries(state)),
        *_remote_entries(state),
        SEPARATOR,
    ]
    if state.can_sign_files:
        entries.append(MenuEntry(text("sign_files", lang), "sign_files", default=True))
    entries += [
        MenuEntry(text("journal", lang), "journal"),
        MenuEntry(text("sites", lang, count=len(state.sites)), children=_site_entries(state)),
        MenuEntry(text("resume" if state.paused else "pause", lang), "toggle_pause"),
        SEPARATOR,
        MenuEntry(("⚠ " if state.trust_missing else "") + text("trust", lang), "trust"),
        MenuEntry(text("open_log", lang), "open_log"),
        MenuEntry(text("settings", lang), children=_settings_entries(state)),
        SEPARATOR,
        MenuEntry(text("version", lang, version=state.version or "?"), enabled=False),
        MenuEntry(text("quit", lang), "quit"),
    ]
    return entries


def tooltip(state: TrayState) -> str:
    """The icon's hover text. Plain ASCII: the X11 backend encodes window names as Latin-1."""
    port = f", port {state.port}" if state.port else ""
    paused = " (paused)" if state.paused else ""
    return f"Kyso{paused}: {len(state.tokens)} USB token{port}"


def actions(entries: list[MenuEntry] | tuple[MenuEntry, ...]) -> list[str]:
    """Every action in the menu, submenus included, in order (for tests and dispatch)."""
    found: list[str] = []
    for entry in entries:
        if entry.action:
            found.append(entry.action)
        found.extend(actions(entry.children))
    return found
