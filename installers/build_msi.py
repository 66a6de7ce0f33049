#!/usr/bin/env python3
"""Build ``dist/kyso-agent-<version>.msi`` on Linux with wixl, then finish it with msibuild.

    .venv/bin/python installers/build_msi.py [--out DIR] [--wheel KYSO.whl]
                                             [--windows-wheels DIR | --download-windows-wheels]

wixl builds installers/windows/kyso.wxs plus a generated fragment listing the wheels; msibuild
then writes what wixl cannot express: the Component conditions (policy values only when their
property is set), SecureCustomProperties (so GPO/Intune properties reach the server side), a
same-version major upgrade (every build has a new ProductCode) and a non-advertised Start-menu
shortcut. The payload is the Kyso wheel and a launcher that runs with the machine's Python: a
frozen executable is future work, and the script says so at the end.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from xml.sax.saxutils import quoteattr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # installers/ is on sys.path: the build scripts run as plain files
    REPO,
    add_dependency_wheel_options,
    build_wheel,
    gather_wheels,
    msi_version,
    read_version,
    require_tools,
    run,
)

WINDOWS = Path(__file__).resolve().parent / "windows"
UPGRADE_CODE = "{F6566254-659A-4CCD-AF4C-8A425665679F}"  # never change: upgrades depend on it
GUID_NAMESPACE = uuid.UUID("f6566254-659a-4ccd-af4c-8a425665679f")

# msiexec property -> (policy registry value, what it holds). The value names are the ones
# agent/config/policy.py reads (REGISTRY_VALUES); tests/installers checks they stay in step.
POLICY_PROPERTIES: dict[str, tuple[str, str]] = {
    "ALLOWEDORIGINS": ("AllowedOrigins", "https origins separated by ';'"),
    "ALLOWUSERORIGINS": ("AllowUserOrigins", "0 or 1"),
    "PKCS11MODULES": ("Pkcs11Modules", "module paths separated by ';'"),
    "PORT": ("Port", "port number"),
    "PINCACHE": ("PinCacheEnabled", "0 or 1"),
    "PINCACHEIDLESECONDS": ("PinCacheIdleSeconds", "seconds"),
}
PUBLIC_PROPERTIES = (*POLICY_PROPERTIES, "AUTOSTART")

# Component -> condition (wixl cannot build Component/Condition: written with msibuild).
COMPONENT_CONDITIONS: dict[str, str] = {
    "PolicyAllowedOrigins": "ALLOWEDORIGINS",
    "PolicyAllowUserOrigins": "ALLOWUSERORIGINS",
    "PolicyPkcs11Modules": "PKCS11MODULES",
    "PolicyPort": "PORT",
    "PolicyPinCacheEnabled": "PINCACHE",
    "PolicyPinCacheIdleSeconds": "PINCACHEIDLESECONDS",
    "Autostart": 'AUTOSTART <> "0"',
}

LIMITATION = (
    "NOTE: this MSI installs the Kyso wheel and a launcher; it needs Python 3.11+ with the py\n"
    "launcher on every machine (python.org, all users). A frozen kyso-agent.exe is future work."
)


def wheels_fragment(names: list[str]) -> str:
    """The WiX fragment for ``wheels\\`` (one component per file, GUID stable per file name)."""
    components, refs = [], []
    for i, name in enumerate(sorted(names)):
        guid = str(uuid.uuid5(GUID_NAMESPACE, "wheels/" + name)).upper()
        components.append(
            f'      <Component Id="Wheel{i}" Guid="{guid}" Win64="yes">\n'
            f'        <File Id="Wheel{i}" Name={quoteattr(name)} '
            f'Source={quoteattr("wheels/" + name)} KeyPath="yes"/>\n'
            "      </Component>"
        )
        refs.append(f'      <ComponentRef Id="Wheel{i}"/>')
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">\n  <Fragment>\n'
        '    <DirectoryRef Id="WHEELSDIR">\n' + "\n".join(components) + "\n    </DirectoryRef>\n"
        '    <ComponentGroup Id="Wheels">\n' + "\n".join(refs) + "\n    </ComponentGroup>\n"
        "  </Fragment>\n</Wix>\n"
    )


def _sql(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def finish_queries(version: str, secure_before: str) -> list[str]:
    """The msibuild queries that complete wixl's output (see the module docstring)."""
    queries = [
        f"UPDATE `Component` SET `Condition` = {_sql(cond)} WHERE `Component` = {_sql(comp)}"
        for comp, cond in COMPONENT_CONDITIONS.items()
    ]
    # Replace older AND same-version builds (VersionMaxInclusive 512 + MigrateFeatures 1).
    queries.append("DELETE FROM `Upgrade` WHERE `ActionProperty` = 'WIX_UPGRADE_DETECTED'")
    queries.append(
        "INSERT INTO `Upgrade` (`UpgradeCode`, `VersionMax`, `Attributes`, `ActionProperty`) "
        f"VALUES ({_sql(UPGRADE_CODE)}, {_sql(version)}, 513, 'WIX_UPGRADE_DETECTED')"
    )
    secure = [p for p in secure_before.split(";") if p]
    secure += [p for p in PUBLIC_PROPERTIES if p not in secure]
    queries.append("DELETE FROM `Property` WHERE `Property` = 'SecureCustomProperties'")
    queries.append(
        "INSERT INTO `Property` (`Property`, `Value`) "
        f"VALUES ('SecureCustomProperties', {_sql(';'.join(secure))})"
    )
    # A plain shortcut to the launcher file (wixl makes it advertised, pointing at the feature).
    queries.append(
        "UPDATE `Shortcut` SET `Target` = '[#LauncherPyw]' WHERE `Shortcut` = 'StartMenuShortcut'"
    )
    return queries


