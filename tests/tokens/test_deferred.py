"""TokenService.start(deferred=True): nothing is loaded until asked; one load serves everyone
waiting; a close during the load waits for it and releases what it loaded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.tokens.module.shared import _REGISTRY
from agent.tokens.modules import ModuleCandidate
from agent.tokens.service import TokenService


def _service(demo: dict[str, Any]) -> TokenService:
    return TokenService([ModuleCandidate(demo["module"], "SoftHSM2 (demo)", "demo", True)])


async def test_deferred_loads_once_at_first_use_for_every_caller(demo: dict[str, Any]) -> None:
    held_elsewhere = demo["module"] in _REGISTRY  # by another test's service: not ours to judge
    service = _service(demo)
    await service.start(monitor=False, deferred=True)
    try:
        assert not service.loaded and service.statuses == []
        assert (demo["module"] in _REGISTRY) is held_elsewhere
        # Three callers at once: one load, the same tokens for all.
        lists = await asyncio.gather(*(service.list_tokens() for _ in range(3)))
        assert service.loaded and [s.loaded for s in service.statuses] == [True]
        assert lists[0] and lists[0] == lists[1] == lists[2]
    finally:
        await service.close()
    assert (demo["module"] in _REGISTRY) is held_elsewhere  # released


async def test_a_caller_that_gives_up_does_not_cancel_the_load(demo: dict[str, Any]) -> None:
    service = _service(demo)
    await service.start(monitor=False, deferred=True)
    try:
        impatient = asyncio.ensure_future(service.list_tokens())
        await asyncio.sleep(0)
        impatient.cancel()
        assert await service.list_tokens()  # the load went on for the next caller
    finally:
        await service.close()


async def test_close_during_a_load_releases_it_and_a_late_page_loads_nothing(
    demo: dict[str, Any],
) -> None:
    held_elsewhere = demo["module"] in _REGISTRY
    service = _service(demo)
    await service.start(monitor=True, deferred=True)
    service.load_soon()
    await asyncio.sleep(0)  # the load is under way (loading the module on its thread)
    await service.close()  # waits for it, then releases what it loaded
    assert service.statuses and (demo["module"] in _REGISTRY) is held_elsewhere
    service.load_soon()  # a page connecting while the agent stops
    assert await service.list_tokens() == []
    assert (demo["module"] in _REGISTRY) is held_elsewhere


async def test_started_again_after_a_close_that_loaded_nothing_it_loads(
    demo: dict[str, Any],
) -> None:
    service = _service(demo)
    await service.start(monitor=False, deferred=True)
    await service.close()  # no page ever came
    await service.start(monitor=False)
    try:
        assert [s.loaded for s in service.statuses] == [True]
        assert await service.list_tokens()
    finally:
        await service.close()


async def test_an_unexpected_load_failure_fails_that_module_not_every_later_call(
    demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OSError from a vendor library (not a KysoError) is that module's failure, with the
    usual MODULE_LOAD_FAILED; the other modules still serve, and the next call does not
    re-raise it."""
    from agent.tokens.module import Pkcs11Module

    broken = "/opt/vendor/libbroken.so"
    real = Pkcs11Module.acquire.__func__  # type: ignore[attr-defined]

    async def acquire(cls: type[Pkcs11Module], candidate: ModuleCandidate) -> Pkcs11Module:
        if candidate.path == broken:
            raise OSError("wrong ELF class")
        return await real(cls, candidate)

    monkeypatch.setattr(Pkcs11Module, "acquire", classmethod(acquire))
    service = TokenService(
        [
            ModuleCandidate(broken, "Broken", "config", True),
            ModuleCandidate(demo["module"], "SoftHSM2 (demo)", "demo", True),
        ]
    )
    await service.start(monitor=False, deferred=True)
    try:
        assert await service.list_tokens()
        assert await service.list_tokens()
        failed, loaded = service.statuses
        assert not failed.loaded and failed.error is not None
        assert failed.error["code"] == "MODULE_LOAD_FAILED"
        assert loaded.loaded
    finally:
        await service.close()
