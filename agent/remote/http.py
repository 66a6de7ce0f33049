"""One JSON POST to a remote signing service, with every failure turned into a stable code.

Only this module talks HTTP for :mod:`agent.remote`: redirects are never followed (a 3xx could
carry the PIN elsewhere), answers are size-capped, TLS is verified by aiohttp's default
context, and plain http is refused unless the host is loopback. Logs name the method and the
status only: never a body, a header, a token, a PIN, an OTP or a SAD.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from agent.errors import KysoError
from agent.httpbody import read_capped
from agent.remote.providers import RemoteProvider, check_url

log = logging.getLogger(__name__)

_KIB = 1024
# What one answer may take, from the shapes CSC API v2 gives them (answers above are refused
# unparsed: parsing JSON holds the event loop, and a parsed answer weighs up to ~30 times its
# bytes). ``info``, ``credentials/authorize`` and ``oauth2/token``: a few short strings (a
# SAD, access tokens of a few KB).
DEFAULT_ANSWER_BYTES = 64 * _KIB
ANSWER_BYTES = {
    # Up to MAX_CREDENTIALS (100) ids of at most 200 characters: about 21 KB.
    "credentials/list": 256 * _KIB,
    # The chain (certificates=chain): a handful of certificates of 1-8 KB DER, base64 (x4/3);
    # 256 KiB holds about thirty of the largest, and the rest of the answer is short fields.
    "credentials/info": 256 * _KIB,
    # A service's logo is a URI, possibly a data: URI.
    "info": 256 * _KIB,
}
# signatures/signHash: one base64 signature per hash (RSA-16384: 2.7 KB) on top of the default.
SIGNATURE_ANSWER_BYTES = 4 * _KIB


def answer_cap(method: str, hashes: int = 0) -> int:
    """The most bytes an answer to ``method`` may take (``hashes``: for signHash, how many
    signatures it carries)."""
    return ANSWER_BYTES.get(method, DEFAULT_ANSWER_BYTES) + hashes * SIGNATURE_ANSWER_BYTES


class ByteBudget:
    """The answer bytes one operation (one provider's listing: its credentials/list and every
    credentials/info) may read in all: a service answering each call just under its cap must
    not add up to hundreds of MB. Once spent, calls fail before anything is sent."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.left = total
        self.overdrawn = False

    def spend(self, count: int) -> None:
        """Count ``count`` bytes read; overdrawn when they were more than was left."""
        if count > self.left:
            self.overdrawn = True
        self.left = max(0, self.left - count)

    def error(self, provider: RemoteProvider, method: str) -> KysoError:
        """REMOTE_PROTOCOL_ERROR: the answers together were too large."""
        return KysoError(
            "REMOTE_PROTOCOL_ERROR",
            {"provider": provider.label, "detail": f"{method}: answers over {self.total} bytes"},
        )


_AUTH_WORDS = {"invalid_pin", "invalid_otp", "access_denied", "invalid_password"}
_CLIENT_WORDS = {"invalid_client", "unauthorized_client"}
# invalid_grant: a refresh token or authorization code that is expired, used or revoked.
_TOKEN_WORDS = {"invalid_token", "expired_token", "invalid_grant"}
_BUSY_WORDS = {"temporarily_unavailable", "server_error", "slow_down"}
# The only ``error`` words carried into Kyso's messages: the CSC API's and OAuth 2.0's own
# (RFC 6749 5.2, RFC 6750 3.1). Any other word could be anything the service chose to echo,
# the PIN, the OTP or the SAD included, and the message goes to the page and the logs.
KNOWN_ERROR_WORDS = frozenset(
    {
        *_AUTH_WORDS,
        *_CLIENT_WORDS,
        *_TOKEN_WORDS,
        *_BUSY_WORDS,
        "invalid_request",
        "invalid_scope",
        "insufficient_scope",
        "unsupported_grant_type",
        "unsupported_response_type",
        "invalid_signature",
    }
)
# Statuses that say "not now" (RFC 6585 429; a gateway, overload or maintenance): wait, do not
# suspect the PIN. Other 5xx (500 itself, 501...) stay protocol errors: a service without a
# method, a crash on what Kyso sent.
_BUSY_STATUSES = frozenset({429, 502, 503, 504})
_CREDENTIAL_HINTS = ("disabled", "revoked", "suspended", "expired", "locked", "not found")

# What the user reads after "<provider> refused to authorise the signature: ..."
_REASONS: dict[str, tuple[str, str]] = {
    "invalid_pin": ("mã PIN không đúng", "the PIN is wrong"),
    "invalid_otp": ("mã OTP không đúng hoặc đã hết hạn", "the OTP is wrong or has expired"),
    "access_denied": ("người dùng hoặc nhà cung cấp đã từ chối", "access was denied"),
    "invalid_password": ("mật khẩu không đúng", "the password is wrong"),
    "login_required": ("dịch vụ yêu cầu đăng nhập", "the service requires signing in"),
    "cancelled": ("đã hủy xác nhận", "the authorisation was cancelled"),
    "wrong_issuer": (
        "xác nhận đến từ một máy chủ đăng nhập khác, không phải của nhà cung cấp này "
        "(có thể là giả mạo); Kyso đã bỏ qua nó",
        "the approval came from another sign-in server than this provider's (possibly a "
        "forgery); Kyso ignored it",
    ),
}


