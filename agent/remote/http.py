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
import re
from typing import Any

import aiohttp

from agent.errors import KysoError
from agent.remote.providers import RemoteProvider, check_url

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 8 * 1024 * 1024  # a credential's chain or 100 signatures fit many times over
_ERROR_WORD = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")
_AUTH_WORDS = {"invalid_pin", "invalid_otp", "access_denied", "invalid_password", "invalid_client"}
# invalid_grant: a refresh token or authorization code that is expired, used or revoked.
_TOKEN_WORDS = {"invalid_token", "expired_token", "invalid_grant"}
_CREDENTIAL_HINTS = ("disabled", "revoked", "suspended", "expired", "locked", "not found")

# What the user reads after "<provider> refused to authorise the signature: ..."
_REASONS: dict[str, tuple[str, str]] = {
    "invalid_pin": ("mã PIN không đúng", "the PIN is wrong"),
    "invalid_otp": ("mã OTP không đúng hoặc đã hết hạn", "the OTP is wrong or has expired"),
    "access_denied": ("người dùng hoặc nhà cung cấp đã từ chối", "access was denied"),
    "invalid_password": ("mật khẩu không đúng", "the password is wrong"),
    "invalid_client": (
        "nhà cung cấp không chấp nhận mã ứng dụng (client_id/secret) của Kyso",
        "the provider did not accept Kyso's client id or secret",
    ),
    "login_required": ("dịch vụ yêu cầu đăng nhập", "the service requires signing in"),
    "cancelled": ("đã hủy xác nhận", "the authorisation was cancelled"),
}


def auth_refused(provider: RemoteProvider, reason: str) -> KysoError:
    """REMOTE_AUTH_REFUSED with a bilingual reason from a stable word."""
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
    ``{"error": ..., "error_description": ...}``). Only the ``error`` word, checked to be a
    plain word, is carried in details: descriptions are free text from the service."""
    word = body.get("error") if isinstance(body, dict) else None
    word = word if isinstance(word, str) and _ERROR_WORD.match(word) else ""
    text = body.get("error_description") if isinstance(body, dict) else None
    text = text.lower() if isinstance(text, str) else ""
    if word in _AUTH_WORDS or ("pin" in text.split() and "invalid" in text):
        return auth_refused(provider, word or "invalid_pin")
    if "otp" in text.split() and "invalid" in text:
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
) -> dict[str, Any]:
    """POST and return the JSON object answer, or raise the stable error for what happened."""
    check_url(url)
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
                buffer = bytearray()
                # read() returns one chunk at most: gather the body, stopping past the cap.
                async for chunk in response.content.iter_any():
                    buffer += chunk
                    if len(buffer) > MAX_ANSWER_BYTES:
                        break
                raw = bytes(buffer)
    except TimeoutError:
        log.warning("remote %s: %s did not answer within %s s", provider.name, method, seconds)
        raise KysoError(
            "REMOTE_TIMEOUT", {"provider": provider.label, "seconds": seconds}
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        log.warning("remote %s: %s failed: %s", provider.name, method, type(exc).__name__)
        raise KysoError("REMOTE_UNREACHABLE", {"provider": provider.label}) from None
    log.debug("remote %s: %s -> HTTP %s (%d bytes)", provider.name, method, status, len(raw))
    if len(raw) > MAX_ANSWER_BYTES:
        raise KysoError(
            "REMOTE_PROTOCOL_ERROR",
            {"provider": provider.label, "detail": f"{method}: answer too large"},
        )
    try:
        body = json.loads(raw) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
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
