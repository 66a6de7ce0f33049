"""JSON-RPC 2.0 framing and parameter validation for protocol v1. Pure logic, no I/O.

Every method's params have a JSON Schema in ``agent/server/schema/<method>.json``; a request is
validated before anything else looks at it. Validation fails fast, so that one message cannot
freeze the agent: a big frame is counted before it is parsed, the params' shape (depth, number of
values, array lengths against ``maxItems``) is checked before jsonschema runs, and jsonschema
reports its first error only (collecting every error of a 40 000-item batch took seconds). Errors travel as ``{"code": rpc_code, "message":
English message, "data": KysoError.to_dict()}`` so pages can show Vietnamese text and the
stable code.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from agent.errors import KysoError
from agent.server.schemacheck import Check, UnsupportedSchema, compile_check, ecma_pattern

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

RequestId = str | int
# Names a PIN could hide under. A page must never send a PIN: the agent asks for it itself.
PIN_KEYS = frozenset({"pin", "user_pin", "userpin", "pincode", "pin_code", "so_pin", "puk"})

# Frames above this size are counted before json.loads: parsing is cheap per byte for a document
# in base64, but 66 MB of tiny values ("[],[],...") took 8.7 s and 1.6 GB, holding the GIL (a
# thread would not help). Below it the worst parse is a few milliseconds.
COUNT_ABOVE_CHARS = 128 * 1024
# "[", "{" and "," in one message. A full 1000-item sign.batch has about 6 000 (plus commas in its
# labels); 50 000 tiny values still parse in a few milliseconds.
MAX_JSON_TOKENS = 50_000
# The params of every method are at most 4 levels deep and a full batch has ~6 000 values.
MAX_DEPTH = 16
MAX_VALUES = 20_000
# Params with more values than this are validated in a worker thread: jsonschema is pure Python,
# so the event loop gets the GIL back every few milliseconds instead of waiting for the end.
OFF_LOOP_VALUES = 1_000


@dataclass(frozen=True)
class RpcRequest:
    """A well-formed JSON-RPC request with an id."""

    id: RequestId
    method: str
    params: dict[str, Any]


class RpcFailure(Exception):
    """A request that must be answered with an error (``id`` None when it could not be read)."""

    def __init__(self, request_id: RequestId | None, error: KysoError) -> None:
        super().__init__(str(error))
        self.id = request_id
        self.error = error


def parse_request(text: str | bytes) -> RpcRequest | None:
    """Read one message. Returns None for a notification (no id: JSON-RPC forbids a reply);
    raises :class:`RpcFailure` for malformed JSON or an invalid envelope."""
    if len(text) > COUNT_ABOVE_CHARS and _json_tokens(text) > MAX_JSON_TOKENS:
        detail = f"too many JSON values in one message (at most {MAX_JSON_TOKENS})"
        raise RpcFailure(None, KysoError("PROTOCOL_INVALID_REQUEST", {"detail": detail}))
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise RpcFailure(None, KysoError("PROTOCOL_PARSE_ERROR")) from None
    if _may_hold_surrogates(text) and _holds_surrogate(message):
        # "\ud800" alone is valid JSON but no text: it cannot be shown, logged or sent back
        # (UnicodeEncodeError after the user signed). Refused before anything looks at it.
        raise RpcFailure(None, KysoError("PROTOCOL_PARSE_ERROR"))
    if isinstance(message, list):
        raise RpcFailure(
            None,
            KysoError(
                "PROTOCOL_INVALID_REQUEST",
                {"detail": "batch arrays are not supported; use sign.batch"},
            ),
        )
    if not isinstance(message, dict):
        raise RpcFailure(None, KysoError("PROTOCOL_INVALID_REQUEST", {"detail": "not an object"}))
    request_id = message.get("id")
    if "id" in message and not _valid_id(request_id):
        raise RpcFailure(
            None,
            KysoError("PROTOCOL_INVALID_REQUEST", {"detail": "id must be a string or an integer"}),
        )
    if message.get("jsonrpc") != "2.0":
        raise RpcFailure(
            request_id, KysoError("PROTOCOL_INVALID_REQUEST", {"detail": "jsonrpc must be '2.0'"})
        )
    method = message.get("method")
    if not isinstance(method, str) or not method:
        raise RpcFailure(request_id, KysoError("PROTOCOL_INVALID_REQUEST", {"detail": "no method"}))
    params = message.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RpcFailure(
            request_id, KysoError("PARAMS_INVALID", {"detail": "params must be an object"})
        )
    if "id" not in message:
        return None
    assert request_id is not None  # _valid_id refused null and every other non-id above
    return RpcRequest(request_id, method, params)


# An escape of a UTF-16 surrogate (U+D800..U+DFFF): the only way a lone one gets into a str
# that aiohttp decoded as strict UTF-8. In bytes, json.loads decodes with "surrogatepass", so
# their UTF-8-style encoding (lead byte 0xED) lets one in too.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _may_hold_surrogates(text: str | bytes) -> bool:
    """A cheap test on the raw text, run on every message: False means no string in it can
    hold a lone surrogate, so the parsed value needs no walk. A one-character search is a
    memchr (a base64 document has no backslash: 40 MB in ~10 ms, a two-character one ~110 ms);
    only from the first backslash on does the regex look for a surrogate's escape."""
    if isinstance(text, bytes):  # not what aiohttp hands over: no need for the finer test
        return b"\xed" in text or b"\\" in text
    first = text.find("\\")
    return first >= 0 and _SURROGATE_ESCAPE.search(text, first) is not None


