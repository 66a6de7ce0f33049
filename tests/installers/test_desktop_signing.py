"""The file signer where people look for it: Explorer's "Ký số bằng Kyso" on .xml and .pdf
(MSI), and the Linux file managers' "Ký số bằng Kyso" plus the menu's "Ký tệp hồ sơ…" (.deb)."""

from __future__ import annotations

import configparser
from pathlib import Path

from tests.installers.test_msi import table

VERB_KEY = "SOFTWARE\\Classes\\SystemFileAssociations\\{ext}\\shell\\KysoSign"
COMMAND = 'pyw.exe -3 "[INSTALLDIR]kyso_launcher.pyw" sign-files "%1"'


def test_explorer_offers_sign_with_kyso_on_xml_and_pdf(msi: Path) -> None:
    rows = table(msi, "Registry")
    for ext in (".xml", ".pdf"):
        key = VERB_KEY.format(ext=ext)
        values = {r["Name"]: r["Value"] for r in rows if r["Key"] == key and r["Root"] == "2"}
        assert values["MUIVerb"] == "Ký số bằng Kyso"  # Vietnamese kept (codepage 1258)
        # Shown for a selection of up to 100 files; Explorer still starts one command per file
        # ("%1") and the launchers gather them into one window (test_launcher_handoff.py).
        assert values["MultiSelectModel"] == "Player"
        (command,) = [r for r in rows if r["Key"] == key + "\\command"]
        assert command["Name"] == "" and command["Value"] == COMMAND  # the key's default value


def _desktop(path: Path) -> configparser.ConfigParser:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(path, encoding="utf-8")
    return entry


def test_linux_file_managers_and_menu_offer_file_signing(deb_root: Path) -> None:
    sign = _desktop(deb_root / "usr/share/applications/kyso-sign.desktop")["Desktop Entry"]
    assert sign["Exec"] == "/usr/bin/kyso-agent sign-files %F"  # several files at once
    assert {"application/xml", "text/xml", "application/pdf"} <= set(sign["MimeType"].split(";"))
    assert sign["Name"] == "Ký số bằng Kyso" and sign["Terminal"] == "false"
    menu = _desktop(deb_root / "usr/share/applications/kyso-agent.desktop")
    assert menu["Desktop Entry"]["Actions"] == "sign-files;journal;"
    assert menu["Desktop Action sign-files"]["Name"] == "Ký tệp hồ sơ…"
    assert menu["Desktop Action sign-files"]["Exec"] == "/usr/bin/kyso-agent sign-files"
    assert menu["Desktop Action journal"]["Exec"] == "/usr/bin/kyso-agent journal"
