"""What ``kyso-agent doctor`` explains about token drivers. Pure logic over bytes, names and
reader lists; the few I/O helpers at the end are kept apart so the rules are tested without
Windows or a smart-card reader.

Two questions users cannot answer alone:

* **Is the driver the wrong bitness?** A 64-bit agent cannot load a 32-bit DLL; Windows only
  says "not a valid Win32 application". The machine field of the DLL's PE header tells, and a
  driver installed only in ``SysWOW64`` (where 32-bit DLLs go) is 32-bit by construction.
* **Is the reader there but the driver not?** The token shows up as a PC/SC reader (Windows'
  own CCID driver) even when its CA's PKCS#11 driver was never installed. The reader's name
  tells which family it is, so doctor can name what to install.
"""

from __future__ import annotations

import os
import platform
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from agent.errors import KysoError
from agent.tokens.modules import KNOWN_MODULES, WINDOWS_SYSTEM32, WINDOWS_SYSWOW64, KnownModule

# COFF machine types (PE format, "Machine Types").
IMAGE_FILE_MACHINE_I386 = 0x014C
IMAGE_FILE_MACHINE_AMD64 = 0x8664
IMAGE_FILE_MACHINE_ARM64 = 0xAA64
IMAGE_FILE_MACHINE_ARMNT = 0x01C4
MACHINE_LABELS: dict[int, str] = {
    IMAGE_FILE_MACHINE_I386: "32-bit (x86)",
    IMAGE_FILE_MACHINE_AMD64: "64-bit (x64)",
    IMAGE_FILE_MACHINE_ARM64: "64-bit (ARM64)",
    IMAGE_FILE_MACHINE_ARMNT: "32-bit (ARM)",
}
# How many bytes of a DLL pe_machine needs at most in practice (e_lfanew is small); the reader
# below reads further when a file's header says so.
HEADER_BYTES = 4096


def pe_machine(data: bytes) -> int | None:
    """The COFF machine field of a Windows DLL, from its first bytes; None if not a PE image.

    Layout: "MZ" at 0, the offset of the PE signature (e_lfanew, little-endian u32) at 0x3C,
    "PE\\0\\0" there, then the u16 machine field.
    """
    if len(data) < 0x40 or data[:2] != b"MZ":
        return None
    (offset,) = struct.unpack_from("<I", data, 0x3C)
    if offset + 6 > len(data) or data[offset : offset + 4] != b"PE\0\0":
        return None
    (machine,) = struct.unpack_from("<H", data, offset + 4)
    return machine


def machine_label(machine: int) -> str:
    """``32-bit (x86)``, ``64-bit (x64)``, ... or the hex value for anything else."""
    return MACHINE_LABELS.get(machine, f"machine 0x{machine:04X}")


def agent_machine(machine: str | None = None, pointer_bits: int | None = None) -> int:
    """The PE machine a DLL needs to load into this Python process."""
    machine = (machine or platform.machine()).lower()
    bits = pointer_bits or struct.calcsize("P") * 8
    if machine in ("arm64", "aarch64"):
        return IMAGE_FILE_MACHINE_ARM64 if bits == 64 else IMAGE_FILE_MACHINE_ARMNT
    return IMAGE_FILE_MACHINE_AMD64 if bits == 64 else IMAGE_FILE_MACHINE_I386


def wrong_arch(path: str, header: bytes, agent: int) -> KysoError | None:
    """MODULE_WRONG_ARCH when the DLL at ``path`` (its first bytes: ``header``) cannot load
    into an agent of machine ``agent``; None when it can or is no PE image at all."""
    machine = pe_machine(header)
    if machine is None or machine == agent:
        return None
    return KysoError(
        "MODULE_WRONG_ARCH",
        {"module": path, "module_arch": machine_label(machine), "agent_arch": machine_label(agent)},
    )


def windows_arch_findings(
    exists: Callable[[str], bool],
    read_header: Callable[[str], bytes],
    agent: int,
    known: Sequence[KnownModule] = KNOWN_MODULES,
) -> list[KysoError]:
    """Known drivers this agent cannot load: a System32 DLL of the wrong machine, or a driver
    installed only in SysWOW64 (32-bit) when the agent is 64-bit."""
    findings: list[KysoError] = []
    for family in known:
        for name in family.windows:
            native = WINDOWS_SYSTEM32 + "\\" + name
            wow = WINDOWS_SYSWOW64 + "\\" + name
            if exists(native):
                finding = wrong_arch(native, read_header(native), agent)
            elif exists(wow) and MACHINE_LABELS.get(agent, "").startswith("64-bit"):
                # A file in SysWOW64 is 32-bit; read it anyway so the text names its machine.
                finding = wrong_arch(wow, read_header(wow), agent) or KysoError(
                    "MODULE_WRONG_ARCH",
                    {
                        "module": wow,
                        "module_arch": machine_label(IMAGE_FILE_MACHINE_I386),
                        "agent_arch": machine_label(agent),
                    },
                )
            else:
                continue
            if finding is not None:
                finding.details["vendor"] = family.vendor
                findings.append(finding)
    return findings


@dataclass(frozen=True)
class ReaderRule:
    """A PC/SC reader-name fragment (lower case) and the token families it belongs to."""

    fragment: str
    vendors: tuple[str, ...]  # KnownModule.vendor values whose modules serve this reader
    driver_en: str  # what to install, as doctor says it
    driver_vi: str
    source: str  # docs/tokens.md source key, or "heuristic"


