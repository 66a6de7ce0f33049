"""A batch whose items all failed does not leave a batch record saying it signed (red team 25:
each item's record said TIMESTAMP_ANSWER_INVALID, the batch's own "signed / OK")."""

from __future__ import annotations

import base64
from typing import Any

from tests.conftest import cert_thumbprint


async def test_a_batch_that_signed_nothing_is_recorded_as_refused(demo: Any, harness: Any) -> None:
    # The agent's timestamp authority answers nobody: each CMS item fails after its signature.
    await harness.start(timestamp_url="http://127.0.0.1:9/tsa")
    client = await harness.client()
    items = [{"kind": "cms", "data": base64.b64encode(b"phu luc %d" % i).decode()} for i in (1, 2)]
    params = {"items": items, "certificate": cert_thumbprint(demo, "org")}
    result = await client.call("sign.batch", params)
    assert result["signed"] == 0 and result["failed"] == 2
    lines = harness.audit_lines()
    assert [(a["item"], a["result"]) for a in lines if "item" in a] == [
        (0, "TIMESTAMP_UNAVAILABLE"),
        (1, "TIMESTAMP_UNAVAILABLE"),
    ]
    (batch,) = [a for a in lines if "item" not in a]
    assert (batch["outcome"], batch["result"]) == ("refused", "TIMESTAMP_UNAVAILABLE"), batch
