"""The MSI installed for real by Windows Installer under Wine (Debian's wine64): what msiexec
writes for the properties IT passes, what the agent's policy reader makes of it, and that
upgrades remember the properties, a command line overrides them and uninstall removes it all.

The agent itself is not started (that needs a Windows Python); the registry and files are.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config.policy import REGISTRY_KEY, load_settings

RUN_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
CHROME_LNA = r"HKLM\SOFTWARE\Policies\Google\Chrome\LocalNetworkAccessAllowedForUrls"
EDGE_LNA = r"HKLM\SOFTWARE\Policies\Microsoft\Edge\LocalNetworkAccessAllowedForUrls"
# What IT types, including entries the MSI must drop (not https, a path, a quote).
PORTALS = (
    "https://dichvucong.baohiemxahoi.gov.vn; http://insecure.example;"
    'https://thuedientu.gdt.gov.vn:8443;https://x.example/path;https://c"d'
)
REMEMBER_KEY = r"HKLM\SOFTWARE\Kyso\Agent\InstallProperties"
ORIGINS = "https://dichvucong.baohiemxahoi.gov.vn;https://thuedientu.gdt.gov.vn"


def _wine_binary(name: str) -> str:
    path = shutil.which(name) or f"/usr/lib/wine/{name}"
    if not os.access(path, os.X_OK):
        pytest.fail(f"{name} is missing: apt-get install wine64 (./run.sh does)")
    return path


class Wine:
    """One private Wine prefix (a throwaway Windows) driven through msiexec and reg."""

    def __init__(self, prefix: Path) -> None:
        self.wine = _wine_binary("wine64")
        self.server = _wine_binary("wineserver")
        # No DISPLAY: nothing may pop up on another test's Xvfb.
        env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        self.env = env | {"WINEPREFIX": str(prefix), "WINEDEBUG": "-all"}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a Windows program in the prefix. Output goes through files, not pipes: Wine's
        background processes inherit the handles and would hold a pipe open for seconds."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.run(
                [self.wine, *args], env=self.env, stdout=out, stderr=err, timeout=120
            )
            out.seek(0)
            err.seek(0)
            text = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
        return subprocess.CompletedProcess(proc.args, proc.returncode, *text)

    def start(self) -> None:
        """Start this prefix's wineserver (persistent until stop) and create the prefix."""
        subprocess.run(
            [self.server, "-p"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        proc = self.run("wineboot", "--init")
        assert proc.returncode == 0, proc.stderr

    def msiexec(self, *args: str) -> None:
        """msiexec, which must succeed; on failure the assertion carries the end of its
        verbose log (Wine returns only the exit code's low byte)."""
        log = Path(self.env["WINEPREFIX"]) / "drive_c" / "msiexec.log"
        log.unlink(missing_ok=True)
        proc = self.run("msiexec", *args, "/l*v", "C:\\msiexec.log")
        if proc.returncode != 0:
            raw = log.read_bytes() if log.exists() else b""
            text = raw.decode("utf-16" if raw[:2] == b"\xff\xfe" else "utf-8", "replace")
            steps = [line for line in text.splitlines() if not line.startswith("Property(")]
            tail = "\n".join(steps[-60:])
            pytest.fail(f"msiexec {args[:2]} returned {proc.returncode}\n{proc.stderr}\n{tail}")

    def install_python(self, tag: str = "3.12") -> None:
        """What python.org's installer leaves for the MSI's launch condition: the PEP 514 key
        with an existing InstallPath, and the all-users py launcher in the Windows folder."""
        drive_c = Path(self.env["WINEPREFIX"]) / "drive_c"
        (drive_c / "Python312").mkdir(exist_ok=True)
        (drive_c / "windows" / "pyw.exe").write_bytes(b"MZ")
        key = rf"HKLM\SOFTWARE\Python\PythonCore\{tag}\InstallPath"
        proc = self.run("reg", "add", key, "/ve", "/d", "C:\\Python312\\", "/f")
        assert proc.returncode == 0, proc.stderr

    def values(self, key: str) -> dict[str, Any] | None:
        """A registry key's values (REG_DWORD as int), None when the key does not exist."""
        proc = self.run("reg", "query", key)
        if proc.returncode != 0:
            return None
        out: dict[str, Any] = {}
        for line in proc.stdout.splitlines():
            match = re.match(r"^ {4}(.+?) {4}(REG_\w+)(?: {4}(.*))?$", line.rstrip("\r"))
            if match is None:
                continue
            name, kind, data = match.group(1), match.group(2), match.group(3) or ""
            out[name] = int(data, 16) if kind == "REG_DWORD" else data
        return out

    def stop(self) -> None:
        """End this prefix's wineserver (and only it)."""
        subprocess.run(
            [self.server, "-k"], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )


class HklmReader:
    """The agent's RegistryReader over the Wine registry."""

    def __init__(self, wine: Wine) -> None:
        self.wine = wine

    def values(self, key: str) -> dict[str, Any] | None:
        return self.wine.values("HKLM\\" + key)


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wine]:
    wine = Wine(tmp_path_factory.mktemp("wineprefix"))
    try:
        wine.start()
        yield wine
    finally:
        wine.stop()


@pytest.mark.slow
def test_install_upgrade_uninstall(
    wine: Wine, msi: Path, rebuilt_msi: Path, tmp_path: Path
) -> None:
    drive_c = Path(wine.env["WINEPREFIX"]) / "drive_c"
    root = drive_c / "Program Files" / "Kyso"
    # No Python yet: the launch condition stops the install (1603), nothing is left behind —
    # never a Run entry that can never start.
    proc = wine.run("msiexec", "/i", str(msi), "/qn", f"ALLOWEDORIGINS={ORIGINS}")
    assert proc.returncode in (1603, 1603 & 0xFF), proc.returncode  # Wine keeps the low byte
    assert not root.exists()
    assert wine.values("HKLM\\" + REGISTRY_KEY) is None
    assert "Kyso Agent" not in (wine.values(RUN_KEY) or {})

    wine.install_python()
    wine.msiexec(
        "/i",
        str(msi),
        "/qn",
        f"ALLOWEDORIGINS={ORIGINS}",
        "PORT=27500",
        "PINCACHE=1",
        f"KYSO_PORTALS={PORTALS}",
    )
    lna = {
        "1": "https://dichvucong.baohiemxahoi.gov.vn",
        "2": "https://thuedientu.gdt.gov.vn:8443",
    }
    assert wine.values(CHROME_LNA) == lna and wine.values(EDGE_LNA) == lna
    assert (root / "kyso_launcher.pyw").is_file()
    assert (root / "PolicyDefinitions" / "vi-VN" / "kyso.adml").is_file()
    assert (root / "wheels").is_dir() and list((root / "wheels").glob("kyso_agent-*.whl"))
    assert [p.name for p in drive_c.rglob("Kyso Agent.lnk")] == ["Kyso Agent.lnk"]  # Start menu
    policy = wine.values("HKLM\\" + REGISTRY_KEY)
    assert policy == {"AllowedOrigins": ORIGINS, "Port": 27500, "PinCacheEnabled": 1}
    settings = load_settings(registry=HklmReader(wine), config_file=tmp_path / "none.toml")
    assert settings.allowed_origins == tuple(ORIGINS.split(";"))
    assert settings.port == 27500 and settings.pin_cache.enabled
    run = wine.values(RUN_KEY) or {}
    assert (
        run["Kyso Agent"]
        == r'pyw.exe -3 "C:\Program Files\Kyso\kyso_launcher.pyw" autostart --logon'
    )

    # A rebuild (new ProductCode, same version) installed with no properties: a major upgrade
    # that keeps the remembered policy; a property given now is added.
    wine.msiexec("/i", str(rebuilt_msi), "/qn", "PINCACHEIDLESECONDS=900")
    policy = wine.values("HKLM\\" + REGISTRY_KEY)
    assert policy == {
        "AllowedOrigins": ORIGINS,
        "Port": 27500,
        "PinCacheEnabled": 1,
        "PinCacheIdleSeconds": 900,
    }
    arp = wine.run(
        "reg", "query", r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall", "/s"
    )
    assert wine.values(CHROME_LNA) == lna  # remembered across the upgrade
    entries = re.findall(r"DisplayName\s+REG_SZ\s+Kyso Agent", arp.stdout)
    assert len(entries) == 1  # the old product is gone, not listed twice
    assert re.search(r"Publisher\s+REG_SZ\s+Kyso Project", arp.stdout)

    # The command line wins over the remembered value; AUTOSTART=0 removes the Run entry.
    wine.msiexec("/i", str(msi), "/qn", "PORT=27600", "AUTOSTART=0")
    assert (wine.values("HKLM\\" + REGISTRY_KEY) or {})["Port"] == 27600
    assert "Kyso Agent" not in (wine.values(RUN_KEY) or {})
    # Under load Wine's registry once showed the remembered values a moment after msiexec
    # returned (CI): wait for the key itself, then judge its value.
    remembered = _settled(lambda: wine.values(REMEMBER_KEY) or {}, "AUTOSTART")
    assert remembered["AUTOSTART"] == "0"

    wine.msiexec("/x", str(msi), "/qn")
    assert wine.values("HKLM\\" + REGISTRY_KEY) is None
    assert wine.values(REMEMBER_KEY) is None
    assert "Kyso Agent" not in (wine.values(RUN_KEY) or {})
    assert wine.values(CHROME_LNA) is None and wine.values(EDGE_LNA) is None
    assert not root.exists()
    assert not list(drive_c.rglob("Kyso Agent.lnk"))


def _settled(read: Any, name: str, timeout: float = 30.0) -> dict[str, Any]:
    """``read()`` once it holds ``name`` (polled, bounded); the last read otherwise."""
    deadline = time.monotonic() + timeout
    values = read()
    while name not in values and time.monotonic() < deadline:
        time.sleep(0.5)
        values = read()
    return values
