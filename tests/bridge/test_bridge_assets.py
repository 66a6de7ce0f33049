"""The portal serves the bridge's own files (one source of truth) and nothing else."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from portal_stub.bridge_assets import PREFIX, add_bridge_routes, bridge_directory


async def test_serves_the_module_and_refuses_everything_else(aiohttp_client: Any) -> None:
    """The ES module, its sources and the classic build are served as JavaScript; tests,
    build scripts, package.json and paths out of bridge_js/ are not."""
    app = web.Application()
    add_bridge_routes(app)
    client = await aiohttp_client(app)
    for name in ("kyso-bridge.mjs", "src/bridge.mjs", "kyso-bridge.js"):
        response = await client.get(f"{PREFIX}/{name}")
        assert response.status == 200, name
        assert response.headers["Content-Type"].startswith("text/javascript")
        assert await response.read() == (bridge_directory() / name).read_bytes()
    for name in (
        "test/fakes.mjs",
        "scripts/build.mjs",
        "examples/server.py",
        "package.json",
        "../pyproject.toml",
        "%2e%2e/agent/errors.py",
        "missing.mjs",
    ):
        response = await client.get(f"{PREFIX}/{name}")
        assert response.status == 404, name