def _holds_surrogate(value: Any) -> bool:
    """True when a key or string anywhere in ``value`` holds a lone surrogate (an escaped pair
    such as "\\ud83d\\ude00" was joined into one character by json.loads and is fine)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _json_tokens(text: str | bytes) -> int:
    """Containers and separators: a bound on the values json.loads would build (C-speed count)."""
    if isinstance(text, bytes):
        return text.count(b"[") + text.count(b"{") + text.count(b",")
    return text.count("[") + text.count("{") + text.count(",")


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**53) <= value <= 2**53
    return isinstance(value, str) and len(value) <= 128


@cache
def _validator(method: str) -> Draft202012Validator:
    # jsonschema is imported at the first request that has params, not at start: it is a
    # tenth of a second and 2.6 MB an idle agent does not need (bench/footprint.py).
    from jsonschema import Draft202012Validator

    text = resources.files("agent.server").joinpath("schema", f"{method}.json").read_text()
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return schema_validator_class()(schema)


@cache
def schema_validator_class() -> type[Draft202012Validator]:
    """Draft 2020-12 with ``pattern`` read as JSON Schema means it (``$``: end of string)."""
    from jsonschema import Draft202012Validator, ValidationError, validators

    def pattern(validator: Any, wanted: str, instance: Any, _: Any) -> Any:
        if validator.is_type(instance, "string") and not ecma_pattern(wanted).search(instance):
            yield ValidationError(f"{instance!r} does not match {wanted!r}")

    extended: type[Draft202012Validator] = validators.extend(
        Draft202012Validator, {"pattern": pattern}
    )
    return extended


@cache
def _fast_check(method: str) -> Check | None:
    """The method's schema compiled to a predicate (None when it uses a keyword
    :func:`compile_check` does not know: then jsonschema alone decides)."""
    try:
        return compile_check(_validator(method).schema)
    except UnsupportedSchema:
        return None


def has_schema(method: str) -> bool:
    """True when a params schema ships for ``method``."""
    return resources.files("agent.server").joinpath("schema", f"{method}.json").is_file()


def _invalid(where: str, detail: str) -> KysoError:
    # Never echo a whole document back: schema messages can quote the offending value.
    detail = detail if len(detail) <= 200 else detail[:200] + "…"
    return KysoError("PARAMS_INVALID", {"detail": f"{where}: {detail}", "path": where})


def check_shape(method: str, params: dict[str, Any]) -> int:
    """The cheap checks, each failing at once: top-level arrays against their ``maxItems``,
    then one bounded walk for a PIN (PIN_NOT_ACCEPTED), nesting deeper than MAX_DEPTH or more
    than MAX_VALUES values (PARAMS_INVALID). Returns the number of values."""
    properties = _validator(method).schema.get("properties", {})
    for name, value in params.items():
        most = (properties.get(name) or {}).get("maxItems")
        if isinstance(value, list) and most is not None and len(value) > most:
            raise _invalid(name, f"at most {most} items (got {len(value)})")
    count = 1
    stack: list[tuple[Any, int]] = [(params, 0)]
    while stack:
        value, depth = stack.pop()
        if depth >= MAX_DEPTH:
            raise _invalid("params", f"nested too deeply (at most {MAX_DEPTH} levels)")
        # Counted before anything is pushed: a list of 90 000 values costs one len().
        count += len(value)
        if count > MAX_VALUES:
            raise _invalid("params", f"too many values (at most {MAX_VALUES})")
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict):
            for key in value:
                if isinstance(key, str) and key.lower() in PIN_KEYS:
                    raise KysoError("PIN_NOT_ACCEPTED")
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return count


def check_schema(method: str, params: dict[str, Any]) -> None:
    """PARAMS_INVALID with the first error jsonschema finds (never every error: on a big
    message collecting them all is what froze the agent). Params the compiled check passes
    are valid without the walk; any others go to jsonschema, which words every error."""
    fast = _fast_check(method)
    if fast is not None and fast(params):
        return
    validator = _validator(method)
    error = next(validator.iter_errors(params), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "params"
        raise _invalid(where, error.message)


def validate_params(method: str, params: dict[str, Any]) -> None:
    """Raise PIN_NOT_ACCEPTED when a PIN was sent, PARAMS_INVALID when the params' shape or the
    schema says no. Runs where it is called; see :func:`validate_params_async`."""
    check_shape(method, params)
    check_schema(method, params)


async def validate_params_async(method: str, params: dict[str, Any]) -> None:
    """:func:`validate_params`, with the schema check of big params in a worker thread so that
    other pages' calls are answered meanwhile."""
    if check_shape(method, params) > OFF_LOOP_VALUES:
        await asyncio.to_thread(check_schema, method, params)
    else:
        check_schema(method, params)


# json.dumps(..., ensure_ascii=False) builds an encoder per call; this is the same encoder,
# built once (every answer goes through it).
_encode = json.JSONEncoder(ensure_ascii=False).encode


def result_message(request_id: RequestId, result: Any) -> str:
    """A success response."""
    return _encode({"jsonrpc": "2.0", "id": request_id, "result": result})


def error_body(error: KysoError) -> dict[str, Any]:
    """The JSON-RPC error object: rpc code, English message, and the full error in ``data``."""
    return {"code": error.spec.rpc_code, "message": error.message_en, "data": error.to_dict()}


def error_message(request_id: RequestId | None, error: KysoError) -> str:
    """An error response carrying the stable code and both languages in ``data``."""
    body = error_body(error)
    return _encode({"jsonrpc": "2.0", "id": request_id, "error": body})


def notification_message(method: str, params: dict[str, Any]) -> str:
    """A notification (no id)."""
    return _encode({"jsonrpc": "2.0", "method": method, "params": params})
