"""Plain-HTTP fetches for the status check: OCSP answers, CRLs and issuing CA certificates.

Every body is capped, and redirects are not followed: a responder (or whoever sits on its
plain-http path) could otherwise point the agent at any host, loopback included, at every
signature. A failure is a short reason, never an exception.
"""

from __future__ import annotations

from typing import Any

from agent.httpbody import read_capped

MAX_OCSP_BYTES = 64 * 1024


async def get(session: Any, url: str, limit: int) -> bytes | str:
    """The body at ``url`` (at most ``limit`` bytes), or why there is none."""
    return await _fetched(session.get(url, allow_redirects=False), limit)


async def post_ocsp(session: Any, url: str, request: bytes) -> bytes | str:
    """The OCSP responder's answer to ``request``, or why there is none."""
    headers = {"Content-Type": "application/ocsp-request"}
    answer = session.post(url, data=request, headers=headers, allow_redirects=False)
    return await _fetched(answer, MAX_OCSP_BYTES)


async def _fetched(answer: Any, limit: int) -> bytes | str:
    import aiohttp

    try:
        async with answer as response:
            if 300 <= response.status < 400:
                return f"HTTP {response.status} (redirects are not followed)"
            if response.status != 200:
                return f"HTTP {response.status}"
            body = await read_capped(response, limit)
    except (aiohttp.ClientError, OSError, ValueError):
        return "unreachable"
    return body if body is not None else f"answer over {limit} bytes"
