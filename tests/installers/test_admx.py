"""The Group Policy templates: every registry value the agent reads has a policy of the right
type (and nothing else does), the en-US and vi-VN texts are complete, the committed files are
what the generator makes, and the central-store zip is reproducible.

The ADMX is parsed as Windows' Group Policy editor reads it, independently of the generator's
table, and compared with ``REGISTRY_VALUES`` (agent/config/policy.py) and the settings' types.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import lxml.etree as ET
import pytest

from agent.config.policy import _REGISTRY_LISTS, REGISTRY_KEY, REGISTRY_VALUES, load_settings
from agent.config.settings import FIELDS

from .conftest import INSTALLERS

NS = {"p": "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"}
ADMX_DIR = INSTALLERS / "windows" / "admx"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


build_admx = _load("kyso_build_admx", INSTALLERS / "build_admx.py")


def admx_values() -> dict[str, dict[str, Any]]:
    """Registry value name -> what the ADMX writes for it: kind, key, and the element."""
    root = ET.parse(str(ADMX_DIR / "kyso.admx")).getroot()
    out: dict[str, dict[str, Any]] = {}

    def add(name: str, info: dict[str, Any]) -> None:
        assert name not in out, f"{name} is written by two policies"
        out[name] = info

    for policy in root.iterfind("p:policies/p:policy", NS):
        key = policy.get("key")
        assert policy.get("class") == "Machine", "the agent reads HKLM only"
        if policy.get("valueName"):
            enabled = policy.find("p:enabledValue/p:decimal", NS)
            disabled = policy.find("p:disabledValue/p:decimal", NS)
            assert enabled is not None and disabled is not None
            assert (enabled.get("value"), disabled.get("value")) == ("1", "0")
            add(policy.get("valueName"), {"kind": "dword", "key": key, "policy": policy})
        for element in policy.iterfind("p:elements/*", NS):
            tag = ET.QName(element).localname
            if tag == "list":
                # Chrome's form, which the agent reads: subkey <name>, values "1", "2", ...
                sub = element.get("key")
                assert sub.startswith(REGISTRY_KEY + "\\") and element.get("valuePrefix") == ""
                assert element.get("explicitValue") in (None, "false")
                add(sub.rsplit("\\", 1)[1], {"kind": "list", "key": REGISTRY_KEY, "el": element})
                continue
            kind = {"decimal": "dword", "text": "string", "enum": "string"}[tag]
            if tag == "enum":
                for value in element.iterfind("p:item/p:value/*", NS):
                    assert ET.QName(value).localname == "string"
            assert element.get("key") in (None, key)
            add(element.get("valueName"), {"kind": kind, "key": key, "el": element})
    return out


def expected_kind(name: str) -> str:
    """What the agent accepts for a value: a numbered-subkey list for the names its reader
    treats as lists (policy._REGISTRY_LISTS), otherwise from the setting's default: a string
    (or a JSON string for a list of tables) or a DWORD (bool, int, or None for the port)."""
    if name in _REGISTRY_LISTS:
        return "list"
    default = FIELDS[REGISTRY_VALUES[name]].default
    return "string" if isinstance(default, str | tuple) else "dword"


def test_every_value_the_agent_reads_has_a_policy_and_no_other() -> None:
    written = admx_values()
    missing = set(REGISTRY_VALUES) - set(written)
    extra = set(written) - set(REGISTRY_VALUES)
    assert not missing, f"no ADMX policy for {sorted(missing)}: add rows to build_admx.POLICIES"
    assert not extra, f"ADMX writes values the agent refuses: {sorted(extra)}"
    for name, info in written.items():
        assert info["key"] == REGISTRY_KEY, name
        assert info["kind"] == expected_kind(name), name


def test_numbers_allowed_by_the_editor_are_accepted_by_the_agent() -> None:
    for name, info in admx_values().items():
        element = info.get("el")
        if element is None or ET.QName(element).localname != "decimal":
            continue
        parse = FIELDS[REGISTRY_VALUES[name]].parse
        low, high = int(element.get("minValue")), int(element.get("maxValue"))
        assert high <= 0xFFFFFFFF
        parse(low)
        parse(high)  # neither raises: the editor never writes a value the agent refuses


def test_enum_choices_are_values_the_agent_accepts() -> None:
    for name, info in admx_values().items():
        element = info.get("el")
        if element is None or ET.QName(element).localname != "enum":
            continue
        choices = [v.text for v in element.iterfind("p:item/p:value/p:string", NS)]
        assert choices
        for choice in choices:
            FIELDS[REGISTRY_VALUES[name]].parse(choice)


@pytest.mark.parametrize("language", ["en-US", "vi-VN"])
def test_every_string_and_presentation_is_defined(language: str) -> None:
    admx_text = (ADMX_DIR / "kyso.admx").read_text(encoding="utf-8")
    adml = ET.parse(str(ADMX_DIR / language / "kyso.adml")).getroot()
    strings = {s.get("id"): s.text or "" for s in adml.iterfind(".//p:stringTable/p:string", NS)}
    presentations = {p.get("id"): p for p in adml.iterfind(".//p:presentationTable/*", NS)}
    for ref in re.findall(r"\$\(string\.([^)]+)\)", admx_text):
        assert strings.get(ref), f"{language}: string {ref} is missing or empty"
    root = ET.parse(str(ADMX_DIR / "kyso.admx")).getroot()
    for policy in root.iterfind("p:policies/p:policy", NS):
        element_ids = {e.get("id") for e in policy.iterfind("p:elements/*", NS)}
        ref = policy.get("presentation")
        if not element_ids:
            assert ref is None
            continue
        presentation = presentations[re.fullmatch(r"\$\(presentation\.(.+)\)", ref).group(1)]
        assert {c.get("refId") for c in presentation} == element_ids
    if language == "vi-VN":
        # Written in Vietnamese, with its diacritics, not English left untranslated.
        assert strings["AllowedOrigins"] != strings_of("en-US")["AllowedOrigins"]
        assert "cổng thông tin" in strings["AllowedOrigins"]
        assert all(re.search(r"[ăâđêôơưạ-ỹ]", t) for k, t in strings.items() if k != "Kyso")


def strings_of(language: str) -> dict[str, str]:
    adml = ET.parse(str(ADMX_DIR / language / "kyso.adml")).getroot()
    return {s.get("id"): s.text or "" for s in adml.iterfind(".//p:stringTable/p:string", NS)}


def test_committed_templates_are_what_the_table_generates() -> None:
    assert build_admx.stale() == [], "run: .venv/bin/python installers/build_admx.py"


def test_central_store_zip_is_reproducible(tmp_path: Path) -> None:
    first = build_admx.central_store_zip(tmp_path / "a" / "kyso-admx.zip")
    second = build_admx.central_store_zip(tmp_path / "b" / "kyso-admx.zip")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert sorted(archive.namelist()) == [
            "PolicyDefinitions/en-US/kyso.adml",
            "PolicyDefinitions/kyso.admx",
            "PolicyDefinitions/vi-VN/kyso.adml",
        ]
        for rel in ("kyso.admx", "en-US/kyso.adml", "vi-VN/kyso.adml"):
            assert archive.read("PolicyDefinitions/" + rel) == (ADMX_DIR / rel).read_bytes()


# A value an administrator would type into each free-text policy.
TEXT_SAMPLES = {
    "PdfSeals": "{}",
    "PortRange": "27450-27549",
    "TimestampUrl": "https://tsa.example/tsr",
    "RemoteProviders": "[]",
}


class _Registry:
    def __init__(self, data: dict[str, dict[str, Any]]) -> None:
        self.data = data

    def values(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)


def test_what_the_editor_writes_is_a_policy_the_agent_accepts(tmp_path: Path) -> None:
    """Every policy enabled with a value the editor allows: the agent reads all of it."""
    hklm: dict[str, dict[str, Any]] = {REGISTRY_KEY: {}}
    for name, info in admx_values().items():
        element = info.get("el")
        tag = ET.QName(element).localname if element is not None else "bool"
        if tag == "list":
            sample = {
                "AllowedOrigins": ["https://dichvucong.baohiemxahoi.gov.vn", "https://a.example"],
                "SignHashOrigins": ["https://a.example"],
            }.get(name, [r"C:\Windows\System32\vnptca_p11_v8.dll"])
            hklm[REGISTRY_KEY + "\\" + name] = {str(i + 1): v for i, v in enumerate(sample)}
        elif tag == "bool":
            hklm[REGISTRY_KEY][name] = 0
        elif tag == "decimal":
            hklm[REGISTRY_KEY][name] = int(element.get("minValue"))
        elif tag == "enum":
            hklm[REGISTRY_KEY][name] = element.find("p:item/p:value/p:string", NS).text
        else:
            hklm[REGISTRY_KEY][name] = TEXT_SAMPLES[name]
    settings = load_settings(registry=_Registry(hklm), config_file=tmp_path / "none.toml")
    assert settings.allowed_origins == (
        "https://dichvucong.baohiemxahoi.gov.vn",
        "https://a.example",
    )
    assert settings.pkcs11_modules == (r"C:\Windows\System32\vnptca_p11_v8.dll",)
    assert settings.allow_user_origins is False
    assert all(settings.sources[REGISTRY_VALUES[n]] == "policy" for n in REGISTRY_VALUES)


def test_the_guide_lists_every_policy_in_the_editors_words() -> None:
    guide = (INSTALLERS.parent / "docs" / "installers.md").read_text(encoding="utf-8")
    assert build_admx.markdown_table() in guide, (
        "docs/installers.md: paste the output of installers/build_admx.py --markdown"
    )
