"""docs/protocol.md documents every method, every schema and every error code."""

from __future__ import annotations

from agent.errors import ERRORS
from agent.server.commands import command_table
from agent.server.errordoc import DOC, render
from agent.server.rpc import has_schema


def test_error_table_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [code for code in ERRORS if f"`{code}`" not in text]
    assert not missing, f"run: python -m agent.server.errordoc (missing {missing})"
    assert render(text) == text, "run: python -m agent.server.errordoc"


def test_every_method_has_a_schema_and_a_section() -> None:
    text = DOC.read_text(encoding="utf-8")
    for method in command_table():
        assert has_schema(method), method
        assert f"### {method}" in text, method


def test_every_test_the_threat_table_names_exists() -> None:
    """docs/security.md's threat table cites tests; a renamed or deleted one is noticed."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "security.md").read_text(encoding="utf-8")
    table = text[text.index("## Threat table") :].split("\n## ", 1)[0]
    cited = set(re.findall(r"`([a-z_]+/(?:[a-z_]+\.py)?)`", table))
    assert cited, "the threat table cites no tests"
    cited.discard("tests/")  # the table's own heading note
    missing = sorted(c for c in cited if not (root / "tests" / c).exists())
    assert not missing, f"docs/security.md cites missing tests: {missing}"
