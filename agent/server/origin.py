"""Who may talk to the agent: Host and Origin checks and CORS headers. Pure logic, no I/O.

A page reaches the agent through the browser, which sets ``Origin`` and ``Host`` itself, so
these headers are what the agent can trust about the caller. ``Host`` guards against DNS
rebinding (a hostile name resolving to 127.0.0.1); ``Origin`` says which site is asking.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping

from agent.config.settings import normalize_origin

LOOPBACK_NAMES = ("127.0.0.1", "[::1]", "localhost")


def host_allowed(host: str | None, port: int) -> bool:
    """True when ``Host`` is ``127.0.0.1:PORT``, ``[::1]:PORT`` or ``localhost:PORT``."""
    if not host:
        return False
    return host.lower() in {f"{name}:{port}" for name in LOOPBACK_NAMES}


class OriginVerdict(enum.Enum):
    """What to do with a request's Origin."""

    ALLOWED = "allowed"  # in the policy list, the user's approvals, or approved for this run
    ASK = "ask"  # a well-formed https origin nobody has decided on: ask the user to pair
    REFUSED = "refused"  # missing, null, file:, http:, malformed, or denied


def classify_origin(
    header: str | None,
    *,
    allowed: Collection[str],
    denied: Collection[str] = (),
    allow_http_localhost: bool = False,
    allow_user_origins: bool = True,
) -> tuple[OriginVerdict, str | None]:
    """Classify a raw ``Origin`` header; returns the verdict and the normalised origin."""
    if header is None or header.strip().lower() in ("", "null"):
        return OriginVerdict.REFUSED, None
    try:
        origin = normalize_origin(header.strip(), allow_http_localhost=allow_http_localhost)
    except ValueError:
        return OriginVerdict.REFUSED, None
    if origin in allowed:
        return OriginVerdict.ALLOWED, origin
    if origin in denied or not allow_user_origins or not origin.startswith("https://"):
        return OriginVerdict.REFUSED, origin
    return OriginVerdict.ASK, origin


def cors_headers(
    origin: str, request_headers: Mapping[str, str], *, preflight: bool
) -> dict[str, str]:
    """CORS headers for an ALLOWED origin (never ``*``). For a preflight also the methods,
    the requested headers and, when asked, Private Network Access."""
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Vary": "Origin",
    }
    if preflight:
        headers["Access-Control-Allow-Methods"] = "GET, OPTIONS"
        wanted = request_headers.get("Access-Control-Request-Headers")
        if wanted:
            headers["Access-Control-Allow-Headers"] = wanted
        headers["Access-Control-Max-Age"] = "600"
        if request_headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"
    return headers
