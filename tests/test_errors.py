"""The error table is the contract with pages, portals and scripts: keep it consistent."""

from __future__ import annotations

import string

import pytest

from agent.errors import _TABLE, ERRORS, KysoError


def _fields(text: str) -> set[str]:
    """Placeholders, with a language suffix (hint_vi / hint_en) counted as the same field."""
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    return {n.removesuffix("_vi").removesuffix("_en") for n in names}


def test_codes_and_rpc_numbers_are_unique():
    codes = [spec.code for spec in _TABLE]
    rpcs = [spec.rpc_code for spec in _TABLE]
    assert len(codes) == len(set(codes)), "duplicate error code"
    assert len(rpcs) == len(set(rpcs)), "duplicate rpc number"


@pytest.mark.parametrize("spec", _TABLE, ids=lambda s: s.code)
def test_every_error_says_what_happened_and_what_to_do_in_both_languages(spec):
    assert spec.code == spec.code.upper() and " " not in spec.code
    for text in (spec.vi, spec.en, spec.action_vi, spec.action_en):
        assert text.strip(), f"{spec.code} has an empty message"
    # The Vietnamese and English messages fill the same placeholders.
    assert _fields(spec.vi) == _fields(spec.en)
    assert _fields(spec.action_vi) == _fields(spec.action_en)
    # Protocol-level failures use JSON-RPC's own numbers (-32768..-32000); everything else is
    # ours, positive and grouped by area.
    assert -32768 <= spec.rpc_code <= -32000 or 1000 <= spec.rpc_code < 10000


def test_unknown_code_is_a_programming_error():
    with pytest.raises(ValueError):
        KysoError("NO_SUCH_CODE")


def test_wire_form_fills_details_and_drops_non_scalars():
    err = KysoError("MODULE_LOAD_FAILED", {"module": "/x.so", "blob": object()})
    wire = err.to_dict()
    assert "/x.so" in wire["message_en"] and "/x.so" in wire["message_vi"]
    assert wire["details"] == {"module": "/x.so"}
    assert set(wire) == {"code", "message_vi", "message_en", "action_vi", "action_en", "details"}
    assert "MODULE_LOAD_FAILED" in ERRORS
