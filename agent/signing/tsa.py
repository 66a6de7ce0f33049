"""The RFC 3161 client every signature Kyso timestamps goes through (CMS, PDF, XML, B-LT).

pyHanko's client checks an answer's status and nonce, nothing more, and follows redirects with
an unbounded read: whatever token a timestamp authority sent back was embedded, and the file
called CAdES-T, PAdES-B-T or B-LT, although Kyso's own verifiers then refused it (a token over
another imprint, a broken token signature, an authority without the timestamping purpose, a
time years off). RFC 3161 §2.4.2 asks the requester to check the token; this client does,
before anything is written:

- the request: POST, no redirects (a 3xx is refused: a plain-http authority's path could send
  the query anywhere), the answer's content type, at most :data:`MAX_ANSWER` bytes, all within
  the timeout;
- the answer: granted, with a token, the nonce sent;
- the token (:func:`agent.signing.timestamps.open_token`, the verifiers' own check): its own
  signature, the imprint of exactly what was sent with the hash asked for, a certificate with
  the critical timestamping purpose (RFC 3161 §2.3), and a time within an hour of ours.

A failure is TIMESTAMP_ANSWER_INVALID (what was wrong, in ``detail``); an authority that cannot
be reached or does not answer in time stays TIMESTAMP_UNAVAILABLE. Loads pyHanko: imported by
the signing code that timestamps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from asn1crypto import core, tsp
from pyhanko.sign.timestamps.api import TimeStamper

from agent.errors import KysoError
from agent.httpbody import read_capped
from agent.signing.timestamps import (
    TokenRefused,
    is_timestamping_certificate,
    open_token,
)

# A token is a few KB (its authority's chain included); an answer past this is not one.
MAX_ANSWER = 256 * 1024
TIMEOUT_SECONDS = 10.0
# The authority stamped the request just sent, so its time is ours give or take clock drift.
# This PC's clock may be minutes off (the failure would come after the PIN, every time): the
# window catches a token a day or years off (a wrong or replaying authority), not drift.
CLOCK_TOLERANCE = dt.timedelta(hours=1)
HASHES = frozenset({"sha256", "sha384", "sha512"})
_REPLY_TYPE = "application/timestamp-reply"


def _invalid(url: str, detail: str) -> KysoError:
    return KysoError("TIMESTAMP_ANSWER_INVALID", {"url": url, "detail": detail[:200]})


class CheckedTimeStamper(TimeStamper):
    """pyHanko's :class:`TimeStamper` (so pyHanko's CMS and PDF signers use it as they would
    their own), with Kyso's request and every check above on each token it returns."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        super().__init__(include_nonce=True)
        self.url = url
        self.timeout = timeout

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """POST the request; the parsed answer (TIMESTAMP_* codes otherwise)."""
        body = await post_query(self.url, req.dump(), self.timeout)
        try:
            response = tsp.TimeStampResp.load(body)
            response.native  # noqa: B018 - parses it whole now, not later inside pyHanko
        except (ValueError, TypeError, KeyError) as exc:
            # asn1crypto requires the token: a refusal (status only) is read on its own.
            raise _status_only_refusal(body, self.url) from exc
        return response

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> Any:
        """A checked token (asn1crypto ``ContentInfo``) over ``message_digest``."""
        if md_algorithm not in HASHES:
            raise _invalid(self.url, f"{md_algorithm} imprints are not asked for")
        nonce, request = self.request_cms(message_digest, md_algorithm)
        response = await self.async_request_tsa_response(request)
        token = granted_token(response, nonce, self.url)
        check_fresh_token(token, message_digest, md_algorithm, self.url)
        return token


