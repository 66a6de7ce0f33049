"""Where PKCS#11 modules are looked for, in order. Pure logic apart from checking file existence.

Order: modules named in config/policy, ``$KYSO_PKCS11_MODULE`` (os.pathsep-separated), the demo
token when it has been created, then the built-in table (``KNOWN_MODULES``) of the module names
the Vietnamese CAs' token drivers install, and common generic ones, for the running OS. Every
name comes from public integration code, cited with its confidence in docs/tokens.md; a wrong
row costs nothing (a missing file is skipped) and IT can always name the module in policy.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModuleCandidate:
    """A PKCS#11 module to try: its path, who provides it, and where the entry came from."""

    path: str
    vendor: str
    source: str  # "config", "env", "demo" or "builtin"
    # Modules with a fixed slot list (SoftHSM2, some vendor drivers) only see a re-inserted
    # token after C_Finalize/C_Initialize; the token layer does that when the module is idle.
    reinitialize_to_rescan: bool = False


_WINDOWS = "win32"
_MAC = "darwin"
_LINUX = "linux"

# 64-bit DLLs live in System32 on 64-bit Windows, 32-bit ones in SysWOW64 (a 32-bit process
# asking for System32 is redirected there). Kyso ships as a 64-bit program, so it loads from
# System32; agent.tokens.diagnosis looks in SysWOW64 to explain a driver that is 32-bit only.
WINDOWS_SYSTEM32 = "C:\\Windows\\System32"
WINDOWS_SYSWOW64 = "C:\\Windows\\SysWOW64"


@dataclass(frozen=True)
class KnownModule:
    """One token family: its PKCS#11 module names per OS and where each name comes from.

    ``windows`` holds file names (looked up in System32, and in SysWOW64 for the 32-bit
    diagnosis); ``linux``/``macos`` hold absolute paths. ``sources`` are the keys of the
    "Sources" list in docs/tokens.md; ``confidence`` is ``high`` (named by two or more
    independent sources), ``medium`` (one source that integrates the CA's tokens) or ``low``
    (one source, or a directory that source only searched). ``driver`` names what the user
    installs, for ``kyso-agent doctor``.
    """

    vendor: str
    driver: str
    windows: tuple[str, ...] = ()
    linux: tuple[str, ...] = ()
    macos: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    confidence: str = "medium"


