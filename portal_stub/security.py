"""Passwords, session tokens, CSRF tokens and the canonical hash of signed form fields."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
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
