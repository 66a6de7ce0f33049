"""Issue 17: doctor checks that Chrome's / Edge's LocalNetworkAccessAllowedForUrls is in force
for the origins Kyso allows — pattern matching (Chrome's URL pattern format), the Linux JSON
files (temporary policy directories), the Windows registry (through the reader seam), and what
doctor prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from agent.config import browser_policy as bp

BHXH = "https://dichvucong.baohiemxahoi.gov.vn"
TAX = "https://thuedientu.gdt.gov.vn"


@pytest.mark.parametrize(
    ("pattern", "origin", "expected"),
    [
        ("*", BHXH, True),
        (BHXH, BHXH, True),
        (BHXH + "/", BHXH, True),  # a path is ignored: an origin has none
        ("https://dichvucong.baohiemxahoi.gov.vn:443", BHXH, True),
        ("https://dichvucong.baohiemxahoi.gov.vn:8443", BHXH, False),
        ("https://dichvucong.baohiemxahoi.gov.vn:*", BHXH + ":8443", True),
        ("http://dichvucong.baohiemxahoi.gov.vn", BHXH, False),  # the scheme must match
        ("dichvucong.baohiemxahoi.gov.vn", BHXH, True),  # no scheme: any scheme
        ("baohiemxahoi.gov.vn", BHXH, False),  # without [*.] the host matches itself only
        ("[*.]baohiemxahoi.gov.vn", BHXH, True),
        ("[*.]baohiemxahoi.gov.vn", "https://baohiemxahoi.gov.vn", True),
        ("https://[*.]gov.vn", TAX, True),
        ("[*.]gov.vn", "https://evilgov.vn", False),  # a suffix is not a subdomain
        ("[*.]baohiemxahoi.gov.vn", "https://baohiemxahoi.gov.vn.evil.example", False),
        ("https://*", TAX, True),
        ("DichVuCong.BaoHiemXaHoi.gov.vn.", BHXH, True),  # case and a trailing dot
        ("https://[::1]:8443", "https://[::1]:8443", True),
        ("https://127.0.0.1", "https://127.0.0.1:8443", True),  # no port: any port
        ("", BHXH, False),
        ("https://portal.example:abc", "https://portal.example", False),
    ],
)
def test_pattern_matches_like_chrome(pattern: str, origin: str, expected: bool) -> None:
    assert bp.pattern_matches(pattern, origin) is expected


def test_missing_origins_per_browser_and_severity() -> None:
    lists = [
        bp.BrowserList("Chrome", "/c", (BHXH,)),
        bp.BrowserList("Chromium", "/m", None),
        bp.BrowserList("Edge", "/e", ("[*.]gov.vn",)),
    ]
    check = bp.check([BHXH, TAX, "http://insecure.example"], lists)
    assert check.origins == (BHXH, TAX)  # only https origins are allowed to reach Kyso
    assert check.missing == {"Chrome": (TAX,)}
    findings = check.findings()
    assert [(sev, e.code, e.details["browser"]) for sev, e in findings] == [
        ("error", "LNA_POLICY_MISSING", "Chrome")
    ]
    assert TAX in findings[0][1].message_vi and "/c" in findings[0][1].message_en


def test_no_policy_anywhere_is_one_warning() -> None:
    lists = [bp.BrowserList("Chrome", "/c", None), bp.BrowserList("Edge", "/e", None)]
    check = bp.check([BHXH], lists)
    assert check.ok and not check.managed
    [(severity, error)] = check.findings()
    assert severity == "warning" and error.code == "LNA_POLICY_MISSING"
    assert error.details["browser"] == "Chrome, Edge" and BHXH in error.message_vi
    # Nothing to check, nothing to say.
    assert bp.check([], lists).findings() == []


def _dirs(tmp_path: Path) -> dict[str, Path]:
    dirs = {name: tmp_path / name.lower() / "managed" for name in ("Chrome", "Chromium", "Edge")}
    for d in dirs.values():
        d.mkdir(parents=True)
    return dirs


def test_linux_json_files(tmp_path: Path) -> None:
    dirs = _dirs(tmp_path)
    (dirs["Chrome"] / "kyso.json").write_text(json.dumps({bp.POLICY_NAME: [BHXH]}))
    (dirs["Chrome"] / "other.json").write_text(json.dumps({"HomepageLocation": "x"}))
    (dirs["Chrome"] / "broken.json").write_text("{not json")
    (dirs["Edge"] / "a.json").write_text(json.dumps({bp.POLICY_NAME: "https://x"}))
    (dirs["Chromium"] / "notes.txt").write_text(json.dumps({bp.POLICY_NAME: [TAX]}))
    lists = {b.browser: b for b in bp.read_linux_lists(dirs)}
    assert lists["Chrome"].patterns == (BHXH,)
    assert any("broken.json" in n for n in lists["Chrome"].notes)
    assert lists["Edge"].patterns is None and "not a list" in lists["Edge"].notes[0]
    assert lists["Chromium"].patterns is None  # only *.json files are policy files
    check = bp.check([BHXH, TAX], lists.values())
    assert check.missing == {"Chrome": (TAX,)}


def test_linux_missing_directories_mean_no_policy(tmp_path: Path) -> None:
    lists = bp.read_linux_lists({"Chrome": tmp_path / "absent"})
    assert lists == [bp.BrowserList("Chrome", str(tmp_path / "absent"), None)]


class FakeHives:
    """The registry as the MSI's KYSO_PORTALS leaves it (numbered REG_SZ values)."""

    def __init__(self, keys: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.keys = keys

    def values(self, hive: str, key: str) -> dict[str, Any] | None:
        return self.keys.get((hive, key))


def test_windows_registry_numbered_values_machine_wins() -> None:
    chrome, edge = bp.WINDOWS_KEYS["Chrome"], bp.WINDOWS_KEYS["Edge"]
    reader = FakeHives(
        {
            ("HKLM", chrome): {"2": TAX, "1": BHXH, "10": "https://late.example", "x": "ignored"},
            ("HKCU", chrome): {"1": "https://user-only.example"},
            ("HKCU", edge): {"1": BHXH},
        }
    )
    lists = {b.browser: b for b in bp.read_windows_lists(reader)}
    assert lists["Chrome"].patterns == (BHXH, TAX, "https://late.example")
    assert lists["Chrome"].where == "HKLM\\" + chrome
    assert lists["Edge"].patterns == (BHXH,) and lists["Edge"].where == "HKCU\\" + edge
    assert bp.check([BHXH, TAX], lists.values()).missing == {"Edge": (TAX,)}
    assert bp.read_lists(windows=True, reader=FakeHives({}))[0].patterns is None


def test_doctor_says_which_browser_lacks_which_origin(
    demo: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(f'allowed_origins = ["{BHXH}", "{TAX}"]\nport = 27998\nping_port = 0\n')
    monkeypatch.setenv("KYSO_POLICY_FILE", str(policy))
    dirs = _dirs(tmp_path)
    (dirs["Chrome"] / "kyso.json").write_text(json.dumps({bp.POLICY_NAME: [BHXH, TAX]}))
    (dirs["Edge"] / "kyso.json").write_text(json.dumps({bp.POLICY_NAME: [BHXH]}))
    monkeypatch.setattr(bp, "LINUX_DIRS", dirs)

    capsys.readouterr()
    main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)["browser_policy"]
    by_browser = {b["browser"]: b for b in report["browsers"]}
    assert by_browser["Edge"]["missing"] == [TAX] and by_browser["Chrome"]["missing"] == []
    assert by_browser["Chromium"]["patterns"] is None
    [finding] = report["findings"]
    assert finding["severity"] == "error" and finding["code"] == "LNA_POLICY_MISSING"

    main(["doctor"])
    out = capsys.readouterr().out
    assert f"Edge: THIẾU / MISSING {TAX}" in out
    assert "Chrome: OK (2)" in out
    assert "[LNA_POLICY_MISSING, lỗi / error] Edge chưa có chính sách cho phép" in out
    assert "KYSO_PORTALS" in out
