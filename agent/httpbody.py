"""Reading an HTTP answer's body whole, but never past a cap (CRLs, OCSP, remote signing).

aiohttp's ``response.content.read(n)`` returns what is buffered so far (one network chunk at
most), not ``n`` bytes: a body longer than a chunk came back cut short and then failed to
parse. These read until the end of the body or one byte past the cap.
"""

from __future__ import annotations

from typing import Any


async def read_capped(response: Any, cap: int) -> bytes | None:
    """The whole body of an aiohttp ``response``, or None when it is longer than ``cap``
    bytes (then read no further than that; announced too large: not read at all)."""
    if response.content_length is not None and response.content_length > cap:
        return None
    buffer = bytearray()
    async for chunk in response.content.iter_any():
        buffer += chunk
        if len(buffer) > cap:
            return None
    return bytes(buffer)


def bounded_session(cap: int) -> Any:
    """An aiohttp ``ClientSession`` for a library that fetches by itself (pyhanko-certvalidator
    gathering B-LT's validation data): a redirect is an error, not followed (as Kyso's own
    revocation checks: a plain-http address's path could send the fetch anywhere), and a body
    is read up to ``cap`` bytes at most (an endless CRL took gigabytes). The caller closes it."""
    import aiohttp

    async def no_redirects(request: Any, handler: Any) -> Any:
        response = await handler(request)
        if 300 <= response.status < 400:
            response.release()
            raise aiohttp.ClientResponseError(
                response.request_info,
                (),
                status=response.status,
                message="redirects are not followed",
            )
        return response

    class CappedResponse(aiohttp.ClientResponse):
        async def read(self) -> bytes:
            if self._body is None:
                body = await read_capped(self, cap)
                if body is None:
                    self.close()
                    raise aiohttp.ClientPayloadError(f"an answer over {cap} bytes")
                self._body = body
            return await super().read()

    return aiohttp.ClientSession(middlewares=(no_redirects,), response_class=CappedResponse)
