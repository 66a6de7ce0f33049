"""The MSI as Windows Installer will read it: its real tables, exported with msiinfo.

What IT relies on: the version, a major upgrade that replaces any older or same-version build,
policy values under HKLM\\SOFTWARE\\Policies\\Kyso\\Agent that the agent's own policy reader
accepts, written only for the properties given, remembered across upgrades, and passed to the
server side under GPO/Intune (SecureCustomProperties).
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from agent import __version__
from agent.config.policy import REGISTRY_KEY, REGISTRY_VALUES, load_settings
from agent.ui import tray_winstart

from .conftest import INSTALLERS, IT_ABOUT_URL, IT_CONTACT, require

UPGRADE_CODE = "{F6566254-659A-4CCD-AF4C-8A425665679F}"
REMEMBER_KEY = r"SOFTWARE\Kyso\Agent\InstallProperties"
RUN_KEY = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
HKLM = "2"
POLICY_PROPERTIES = [
    "ALLOWEDORIGINS",
    "ALLOWUSERORIGINS",
    "PKCS11MODULES",
    "PORT",
    "PINCACHE",
    "PINCACHEIDLESECONDS",
]
PUBLIC_PROPERTIES = [*POLICY_PROPERTIES, "AUTOSTART", "KYSO_PORTALS"]
LNA_KEYS = {
    "Chrome": r"SOFTWARE\Policies\Google\Chrome\LocalNetworkAccessAllowedForUrls",
    "Edge": r"SOFTWARE\Policies\Microsoft\Edge\LocalNetworkAccessAllowedForUrls",
}


def table(msi: Path, name: str) -> list[dict[str, str]]:
    """Rows of one MSI table (``msiinfo export``: names, types, keys, then the rows)."""
    out = subprocess.run(
        [require("msiinfo"), "export", str(msi), name], capture_output=True, text=True, check=True
    ).stdout
    lines = out.split("\r\n") if "\r\n" in out else out.splitlines()
    columns = lines[0].split("\t")
    return [dict(zip(columns, line.split("\t"), strict=False)) for line in lines[3:] if line]


def properties(msi: Path) -> dict[str, str]:
    """The Property table as a dict."""
    return {row["Property"]: row["Value"] for row in table(msi, "Property")}


def msi_version(version: str) -> str:
    """What build_msi.py must turn the Python version into (major.minor.build)."""
    match = re.match(r"\d+(\.\d+)*", version)
    assert match is not None
    parts = match.group(0).split(".")[:3]
    return ".".join(str(int(p)) for p in parts + ["0"] * (3 - len(parts)))


def test_build_says_what_the_msi_needs(msi_build: tuple[Path, str]) -> None:
    msi, output = msi_build
    assert msi.name == f"kyso-agent-{msi_version(__version__)}.msi"
    assert "Python 3.11+" in output and "future work" in output


def test_product_identity_and_add_remove_programs_entry(msi: Path) -> None:
    props = properties(msi)
    assert props["ProductVersion"] == msi_version(__version__)
    assert props["UpgradeCode"] == UPGRADE_CODE
    assert re.fullmatch(r"\{[0-9A-F-]{36}\}", props["ProductCode"])
    assert props["ProductName"] == "Kyso Agent"
    assert props["Manufacturer"] == "Kyso Project"  # the ARP "Publisher"
    assert props["ALLUSERS"] == "1"
    # No invented web address: the project publishes none (build_msi.py --about-url sets one).
    assert "ARPURLINFOABOUT" not in props
    assert "example" not in props["ARPCONTACT"] and "Kyso" in props["ARPCONTACT"]
    info = subprocess.run(
        [require("msiinfo"), "suminfo", str(msi)], capture_output=True, text=True, check=True
    ).stdout
    assert "Template: x64;1033" in info


def test_the_it_department_names_the_address_and_contact(rebuilt_msi: Path) -> None:
    """build_msi.py --about-url/--contact: what Add/Remove Programs shows for IT's own build
    (in the MSI's Vietnamese codepage)."""
    props = properties(rebuilt_msi)
    assert props["ARPURLINFOABOUT"] == IT_ABOUT_URL
    assert props["ARPCONTACT"] == IT_CONTACT


def test_every_build_gets_a_new_product_code(msi: Path, rebuilt_msi: Path) -> None:
    assert properties(rebuilt_msi)["ProductCode"] != properties(msi)["ProductCode"]
    assert properties(rebuilt_msi)["UpgradeCode"] == UPGRADE_CODE


def test_major_upgrade_replaces_older_and_same_version_refuses_downgrade(msi: Path) -> None:
    rows = {row["ActionProperty"]: row for row in table(msi, "Upgrade")}
    upgrade, downgrade = rows["WIX_UPGRADE_DETECTED"], rows["WIX_DOWNGRADE_DETECTED"]
    version = msi_version(__version__)
    assert upgrade["UpgradeCode"] == downgrade["UpgradeCode"] == UPGRADE_CODE
    assert upgrade["VersionMin"] == "" and upgrade["VersionMax"] == version
    assert int(upgrade["Attributes"]) & 512  # max inclusive: a rebuild replaces the same version
    assert not int(upgrade["Attributes"]) & 2  # not "detect only": it is removed
    assert downgrade["VersionMin"] == version and int(downgrade["Attributes"]) & 2
    assert not int(downgrade["Attributes"]) & 256  # a same-version build is no downgrade
    conditions = [row["Condition"] for row in table(msi, "LaunchCondition")]
    assert "NOT WIX_DOWNGRADE_DETECTED" in conditions
    seq = {row["Action"]: int(row["Sequence"]) for row in table(msi, "InstallExecuteSequence")}
    # Old product out right after InstallValidate: a clean uninstall, then a fresh install.
    assert seq["InstallValidate"] < seq["RemoveExistingProducts"] < seq["InstallInitialize"]
    assert seq["FindRelatedProducts"] < seq["AppSearch"]


def test_files_go_to_program_files_kyso(msi: Path) -> None:
    dirs = {row["Directory"]: row for row in table(msi, "Directory")}
    assert dirs["INSTALLDIR"]["Directory_Parent"] == "ProgramFiles64Folder"
    assert dirs["INSTALLDIR"]["DefaultDir"] == "Kyso"
    assert dirs["WHEELSDIR"]["Directory_Parent"] == "INSTALLDIR"
    components = {row["Component"]: row for row in table(msi, "Component")}
    files = {row["FileName"]: components[row["Component_"]] for row in table(msi, "File")}
    wheel = f"kyso_agent-{__version__}-py3-none-any.whl"
    assert files[wheel]["Directory_"] == "WHEELSDIR"
    for name in ("kyso_launcher.pyw", "kyso-agent.cmd", "README-IT.txt"):
        assert files[name]["Directory_"] == "INSTALLDIR"
        assert int(files[name]["Attributes"]) & 256  # 64-bit component
    assert dirs["ADMXDIR"]["DefaultDir"] == "PolicyDefinitions"
    assert dirs["ADMXDIR"]["Directory_Parent"] == "INSTALLDIR"
    admx_dirs = {
        row["FileName"] + "@" + dirs[components[row["Component_"]]["Directory_"]]["DefaultDir"]
        for row in table(msi, "File")
        if row["FileName"].startswith("kyso.adm")
    }
    assert admx_dirs == {"kyso.admx@PolicyDefinitions", "kyso.adml@en-US", "kyso.adml@vi-VN"}


def test_payload_is_the_launcher_and_the_wheel(msi: Path, tmp_path: Path) -> None:
    subprocess.run([require("msiextract"), "-C", str(tmp_path), str(msi)], check=True)
    kyso = tmp_path / "Kyso"
    launcher = (INSTALLERS / "windows" / "kyso_launcher.py").read_bytes()
    assert (kyso / "kyso_launcher.pyw").read_bytes() == launcher
    readme = (kyso / "README-IT.txt").read_bytes().decode("utf-8")
    assert f"Kyso Agent {msi_version(__version__)}" in readme and "\r\n" in readme
    assert "Python 3.11" in readme and "{" not in readme
    cmd = (kyso / "kyso-agent.cmd").read_text()
    assert 'py -3 "%~dp0kyso_launcher.pyw" %*' in cmd
    admx = INSTALLERS / "windows" / "admx"
    for rel in ("kyso.admx", "en-US/kyso.adml", "vi-VN/kyso.adml"):
        assert (kyso / "PolicyDefinitions" / rel).read_bytes() == (admx / rel).read_bytes()
    with zipfile.ZipFile(kyso / "wheels" / f"kyso_agent-{__version__}-py3-none-any.whl") as whl:
        init = whl.read("agent/__init__.py").decode()
        assert f'__version__ = "{__version__}"' in init
        assert "agent/cli/main.py" in whl.namelist()


def test_start_menu_shortcut_starts_the_launcher(msi: Path) -> None:
    (shortcut,) = table(msi, "Shortcut")
    assert shortcut["Directory_"] == "ProgramMenuFolder"
    assert shortcut["Name"] == "Kyso Agent"
    assert shortcut["Target"] == "[#LauncherPyw]"  # not advertised: opens with pyw
    assert shortcut["Arguments"] == "autostart"
    files = {row["File"]: row["FileName"] for row in table(msi, "File")}
    assert files["LauncherPyw"] == "kyso_launcher.pyw"


def _registry(msi: Path) -> list[dict[str, str]]:
    conditions = {row["Component"]: row["Condition"] for row in table(msi, "Component")}
    rows = table(msi, "Registry")
    for row in rows:
        row["Condition"] = conditions[row["Component_"]]
    return rows


def test_policy_values_are_the_names_the_agent_reads(msi: Path) -> None:
    policy = [r for r in _registry(msi) if r["Key"] == REGISTRY_KEY]
    assert {r["Name"] for r in policy} <= set(REGISTRY_VALUES)  # unknown names are refused
    assert len(policy) == len(POLICY_PROPERTIES)
    for row in policy:
        assert row["Root"] == HKLM
        prop = re.fullmatch(r"#?\[([A-Z0-9]+)\]", row["Value"]).group(1)  # type: ignore[union-attr]
        assert prop in POLICY_PROPERTIES
        # Written only when the property was given on the command line (or remembered).
        assert row["Condition"] == prop
    # Component conditions are evaluated when the component is installed: they must be there.
    assert all(r["Condition"] for r in policy)


class _Registry:
    """HKLM as the agent's RegistryReader sees it after msiexec wrote the MSI's rows."""

    def __init__(self, data: dict[str, dict[str, Any]]) -> None:
        self.data = data

    def values(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)


def _holds(condition: str, props: dict[str, str]) -> bool:
    """The two condition forms the MSI uses: ``PROP`` (set) and ``PROP <> "text"``."""
    if not condition:
        return True
    if re.fullmatch(r"[A-Z0-9_]+", condition):
        return bool(props.get(condition))
    match = re.fullmatch(r'([A-Z0-9_]+) <> "([^"]*)"', condition)
    assert match is not None, f"condition form not covered by this test: {condition}"
    return props.get(match.group(1), "") != match.group(2)


def _install(msi: Path, props: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What Windows Installer writes to HKLM for these properties: each row whose component
    condition holds, with [PROP] substituted and a leading '#' making a DWORD."""
    hklm: dict[str, dict[str, Any]] = {}
    for row in _registry(msi):
        if not _holds(row["Condition"], props):
            continue
        text = re.sub(r"\[([A-Z0-9_]+)\]", lambda m: props.get(m.group(1), ""), row["Value"])
        value: Any = int(text[1:]) if text.startswith("#") else text
        hklm.setdefault(row["Key"], {})[row["Name"]] = value
    return hklm


def test_properties_become_a_policy_the_agent_accepts(msi: Path, tmp_path: Path) -> None:
    props = {
        "ALLOWEDORIGINS": "https://dichvucong.baohiemxahoi.gov.vn;https://thuedientu.gdt.gov.vn",
        "ALLOWUSERORIGINS": "0",
        "PKCS11MODULES": r"C:\Windows\System32\vnptca_p11_v8.dll;C:\Windows\System32\eTPKCS11.dll",
        "PORT": "27500",
        "PINCACHE": "1",
        "PINCACHEIDLESECONDS": "600",
    }
    hklm = _install(msi, props)
    assert hklm[REGISTRY_KEY]["Port"] == 27500  # a DWORD, as the policy reader requires
    settings = load_settings(registry=_Registry(hklm), config_file=tmp_path / "no-user-config.toml")
    assert settings.allowed_origins == (
        "https://dichvucong.baohiemxahoi.gov.vn",
        "https://thuedientu.gdt.gov.vn",
    )
    assert settings.allow_user_origins is False
    assert settings.pkcs11_modules == (
        r"C:\Windows\System32\vnptca_p11_v8.dll",
        r"C:\Windows\System32\eTPKCS11.dll",
    )
    assert settings.port == 27500
    assert settings.pin_cache.enabled is True and settings.pin_cache.idle_seconds == 600
    assert settings.sources["port"] == "policy"
    assert settings.policy_path == "HKLM\\" + REGISTRY_KEY


def test_no_properties_no_policy(msi: Path, tmp_path: Path) -> None:
    hklm = _install(msi, {})
    assert REGISTRY_KEY not in hklm
    settings = load_settings(registry=_Registry(hklm), config_file=tmp_path / "none.toml")
    assert settings.policy_path is None and settings.allowed_origins == ()
    # Autostart for every user unless AUTOSTART=0.
    assert "Kyso Agent" in hklm[RUN_KEY]
    assert RUN_KEY not in _install(msi, {"AUTOSTART": "0"})


def test_autostart_runs_the_launcher_hidden_for_every_user(msi: Path) -> None:
    (run,) = [r for r in _registry(msi) if r["Key"] == RUN_KEY]
    assert run["Root"] == HKLM and run["Name"] == "Kyso Agent"
    # --logon: the launcher skips a user who turned log-on start off in the tray; the command
    # is the one the tray registers per user where there is no machine entry.
    assert run["Value"] == 'pyw.exe -3 "[INSTALLDIR]kyso_launcher.pyw" autostart --logon'
    assert run["Value"] == tray_winstart.run_command("[INSTALLDIR]kyso_launcher.pyw")
    assert run["Key"].lower() == tray_winstart.RUN_KEY.lower()  # the registry ignores case
    assert run["Name"] == tray_winstart.MACHINE_RUN_VALUE
    assert run["Condition"] == 'AUTOSTART <> "0"'


@pytest.mark.parametrize("prop", PUBLIC_PROPERTIES)
def test_properties_are_remembered_for_upgrades(msi: Path, prop: str) -> None:
    rows = [r for r in _registry(msi) if r["Key"] == REMEMBER_KEY and r["Name"] == prop]
    assert [(r["Root"], r["Value"], r["Condition"]) for r in rows] == [(HKLM, f"[{prop}]", "")]
    (search,) = [r for r in table(msi, "AppSearch") if r["Property"] == prop]
    (locator,) = [r for r in table(msi, "RegLocator") if r["Signature_"] == search["Signature_"]]
    assert (locator["Root"], locator["Key"], locator["Name"]) == (HKLM, REMEMBER_KEY, prop)
    assert int(locator["Type"]) & 0x0F == 2 and int(locator["Type"]) & 16  # raw, 64-bit view
    actions = {r["Action"]: r for r in table(msi, "CustomAction")}
    save = next(a for a in actions.values() if a["Source"] == f"CMDLINE_{prop}")
    restore = next(a for a in actions.values() if a["Source"] == prop)
    assert save["Target"] == f"[{prop}]" and restore["Target"] == f"[CMDLINE_{prop}]"
    assert int(save["Type"]) & 0x3F == 51  # set a property
    for sequence in ("InstallExecuteSequence", "InstallUISequence"):
        seq = {r["Action"]: r for r in table(msi, sequence)}
        # The command line wins: saved before AppSearch, put back after it when it was given.
        assert int(seq[save["Action"]]["Sequence"]) < int(seq["AppSearch"]["Sequence"])
        assert int(seq["AppSearch"]["Sequence"]) < int(seq[restore["Action"]]["Sequence"])
        assert int(seq[restore["Action"]]["Sequence"]) < int(seq["CostFinalize"]["Sequence"])
        assert seq[restore["Action"]]["Condition"] == f"CMDLINE_{prop}"


def test_properties_reach_the_server_side(msi: Path) -> None:
    secure = properties(msi)["SecureCustomProperties"].split(";")
    for prop in [*PUBLIC_PROPERTIES, "WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"]:
        assert prop in secure


def test_central_store_zip_is_built_next_to_the_msi(msi: Path) -> None:
    (archive,) = msi.parent.glob("kyso-admx-*.zip")
    assert archive.name == f"kyso-admx-{msi_version(__version__)}.zip"
    admx = INSTALLERS / "windows" / "admx"
    with zipfile.ZipFile(archive) as z:
        for rel in ("kyso.admx", "en-US/kyso.adml", "vi-VN/kyso.adml"):
            assert z.read("PolicyDefinitions/" + rel) == (admx / rel).read_bytes()


def test_no_install_without_python_3_11_and_the_py_launcher(msi: Path) -> None:
    conditions = {row["Condition"]: row["Description"] for row in table(msi, "LaunchCondition")}
    message = conditions["Installed OR (PYTHONDIR AND PYLAUNCHER)"]
    assert "Kyso cần Python 3.11 trở lên" in message and "Kyso needs Python 3.11+" in message
    assert len(message) <= 255
    # Stored in the Vietnamese codepage so Windows shows the diacritics.
    (codepage,) = [line for line in _raw(msi, "_ForceCodepage").splitlines() if "\t" in line]
    assert codepage.split("\t")[0] == "1258"
    searches = {r["Signature_"] for r in table(msi, "AppSearch") if r["Property"] == "PYTHONDIR"}
    locators = {r["Signature_"]: r for r in table(msi, "RegLocator")}
    seen = set()
    for signature in searches:
        row = locators[signature]
        match = re.fullmatch(
            r"SOFTWARE\\Python\\PythonCore\\3\.(\d+)(-32)?\\InstallPath", row["Key"]
        )
        assert match is not None, row["Key"]
        assert row["Name"] == ""  # the key's default value: the install directory
        assert int(row["Type"]) & 0x0F == 0  # a directory, which must exist
        # 64-bit Pythons in the 64-bit view, "3.x-32" ones in the 32-bit view (PEP 514).
        assert bool(int(row["Type"]) & 16) == (match.group(2) is None)
        seen.add((row["Root"], int(match.group(1)), match.group(2) or ""))
    for minor in range(11, 14):
        for root in (HKLM, "1"):  # all users, or the installing user (python.org's default)
            assert {(root, minor, ""), (root, minor, "-32")} <= seen
    assert not any(minor < 11 for _, minor, _ in seen)
    (launcher,) = [r for r in table(msi, "AppSearch") if r["Property"] == "PYLAUNCHER"]
    (where,) = [r for r in table(msi, "DrLocator") if r["Signature_"] == launcher["Signature_"]]
    (file,) = [r for r in table(msi, "Signature") if r["Signature"] == launcher["Signature_"]]
    assert (where["Path"], file["FileName"]) == ("[WindowsFolder]", "pyw.exe")
    for sequence in ("InstallExecuteSequence", "InstallUISequence"):
        seq = {r["Action"]: int(r["Sequence"]) for r in table(msi, sequence)}
        assert seq["AppSearch"] < seq["LaunchConditions"] < seq["CostFinalize"]


def _raw(msi: Path, name: str) -> str:
    return subprocess.run(
        [require("msiinfo"), "export", str(msi), name], capture_output=True, text=True, check=True
    ).stdout


def test_kyso_portals_become_chrome_and_edge_local_network_access_policy(msi: Path) -> None:
    rows = _registry(msi)
    for key in LNA_KEYS.values():
        values = sorted((r for r in rows if r["Key"] == key), key=lambda r: int(r["Name"]))
        assert [r["Name"] for r in values] == [str(n) for n in range(1, 11)]
        for row in values:
            assert row["Root"] == HKLM and row["Value"] == f"[KYSO_PORTAL{row['Name']}]"
            assert row["Condition"] == f"KYSO_PORTAL{row['Name']}"  # only the slots in use
    # Splitting KYSO_PORTALS: an inline JScript action after the remembered value is back.
    actions = {r["Action"]: r for r in table(msi, "CustomAction")}
    split = actions["SplitKysoPortals"]
    assert int(split["Type"]) == 37  # JScript, inline, immediate
    script = split["Target"]
    assert "[" not in script and "]" not in script  # would be read as [PROPERTY]
    assert 'indexOf("https://") == 0' in script and "KYSO_PORTAL" in script
    for sequence in ("InstallExecuteSequence", "InstallUISequence"):
        seq = {r["Action"]: r for r in table(msi, sequence)}
        at = int(seq["SplitKysoPortals"]["Sequence"])
        assert (
            int(seq["RestoreKysoPortals"]["Sequence"]) < at < int(seq["CostFinalize"]["Sequence"])
        )
        assert seq["SplitKysoPortals"]["Condition"] == "KYSO_PORTALS"
    # Without the property nothing is written to the browsers' policy keys.
    hklm = _install(msi, {"KYSO_PORTALS": "https://a.example"})
    assert not set(LNA_KEYS.values()) & set(hklm)
    hklm = _install(msi, {"KYSO_PORTAL1": "https://a.example", "KYSO_PORTAL2": "https://b.example"})
    assert hklm[LNA_KEYS["Edge"]] == {"1": "https://a.example", "2": "https://b.example"}
