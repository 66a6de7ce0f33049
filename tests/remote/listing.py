"""certificates.list once the remote providers have answered.

certificates.list answers within the remote budget (2 s) with what is known and names the
providers still loading in ``providers_missing``; the listing goes on and fills the cache. A
test that wants a provider's credentials asks again until none is loading, so a slow machine
(CI) only makes it wait, never fail.
"""

from __future__ import annotations

import asyncio
from typing import Any

ATTEMPTS = 120  # 30 s at most: far past any provider's timeout in these tests
PAUSE_SECONDS = 0.25


async def list_certificates(client: Any) -> list[dict[str, Any]]:
    """The certificates, once no provider is still loading."""
    for _ in range(ATTEMPTS):
        reply = await client.call("certificates.list")
        missing = reply.get("providers_missing", [])
        if not any(m.get("state") == "loading" for m in missing):
            return list(reply["certificates"])
        await asyncio.sleep(PAUSE_SECONDS)
    raise AssertionError(f"providers still loading after {ATTEMPTS * PAUSE_SECONDS:.0f} s")
