"""Shared fixtures: one demo PKI on real SoftHSM2 tokens for the whole test session.

The demo lives in a temporary ``$KYSO_HOME``; nothing touches the user's or the system's
SoftHSM2 store. A missing SoftHSM2 or xmlsec1 is a failure, not a skip: CI must install them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest


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
