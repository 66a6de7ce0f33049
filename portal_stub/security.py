"""Passwords, session tokens, CSRF tokens, the canonical hash of signed form fields, and the
pure rules for redirect targets and cross-site requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import urllib.parse
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Modest argon2id cost: slow for an attacker, ~20 ms here (the stub also runs in tests).
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# No look-alike characters (0/O, 1/l/I): the password is read from an e-mail and typed.
_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


def generate_password(length: int = 12) -> str:
    """A random password with at least one lower, upper and digit."""
    while True:
        pw = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        if (
            any(c.islower() for c in pw)
            and any(c.isupper() for c in pw)
            and any(c.isdigit() for c in pw)
        ):
            return pw


def hash_password(password: str) -> str:
    """argon2id hash for storage."""
    return _HASHER.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches ``stored_hash`` (constant time inside argon2)."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A random opaque token (session id, bearer token, CSRF token, upload handle)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a session token: a leaked table is no session."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time comparison that treats None/empty as a mismatch."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def canonical_fields(action: str, fields: dict[str, Any]) -> bytes:
    """The exact bytes a challenge binds: sorted-key compact JSON, UTF-8, lists sorted.

    Clients that compute ``fields_hash`` themselves (GET /api/v1/challenge) must produce the
    same bytes; documented in docs/portal-api.md.
    """
    norm: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, list | tuple | set):
            norm[key] = sorted(str(v) for v in value)
        elif value is None:
            norm[key] = ""
        else:
            norm[key] = str(value).strip()
    return json.dumps(
        {"action": action, "fields": norm},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def fields_hash(action: str, fields: dict[str, Any]) -> str:
    """SHA-256 hex of :func:`canonical_fields`."""
    return hashlib.sha256(canonical_fields(action, fields)).hexdigest()


# --- redirects and cross-site requests ---------------------------------------------------------

HOME = "/tai-khoan"
_MAX_NEXT = 2000
# Printable ASCII without the backslash (browsers read "\" as "/" in http(s) URLs) and without
# the space; anything else (tab, CR, LF, NUL, Unicode slashes) is percent-encoded or refused.
_PATH_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {"\\"}


def _plain_path(path: str) -> bool:
    """One decoding level: a same-site absolute path with no way to name another host."""
    if not path.startswith("/") or path.startswith(("//", "/\\")):
        return False
    if any(ch not in _PATH_CHARS for ch in path):
        return False
    parts = urllib.parse.urlsplit(path)
    return not parts.scheme and not parts.netloc


def safe_next_url(value: object, default: str = HOME) -> str:
    """``value`` if it is a path on this site, else ``default``. Pure.

    Accepted: starts with exactly one "/", only printable ASCII, no backslash, no scheme or
    host, and the same holds after each round of percent-decoding (``/%2F%2Fevil.example``,
    ``/%5Cevil.example``, doubly encoded ones), because some proxies and frameworks decode
    before they redirect. Browsers drop tab/CR/LF inside URLs, so "/\\t/evil" would become
    "//evil" (another host): such characters are refused, never stripped.
    """
    if not isinstance(value, str) or not value or len(value) > _MAX_NEXT:
        return default
    current = value
    for _ in range(4):
        if not _plain_path(current):
            return default
        try:
            decoded = urllib.parse.unquote(current, errors="strict")
        except UnicodeDecodeError:  # "%C0%AF" (an overlong "/") and other non-UTF-8
            return default
        if decoded == current:
            return value
        current = decoded
    return default  # still encoded after four rounds: nobody needs that


def normal_origin(url: str) -> str | None:
    """``scheme://host[:port]`` in the form browsers send in ``Origin`` (lower case, default
    port dropped), or None when ``url`` is not an http(s) origin."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == {"http": 80, "https": 443}[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def cross_site(origin: str | None, fetch_site: str | None, own_origin: str) -> str | None:
    """Why a state-changing request is cross-site (a short reason), or None when it is not.

    Browsers send ``Origin`` with every POST and ``Sec-Fetch-Site`` with every request;
    either one naming another site is enough to refuse. A request with neither comes from a
    program (curl, the API), which carries no victim's cookie and cannot be forged by a page.
    """
    if fetch_site is not None and fetch_site.strip().lower() not in ("same-origin", "none"):
        return f"Sec-Fetch-Site: {fetch_site[:40]}"
    if origin is not None:
        mine = normal_origin(own_origin)
        theirs = normal_origin(origin) if origin.strip().lower() != "null" else None
        if theirs is None or theirs != mine:
            return f"Origin: {origin[:100]}"
    return None
