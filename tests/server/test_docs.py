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
