"""A JSON Schema compiled to a plain predicate, for the params of almost every request.

jsonschema walks the schema in Python at every request (about 20 µs for ``sign.hash``, on the
event loop). Nearly every request is valid; for those, a predicate compiled once from the same
schema answers in a few µs. It only ever says "valid": params it does not pass are validated by
jsonschema as before (``agent.server.rpc.check_schema``), so every error — code, message and
path — is still jsonschema's own.

The predicate must agree with jsonschema (Draft 2020-12, no format assertion) on every input,
not merely be stricter: inside ``not``, ``oneOf`` and ``if`` a stricter answer would flip the
result. So it knows only the keywords Kyso's schemas use, each with jsonschema's own meaning
(the same type checks, ``re.search``, length in code points, bool never a number), and a schema
with any other keyword is not compiled at all. tests/server/test_schemacheck.py compares the two
on generated params for every schema.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

__all__ = ["Check", "UnsupportedSchema", "compile_check"]

# Keywords that only describe (never refuse). "then" and "else" are read by "if".
_IGNORED = frozenset({"$schema", "$comment", "title", "description", "default", "examples"})
_WITH_IF = frozenset({"then", "else"})


class UnsupportedSchema(Exception):
    """The schema uses something the compiler does not reproduce exactly."""


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    # Draft 2020-12: 1.0 is an integer; a bool never is.
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": _is_integer,
}


def compile_check(schema: Any) -> Check:
    """A predicate that is True exactly when jsonschema finds ``schema`` satisfied; raises
    :class:`UnsupportedSchema` for a keyword it does not reproduce."""
    if schema is True:
        return _always
    if schema is False:
        return _never
    if not isinstance(schema, Mapping):
        raise UnsupportedSchema(repr(schema)[:80])
    checks: list[Check] = []
    for key, value in schema.items():
        if key in _IGNORED or key in _WITH_IF:
            continue
        make = _KEYWORDS.get(key)
        if make is None:
            raise UnsupportedSchema(key)
        checks.append(make(value, schema))
    return _all(checks)


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    # The type check first: it is usually the keyword that fails.
    first, *rest = checks
    others = tuple(rest)

    def every(value: Any) -> bool:
        if not first(value):
            return False
        for check in others:  # noqa: SIM110 - a plain loop: all() of a generator costs more
            if not check(value):
                return False
        return True

    return every


def _type(types: Any, _: Mapping[str, Any]) -> Check:
    names = [types] if isinstance(types, str) else list(types)
    try:
        checks = tuple(_TYPES[n] for n in names)
    except (KeyError, TypeError):
        raise UnsupportedSchema(f"type {types!r}") from None
    if len(checks) == 1:
        return checks[0]
    return lambda v: any(c(v) for c in checks)


def _properties(props: Any, _: Mapping[str, Any]) -> Check:
    compiled = tuple((name, compile_check(sub)) for name, sub in dict(props).items())

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for name, sub in compiled:  # noqa: SIM110 - as in _all
            if name in value and not sub(value[name]):
                return False
        return True

    return check


def _additional(extra: Any, schema: Mapping[str, Any]) -> Check:
    if "patternProperties" in schema:
        raise UnsupportedSchema("patternProperties")
    known = frozenset(schema.get("properties", {}))
    sub = compile_check(extra)
    if sub is _always:
        return _always

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for key in value:  # noqa: SIM110 - as in _all
            if key not in known and not sub(value[key]):
                return False
        return True

    return check


def _required(names: Any, _: Mapping[str, Any]) -> Check:
    wanted = tuple(names)
    return lambda v: not isinstance(v, dict) or all(n in v for n in wanted)


def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """A JSON Schema ``pattern`` compiled for Python's ``re.search``. Schema patterns are
    ECMA-262, where ``$`` ends the string; Python's ``$`` also matches before a final line
    feed, so "bhxh\\n" or a thumbprint with one passed ``^…$`` and reached the consent. A
    closing ``$`` becomes ``\\Z`` (our patterns have no other)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(pattern: Any, _: Mapping[str, Any]) -> Check:
    search = ecma_pattern(pattern).search  # as jsonschema's: re.search, anywhere
    return lambda v: not isinstance(v, str) or search(v) is not None


def _min_length(n: Any, _: Mapping[str, Any]) -> Check:
    return lambda v: not isinstance(v, str) or len(v) >= n


def _max_length(n: Any, _: Mapping[str, Any]) -> Check:
    return lambda v: not isinstance(v, str) or len(v) <= n


def _min_items(n: Any, _: Mapping[str, Any]) -> Check:
    return lambda v: not isinstance(v, list) or len(v) >= n


def _max_items(n: Any, _: Mapping[str, Any]) -> Check:
    return lambda v: not isinstance(v, list) or len(v) <= n


def _minimum(m: Any, _: Mapping[str, Any]) -> Check:
    return lambda v: not _is_number(v) or not v < m


def _maximum(m: Any, _: Mapping[str, Any]) -> Check:
    return lambda v: not _is_number(v) or not v > m


def _enum(values: Any, _: Mapping[str, Any]) -> Check:
    # Strings only: a string equals only an equal string under jsonschema's rules.
    if not all(isinstance(v, str) for v in values):
        raise UnsupportedSchema("enum of non-strings")
    allowed = frozenset(values)
    return lambda v: isinstance(v, str) and v in allowed


def _const(const: Any, _: Mapping[str, Any]) -> Check:
    if isinstance(const, str):
        return lambda v: isinstance(v, str) and v == const
    if isinstance(const, bool):
        return lambda v: v is const  # True is not 1 in JSON Schema
    raise UnsupportedSchema("const of a non-string")


def _items(items: Any, schema: Mapping[str, Any]) -> Check:
    if "prefixItems" in schema:
        raise UnsupportedSchema("prefixItems")
    sub = compile_check(items)
    return lambda v: not isinstance(v, list) or all(sub(item) for item in v)


def _not(sub_schema: Any, _: Mapping[str, Any]) -> Check:
    sub = compile_check(sub_schema)
    return lambda v: not sub(v)


def _one_of(subs: Any, _: Mapping[str, Any]) -> Check:
    checks = tuple(compile_check(s) for s in subs)
    return lambda v: sum(1 for c in checks if c(v)) == 1


def _any_of(subs: Any, _: Mapping[str, Any]) -> Check:
    checks = tuple(compile_check(s) for s in subs)
    return lambda v: any(c(v) for c in checks)


def _all_of(subs: Any, _: Mapping[str, Any]) -> Check:
    return _all([compile_check(s) for s in subs])


def _if(if_schema: Any, schema: Mapping[str, Any]) -> Check:
    condition = compile_check(if_schema)
    then = compile_check(schema.get("then", True))
    otherwise = compile_check(schema.get("else", True))
    return lambda v: then(v) if condition(v) else otherwise(v)


_KEYWORDS: dict[str, Callable[[Any, Mapping[str, Any]], Check]] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "pattern": _pattern,
    "minLength": _min_length,
    "maxLength": _max_length,
    "minItems": _min_items,
    "maxItems": _max_items,
    "minimum": _minimum,
    "maximum": _maximum,
    "enum": _enum,
    "const": _const,
    "items": _items,
    "not": _not,
    "oneOf": _one_of,
    "anyOf": _any_of,
    "allOf": _all_of,
    "if": _if,
}
