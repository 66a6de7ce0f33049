"""Is Chrome's / Edge's ``LocalNetworkAccessAllowedForUrls`` in force for the portals Kyso allows?

Chrome 142+ and Edge ask the user before a public https page may reach 127.0.0.1; an
administrator pre-grants the portals with that policy (the MSI's ``KYSO_PORTALS`` writes it on
Windows; on Linux it is a JSON file). ``kyso-agent doctor`` reads the lists through two small
seams (policy directories on Linux, a registry reader on Windows) and this module says, purely,
which allowed origin each browser's list lacks.

Patterns follow Chrome's enterprise URL pattern format (the one its URL lists and content
settings use): ``*``, ``[scheme://][[*.]host | *][:port][/path]``. ``[*.]example.vn`` matches
example.vn and its subdomains; a host without ``[*.]`` matches itself only; a missing scheme or
port matches any. The path is ignored: an origin has none, and Chrome checks LNA per origin.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from agent.errors import KysoError

POLICY_NAME = "LocalNetworkAccessAllowedForUrls"

# Linux: every *.json file in a browser's managed directory is read (recommended/ is a default
# the user may change, so it does not count as "in force").
LINUX_DIRS: dict[str, Path] = {
    "Chrome": Path("/etc/opt/chrome/policies/managed"),
    "Chromium": Path("/etc/chromium/policies/managed"),
    "Edge": Path("/etc/opt/edge/policies/managed"),
}
# Windows: the list is a subkey whose values "1", "2", ... hold one pattern each.
WINDOWS_KEYS: dict[str, str] = {
    "Chrome": r"SOFTWARE\Policies\Google\Chrome\LocalNetworkAccessAllowedForUrls",
    "Edge": r"SOFTWARE\Policies\Microsoft\Edge\LocalNetworkAccessAllowedForUrls",
}
HIVES = ("HKLM", "HKCU")  # machine policy wins over the user's, as in Chrome

_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class BrowserList:
    """One browser's list as found: ``patterns`` is None when the browser sets no list."""

    browser: str
    where: str  # the directory or registry key read
    patterns: tuple[str, ...] | None
    notes: tuple[str, ...] = ()  # files Chrome ignores (unreadable, not JSON, wrong type)


@dataclass(frozen=True)
class PolicyCheck:
    """What doctor says: per browser, the allowed origins its list lacks."""

    lists: tuple[BrowserList, ...]
    origins: tuple[str, ...]
    missing: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def managed(self) -> bool:
        """True when at least one browser has the list (an administrator set it)."""
        return any(b.patterns is not None for b in self.lists)

    @property
    def ok(self) -> bool:
        """Every browser that has a list covers every allowed origin."""
        return not self.missing

    def findings(self) -> list[tuple[str, KysoError]]:
        """(severity, error) lines: "error" for a browser whose list lacks an origin;
        one "warning" when no browser has the list at all (an unmanaged machine: the browser
        asks each user once, which works, so it is advice rather than a fault)."""
        out: list[tuple[str, KysoError]] = []
        for b in self.lists:
            if b.browser in self.missing:
                details = {
                    "browser": b.browser,
                    "origins": ", ".join(self.missing[b.browser]),
                    "where": b.where,
                }
                out.append(("error", KysoError("LNA_POLICY_MISSING", details)))
        if not self.managed and self.origins and self.lists:
            details = {
                "browser": ", ".join(b.browser for b in self.lists),
                "origins": ", ".join(self.origins),
                "where": "; ".join(b.where for b in self.lists),
            }
            out.append(("warning", KysoError("LNA_POLICY_MISSING", details)))
        return out

    def to_json(self) -> dict[str, Any]:
        """For ``doctor --json``."""
        return {
            "policy": POLICY_NAME,
            "origins": list(self.origins),
            "browsers": [
                {
                    "browser": b.browser,
                    "where": b.where,
                    "patterns": None if b.patterns is None else list(b.patterns),
                    "missing": list(self.missing.get(b.browser, ())),
                    "notes": list(b.notes),
                }
                for b in self.lists
            ],
            "findings": [
                {"severity": severity, **error.to_dict()} for severity, error in self.findings()
            ],
        }


def _split_origin(origin: str) -> tuple[str, str, int] | None:
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.hostname:
        return None
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    except ValueError:
        return None
    return parts.scheme.lower(), parts.hostname.lower().rstrip("."), port


