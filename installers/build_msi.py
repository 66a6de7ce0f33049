#!/usr/bin/env python3
"""Build ``dist/kyso-agent-<version>.msi`` on Linux with wixl, then finish it with msibuild.

    .venv/bin/python installers/build_msi.py [--out DIR] [--wheel KYSO.whl]
                                             [--windows-wheels DIR | --download-windows-wheels
                                              | --no-dependency-wheels] [--about-url URL]

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

import build_admx  # installers/ is on sys.path, as for common
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
PUBLIC_PROPERTIES = (*POLICY_PROPERTIES, "AUTOSTART", "KYSO_PORTALS")

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

# Python >= 3.11 for the launch condition: PEP 514 registry keys, 64-bit ("3.x") and 32-bit
# ("3.x-32") installs, for all users (HKLM) or, with python.org's default "Install Now", for
# the installing user only (HKCU; that user's agent works, other users need an all-users
# Python). Minor versions up to 3.19 are searched so a future Python passes too.
PYTHON_MINORS = range(11, 20)
HKCU, HKLM = 1, 2
LOCATOR_DIRECTORY, LOCATOR_64BIT = 0, 16
# The Run entry and kyso-agent.cmd start the agent through the all-users py launcher.
PY_LAUNCHER = "pyw.exe"
# The database codepage: 1258 (Vietnamese) so the launch condition's message keeps its
# diacritics on every Windows (libmsi writes cp1258 with combining tone marks).
CODEPAGE = 1258
EXPLORER_VERB = "Ký số bằng Kyso"
PYTHON_MISSING = (
    "Kyso cần Python 3.11 trở lên (python.org, cài cho mọi người dùng, có trình khởi chạy py). "
    "Hãy cài Python rồi chạy lại. / Kyso needs Python 3.11+ from python.org, for all users, "
    "with the py launcher. Install it, then run this again."
)
PYTHON_CONDITION = "Installed OR (PYTHONDIR AND PYLAUNCHER)"
# Chrome's and Edge's Local Network Access allow-list (their own policy keys, written only
# when KYSO_PORTALS is given): one numbered value per portal, as their ADMX writes it.
LNA_KEYS = (
    r"SOFTWARE\Policies\Google\Chrome\LocalNetworkAccessAllowedForUrls",
    r"SOFTWARE\Policies\Microsoft\Edge\LocalNetworkAccessAllowedForUrls",
)
LNA_MAX_PORTALS = 10
# Dependencies are shipped by default so a user's first start works offline; they are kept
# between builds here (git-ignored .cache/) so only the first build needs the package index.
WHEEL_CACHE = REPO / ".cache" / "windows-wheels"
WINDOWS_PYTHONS = ("3.11", "3.12", "3.13")
LNA_BROWSERS = (("Chrome", LNA_KEYS[0]), ("Edge", LNA_KEYS[1]))
COMPONENT_CONDITIONS.update(
    {
        f"Lna{browser}{n}": f"KYSO_PORTAL{n}"
        for browser, _ in LNA_BROWSERS
        for n in range(1, LNA_MAX_PORTALS + 1)
    }
)
# Windows Installer cannot split a string, so a small immediate JScript action (run in both
# sequences, after the remembered value is restored) turns KYSO_PORTALS into KYSO_PORTAL1..n.
# Only bare https origins pass: anything else (a path, a quote, http://) is dropped, so the
# property cannot write arbitrary browser policy.
SPLIT_PORTALS_SCRIPT = (
    # No square brackets anywhere: they would be read as [PROPERTY] references.
    'var ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:";'
    ' var parts = Session.Property("KYSO_PORTALS").split(";"); var n = 0;'
    " for (var i = 0; i < parts.length && n < MAX; i++) {"
    ' var p = parts.slice(i, i + 1).join("").replace(/^\\s+|\\s+$/g, "");'
    ' var host = p.substring(8); var good = p.indexOf("https://") == 0 && host.length > 0;'
    " for (var j = 0; good && j < host.length; j++) { good = ok.indexOf(host.charAt(j)) >= 0; }"
    ' if (good) { n++; Session.Property("KYSO_PORTAL" + n) = p; } }'
).replace("MAX", str(LNA_MAX_PORTALS))
SPLIT_PORTALS_SEQUENCE = 59  # after RestoreKysoPortals (58), before CostFinalize

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


def admx_fragment() -> str:
    """The WiX fragment for ``PolicyDefinitions\\`` (the ADMX/ADML templates, installed for
    IT to copy into the central store; GUIDs stable per path)."""
    dirs: dict[str, list[str]] = {}
    for rel in sorted(build_admx.outputs()):
        folder, _, name = rel.rpartition("/")
        dirs.setdefault(folder, []).append(name)
    components, refs, xml_dirs = [], [], []
    for i, (folder, names) in enumerate(sorted(dirs.items())):
        entries = []
        for j, name in enumerate(names):
            rel = f"{folder}/{name}" if folder else name
            cid = f"Admx{i}_{j}"
            guid = str(uuid.uuid5(GUID_NAMESPACE, "PolicyDefinitions/" + rel)).upper()
            entries.append(
                f'        <Component Id="{cid}" Guid="{guid}" Win64="yes">\n'
                f'          <File Id="{cid}" Name={quoteattr(name)} '
                f'Source={quoteattr("PolicyDefinitions/" + rel)} KeyPath="yes"/>\n'
                "        </Component>"
            )
            refs.append(f'      <ComponentRef Id="{cid}"/>')
        if folder:
            xml_dirs.append(
                f'      <Directory Id="ADMX_{folder.replace("-", "_")}" Name={quoteattr(folder)}>\n'
                + "\n".join(entries)
                + "\n      </Directory>"
            )
        else:
            components += entries
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">\n  <Fragment>\n'
        '    <DirectoryRef Id="ADMXDIR">\n'
        + "\n".join(components + xml_dirs)
        + "\n    </DirectoryRef>\n"
        '    <ComponentGroup Id="PolicyTemplates">\n'
        + "\n".join(refs)
        + "\n    </ComponentGroup>\n"
        "  </Fragment>\n</Wix>\n"
    )


def lna_fragment() -> str:
    """The WiX fragment writing Chrome's and Edge's LocalNetworkAccessAllowedForUrls\\1..n:
    one component per value, each installed only when its KYSO_PORTALn is set (conditions in
    COMPONENT_CONDITIONS); GUIDs stable per browser and slot."""
    components, refs = [], []
    for browser, key in LNA_BROWSERS:
        for n in range(1, LNA_MAX_PORTALS + 1):
            cid = f"Lna{browser}{n}"
            guid = str(uuid.uuid5(GUID_NAMESPACE, f"lna/{browser}/{n}")).upper()
            components.append(
                f'      <Component Id="{cid}" Guid="{guid}" Win64="yes">\n'
                f'        <RegistryValue Root="HKLM" Key={quoteattr(key)} Name="{n}" '
                f'Type="string" Value="[KYSO_PORTAL{n}]" KeyPath="yes"/>\n'
                "      </Component>"
            )
            refs.append(f'      <ComponentRef Id="{cid}"/>')
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">\n  <Fragment>\n'
        '    <DirectoryRef Id="TARGETDIR">\n' + "\n".join(components) + "\n    </DirectoryRef>\n"
        '    <ComponentGroup Id="BrowserPolicies">\n'
        + "\n".join(refs)
        + "\n    </ComponentGroup>\n"
        "  </Fragment>\n</Wix>\n"
    )


def split_portals_queries() -> list[str]:
    """The JScript action that splits KYSO_PORTALS (type 37: inline JScript, immediate)."""
    queries = [
        "INSERT INTO `CustomAction` (`Action`, `Type`, `Target`) "
        f"VALUES ('SplitKysoPortals', 37, {_sql(SPLIT_PORTALS_SCRIPT)})"
    ]
    for sequence in ("InstallUISequence", "InstallExecuteSequence"):
        queries.append(
            f"INSERT INTO `{sequence}` (`Action`, `Condition`, `Sequence`) "
            f"VALUES ('SplitKysoPortals', 'KYSO_PORTALS', {SPLIT_PORTALS_SEQUENCE})"
        )
    return queries


def _sql(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def python_search_queries() -> list[str]:
    """AppSearch rows that set PYTHONDIR to an installed Python >= 3.11 (its InstallPath
    directory, which must exist) and PYLAUNCHER to the all-users ``pyw.exe``; then the launch
    condition that stops the install, with a bilingual message, when either is missing.

    Written with msibuild: wixl can express neither a registry default value (no ``Name``)
    nor a DirectorySearch, nor a Product-level Condition."""
    queries = []
    for minor in PYTHON_MINORS:
        for root, hive in ((HKLM, "M"), (HKCU, "U")):
            for tag, bits in ((f"3.{minor}", LOCATOR_64BIT), (f"3.{minor}-32", 0)):
                signature = f"Python3{minor}{hive}{'64' if bits else '32'}"
                key = rf"SOFTWARE\Python\PythonCore\{tag}\InstallPath"
                queries.append(
                    "INSERT INTO `RegLocator` (`Signature_`, `Root`, `Key`, `Type`) "
                    f"VALUES ({_sql(signature)}, {root}, {_sql(key)}, "
                    f"{LOCATOR_DIRECTORY | bits})"
                )
                queries.append(
                    "INSERT INTO `AppSearch` (`Property`, `Signature_`) "
                    f"VALUES ('PYTHONDIR', {_sql(signature)})"
                )
    queries += [
        "INSERT INTO `DrLocator` (`Signature_`, `Path`, `Depth`) "
        "VALUES ('PyLauncher', '[WindowsFolder]', 0)",
        "INSERT INTO `Signature` (`Signature`, `FileName`) "
        f"VALUES ('PyLauncher', {_sql(PY_LAUNCHER)})",
        "INSERT INTO `AppSearch` (`Property`, `Signature_`) VALUES ('PYLAUNCHER', 'PyLauncher')",
        "INSERT INTO `LaunchCondition` (`Condition`, `Description`) "
        f"VALUES ({_sql(PYTHON_CONDITION)}, {_sql(PYTHON_MISSING)})",
    ]
    return queries


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
    queries += python_search_queries()
    queries += split_portals_queries()
    # Explorer's "Ký số bằng Kyso" on .xml/.pdf: wixl crashes on Vietnamese text, so the wxs
    # holds an English placeholder, replaced here once the database has its codepage.
    queries.append(
        f"UPDATE `Registry` SET `Value` = {_sql(EXPLORER_VERB)} "
        "WHERE `Name` = 'MUIVerb' AND `Value` = 'Sign with Kyso'"
    )
    return queries


def set_codepage(msi: Path, folder: Path) -> None:
    """Give the database the Vietnamese codepage before any Vietnamese text goes in."""
    idt = folder / "_ForceCodepage.idt"
    idt.write_bytes(f"\r\n\r\n{CODEPAGE}\t_ForceCodepage\r\n".encode("ascii"))
    run(["msibuild", msi, "-i", idt])
    # DrLocator is the one table the searches need that wixl does not create.
    run(
        [
            "msibuild",
            msi,
            "-q",
            "CREATE TABLE `DrLocator` (`Signature_` CHAR(72) NOT NULL, `Parent` CHAR(72), "
            "`Path` CHAR(255), `Depth` SHORT PRIMARY KEY `Signature_`, `Parent`, `Path`)",
        ]
    )


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
    for rel, text in build_admx.outputs().items():
        path = staging / "PolicyDefinitions" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    (staging / "wheels").mkdir()
    for wheel in wheels:
        shutil.copy2(wheel, staging / "wheels" / wheel.name)


def download_windows_wheels(
    kyso_wheel: Path, dest: Path, *, find_links: Path | None = None
) -> list[Path]:
    """The dependencies' Windows wheels for every supported Python, in ``dest``: from the
    package index (network, build time), or with ``find_links`` only from that folder (pip
    copies exactly the wheels it resolves; SystemExit when something is missing there)."""
    dest.mkdir(parents=True, exist_ok=True)
    source = ["--no-index", "--find-links", find_links] if find_links else []
    for pyver in WINDOWS_PYTHONS:
        run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet"),
                *("--only-binary=:all:", "--platform", "win_amd64", "--python-version", pyver),
                *source,
                *("-d", dest, kyso_wheel),
            ]
        )
    for copied in dest.glob("kyso_agent-*.whl"):  # pip copies the local wheel in: not a dep
        copied.unlink()
    return sorted(dest.glob("*.whl"))


def cached_windows_wheels(kyso_wheel: Path, dest: Path, cache: Path = WHEEL_CACHE) -> list[Path]:
    """The default: exactly the wheels this Kyso wheel needs (at the pinned versions), resolved
    offline from the build machine's cache (git-ignored) into ``dest``; the cache is filled
    from the index first only when it cannot satisfy every Python."""
    try:
        return download_windows_wheels(kyso_wheel, dest, find_links=cache)
    except SystemExit:
        download_windows_wheels(kyso_wheel, cache)
        return download_windows_wheels(kyso_wheel, dest, find_links=cache)


def build_msi(
    out_dir: Path,
    *,
    wheel: Path | None = None,
    extra_wheels: list[Path] | None = None,
    about_url: str | None = None,
    contact: str | None = None,
) -> Path:
    """Build the MSI into ``out_dir`` and return its path. ``about_url`` and ``contact`` are
    what Add/Remove Programs shows (whoever ships the MSI names them; none is invented)."""
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
        (staging / "admx.wxs").write_text(admx_fragment())
        (staging / "lna.wxs").write_text(lna_fragment())
        msi = staging / target.name
        run(
            [
                *("wixl", "-a", "x64", "-D", f"Version={version}", "-o", msi),
                *(WINDOWS / "kyso.wxs", staging / "wheels.wxs", staging / "admx.wxs"),
                staging / "lna.wxs",
            ],
            cwd=staging,
        )
        secure = read_property(msi, "SecureCustomProperties")
        set_codepage(msi, staging)
        queries = finish_queries(version, secure)
        if about_url:
            queries.append(
                "INSERT INTO `Property` (`Property`, `Value`) "
                f"VALUES ('ARPURLINFOABOUT', {_sql(about_url)})"
            )
        if contact:
            queries.append(
                f"UPDATE `Property` SET `Value` = {_sql(contact)} WHERE `Property` = 'ARPCONTACT'"
            )
        for query in queries:
            run(["msibuild", msi, "-q", query])
        shutil.move(msi, target)
    # The same templates as a zip for the domain's central store (deterministic).
    build_admx.central_store_zip(out_dir / f"kyso-admx-{version}.zip")
    return target


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: build, then print where the MSI is and what it needs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder")
    parser.add_argument("--wheel", type=Path, help="use this Kyso wheel instead of building one")
    parser.add_argument(
        "--about-url",
        help="https address shown in Add/Remove Programs (none by default: the project has none)",
    )
    parser.add_argument(
        "--contact",
        metavar="TEXT",
        help="the support contact Add/Remove Programs shows (default: 'Your IT department')",
    )
    add_dependency_wheel_options(
        parser,
        "windows",
        folder_help="folder of the dependencies' win_amd64 wheels",
        download_help="download them from the package index now, bypassing the cache",
    )
    parser.add_argument(
        "--no-dependency-wheels",
        action="store_true",
        help="ship only the Kyso wheel (small MSI; each PC's first start then needs PyPI or a "
        "mirror). By default the dependencies are shipped, from " + str(WHEEL_CACHE),
    )
    args = parser.parse_args(argv)
    if args.no_dependency_wheels and (args.windows_wheels or args.download_windows_wheels):
        parser.error("--no-dependency-wheels excludes --windows-wheels/--download-windows-wheels")
    if args.about_url and not args.about_url.startswith("https://"):
        parser.error("--about-url must be an https:// address")
    with tempfile.TemporaryDirectory(prefix="kyso-winwheels-") as tmp:
        wheel, extra = gather_wheels(args, "windows", download_windows_wheels, Path(tmp))
        if not (extra or args.no_dependency_wheels or args.windows_wheels):
            wheel = wheel or build_wheel(Path(tmp) / "kyso")
            extra = cached_windows_wheels(wheel, Path(tmp) / "cached")
        msi = build_msi(
            args.out,
            wheel=wheel,
            extra_wheels=extra,
            about_url=args.about_url,
            contact=args.contact,
        )
    print(f"built {msi} ({msi.stat().st_size // 1024} KiB, {1 + len(extra)} wheels)")
    print(f"Group Policy templates for the central store: {msi.parent}/kyso-admx-*.zip")
    if not extra:
        print("the dependencies are not inside: first start on each PC needs PyPI or a mirror")
    print(LIMITATION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
