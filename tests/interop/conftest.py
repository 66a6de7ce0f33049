"""The interop suite runs once per session: sign the corpus, let every verifier judge it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.interop import suite, toolchain


@pytest.fixture(scope="session")
def interop(demo: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> suite.Results:
    """Every verifier's verdicts over the signed corpus (built once; ~30 s on 2 cores)."""
    from agent.tokens.modules import ModuleCandidate
    from agent.tokens.service import TokenService

    async def run(out: Path) -> suite.Results:
        service = TokenService([ModuleCandidate(demo["module"], "SoftHSM2 (demo)", "demo", True)])
        await service.start(monitor=False)
        try:
            return await suite.run(service, demo, out)
        finally:
            await service.close()

    try:
        return asyncio.run(run(tmp_path_factory.mktemp("interop")))
    except toolchain.ToolchainMissing as exc:
        pytest.fail(str(exc))
