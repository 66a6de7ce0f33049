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
