"""Remote signing providers are configuration: base URL, client id and auth flow. Pure logic.

A provider is one table of ``[[remote_providers]]`` in ``config.toml`` or the managed policy
(the registry value ``RemoteProviders`` holds the same list as JSON). This module validates
one such table; :mod:`agent.config.settings` calls it so a bad provider is a CONFIG_INVALID /
POLICY_INVALID naming the key, like every other setting.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from agent.errors import KysoError

AuthFlow = Literal["none", "client_credentials", "authorization_code"]
AUTH_FLOWS: tuple[str, ...] = ("none", "client_credentials", "authorization_code")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_KEYS = {
    "name",
    "display_name",
    "base_url",
    "api_version",
    "client_id",
    "auth_flow",
    "oauth_url",
    "scope",
    "client_secret_file",
    "timeout_seconds",
    "approval_timeout_seconds",
    "remember_tokens",
}


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: the only hosts plain http may reach."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


MAX_LIFETIME_SECONDS = 24 * 3600  # a token or SAD said to last longer is kept this long


def lifetime_seconds(value: object) -> int | None:
    """A service's ``expires_in`` / ``expiresIn``: a positive integer, capped at a day (a
    400-digit number is no lifetime: time.monotonic() + it overflowed into INTERNAL_ERROR);
    None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return min(value, MAX_LIFETIME_SECONDS)
    return None


# Characters a browser and Python's urlsplit read differently in an address's authority
# ("http://evil.example\\@127.0.0.1/" is loopback to urlsplit, evil.example to Chromium),
# or that no honest address holds.
_AMBIGUOUS = frozenset("\\") | {chr(c) for c in range(0x21)} | {chr(0x7F)}


def check_url(url: str) -> str:
    """``url`` unchanged when it is https, or http on loopback; REMOTE_INSECURE_URL otherwise.

    Every URL the agent fetches for remote signing goes through here, including the OAuth2
    address a service announces in its ``info`` answer: a page or a hostile service must not
    move the PIN, the OTP or a token onto plain http."""
    if any(c in _AMBIGUOUS or c.isspace() or not c.isprintable() for c in url):
        # Also a no-break space or a line separator: "https://a.vn\xa0evil" is no address.
        raise KysoError("REMOTE_INSECURE_URL", {"url": url[:200]})
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - "https://a.vn:abc" or ":99999": ValueError, no port at all
    except ValueError:
        raise KysoError("REMOTE_INSECURE_URL", {"url": url[:200]}) from None
    host = parts.hostname or ""
    if "@" in parts.netloc:  # user info: where a browser and urlsplit part ways
        raise KysoError("REMOTE_INSECURE_URL", {"url": url[:200]})
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and host and is_loopback_host(host):
        return url
    raise KysoError("REMOTE_INSECURE_URL", {"url": url[:200]})


@dataclass(frozen=True)
class RemoteProvider:
    """One remote signing service (a CSC API v2 endpoint) and how Kyso authenticates to it."""

    name: str  # stable handle: certs show source "remote:<name>"
    base_url: str  # the part before /csc/v2/...
    display_name: str = ""
    api_version: str = "v2"
    client_id: str = ""
    auth_flow: AuthFlow = "none"
    oauth_url: str = ""  # where /oauth2/authorize and /oauth2/token live; default: base_url
    scope: str = "service"
    client_secret_file: str = ""  # client_credentials only: a file only the user can read
    timeout_seconds: int = 30
    # credentials/authorize for a credential the provider unlocks itself (CSC "implicit": a
    # push to the user's phone) waits this long: the service answers once the person approved.
    approval_timeout_seconds: int = 120
    remember_tokens: bool = False  # opt-in: keep the refresh token on disk (0600)

    @property
    def label(self) -> str:
        """What dialogs show: the display name, else the handle."""
        return self.display_name or self.name

    @property
    def source(self) -> str:
        """``remote:<name>``, beside tokens' ``token:<label>``."""
        return f"remote:{self.name}"

    def endpoint(self, method: str) -> str:
        """The URL of a CSC method such as ``credentials/list``."""
        return f"{self.base_url.rstrip('/')}/csc/{self.api_version}/{method}"