def read_property(msi: Path, name: str) -> str:
    """A value from the MSI's Property table ('' when absent)."""
    for line in run(["msiinfo", "export", msi, "Property"]).splitlines()[3:]:
        key, _, value = line.partition("\t")
        if key == name:
            return value
    return ""


def stage(staging: Path, version: str, wheels: list[Path]) -> None:
    """Lay out the files exactly as the MSI installs them under ``Program Files\\Kyso``."""
    shutil.copy2(WINDOWS / "kyso_launcher.py", staging / "kyso_launcher.pyw")
    shutil.copy2(WINDOWS / "kyso-agent.cmd", staging / "kyso-agent.cmd")
    offline = any(not w.name.startswith("kyso_agent-") for w in wheels)
    note = (
        " and its dependencies (first start works offline)"
        if offline
        else " only (first start downloads the dependencies with pip)"
    )
    readme = (WINDOWS / "README-IT.txt").read_text(encoding="utf-8")
    readme = readme.replace("{version}", version).replace("{offline_note}", note)
    (staging / "README-IT.txt").write_bytes(readme.replace("\n", "\r\n").encode("utf-8"))
    (staging / "wheels").mkdir()
    for wheel in wheels:
        shutil.copy2(wheel, staging / "wheels" / wheel.name)


def download_windows_wheels(kyso_wheel: Path, dest: Path) -> list[Path]:
    """Fetch the dependencies' Windows wheels from the package index (network, build time)."""
    dest.mkdir(parents=True, exist_ok=True)
    for pyver in ("3.11", "3.12", "3.13"):
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--only-binary=:all:",
                "--platform",
                "win_amd64",
                "--python-version",
                pyver,
                "-d",
                dest,
                kyso_wheel,
            ]
        )
    return [w for w in dest.glob("*.whl") if not w.name.startswith("kyso_agent-")]


def build_msi(
    out_dir: Path, *, wheel: Path | None = None, extra_wheels: list[Path] | None = None
) -> Path:
    """Build the MSI into ``out_dir`` and return its path."""
    require_tools("wixl", "msibuild", "msiinfo")
    version = msi_version(read_version())
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"kyso-agent-{version}.msi"
    with tempfile.TemporaryDirectory(prefix="kyso-msi-") as tmp:
        staging = Path(tmp)
        wheel = wheel or build_wheel(staging / "build")
        wheels = [wheel, *(extra_wheels or [])]
        stage(staging, version, wheels)
        (staging / "wheels.wxs").write_text(wheels_fragment([w.name for w in wheels]))
        msi = staging / target.name
        run(
            [
                *("wixl", "-a", "x64", "-D", f"Version={version}", "-o", msi),
                *(WINDOWS / "kyso.wxs", staging / "wheels.wxs"),
            ],
            cwd=staging,
        )
        secure = read_property(msi, "SecureCustomProperties")
        for query in finish_queries(version, secure):
            run(["msibuild", msi, "-q", query])
        shutil.move(msi, target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: build, then print where the MSI is and what it needs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder")
    parser.add_argument("--wheel", type=Path, help="use this Kyso wheel instead of building one")
    add_dependency_wheel_options(
        parser,
        "windows",
        folder_help="folder of the dependencies' win_amd64 wheels",
        download_help="download them from the package index now (so first start works offline)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kyso-winwheels-") as tmp:
        wheel, extra = gather_wheels(args, "windows", download_windows_wheels, Path(tmp))
        msi = build_msi(args.out, wheel=wheel, extra_wheels=extra)
    print(f"built {msi} ({msi.stat().st_size // 1024} KiB, {1 + len(extra)} wheels)")
    if not extra:
        print("the dependencies are not inside: first start on each PC needs PyPI or a mirror")
    print(LIMITATION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