# The Vietnamese public CAs first, then the generic token families they (and others) build on.
KNOWN_MODULES: tuple[KnownModule, ...] = (
    KnownModule(
        "VNPT-CA",
        "VNPT-CA (VNPT-CA Token Manager / VNPT-CA Plugin)",
        windows=(
            "vnptca_p11_v8.dll",
            "vnptca_p11_v10.dll",
            "vnptca_p11_v9.dll",
            "vnptca_p11_v81.dll",
            "vnptca_p11_v7.dll",
            "vnptca_p11_v6.dll",
            "vnptca_p11_v5.dll",
            "vnptcav2_p11_v8.dll",
            "vnpt-ca_csp11.dll",
            "vnpt-ca_cl_v1.dll",
            "vnpt-ca_v34.dll",
            "vnpt-ca_v4.dll",
            "VNPTCACardv8csp11.dll",
        ),
        macos=("/usr/local/lib/vnpt_ca_pkcs11.dylib",),
        sources=("S1", "S2", "S3", "S4", "S5", "S6"),
        confidence="high",
    ),
    KnownModule(
        "Viettel-CA",
        "Viettel-CA (Viettel-CA Token Manager)",
        windows=(
            "viettel-ca_v6.dll",
            "viettel-ca_v5.dll",
            "viettel-ca_v4.dll",
            "viettel-ca_v3.dll",
            "viettel-ca_v2.dll",
            "viettel-ca_v1.dll",
            "viettel-ca.dll",
        ),
        macos=(
            "/usr/local/lib/viettel-ca_v6.dylib",
            "/usr/local/lib/viettel-ca_v5.dylib",
            "/usr/local/lib/viettel-ca.dylib",
        ),
        sources=("S1", "S2", "S3", "S5", "S6"),
        confidence="high",
    ),
    KnownModule(
        "BKAV-CA",
        "BKAV-CA (BkavCA Token Manager)",
        windows=(
            "BkavCA.dll",
            "BkavCAv2S.dll",
            "BkavCAv25.dll",
            "BkavCAv2T.dll",
            "st3csp11.dll",
        ),
        macos=("/usr/local/lib/BkavCAPKCS11.dylib",),
        sources=("S1", "S2", "S3", "S5", "S6"),
        confidence="high",
    ),
    KnownModule(
        "FPT-CA",
        "FPT-CA (FPT-CA Token Manager)",
        windows=(
            "fpt-ca.dll",
            "fpt-ca_v5.dll",
            "fpt-ca_v4.dll",
            "fptca_v6.dll",
            "fptca_v5.dll",
            "fptca_v4.dll",
            "fptca_v3.dll",
            "fpt-ca-stx.dll",
        ),
        macos=("/usr/local/lib/FPT_Token.dylib",),
        sources=("S1", "S2", "S3", "S6"),
        confidence="high",
    ),
    KnownModule(
        "CA2 (Nacencomm)",
        "CA2 / Nacencomm (CA2 Token Manager)",
        windows=(
            "ncca_csp11_v1.dll",
            "CA2_csp11.dll",
            "CA2_v34.dll",
            "nca_v9.dll",
            "nca_v8.dll",
            "nca_v7.dll",
            "nca_v6.dll",
            "nca_v5.dll",
            "nca_v4.dll",
            "nca_eps2k3a.dll",
            "nca_eps2k2a.dll",
        ),
        macos=("/usr/local/lib/nca_v6.dylib",),
        sources=("S1", "S2", "S3", "S7"),
        confidence="high",
    ),
    KnownModule(
        "Vina-CA (SmartSign)",
        "Vina-CA / SmartSign (Vina-CA Token Manager)",
        windows=(
            "vina-ca_v5.dll",
            "vina-ca_v3.dll",
            "vina-ca_v1.dll",
            "Vina-CA.dll",
            "Vina-CAv10.dll",
            "Vina-CAv9.dll",
            "Vina-CAv8.dll",
            "Vina-CAv7.dll",
            "Vina-CAv6.dll",
            "Vina-CAv4.dll",
            "Vina-CAv3.dll",
            "Vina-CAv2.dll",
            "VinaCA_p11.dll",
        ),
        sources=("S1", "S2", "S8"),
        confidence="medium",
    ),
    KnownModule(
        "SafeCert (Safe-CA)",
        "SafeCert / Safe-CA (Safe-CA Token Manager)",
        windows=("Safe-ca_v2.dll", "Safe-ca_v1.dll", "safe-ca.dll"),
        sources=("S1", "S2"),
        confidence="medium",
    ),
    KnownModule(
        "NewTel-CA",
        "NewTel-CA (NewTel-CA Token Manager)",
        windows=("newca_v4.dll",),
        sources=("S2",),
        confidence="low",
    ),
    KnownModule(
        "EFY-CA",
        "EFY-CA (EFY-CA Token Manager)",
        windows=("efy-ca_v1.dll",),
        sources=("S2",),
        confidence="low",
    ),
    KnownModule(
        "MISA-CA",
        "MISA-CA (MISA eSign / MISA-CA Token Manager)",
        windows=("misaca_csp11_v2.dll",),
        sources=("S2",),
        confidence="low",
    ),
    KnownModule(
        "FastCA",
        "FastCA (FastCA Token Manager)",
        windows=("fca_v1.dll",),
        sources=("S2",),
        confidence="low",
    ),
    KnownModule(
        "Feitian ePass2003",
        "Feitian ePass2003 (or your CA's driver for this token)",
        windows=("eps2003csp11.dll", "eps2003csp11v2.dll"),
        linux=("/usr/lib/libcastle.so.1.0.0",),
        macos=("/usr/local/lib/libcastle.1.0.0.dylib",),
        sources=("S2", "S5", "S6", "S10"),
        confidence="high",
    ),
    KnownModule(
        "Feitian ePass3003",
        "Feitian ePass3003 (or your CA's driver for this token)",
        windows=("ShuttleCsp11_3003.dll",),
        sources=("S1", "S2", "S3", "S5", "S7", "S10"),
        confidence="high",
    ),
    KnownModule(
        "Feitian ePassNG",
        "Feitian ePass2000/3000 (or your CA's driver for this token)",
        windows=("ngp11v211.dll",),
        sources=("S1", "S3", "S5", "S10"),
        confidence="high",
    ),
    KnownModule(
        "SafeNet eToken",
        "SafeNet Authentication Client",
        windows=("eTPKCS11.dll",),
        linux=("/usr/lib/libeTPkcs11.so",),
        macos=("/usr/local/lib/libeTPkcs11.dylib",),
        sources=("S1", "S2", "S3", "S5", "S13"),
        confidence="high",
    ),
    KnownModule(
        "Watchdata",
        "Watchdata (or your CA's driver for this token)",
        windows=("WDPKCS.dll",),
        sources=("S2", "S3", "S5"),
        confidence="high",
    ),
    KnownModule(
        "Bit4id",
        "Bit4id",
        windows=("bit4ipki.dll", "bit4xpki.dll"),
        linux=("/usr/lib/libbit4ipki.so", "/usr/lib/bit4id/libbit4ipki.so"),
        macos=("/Library/bit4id/pkcs11/libbit4ipki.dylib",),
        sources=("S2", "S10", "S14"),
        confidence="medium",
    ),
    KnownModule(
        "OpenSC",
        "OpenSC",
        windows=("opensc-pkcs11.dll",),
        linux=(
            "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib64/opensc-pkcs11.so",
            "/usr/lib/opensc-pkcs11.so",
        ),
        macos=("/Library/OpenSC/lib/opensc-pkcs11.so",),
        sources=("S11",),
        confidence="high",
    ),
)


