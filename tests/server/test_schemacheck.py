"""The compiled params check (agent/server/schemacheck.py) says "valid" exactly when jsonschema
does, for every method's schema; jsonschema still words every error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from agent.errors import KysoError
from agent.server import rpc
from agent.server.schemacheck import UnsupportedSchema, compile_check

SCHEMAS = Path(rpc.__file__).parent / "schema"
METHODS = sorted(p.name.removesuffix(".json") for p in SCHEMAS.glob("*.json"))
THUMB = "ab" * 32

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([0.0, 1.0, 1.5, -2.0, float("nan"), float("inf"), 1e300]),
    st.text(max_size=6),
    st.sampled_from(["", "x", "sha256", "bhxh", THUMB, THUMB.upper(), "0101234567", "a\n"]),
)


def _schema(method: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{method}.json").read_text())


def _properties(schema: Any) -> dict[str, list[Any]]:
    """Every property named for this object, in the node itself or in its combinators (which
    constrain the same object), with each subschema that describes it."""
    found: dict[str, list[Any]] = {}
    if not isinstance(schema, dict):
        return found
    for name, sub in schema.get("properties", {}).items():
        found.setdefault(name, []).append(sub)
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(key, []):
            for name, subs in _properties(sub).items():
                found.setdefault(name, []).extend(subs)
    for key in ("not", "if", "then", "else"):
        for name, subs in _properties(schema.get(key)).items():
            found.setdefault(name, []).extend(subs)
    return found


def values(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values near what ``schema`` accepts: its enums, consts, patterns, lengths, objects with
    its properties (some missing, some extra), arrays around its item limits; and noise."""
    options: list[st.SearchStrategy[Any]] = [SCALARS]
    if not isinstance(schema, dict) or depth > 5:
        return st.one_of(options)
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    if "const" in schema:
        options.append(st.just(schema["const"]))
    if "pattern" in schema:
        options.append(st.from_regex(schema["pattern"]))
    if "minLength" in schema or "maxLength" in schema:
        low = schema.get("minLength", 0)
        high = schema.get("maxLength", low + 4)
        options.append(st.text(min_size=max(0, low - 1), max_size=min(high + 1, 300)))
    if "minimum" in schema or "maximum" in schema:
        low = schema.get("minimum", -5)
        high = schema.get("maximum", low + 10)
        options.append(st.integers(min_value=int(low) - 1, max_value=int(high) + 1))
        options.append(st.floats(min_value=low - 1, max_value=high + 1))
    props = _properties(schema)
    if props:
        fields = {
            name: st.one_of([values(sub, depth + 1) for sub in subs])
            for name, subs in props.items()
        }
        extra = st.dictionaries(st.sampled_from(["extra", "pin", "x"]), SCALARS, max_size=1)
        options.append(
            st.tuples(st.fixed_dictionaries({}, optional=fields), extra).map(
                lambda pair: {**pair[0], **pair[1]}
            )
        )
        options.append(st.fixed_dictionaries({}, optional=fields))
    if "items" in schema:
        top = min(schema.get("maxItems", 3), 4) + 1
        options.append(st.lists(values(schema["items"], depth + 1), max_size=top))
    for key in ("oneOf", "anyOf", "allOf"):
        options += [values(sub, depth + 1) for sub in schema.get(key, [])]
    return st.one_of(options)


@pytest.mark.parametrize("method", METHODS)
def test_every_schema_compiles(method: str) -> None:
    assert rpc._fast_check(method) is not None  # else every request walks jsonschema again


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_compiled_check_agrees_with_jsonschema(method: str, data: st.DataObject) -> None:
    schema = _schema(method)
    check = compile_check(schema)
    validator = rpc.schema_validator_class()(schema)  # the agent's: $ ends the string
    params = data.draw(values(schema))
    assert check(params) == validator.is_valid(params), params


@pytest.mark.parametrize(
    ("schema", "value", "valid"),
    [
        ({"type": "integer"}, 1.0, True),  # Draft 2020-12: a whole float is an integer
        ({"type": "integer"}, True, False),  # a bool never is
        ({"type": "number"}, False, False),
        ({"minimum": 1}, float("nan"), True),  # NaN is not less than anything
        ({"minimum": 1}, True, True),  # minimum ignores what is not a number
        ({"const": True}, 1, False),
        ({"enum": ["1"]}, 1, False),
        # JSON Schema's $ ends the string (ECMA-262); Python's re.search, which stock
        # jsonschema uses, would match before a final line feed (red team 33).
        ({"pattern": "^a$"}, "a\n", False),
        ({"maxLength": 1}, "ệ", True),  # length in code points
        ({"not": {"required": ["a"]}}, {"a": 1}, False),
        ({"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}, {"a": 1, "b": 2}, False),
        ({"if": {"required": ["a"]}, "then": {"required": ["b"]}}, {"a": 1}, False),
        ({"then": {"required": ["b"]}}, {}, True),  # then without if: ignored
        ({"additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2}, False),
        ({"items": False}, [], True),
    ],
)
def test_the_edges_of_jsonschema_are_kept(schema: dict[str, Any], value: Any, valid: bool) -> None:
    assert rpc.schema_validator_class()(schema).is_valid(value) is valid
    assert compile_check(schema)(value) is valid


@pytest.mark.parametrize(
    "schema",
    [{"format": "email"}, {"patternProperties": {"a": {}}}, {"enum": [1]}, {"$ref": "#"}],
)
def test_a_keyword_it_does_not_reproduce_is_left_to_jsonschema(schema: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedSchema):
        compile_check(schema)


def test_valid_params_do_not_walk_jsonschema_and_invalid_ones_get_its_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    params = {"digest": "AAAA", "certificate": THUMB}
    walked: list[Any] = []
    validator_class = rpc.schema_validator_class()
    real = validator_class.iter_errors

    def counting(self: Draft202012Validator, instance: Any) -> Any:
        walked.append(instance)
        return real(self, instance)

    monkeypatch.setattr(validator_class, "iter_errors", counting)
    rpc.check_schema("sign.hash", params)
    assert walked == []
    with pytest.raises(KysoError) as refused:
        rpc.check_schema("sign.hash", {**params, "certificate": "zz"})
    assert len(walked) == 1
    assert refused.value.code == "PARAMS_INVALID"
    assert (
        refused.value.details["detail"]
        == "certificate: 'zz' does not match '^[0-9a-fA-F:]{64,95}$'"
    )