async def post_query(url: str, query: bytes, timeout: float) -> bytes:
    """The answer's body to a timestamp query at ``url``: no redirects, the reply's content
    type, at most :data:`MAX_ANSWER` bytes, within ``timeout`` seconds in all."""
    import aiohttp

    headers = {"Content-Type": "application/timestamp-query", "Accept": _REPLY_TYPE}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.post(url, data=query, headers=headers, allow_redirects=False) as response,
        ):
            if 300 <= response.status < 400:
                raise _invalid(url, f"HTTP {response.status} (redirects are not followed)")
            if response.status != 200:
                raise _invalid(url, f"HTTP {response.status}")
            kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind != _REPLY_TYPE:
                raise _invalid(url, f"content type {kind[:60] or 'missing'}, not {_REPLY_TYPE}")
            body = await read_capped(response, MAX_ANSWER)
    except KysoError:
        raise
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        # Unreachable, reset, too slow, or a URL aiohttp cannot use (not http/https).
        raise KysoError("TIMESTAMP_UNAVAILABLE", {"url": url}) from exc
    if body is None:
        raise _invalid(url, f"an answer over {MAX_ANSWER // 1024} KB")
    return body


class _StatusOnly(core.Sequence):
    """A TimeStampResp without its token: how an authority refuses (RFC 3161 §2.4.2)."""

    _fields: ClassVar[list[tuple[str, type]]] = [("status", tsp.PKIStatusInfo)]


def _status_only_refusal(body: bytes, url: str) -> KysoError:
    """What an answer asn1crypto cannot read as a whole says: the authority's refusal, a grant
    with no token, or nothing RFC 3161 at all."""
    try:
        status = _StatusOnly.load(body)["status"]
        _check_granted(status, url)
        with_token = len(core.Sequence.load(body)) > 1  # a token is there, unreadable
    except KysoError as refusal:
        return refusal
    except (ValueError, TypeError, KeyError):
        return _invalid(url, "not an RFC 3161 answer")
    return _invalid(url, "not an RFC 3161 token" if with_token else "granted, but with no token")


def _check_granted(status: Any, url: str) -> None:
    """TIMESTAMP_ANSWER_INVALID with the authority's status and reasons unless granted."""
    if status["status"].native in ("granted", "granted_with_mods"):
        return
    words = "; ".join(status["status_string"].native or [])
    fail = ", ".join(status["fail_info"].native or [])
    reasons = "; ".join(part for part in (words, fail) if part)
    refused = f"refused ({status['status'].native}"
    raise _invalid(url, refused + (f": {reasons})" if reasons else ")"))


def granted_token(response: tsp.TimeStampResp, nonce: int | None, url: str) -> Any:
    """The token of a granted answer carrying our nonce (TIMESTAMP_ANSWER_INVALID otherwise,
    with the authority's status and reasons when it refused)."""
    try:
        _check_granted(response["status"], url)
        token = response["time_stamp_token"]
        if token.native is None:
            raise _invalid(url, "granted, but with no token")
        tst_info = token["content"]["encap_content_info"]["content"].parsed
        received = tst_info["nonce"].native
    except KysoError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a token without content
        raise _invalid(url, "not an RFC 3161 token") from exc
    if nonce is not None and received != nonce:
        raise _invalid(url, "the nonce sent is not in the token (a replayed or foreign answer)")
    return token


def check_fresh_token(token: Any, digest: bytes, hash_name: str, url: str) -> None:
    """The checks a verifier makes, on a token just received for ``digest``: its own
    signature, this very imprint with ``hash_name``, the authority's critical timestamping
    purpose, a time within :data:`CLOCK_TOLERANCE` of ours."""
    try:
        opened = open_token(
            token,
            lambda name: digest if name == hash_name else b"",
            digest_allowed=lambda name: name in HASHES,
            imprint_allowed=lambda name: name == hash_name,
            future_tolerance=CLOCK_TOLERANCE,
        )
    except TokenRefused as refused:
        raise _invalid(url, _REFUSED.get(refused.fault, refused.detail)) from refused
    if opened.gen_time < dt.datetime.now(dt.UTC) - CLOCK_TOLERANCE:
        raise _invalid(url, f"its time {opened.gen_time:%Y-%m-%d %H:%M} UTC is not now")
    if not is_timestamping_certificate(opened.certificate):
        raise _invalid(url, "its certificate is not a timestamp authority's (critical EKU)")


_REFUSED = {
    "malformed": "not an RFC 3161 token",
    "hash": "a hash Kyso does not accept, or another than the one asked for",
    "unsound": "the token's own signature does not verify",
    "imprint": "it stamps something else than this signature",
    "future": "its time is more than an hour ahead of this computer's clock",
}