def _builtin_rows() -> tuple[tuple[str, str, str], ...]:
    rows: list[tuple[str, str, str]] = []
    for known in KNOWN_MODULES:
        rows += [(known.vendor, _WINDOWS, WINDOWS_SYSTEM32 + "\\" + n) for n in known.windows]
        rows += [(known.vendor, _LINUX, p) for p in known.linux]
        rows += [(known.vendor, _MAC, p) for p in known.macos]
    return tuple(rows)


# (vendor, platform, path): what candidate_modules tries, derived from KNOWN_MODULES.
BUILTIN_MODULES: tuple[tuple[str, str, str], ...] = _builtin_rows()

SOFTHSM2_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)


def platform_key(platform: str | None = None) -> str:
    """Our name for the running OS: win32, darwin or linux."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        return _WINDOWS
    if platform == _MAC:
        return _MAC
    return _LINUX


def softhsm2_module() -> str | None:
    """The SoftHSM2 module on this machine, if installed."""
    return next((p for p in SOFTHSM2_PATHS if os.path.exists(p)), None)


def is_softhsm(path: str) -> bool:
    """SoftHSM2 keeps its slot list until re-initialised (see ModuleCandidate)."""
    return "softhsm" in os.path.basename(path).lower()


def candidate_modules(
    configured: list[str] | tuple[str, ...] = (),
    *,
    env: Mapping[str, str] | None = None,
    demo_module: str | None = None,
    include_builtin: bool = True,
    platform: str | None = None,
    exists=os.path.exists,
) -> list[ModuleCandidate]:
    """Every module to try, in order, without duplicates; built-in rows only if present."""
    env = os.environ if env is None else env
    assert env is not None
    out: list[ModuleCandidate] = []
    seen: set[str] = set()

    def add(path: str, vendor: str, source: str) -> None:
        key = os.path.normcase(os.path.abspath(path)) if source != "builtin" else path
        if key in seen:
            return
        seen.add(key)
        out.append(ModuleCandidate(path, vendor, source, reinitialize_to_rescan=is_softhsm(path)))

    for path in configured:
        add(path, _vendor_of(path), "config")
    for path in filter(None, env.get("KYSO_PKCS11_MODULE", "").split(os.pathsep)):
        add(path, _vendor_of(path), "env")
    if demo_module:
        add(demo_module, "SoftHSM2 (Kyso demo tokens)", "demo")
    if include_builtin:
        plat = platform_key(platform)
        for vendor, row_platform, path in BUILTIN_MODULES:
            if row_platform == plat and exists(path):
                add(path, vendor, "builtin")
    return out


def _vendor_of(path: str) -> str:
    name = Path(path).name.lower()
    if "softhsm" in name:
        return "SoftHSM2"
    if "opensc" in name:
        return "OpenSC"
    for vendor, _, known in BUILTIN_MODULES:
        if Path(known.replace("\\", "/")).name.lower() == name:
            return vendor
    return name
