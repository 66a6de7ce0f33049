"""Module discovery: the order candidates are tried in, and modules that fail to load."""

from __future__ import annotations

import os
import threading

import pytest

from agent.tokens.modules import (
    BUILTIN_MODULES,
    candidate_modules,
    is_softhsm,
    platform_key,
    softhsm2_module,
)
from agent.tokens.service import TokenService

OPENSC_LINUX = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"


def test_order_is_config_then_env_then_demo_then_builtin():
    env = {"KYSO_PKCS11_MODULE": os.pathsep.join(["/env/a.so", "/env/b.so"])}
    out = candidate_modules(
        ["/cfg/vendor.so"],
        env=env,
        demo_module="/usr/lib/softhsm/libsofthsm2.so",
        platform="linux",
        exists=lambda p: p == OPENSC_LINUX,
    )
    assert [(c.path, c.source) for c in out] == [
        ("/cfg/vendor.so", "config"),
        ("/env/a.so", "env"),
        ("/env/b.so", "env"),
        ("/usr/lib/softhsm/libsofthsm2.so", "demo"),
        (OPENSC_LINUX, "builtin"),
    ]
    assert [c.reinitialize_to_rescan for c in out] == [False, False, False, True, False]
    assert out[-1].vendor == "OpenSC"


def test_a_module_named_twice_is_tried_once_from_the_first_source():
    out = candidate_modules(
        ["/m/libsofthsm2.so"],
        env={"KYSO_PKCS11_MODULE": "/m/libsofthsm2.so"},
        demo_module="/m/libsofthsm2.so",
        include_builtin=False,
    )
    assert [(c.path, c.source, c.vendor) for c in out] == [
        ("/m/libsofthsm2.so", "config", "SoftHSM2")
    ]


def test_builtin_rows_only_when_present_and_for_this_os():
    windows = candidate_modules(env={}, platform="win32", exists=lambda p: True)
    assert {c.source for c in windows} == {"builtin"}
    assert len(windows) == sum(1 for _, plat, _ in BUILTIN_MODULES if plat == "win32")
    assert all(c.path.startswith("C:\\") for c in windows)
    assert any("VNPT" in c.vendor for c in windows)  # the Vietnamese CAs' drivers are known
    assert candidate_modules(env={}, platform="linux", exists=lambda p: False) == []
    assert candidate_modules(env={}, include_builtin=False, exists=lambda p: True) == []


def test_env_variable_ignores_empty_entries_and_known_names_get_a_vendor():
    out = candidate_modules(
        env={"KYSO_PKCS11_MODULE": f"{os.pathsep}/x/eTPKCS11.dll{os.pathsep}"},
        include_builtin=False,
    )
    assert [(c.path, c.vendor) for c in out] == [("/x/eTPKCS11.dll", "SafeNet eToken")]


def test_platform_key_and_softhsm_detection():
    assert platform_key("win32") == "win32"
    assert platform_key("darwin") == "darwin"
    assert platform_key("linux") == "linux"
    assert is_softhsm("/usr/lib/softhsm/libsofthsm2.so")
    assert not is_softhsm("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")
    assert softhsm2_module() is not None, "softhsm2 must be installed (./run.sh test does)"


LIBZ = "/lib/x86_64-linux-gnu/libz.so.1"


async def test_modules_that_fail_to_load_are_reported_and_skipped(demo):
    from agent.tokens.module.shared import _REGISTRY

    assert os.path.exists(LIBZ), "libz is part of every Debian system"
    missing = "/nonexistent/kyso/libvendor-pkcs11.so"
    candidates = candidate_modules(
        [missing, LIBZ], env={}, demo_module=demo["module"], include_builtin=False
    )
    service = TokenService(candidates)
    await service.start(monitor=False)
    try:
        by_path = {s.path: s for s in service.statuses}
        assert [s.path for s in service.statuses] == [missing, LIBZ, demo["module"]]
        for bad in (missing, LIBZ):
            status = by_path[bad]
            assert status.loaded is False
            assert status.error is not None and status.error["code"] == "MODULE_LOAD_FAILED"
            assert bad in status.error["message_en"]  # says which module
            assert bad not in _REGISTRY  # nothing left half-loaded
        assert by_path[demo["module"]].loaded
        assert "SoftHSM" in by_path[demo["module"]].description
        labels = {t.label for t in await service.list_tokens()}
        assert {"KYSO DEMO 1", "KYSO DEMO 2"} <= labels  # the good module still works
    finally:
        await service.close()
    # The failed modules' worker threads are gone, not left running.
    names = {t.name for t in threading.enumerate()}
    assert not any(n.startswith("pkcs11:") and "libz" in n for n in names)


async def test_no_module_at_all_gives_an_empty_but_working_service():
    service = TokenService([])
    await service.start(monitor=False)
    try:
        assert await service.list_tokens() == []
        assert await service.list_certificates() == []
        assert service.statuses == []
    finally:
        await service.close()


@pytest.mark.parametrize("text", ["KYSO_PKCS11_MODULE"])
def test_env_is_read_from_the_process_by_default(monkeypatch, text):
    monkeypatch.setenv(text, "/from/env/module.so")
    out = candidate_modules(include_builtin=False)
    assert [(c.path, c.source) for c in out] == [("/from/env/module.so", "env")]
