"""Fixtures for the portal stub: a fresh portal per test over the demo PKI, a movable clock,
real SoftHSM2 signatures and the real embedded SMTP sink."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.signing.trust import TrustStore
from portal_stub.app import create_app
from portal_stub.config import PortalConfig
from tests.portal.helpers import PortalDriver


class FakeClock:
    """The portal's clock seam: real time until a test moves it."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, **kwargs: float) -> None:
        """Jump forward (e.g. minutes=6)."""
        self.offset += dt.timedelta(**kwargs)


@pytest.fixture(scope="session")
def portal_trust(demo: dict[str, Any]) -> TrustStore:
    """The portal's trusted CAs and CRLs: the demo PKI."""
    ca = demo["ca"]
    return TrustStore.from_files([ca["root"], ca["issuing"]], [ca["crl"], ca["root_crl"]])


@pytest.fixture
def clock() -> FakeClock:
    """A clock tests can move."""
    return FakeClock()


@pytest.fixture
async def portal(
    aiohttp_client: Any,
    portal_trust: TrustStore,
    clock: FakeClock,
    tmp_path: Path,
    token_service: Any,
    demo: dict[str, Any],
) -> AsyncIterator[PortalDriver]:
    """A running portal (own SQLite file, own SMTP sink on a free port) and a driver for it."""
    config = PortalConfig(
        db_path=tmp_path / "portal.sqlite3",
        smtp_port=0,
        smtp_sink=True,
        debug_hooks=True,
        clock=clock,
    )
    client = await aiohttp_client(create_app(config, portal_trust))
    # The test server picks its port at start: the public origin follows it.
    config.public_origin = str(client.make_url("")).rstrip("/")
    yield PortalDriver(client, config, token_service, demo)
