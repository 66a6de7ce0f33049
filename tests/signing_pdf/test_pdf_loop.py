"""A PDF is inspected off the event loop, whatever its size: a file under 1 MB can keep pyHanko
busy for seconds (45,000 link annotations in object streams), and meanwhile the agent answers
every other page. The file is read once, with a text anchor too.

No timing: the active-content walk (the seam) is held on a threading.Event until another page's
request has been answered, then let go. Were the walk on the loop, nothing else could run until
the hold timed out, and the order of events would show it.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from typing import Any

import pytest

from tests.conftest import cert_thumbprint
from tests.signing_pdf.conftest import make_pdf

OTHER = "https://other.kyso.test"
DIRECTOR = (2, "GIÁM ĐỐC", 340.0, 300.0)  # page, text, x, y
HOLD = 10.0  # seconds a held walk waits at most: only a broken fix ever reaches it


class HeldWalk:
    """``scan_active`` that waits for :meth:`release` before walking, recording events."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from agent.signing.pdf import inspect

        self.real = inspect.scan_active
        self.entered = threading.Event()
        self.released = threading.Event()
        self.events: list[str] = []
        self.calls = 0
        monkeypatch.setattr(inspect, "scan_active", self)

    def __call__(self, reader: Any) -> tuple[str, ...]:
        self.calls += 1
        self.entered.set()
        self.released.wait(HOLD)
        self.events.append("walk done")
        return self.real(reader)

    def release(self) -> None:
        self.released.set()


@pytest.mark.parametrize("placement", [None, {"anchor": "Giám đốc"}])
async def test_other_pages_are_answered_while_a_pdf_is_inspected(
    demo, harness, monkeypatch, placement: dict[str, Any] | None
) -> None:
    await harness.start(allowed_origins=["https://portal.kyso.test", OTHER])
    signer = await harness.client()
    other = await harness.client(OTHER)
    walk = HeldWalk(monkeypatch)
    params: dict[str, Any] = {
        "document": base64.b64encode(make_pdf(2, lines=[DIRECTOR])).decode(),
        "certificate": cert_thumbprint(demo, "org"),
    }
    if placement is not None:
        params["placement"] = placement
    signing = asyncio.create_task(signer.request("sign.pdf", params))
    try:
        assert await asyncio.to_thread(walk.entered.wait, HOLD)
        await other.call("agent.info")  # answered while the walk is held
        walk.events.append("info answered")
    finally:
        walk.release()
    result = await signing
    assert walk.events == ["info answered", "walk done"]
    assert "result" in result, result
    assert walk.calls == 1  # one reading of the file, anchor or not
