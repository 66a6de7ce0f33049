"""Serve the JavaScript bridge (``bridge_js/``) to the portal's pages under ``/kyso-bridge/``.

The bridge has one source of truth, ``bridge_js/`` at the repository root (the npm package
``@kyso/bridge``); the portal serves those very files instead of keeping a copy, so the page
always runs the bridge that the node tests test. ``portal-sign.js`` imports
``/kyso-bridge/kyso-bridge.mjs``. A prefix of its own keeps the route independent of the order
in which it and ``/static`` are added.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

PREFIX = "/kyso-bridge"
# Only what a browser needs: the module, its sources, the classic build and the typings.
_SUFFIXES = {".mjs": "text/javascript", ".js": "text/javascript", ".ts": "text/plain"}
BRIDGE_KEY = web.AppKey("kyso_bridge_dir", Path)


def bridge_directory() -> Path:
    """Where the bridge sources live (``bridge_js/`` beside the ``portal_stub`` package)."""
    return Path(__file__).resolve().parent.parent / "bridge_js"


async def _serve(request: web.Request) -> web.StreamResponse:
    root = request.app[BRIDGE_KEY]
    name = request.match_info["path"]
    target = (root / name).resolve()
    # Only files inside bridge_js/ (no "..", no symlinks out), only browser-facing kinds.
    if root not in target.parents or target.suffix not in _SUFFIXES or not target.is_file():
        raise web.HTTPNotFound()
    if any(part in {"test", "scripts", "node_modules"} for part in target.relative_to(root).parts):
        raise web.HTTPNotFound()
    return web.FileResponse(
        target,
        headers={"Content-Type": _SUFFIXES[target.suffix], "Cache-Control": "no-cache"},
    )


def add_bridge_routes(app: web.Application, directory: Path | None = None) -> None:
    """Mount ``GET /kyso-bridge/{path}`` on ``app`` (call before the app starts)."""
    root = (directory or bridge_directory()).resolve()
    if not (root / "kyso-bridge.mjs").is_file():
        raise FileNotFoundError(f"the JavaScript bridge is missing: {root}/kyso-bridge.mjs")
    app[BRIDGE_KEY] = root
    app.router.add_get(PREFIX + "/{path:.+}", _serve)
