"""Shared fixtures: one demo PKI on real SoftHSM2 tokens for the whole test session.

The demo lives in a temporary ``$KYSO_HOME``; nothing touches the user's or the system's
SoftHSM2 store. A missing SoftHSM2 or xmlsec1 is a failure, not a skip: CI must install them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# One Hypothesis profile for every property and fuzz test: the same examples on every run
# (derandomize, no example database), so CI is reproducible and a failure replays locally;
# no per-example deadline (a shared 2-core machine is slow at times, and timing is not a test);
# tests that need fewer examples to stay within seconds say so with their own @settings.
settings.register_profile(
    "kyso",
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("KYSO_HYPOTHESIS_PROFILE", "kyso"))


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: install the Debian package {package} (./run.sh test does)")
    return path


@pytest.fixture(scope="session")
def kyso_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private state root for the whole session (set as $KYSO_HOME)."""
    home = tmp_path_factory.mktemp("kyso-home")
    os.environ["KYSO_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def demo(kyso_home: Path) -> dict[str, Any]:
    """The demo manifest: tokens, PINs, CA and CRL paths, certificates by name."""
    _require("softhsm2-util", "softhsm2")
    from agent.demo import tokens as demo_tokens
    from agent.demo.pki import PKI_PORT_ENV

    # The certificates name their OCSP/CRL responder's loopback port: a free one per session,
    # so parallel test runs never answer each other (tests/certstatus starts the responder).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        os.environ[PKI_PORT_ENV] = str(probe.getsockname()[1])
    manifest = asyncio.run(demo_tokens.init())
    demo_tokens.activate()
    return manifest


@pytest.fixture(scope="session")
def xmlsec1() -> str:
    """Path of xmlsec1, the independent XML-DSig verifier."""
    return _require("xmlsec1", "xmlsec1")


@pytest.fixture(scope="session")
def openssl() -> str:
    """Path of openssl, the independent CMS verifier."""
    return _require("openssl", "openssl")


@pytest.fixture
async def token_service(demo: dict[str, Any]):
    """A started TokenService over the demo module only (no hot-plug polling)."""
    from agent.tokens.modules import ModuleCandidate
    from agent.tokens.service import TokenService

    service = TokenService([ModuleCandidate(demo["module"], "SoftHSM2 (demo)", "demo", True)])
    await service.start(monitor=False)
    try:
        yield service
    finally:
        await service.close()


def cert_thumbprint(demo: dict[str, Any], name: str) -> str:
    """Thumbprint of a demo certificate by its profile name (org, ec, expired...)."""
    return demo["certificates"][name]["thumbprint"]


@pytest.fixture(scope="session")
def tsa(demo: dict[str, Any]) -> Iterator[Any]:
    """The demo's RFC 3161 timestamp authority (openssl ts -reply) on a free loopback port."""
    from agent.demo.tsa import TimestampAuthority

    with TimestampAuthority(Path(demo["ca"]["chain"]).parent) as authority:
        yield authority


def pin_asks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The token labels a PIN is asked for, filled as the CLI asks (--pin-file gives it through
    StaticPinProvider): a test checks that nothing was asked before a refusal."""
    from agent.tokens.pin import StaticPinProvider

    asked: list[str] = []
    original = StaticPinProvider.get_pin

    async def counting(self: Any, request: Any) -> str | None:
        asked.append(request.token_label)
        return await original(self, request)

    monkeypatch.setattr(StaticPinProvider, "get_pin", counting)
    return asked