def _str(table: Mapping[str, Any], key: str, default: str = "") -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _url(table: Mapping[str, Any], key: str, *, required: bool) -> str:
    url = _str(table, key)
    if url or required:
        try:
            check_url(url)
        except KysoError:
            raise ValueError(f"{key} must be https (http only on 127.0.0.1)") from None
    return url


def _auth(table: Mapping[str, Any]) -> tuple[str, str, str]:
    """auth_flow, client_id and client_secret_file, consistent with each other."""
    flow = _str(table, "auth_flow", "none")
    if flow not in AUTH_FLOWS:
        raise ValueError(f"auth_flow must be one of {', '.join(AUTH_FLOWS)}")
    client_id = _str(table, "client_id")
    if flow != "none" and not client_id:
        raise ValueError(f"auth_flow {flow} needs a client_id")
    secret_file = _str(table, "client_secret_file")
    if flow == "client_credentials" and not secret_file:
        raise ValueError("auth_flow client_credentials needs client_secret_file")
    return flow, client_id, secret_file


def parse_provider(table: Mapping[str, Any]) -> RemoteProvider:
    """Validate one provider table; raises ValueError naming the key."""
    if not isinstance(table, Mapping):
        raise ValueError("each remote provider must be a table")
    unknown = set(table) - _KEYS
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r}")
    name = _str(table, "name")
    if not _NAME.match(name):
        raise ValueError("name must be 1-40 lowercase letters, digits, '-' or '_'")
    base_url = _url(table, "base_url", required=True)
    oauth_url = _url(table, "oauth_url", required=False)
    flow, client_id, secret_file = _auth(table)
    timeout = table.get("timeout_seconds", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 600:
        raise ValueError("timeout_seconds must be a whole number from 1 to 600")
    approval = table.get("approval_timeout_seconds", 120)
    if isinstance(approval, bool) or not isinstance(approval, int) or not 1 <= approval <= 600:
        raise ValueError("approval_timeout_seconds must be a whole number from 1 to 600")
    remember = table.get("remember_tokens", False)
    if not isinstance(remember, bool):
        raise ValueError("remember_tokens must be true or false")
    api_version = _str(table, "api_version", "v2")
    if api_version not in ("v1", "v2"):
        raise ValueError("api_version must be v1 or v2")
    return RemoteProvider(
        name=name,
        base_url=base_url.rstrip("/"),
        display_name=_str(table, "display_name"),
        api_version=api_version,
        client_id=client_id,
        auth_flow=flow,  # type: ignore[arg-type]  # checked against AUTH_FLOWS above
        oauth_url=oauth_url.rstrip("/"),
        scope=_str(table, "scope", "service"),
        client_secret_file=secret_file,
        timeout_seconds=timeout,
        approval_timeout_seconds=approval,
        remember_tokens=remember,
    )


def parse_providers(value: Any) -> tuple[Mapping[str, Any], ...]:
    """The settings parser: a list of provider tables (or, from the registry, that list as a
    JSON string). Returns the validated tables with defaults filled in, JSON-friendly so
    ``doctor`` can print them; :func:`providers_from` turns them into objects."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg}") from None
    if not isinstance(value, list | tuple):
        raise ValueError("must be a list of provider tables")
    out: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    for table in value:
        provider = parse_provider(table)
        if provider.name in seen:
            raise ValueError(f"provider {provider.name!r} is named twice")
        seen.add(provider.name)
        out.append(dict(provider.__dict__))
    return tuple(out)


def providers_from(tables: tuple[Mapping[str, Any], ...]) -> tuple[RemoteProvider, ...]:
    """Provider objects from the validated tables kept in Settings."""
    return tuple(parse_provider(t) for t in tables)