_VN_CAS = (
    "VNPT-CA",
    "Viettel-CA",
    "BKAV-CA",
    "FPT-CA",
    "CA2 (Nacencomm)",
    "Vina-CA (SmartSign)",
    "SafeCert (Safe-CA)",
    "NewTel-CA",
    "EFY-CA",
    "MISA-CA",
    "FastCA",
)
# Most Vietnamese CA tokens are Feitian ePass2003/3003 hardware under the CA's name (source
# S2): any CA driver, Feitian's own, or OpenSC (which has an ePass2003 driver) can serve them.
_GENERIC = ("Feitian ePass2003", "Feitian ePass3003", "Feitian ePassNG", "OpenSC")
_FEITIAN = (*_VN_CAS, *_GENERIC)

READER_RULES: tuple[ReaderRule, ...] = (
    ReaderRule(
        "epass2003",
        _FEITIAN,
        "your certificate provider (VNPT-CA, Viettel-CA, BKAV-CA, FPT-CA, ...): the token is a "
        "Feitian ePass2003",
        "nhà cung cấp chữ ký số của bạn (VNPT-CA, Viettel-CA, BKAV-CA, FPT-CA, ...): token này "
        "là loại Feitian ePass2003",
        "S12",
    ),
    ReaderRule(
        "aks ifdh",
        ("SafeNet eToken",),
        "SafeNet Authentication Client",
        "SafeNet Authentication Client",
        "S12",
    ),
    # The CA's name in the reader's name: the CA's own driver (no public source lists these
    # reader names; a match only makes doctor suggest that CA's driver).
    *(
        ReaderRule(fragment, (ca, *_GENERIC), ca, ca, "heuristic")
        for fragment, ca in (
            ("vnpt", "VNPT-CA"),
            ("viettel", "Viettel-CA"),
            ("bkav", "BKAV-CA"),
            ("fpt", "FPT-CA"),
            ("nacencomm", "CA2 (Nacencomm)"),
            ("newtel", "NewTel-CA"),
            ("safe-ca", "SafeCert (Safe-CA)"),
            ("misa", "MISA-CA"),
        )
    ),
)


def missing_drivers(
    readers: Iterable[str],
    loaded_vendors: Iterable[str],
    rules: Sequence[ReaderRule] = READER_RULES,
) -> list[KysoError]:
    """TOKEN_DRIVER_MISSING for each reader of a known family that no loaded module serves.

    ``readers`` are PC/SC reader names (``SCardListReaders``); ``loaded_vendors`` are the
    ``vendor`` of every module that loaded (``ModuleCandidate.vendor`` of a loaded status).
    The first rule whose fragment is in the reader's name decides; unknown readers say nothing.
    """
    loaded = set(loaded_vendors)
    findings: list[KysoError] = []
    for reader in readers:
        lowered = reader.lower()
        rule = next((r for r in rules if r.fragment in lowered), None)
        if rule is None or loaded.intersection(rule.vendors):
            continue
        findings.append(
            KysoError(
                "TOKEN_DRIVER_MISSING",
                {
                    "reader": reader,
                    "driver_en": rule.driver_en,
                    "driver_vi": rule.driver_vi,
                    "source": rule.source,
                },
            )
        )
    return findings


class LoadedModule(Protocol):
    """What doctor_findings needs of a module status (agent.tokens.service.ModuleStatus)."""

    path: str
    vendor: str
    loaded: bool


def doctor_findings(
    statuses: Iterable[LoadedModule],
    readers: Sequence[str] | None,
    *,
    windows: bool,
    exists: Callable[[str], bool],
    read_header: Callable[[str], bytes],
    agent: int,
) -> list[KysoError]:
    """Everything doctor explains about drivers, once per module: the known drivers of the
    wrong bitness (Windows), a module that failed to load because of its bitness, and the
    readers whose driver is missing (``readers`` None: PC/SC could not be asked)."""
    statuses = list(statuses)
    findings = windows_arch_findings(exists, read_header, agent) if windows else []
    seen = {f.details["module"].lower() for f in findings}
    for status in statuses:
        if status.loaded or status.path.lower() in seen:
            continue
        finding = wrong_arch(status.path, read_header(status.path), agent)
        if finding is not None:
            finding.details["vendor"] = status.vendor
            findings.append(finding)
            seen.add(status.path.lower())
    if readers is not None:
        findings += missing_drivers(readers, [s.vendor for s in statuses if s.loaded])
    return findings


# ---- I/O helpers (thin; doctor passes them to the pure functions above) -------------------


def read_pe_header(path: str) -> bytes:
    """The first bytes of ``path``, enough for :func:`pe_machine` (b"" when unreadable)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEADER_BYTES)
            if len(head) >= 0x40 and head[:2] == b"MZ":
                (offset,) = struct.unpack_from("<I", head, 0x3C)
                if len(head) < offset + 6 <= 1 << 20:
                    handle.seek(0)
                    head = handle.read(offset + 6)
            return head
    except OSError:
        return b""


def pcsc_readers() -> list[str] | None:
    """PC/SC reader names when pyscard is installed (it is optional), else None."""
    try:
        from smartcard.System import readers
    except ImportError:
        return None
    try:
        return [str(r) for r in readers()]
    except Exception:  # no PC/SC service is "no readers", not a crash
        return []


def file_exists(path: str) -> bool:
    """os.path.exists, named for the callers' readability."""
    return os.path.exists(path)
