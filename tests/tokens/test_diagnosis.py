"""What doctor explains about token drivers: a DLL of the wrong bitness (from its PE header),
a driver installed only as 32-bit, and a token whose reader is present but whose driver is not.
Synthetic PE headers stand in for vendor DLLs (they are Windows-only and not redistributable);
the header layout is the one Windows' loader reads."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from agent.tokens import diagnosis
from agent.tokens.diagnosis import (
    IMAGE_FILE_MACHINE_AMD64,
    IMAGE_FILE_MACHINE_ARM64,
    IMAGE_FILE_MACHINE_I386,
    agent_machine,
    missing_drivers,
    pe_machine,
    read_pe_header,
    windows_arch_findings,
    wrong_arch,
)
from agent.tokens.modules import (
    BUILTIN_MODULES,
    KNOWN_MODULES,
    WINDOWS_SYSTEM32,
    WINDOWS_SYSWOW64,
    candidate_modules,
)


def pe(machine: int, e_lfanew: int = 0x80) -> bytes:
    """The start of a PE image: DOS header with e_lfanew, the PE signature, the machine."""
    dos = bytearray(e_lfanew)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, e_lfanew)
    return bytes(dos) + b"PE\0\0" + struct.pack("<H", machine) + b"\0" * 18


@pytest.mark.parametrize(
    "machine", [IMAGE_FILE_MACHINE_I386, IMAGE_FILE_MACHINE_AMD64, IMAGE_FILE_MACHINE_ARM64]
)
def test_machine_is_read_from_the_pe_header(machine: int) -> None:
    assert pe_machine(pe(machine)) == machine
    assert pe_machine(pe(machine, e_lfanew=0x100)) == machine


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x7fELF" + b"\0" * 100,  # a Linux .so
        b"MZ" + b"\0" * 10,  # truncated
        pe(IMAGE_FILE_MACHINE_AMD64)[:0x84],  # the signature cut off
        pe(IMAGE_FILE_MACHINE_AMD64).replace(b"PE\0\0", b"NE\0\0"),  # a 16-bit NE image
        bytearray(b"MZ" + b"\0" * 0x3A) + struct.pack("<I", 0xFFFFFFF0),  # offset past the end
    ],
)
def test_anything_else_is_not_a_pe_image(data: bytes) -> None:
    assert pe_machine(bytes(data)) is None


def test_a_32_bit_module_on_a_64_bit_agent_is_explained_in_both_languages() -> None:
    err = wrong_arch(
        r"C:\x\vnptca_p11_v8.dll", pe(IMAGE_FILE_MACHINE_I386), IMAGE_FILE_MACHINE_AMD64
    )
    assert err is not None and err.code == "MODULE_WRONG_ARCH"
    wire = err.to_dict()
    assert "32-bit (x86)" in wire["message_en"] and "64-bit (x64)" in wire["message_en"]
    assert "32-bit (x86)" in wire["message_vi"] and "vnptca_p11_v8.dll" in wire["message_vi"]
    assert "64-bit (x64)" in wire["action_vi"]  # says which version to install
    assert wrong_arch("m.dll", pe(IMAGE_FILE_MACHINE_AMD64), IMAGE_FILE_MACHINE_AMD64) is None
    assert wrong_arch("m.so", b"\x7fELF", IMAGE_FILE_MACHINE_AMD64) is None


def test_agent_machine_follows_the_process_not_the_os() -> None:
    assert agent_machine("AMD64", 64) == IMAGE_FILE_MACHINE_AMD64
    assert agent_machine("AMD64", 32) == IMAGE_FILE_MACHINE_I386  # 32-bit Python on x64
    assert agent_machine("ARM64", 64) == IMAGE_FILE_MACHINE_ARM64
    assert agent_machine("x86_64", 64) == IMAGE_FILE_MACHINE_AMD64


def test_a_driver_only_in_syswow64_is_32_bit_and_one_in_system32_is_checked() -> None:
    files = {
        WINDOWS_SYSWOW64 + r"\viettel-ca_v6.dll": pe(IMAGE_FILE_MACHINE_I386),
        WINDOWS_SYSTEM32 + r"\BkavCA.dll": pe(IMAGE_FILE_MACHINE_I386),  # a broken installer
        WINDOWS_SYSTEM32 + r"\vnptca_p11_v8.dll": pe(IMAGE_FILE_MACHINE_AMD64),  # fine
        WINDOWS_SYSWOW64 + r"\vnptca_p11_v8.dll": pe(IMAGE_FILE_MACHINE_I386),  # 32-bit twin
    }
    found = windows_arch_findings(files.__contains__, files.__getitem__, IMAGE_FILE_MACHINE_AMD64)
    by_module = {f.details["module"]: f for f in found}
    assert set(by_module) == {
        WINDOWS_SYSWOW64 + r"\viettel-ca_v6.dll",
        WINDOWS_SYSTEM32 + r"\BkavCA.dll",
    }
    assert by_module[WINDOWS_SYSWOW64 + r"\viettel-ca_v6.dll"].details["vendor"] == "Viettel-CA"
    # A 32-bit agent loads the SysWOW64 copies: nothing to explain about those.
    found32 = windows_arch_findings(files.__contains__, files.__getitem__, IMAGE_FILE_MACHINE_I386)
    assert [f.details["module"] for f in found32] == [WINDOWS_SYSTEM32 + r"\vnptca_p11_v8.dll"]


def test_a_known_reader_without_its_driver_names_what_to_install() -> None:
    readers = ["FT ePass2003Auto 0", "Generic Smart Card Reader 0", "AKS ifdh 0"]
    found = missing_drivers(readers, loaded_vendors=[])
    assert [f.details["reader"] for f in found] == ["FT ePass2003Auto 0", "AKS ifdh 0"]
    assert "SafeNet Authentication Client" in found[1].message_en + found[1].to_dict()["action_en"]
    action_vi = found[0].to_dict()["action_vi"]
    assert "VNPT-CA" in action_vi and "nhà cung cấp chữ ký số" in action_vi
    assert all(f.code == "TOKEN_DRIVER_MISSING" for f in found)
    # Any Vietnamese CA's driver (or OpenSC) serves an ePass2003; SafeNet needs its own.
    assert [f.details["reader"] for f in missing_drivers(readers, ["Viettel-CA"])] == ["AKS ifdh 0"]
    assert missing_drivers(readers, ["OpenSC", "SafeNet eToken"]) == []


def test_the_ca_name_in_a_reader_name_points_at_that_cas_driver() -> None:
    (finding,) = missing_drivers(["VNPT-CA Token 0"], ["BKAV-CA"])
    assert finding.details["driver_vi"] == "VNPT-CA" and finding.details["source"] == "heuristic"
    assert missing_drivers(["VNPT-CA Token 0"], ["VNPT-CA"]) == []


def test_the_header_reader_reads_far_enough_and_survives_missing_files(tmp_path: Path) -> None:
    far = tmp_path / "far.dll"
    far.write_bytes(pe(IMAGE_FILE_MACHINE_I386, e_lfanew=diagnosis.HEADER_BYTES + 512))
    assert pe_machine(read_pe_header(str(far))) == IMAGE_FILE_MACHINE_I386
    assert read_pe_header(str(tmp_path / "absent.dll")) == b""


def test_the_table_covers_every_vietnamese_ca_and_cites_its_sources() -> None:
    vendors = {k.vendor for k in KNOWN_MODULES}
    for ca in ("VNPT-CA", "Viettel-CA", "BKAV-CA", "FPT-CA", "NewTel-CA", "CA2 (Nacencomm)"):
        assert ca in vendors
    for ca in ("EFY-CA", "MISA-CA", "SafeCert (Safe-CA)", "Vina-CA (SmartSign)"):
        assert ca in vendors
    docs = (Path(__file__).resolve().parents[2] / "docs" / "tokens.md").read_text("utf-8")
    for known in KNOWN_MODULES:
        assert known.sources and known.confidence in ("high", "medium", "low"), known.vendor
        for key in known.sources:
            assert f"**{key}**" in docs, f"{known.vendor}: source {key} is not in docs/tokens.md"
        for name in (*known.windows, *known.linux, *known.macos):
            assert name.rsplit("/", 1)[-1] in docs, f"{name} is not documented"
    names = [n.lower() for k in KNOWN_MODULES for n in k.windows]
    assert len(names) == len(set(names)), "a DLL name listed twice (Windows ignores case)"


def test_every_windows_row_is_a_system32_path_tried_only_when_present() -> None:
    rows = [p for _, plat, p in BUILTIN_MODULES if plat == "win32"]
    assert len(rows) >= 60  # the module table used to know 4 Vietnamese DLLs
    assert all(p.startswith(WINDOWS_SYSTEM32 + "\\") for p in rows)
    present = WINDOWS_SYSTEM32 + r"\viettel-ca_v6.dll"
    (only,) = candidate_modules(env={}, platform="win32", exists=lambda p: p == present)
    assert (only.path, only.vendor, only.source) == (present, "Viettel-CA", "builtin")


def test_doctor_gets_each_problem_once_from_one_call() -> None:
    from agent.tokens.service import ModuleStatus

    configured = r"D:\drivers\vendor_p11.dll"
    native32 = WINDOWS_SYSTEM32 + r"\BkavCA.dll"
    files = {native32: pe(IMAGE_FILE_MACHINE_I386), configured: pe(IMAGE_FILE_MACHINE_I386)}
    statuses = [
        ModuleStatus(native32, "BKAV-CA", "builtin", loaded=False),  # also a known driver
        ModuleStatus(configured, "vendor_p11.dll", "config", loaded=False),
        ModuleStatus("/usr/lib/softhsm/libsofthsm2.so", "SoftHSM2", "demo", loaded=True),
    ]
    found = diagnosis.doctor_findings(
        statuses,
        ["FT ePass2003Auto 0"],
        windows=True,
        exists=files.__contains__,
        read_header=lambda p: files.get(p, b""),
        agent=IMAGE_FILE_MACHINE_AMD64,
    )
    assert [(f.code, f.details.get("module") or f.details["reader"]) for f in found] == [
        ("MODULE_WRONG_ARCH", native32),
        ("MODULE_WRONG_ARCH", configured),
        ("TOKEN_DRIVER_MISSING", "FT ePass2003Auto 0"),
    ]
    # Off Windows and without PC/SC: only what the failed modules themselves show.
    assert (
        diagnosis.doctor_findings(
            statuses[2:],
            None,
            windows=False,
            exists=files.__contains__,
            read_header=lambda p: b"",
            agent=IMAGE_FILE_MACHINE_AMD64,
        )
        == []
    )