def pattern_matches(pattern: str, origin: str) -> bool:
    """True when Chrome's URL ``pattern`` covers ``origin`` (``https://host[:port]``)."""
    target = _split_origin(origin)
    text = pattern.strip()
    if target is None or not text:
        return False
    if text == "*":
        return True
    scheme, host, port = target
    if "://" in text:
        want_scheme, text = text.split("://", 1)
        if want_scheme.lower() not in ("*", scheme):
            return False
    text = text.split("/", 1)[0]  # the path: an origin has none
    want_port: int | None = None
    if text.startswith("[*.]"):
        rest, subdomains = text[4:], True
    else:
        rest, subdomains = text, False
    if rest.startswith("[") and "]" in rest:  # IPv6 literal, maybe with a port after it
        close = rest.index("]")
        pattern_host, after = rest[1:close], rest[close + 1 :]
        port_text = after[1:] if after.startswith(":") else ""
    else:
        pattern_host, _, port_text = rest.partition(":")
    if port_text and port_text != "*":
        if not port_text.isdigit():
            return False
        want_port = int(port_text)
    if want_port is not None and want_port != port:
        return False
    pattern_host = pattern_host.lower().rstrip(".")
    if pattern_host in ("*", ""):
        return pattern_host == "*"
    if host == pattern_host:
        return True
    return subdomains and host.endswith("." + pattern_host)


def missing_origins(origins: Iterable[str], patterns: Iterable[str]) -> tuple[str, ...]:
    """The origins no pattern covers, in the given order."""
    listed = list(patterns)
    return tuple(o for o in origins if not any(pattern_matches(p, o) for p in listed))


def check(origins: Iterable[str], lists: Iterable[BrowserList]) -> PolicyCheck:
    """Compare every browser list that exists with the allowed (https) origins."""
    wanted = tuple(dict.fromkeys(o for o in origins if o.startswith("https://")))
    found = tuple(lists)
    missing: dict[str, tuple[str, ...]] = {}
    for b in found:
        if b.patterns is None:
            continue
        lacking = missing_origins(wanted, b.patterns)
        if lacking:
            missing[b.browser] = lacking
    return PolicyCheck(found, wanted, missing)


# --- Linux: JSON files ----------------------------------------------------------------------


def read_linux_lists(dirs: Mapping[str, Path] | None = None) -> list[BrowserList]:
    """Each browser's list from its managed policy directory (``dirs``: the seam for tests)."""
    out = []
    for browser, directory in (LINUX_DIRS if dirs is None else dirs).items():
        patterns: list[str] | None = None
        notes: list[str] = []
        try:
            files = sorted(directory.glob("*.json")) if directory.is_dir() else []
        except OSError:
            files = []
        for path in files:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                notes.append(f"{path}: {type(exc).__name__}, ignored by the browser")
                continue
            value = data.get(POLICY_NAME) if isinstance(data, dict) else None
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                notes.append(f"{path}: {POLICY_NAME} is not a list of strings, ignored")
                continue
            # Two files setting the same policy conflict in Chrome; reading their union
            # says what could be in force, and the note says to merge them.
            if patterns is not None:
                notes.append(f"{path}: {POLICY_NAME} is set in more than one file")
            patterns = [*(patterns or []), *value]
        out.append(
            BrowserList(
                browser, str(directory), None if patterns is None else tuple(patterns), tuple(notes)
            )
        )
    return out


# --- Windows: the registry, behind a reader ---------------------------------------------------


class HiveReader(Protocol):
    """Reads one key of a hive: value name -> value, or None when the key does not exist."""

    def values(self, hive: str, key: str) -> dict[str, Any] | None:
        """All values of ``hive``\\``key`` (``hive``: "HKLM" or "HKCU")."""
        ...


class WinregHiveReader:
    """The real reader over ``winreg`` (Windows only; None elsewhere)."""

    def values(self, hive: str, key: str) -> dict[str, Any] | None:
        """Read every value of ``hive``\\``key``."""
        from agent.config.policy import read_registry_values

        return read_registry_values(hive, key)


def _numbered(values: Mapping[str, Any]) -> tuple[str, ...]:
    """Chrome's list subkey: values "1", "2", ... in number order; other names are ignored."""
    numbered = sorted((int(k), v) for k, v in values.items() if k.isdigit())
    return tuple(v for _, v in numbered if isinstance(v, str))


def read_windows_lists(reader: HiveReader) -> list[BrowserList]:
    """Each browser's list: HKLM when it has the key, else HKCU (machine policy wins)."""
    out = []
    for browser, key in WINDOWS_KEYS.items():
        found = BrowserList(browser, f"HKLM\\{key}", None)
        for hive in HIVES:
            values = reader.values(hive, key)
            if values:
                found = BrowserList(browser, f"{hive}\\{key}", _numbered(values))
                break
        out.append(found)
    return out


def read_lists(
    *, windows: bool | None = None, dirs: Mapping[str, Path] | None = None, reader: Any = None
) -> list[BrowserList]:
    """The lists of this machine's browsers (the real places unless a seam is given). macOS
    keeps policies in configuration profiles, which this check does not read: no lists."""
    if windows is None:
        if sys.platform == "darwin" and dirs is None:
            return []
        windows = sys.platform == "win32"
    if windows:
        return read_windows_lists(reader or WinregHiveReader())
    return read_linux_lists(dirs)
