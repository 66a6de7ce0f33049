"""Where PKCS#11 modules are looked for, in order. Pure logic apart from checking file existence.

Order: modules named in config/policy, ``$KYSO_PKCS11_MODULE`` (os.pathsep-separated), the demo
token when it has been created, then the built-in table of the usual install locations of the
Vietnamese CAs' token drivers and common generic ones. The vendor rows come from public
integration code and user reports; a wrong row costs nothing (a missing file is skipped) and IT
can always name the module in policy.
"""

from __future__ import annotations

import os
import sys
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

# (vendor, platform, path). Windows paths use the usual System32 install location.
BUILTIN_MODULES: tuple[tuple[str, str, str], ...] = (
    ("VNPT-CA (community-reported)", _WINDOWS, r"C:\Windows\System32\vnpt-ca_csp11.dll"),
    (
        "Viettel-CA / Feitian ePass3003 (community-reported)",
        _WINDOWS,
        r"C:\Windows\System32\ShuttleCsp11_3003.dll",
    ),
    ("BKAV-CA (community-reported)", _WINDOWS, r"C:\Windows\System32\BkavCA.dll"),
    ("FPT-CA (community-reported)", _WINDOWS, r"C:\Windows\System32\fpt-ca.dll"),
    ("Feitian ePass2003", _WINDOWS, r"C:\Windows\System32\eps2003csp11.dll"),
    ("SafeNet eToken", _WINDOWS, r"C:\Windows\System32\eTPKCS11.dll"),
    ("Bit4id", _WINDOWS, r"C:\Windows\System32\bit4ipki.dll"),
    ("OpenSC", _WINDOWS, r"C:\Windows\System32\opensc-pkcs11.dll"),
    ("Feitian ePass2003", _LINUX, "/usr/lib/libcastle.so.1.0.0"),
    ("SafeNet eToken", _LINUX, "/usr/lib/libeTPkcs11.so"),
    ("Bit4id", _LINUX, "/usr/lib/bit4id/libbit4ipki.so"),
    ("OpenSC", _LINUX, "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"),
    ("OpenSC", _LINUX, "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so"),
    ("OpenSC", _LINUX, "/usr/lib64/opensc-pkcs11.so"),
    ("OpenSC", _LINUX, "/usr/lib/opensc-pkcs11.so"),
    ("Feitian ePass2003", _MAC, "/usr/local/lib/libcastle.1.0.0.dylib"),
    ("SafeNet eToken", _MAC, "/usr/local/lib/libeTPkcs11.dylib"),
    ("OpenSC", _MAC, "/Library/OpenSC/lib/opensc-pkcs11.so"),
)

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
    env: dict[str, str] | None = None,
    demo_module: str | None = None,
    include_builtin: bool = True,
    platform: str | None = None,
    exists=os.path.exists,
) -> list[ModuleCandidate]:
    """Every module to try, in order, without duplicates; built-in rows only if present."""
    env = os.environ if env is None else env
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