def auth_refused(provider: RemoteProvider, reason: str) -> KysoError:
    """REMOTE_AUTH_REFUSED with a bilingual reason from a stable word (one of Kyso's own:
    any other is carried as "refused")."""
    if reason not in _REASONS:
        reason = "refused"
    vi, en = _REASONS.get(reason, ("bị từ chối", "refused"))
    return KysoError(
        "REMOTE_AUTH_REFUSED",
        {"provider": provider.label, "reason": reason, "reason_vi": vi, "reason_en": en},
    )


def classify(
    provider: RemoteProvider,
    method: str,
    status: int,
    body: Any,
    *,
    credential: str = "",
    sent_token: bool = False,
) -> KysoError:
    """The stable error for a non-200 answer (CSC and OAuth2 both send
    ``{"error": ..., "error_description": ...}``). Only an ``error`` word of the standards'
    (:data:`KNOWN_ERROR_WORDS`) is carried in details: any other word, and every description,
    is the service's free text."""
    word = body.get("error") if isinstance(body, dict) else None
    word = word if isinstance(word, str) and word in KNOWN_ERROR_WORDS else ""
    text = body.get("error_description") if isinstance(body, dict) else None
    text = text.lower() if isinstance(text, str) else ""
    if word in _CLIENT_WORDS:  # Kyso's registration, not the user's PIN or OTP
        return KysoError("REMOTE_CLIENT_REFUSED", {"provider": provider.label})
    if word in _AUTH_WORDS:
        return auth_refused(provider, word)
    # An overloaded service's "invalid" text is no verdict on the PIN: the description's hints
    # count only when it is not saying "not now" (the user should wait, not retype the PIN).
    busy = word in _BUSY_WORDS or status in _BUSY_STATUSES
    if not busy and "pin" in text.split() and "invalid" in text:
        return auth_refused(provider, "invalid_pin")
    if not busy and "otp" in text.split() and "invalid" in text:
        return auth_refused(provider, "invalid_otp")
    if word in _TOKEN_WORDS or status == 401 or ("sad" in text and "expired" in text):
        if status == 401 and not sent_token and word not in _TOKEN_WORDS:
            return auth_refused(provider, "login_required")
        return KysoError("REMOTE_TOKEN_EXPIRED", {"provider": provider.label})
    if credential and (status == 404 or any(h in text for h in _CREDENTIAL_HINTS)):
        hint = next((h for h in _CREDENTIAL_HINTS if h in text), "not found")
        return KysoError(
            "REMOTE_CREDENTIAL_INVALID",
            {"provider": provider.label, "credential": credential, "status": hint},
        )
    if busy:
        return KysoError("REMOTE_BUSY", {"provider": provider.label, "status": status})
    return KysoError(
        "REMOTE_PROTOCOL_ERROR",
        {"provider": provider.label, "detail": f"{method}: HTTP {status} {word}".strip()},
    )


async def post(
    session: aiohttp.ClientSession,
    provider: RemoteProvider,
    url: str,
    *,
    method: str,
    json_body: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    token: str | None = None,
    credential: str = "",
    timeout: float | None = None,
    max_bytes: int | None = None,
    budget: ByteBudget | None = None,
) -> dict[str, Any]:
    """POST and return the JSON object answer, or raise the stable error for what happened.
    ``max_bytes``: the answer's cap (default: :func:`answer_cap` for ``method``); ``budget``:
    what the operation may still read in all. Any answer that is not readable JSON is
    REMOTE_PROTOCOL_ERROR (or, for an error status, classified without its body)."""
    check_url(url)
    cap = answer_cap(method) if max_bytes is None else max_bytes
    if budget is not None:
        if budget.overdrawn or budget.left <= 0:
            raise budget.error(provider, method)
        cap = min(cap, budget.left)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    seconds = timeout if timeout is not None else provider.timeout_seconds
    try:
        async with asyncio.timeout(seconds):
            async with session.post(
                url,
                json=json_body,
                data=form,
                headers=headers,
                allow_redirects=False,
            ) as response:
                status = response.status
                raw = await read_capped(response, cap)
    except TimeoutError:
        log.warning("remote %s: %s did not answer within %s s", provider.name, method, seconds)
        raise KysoError(
            "REMOTE_TIMEOUT", {"provider": provider.label, "seconds": seconds}
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        log.warning("remote %s: %s failed: %s", provider.name, method, type(exc).__name__)
        raise KysoError("REMOTE_UNREACHABLE", {"provider": provider.label}) from None
    size = cap + 1 if raw is None else len(raw)
    log.debug("remote %s: %s -> HTTP %s (%d bytes)", provider.name, method, status, size)
    if budget is not None:
        budget.spend(size)
        if budget.overdrawn:
            raise budget.error(provider, method)
    if raw is None:
        raise KysoError(
            "REMOTE_PROTOCOL_ERROR",
            {"provider": provider.label, "detail": f"{method}: answer too large"},
        )
    body = _parse(raw)
    if status != 200:
        raise classify(
            provider, method, status, body, credential=credential, sent_token=bool(token)
        )
    if not isinstance(body, dict):
        raise KysoError(
            "REMOTE_PROTOCOL_ERROR",
            {"provider": provider.label, "detail": f"{method}: the answer is not a JSON object"},
        )
    return body


def _parse(raw: bytes) -> Any:
    """The JSON value, or None when unreadable. RecursionError: nesting deeper than the
    interpreter's limit (about a thousand ``[``), which json raises for any such text.

    On the loop, not a thread: json's C decoder holds the GIL for the whole call, so a thread
    would stall the loop as long (measured); the caps above keep a parse to a few ms."""
    try:
        return json.loads(raw) if raw else {}
    except (ValueError, RecursionError):  # ValueError: bad UTF-8, bad JSON, huge integers
        return None
