"""A hostile or broken CSC provider on 127.0.0.1 (no sign-in: ``auth_flow = "none"``): each CSC
method answers whatever bytes the test sets, and the provider counts the requests it served
and how many were in flight at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from agent.remote.providers import RemoteProvider, parse_provider

# What a method answers: (status, body), from the request's JSON.
Answer = Callable[[dict[str, Any]], tuple[int, bytes]]


def deep(depth: int) -> bytes:
    """``depth`` opening brackets (the red team's answer): nested past Python's recursion
    limit (1000), the parser gives up before it could see the text never closes."""
    return b"[" * depth


def floats(size: int) -> bytes:
    """A JSON object of about ``size`` bytes that parses to a long list of floats."""
    return b'{"x":[' + b"1.5," * ((size - 10) // 4) + b"1.5]}"


@dataclass
class EvilProvider:
    """The provider's answers (set by the test) and what it saw."""

    answers: dict[str, Answer] = field(default_factory=dict)
    served: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    most_in_flight: int = 0
    hold_seconds: float = 0.0  # keep each answer open a moment, so concurrent calls overlap
    chunked: bool = False  # stream the answer without a Content-Length
    url: str = ""

    def provider(self, name: str = "evil") -> RemoteProvider:
        """This service as a configured provider."""
        return parse_provider(self.table(name))

    def table(self, name: str = "evil") -> dict[str, Any]:
        """Its ``[[remote_providers]]`` table."""
        return {
            "name": name,
            "display_name": "Dịch vụ hỏng",
            "base_url": self.url,
            "auth_flow": "none",
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        self.served[method] += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.hold_seconds:
                await asyncio.sleep(self.hold_seconds)
            answer = self.answers.get(method)
            status, body = answer(await request.json()) if answer else (200, b"{}")
            if not self.chunked:
                return web.Response(status=status, body=body, content_type="application/json")
            response = web.StreamResponse(status=status)
            response.content_type = "application/json"
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(body)
            await response.write_eof()
            return response
        finally:
            self.in_flight -= 1


@pytest.fixture
async def evil() -> AsyncIterator[EvilProvider]:
    """The hostile provider, for one test."""
    provider = EvilProvider()
    app = web.Application()
    app.router.add_post("/csc/v2/{method:.*}", provider.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    provider.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield provider
    finally:
        await runner.cleanup()
