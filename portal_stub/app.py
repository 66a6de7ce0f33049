"""The aiohttp application factory of the portal stub."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

from aiohttp import web

from agent.signing.trust import TrustStore
from portal_stub.bridge_assets import add_bridge_routes
from portal_stub.config import PortalConfig
from portal_stub.errors import PortalError
from portal_stub.mail import start_sink
from portal_stub.portal import Portal
from portal_stub.processing import background
from portal_stub.web import api, pages_account, pages_dossier
from portal_stub.web.common import (
    PORTAL,
    TEMPLATES,
    cross_site_middleware,
    error_middleware,
    session_middleware,
    templates,
)

log = logging.getLogger(__name__)


# What /static/ serves: the pages' scripts, styles and images, never the package's own files
# (the folder is a Python package, so it holds an __init__.py).
STATIC_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}\.(?:js|css|png|svg|ico)")


def _static_dir() -> Path:
    return Path(str(resources.files("portal_stub").joinpath("static")))


async def _static(request: web.Request) -> web.StreamResponse:
    """One file of the static folder, by a name of :data:`STATIC_FILE`'s shape (else E107)."""
    name = request.match_info["name"]
    path = _static_dir() / name
    if not STATIC_FILE.fullmatch(name) or not path.is_file() or path.is_symlink():
        raise PortalError("NOT_FOUND")
    return web.FileResponse(path)


def create_app(config: PortalConfig, trust: TrustStore | None = None) -> web.Application:
    """Build the portal. ``trust`` defaults to ``TrustStore.from_files(config.trust_paths,
    config.crl_paths)``. The database, the SMTP sink (if enabled) and the simulated office's
    timer live in the app's cleanup context: started with the app, closed with it."""
    if trust is None:
        trust = TrustStore.from_files(config.trust_paths, config.crl_paths)
    # Uploads are base64 in forms (signed_document) or raw in multipart: room for both.
    app = web.Application(
        # Cross-site refusal before the session: a forged request creates nothing.
        middlewares=[error_middleware, cross_site_middleware, session_middleware],
        # Attachments get more room only where a logged-in unit sends them (upload_request).
        client_max_size=config.max_upload_bytes * 4 // 3 + 1024 * 1024,
    )
    app[TEMPLATES] = templates()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        portal = Portal.create(config, trust)
        app[PORTAL] = portal
        sink = await start_sink(config, portal.db) if config.smtp_sink else None
        try:
            async with background(config, portal.db):
                yield
        finally:
            if sink is not None:
                sink.close()
                await sink.wait_closed()
            portal.db.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_routes(pages_account.routes)
    app.router.add_routes(pages_dossier.routes)
    app.router.add_routes(api.routes)
    app.router.add_get("/static/{name}", _static)
    try:
        # /kyso-bridge/: the JavaScript bridge that /static/portal-sign.js imports.
        add_bridge_routes(app)
    except FileNotFoundError as exc:  # an installed package without the bridge_js sources
        log.warning("signing through the browser is unavailable: %s", exc)
    return app
