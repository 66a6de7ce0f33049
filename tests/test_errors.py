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


def test_groups_name_only_table_codes_and_each_code_has_one_group():
    from agent.errors import _GROUP_MEMBERS, ErrorGroup

    named = [code for codes in _GROUP_MEMBERS.values() for code in codes]
    assert set(named) <= set(ERRORS), f"not in the table: {set(named) - set(ERRORS)}"
    assert len(named) == len(set(named)), "a code is in two groups"
    for group, codes in _GROUP_MEMBERS.items():
        assert all(ERRORS[c].group is group for c in codes)
    assert ERRORS["INTERNAL_ERROR"].group is ErrorGroup.OTHER


@pytest.mark.parametrize(
    ("code", "group"),
    [
        # What the branches rely on: the audit log's "cancelled", the CLI batch stopping,
        # the agent dropping a cached key session and its certificate list, and
        # --allow-invalid-certificate letting only the certificate's own validity through.
        ("USER_CANCELLED", "CANCELLED"),
        ("USER_TIMEOUT", "CANCELLED"),
        ("AGENT_STOPPING", "CANCELLED"),
        ("PIN_INCORRECT", "PIN"),
        ("PIN_LOCKED", "PIN"),
        ("TOKEN_REMOVED", "TOKEN_GONE"),
        ("CERT_NOT_FOUND", "TOKEN_GONE"),
        ("TOKEN_ERROR", "TOKEN_FAULT"),
        ("CERT_EXPIRED", "CERTIFICATE"),
        ("CERT_REVOKED", "CERTIFICATE"),
        ("INPUT_INVALID", "INPUT"),
        ("XML_MALFORMED", "INPUT"),
        ("CERT_UNTRUSTED", "OTHER"),  # a chain problem is never waved through
        ("SIGNATURE_INVALID", "OTHER"),
    ],
)
def test_codes_branch_by_group(code, group):
    from agent.errors import ErrorGroup, group_of

    err = KysoError(code)
    assert err.group is ErrorGroup[group] and group_of(code) is ErrorGroup[group]
    assert (
        err.is_(ErrorGroup[group], ErrorGroup.OTHER)
        if group != "OTHER"
        else err.is_(ErrorGroup.OTHER)
    )
    others = [g for g in ErrorGroup if g is not ErrorGroup[group]]
    assert not err.is_(*others)


def test_audit_outcome_follows_the_cancelled_group():
    from agent.audit import outcome_of

    assert outcome_of("OK") == "signed"
    assert outcome_of("USER_TIMEOUT") == "cancelled"
    assert outcome_of("PIN_INCORRECT") == "refused"
    assert outcome_of("NOT_A_CODE") == "refused"


def test_no_control_flow_on_lists_of_code_strings():
    """Branch on ErrorGroup, not on tuples or sets of code strings (issue 14)."""
    import re
    from pathlib import Path

    pattern = re.compile(r"\.code\s+(not\s+)?in\s+[\(\[\{]|_CODES\s*=\s*frozenset\(\{\s*\"")
    root = Path(__file__).resolve().parent.parent / "agent"
    found = [
        f"{path.relative_to(root)}:{n}"
        for path in root.rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, found


def test_a_vietnamese_detail_is_used_when_given_and_the_english_one_otherwise() -> None:
    """INPUT_INVALID's Vietnamese text once carried the English detail ("Dữ liệu không hợp
    lệ: give the trusted CA certificates with --trust"); a raise site may give detail_vi."""
    both = KysoError("INPUT_INVALID", {"detail": "give --trust", "detail_vi": "hãy đưa --trust"})
    assert both.message_vi == "Dữ liệu không hợp lệ: hãy đưa --trust."
    assert both.message_en == "Invalid input: give --trust."
    only_en = KysoError("INPUT_INVALID", {"detail": "give --trust"})
    assert only_en.message_vi == "Dữ liệu không hợp lệ: give --trust."
    assert "{" not in KysoError("INPUT_INVALID").message_vi.replace("{detail_vi}", "")


def _constructions_of(code: str) -> list[str]:
    """Every ``KysoError("<code>", ...)`` call in agent/ and portal_stub/ (errors.py aside)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found = []
    for package in ("agent", "portal_stub"):
        for path in (root / package).rglob("*.py"):
            if path == root / "agent" / "errors.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", None)) == "KysoError"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value == code
                ):
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_every_invalid_input_is_worded_in_vietnamese_too() -> None:
    """CLI QA 38 F11: of ~90 INPUT_INVALID raise sites only a handful gave ``detail_vi``, so the
    most common error read "Dữ liệu không hợp lệ: cannot read the PIN file …". Every site now
    goes through ``invalid_input(detail, detail_vi)``, whose signature asks for both."""
    assert _constructions_of("INPUT_INVALID") == []


def test_invalid_input_fills_both_sentences() -> None:
    from agent.errors import invalid_input

    error = invalid_input("the PIN file p is empty", "tệp mã PIN p đang trống", path="p")
    assert error.code == "INPUT_INVALID"
    assert error.message_vi == "Dữ liệu không hợp lệ: tệp mã PIN p đang trống."
    assert error.message_en == "Invalid input: the PIN file p is empty."
    assert error.details["path"] == "p"


@pytest.mark.parametrize(
    ("message", "vietnamese"),
    [
        ("unrecognized arguments: --nope x", "không hiểu tham số: --nope x"),
        ("the following arguments are required: FILE", "còn thiếu tham số bắt buộc: FILE"),
        ("argument --since: expected one argument", "tham số --since: cần một giá trị đi kèm"),
        (
            "argument --limit: invalid positive_int value: 'abc'",
            "tham số --limit: giá trị 'abc' không hợp lệ",
        ),
        (
            "argument --profile: invalid choice: 'zzz' (choose from 'bhxh', 'tax')",
            "tham số --profile: 'zzz' không phải một lựa chọn hợp lệ (chọn một trong: 'bhxh', "
            "'tax')",
        ),
        (
            "argument --port: '70000' is not a port number (1 to 65535)",
            "tham số --port: '70000' không phải một số cổng (từ 1 đến 65535)",
        ),
        ("something new in Python 3.14", "lỗi cú pháp lệnh (something new in Python 3.14)"),
    ],
)
def test_usage_errors_are_said_in_vietnamese(message: str, vietnamese: str) -> None:
    """CLI QA 38 F10: argparse's English inside the Vietnamese sentence."""
    from agent.cli.usage_text import usage_error_vi

    assert usage_error_vi(message) == vietnamese
