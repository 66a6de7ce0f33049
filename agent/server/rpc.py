"""JSON-RPC 2.0 framing and parameter validation for protocol v1. Pure logic, no I/O.

Every method's params have a JSON Schema in ``agent/server/schema/<method>.json``; a request is
validated before anything else looks at it. Errors travel as ``{"code": rpc_code, "message":
English message, "data": KysoError.to_dict()}`` so pages can show Vietnamese text and the
stable code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from agent.errors import KysoError

RequestId = str | int
# Names a PIN could hide under. A page must never send a PIN: the agent asks for it itself.
PIN_KEYS = frozenset({"pin", "user_pin", "userpin", "pincode", "pin_code", "so_pin", "puk"})


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
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise RpcFailure(None, KysoError("PROTOCOL_PARSE_ERROR")) from None
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
    return RpcRequest(request_id, method, params)


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**53) <= value <= 2**53
    return isinstance(value, str) and len(value) <= 128


def find_pin(params: Any, depth: int = 0) -> bool:
    """True when any key at any depth looks like a PIN."""
    if depth > 32:
        return False
    if isinstance(params, dict):
        return any(
            (isinstance(k, str) and k.lower() in PIN_KEYS) or find_pin(v, depth + 1)
            for k, v in params.items()
        )
    if isinstance(params, list):
        return any(find_pin(v, depth + 1) for v in params[:10_000])
    return False


@cache
def _validator(method: str) -> Draft202012Validator:
    text = resources.files("agent.server").joinpath("schema", f"{method}.json").read_text()
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def has_schema(method: str) -> bool:
    """True when a params schema ships for ``method``."""
    return resources.files("agent.server").joinpath("schema", f"{method}.json").is_file()


def validate_params(method: str, params: dict[str, Any]) -> None:
    """Raise PIN_NOT_ACCEPTED when a PIN was sent, PARAMS_INVALID when the schema says no."""
    if find_pin(params):
        raise KysoError("PIN_NOT_ACCEPTED")
    validator = _validator(method)
    if validator.is_valid(params):  # the common case, without collecting errors
        return
    error = best_match(validator.iter_errors(params))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "params"
        # Never echo a whole document back: schema messages can quote the offending value.
        detail = error.message if len(error.message) <= 200 else error.message[:200] + "…"
        raise KysoError("PARAMS_INVALID", {"detail": f"{where}: {detail}", "path": where})


def result_message(request_id: RequestId, result: Any) -> str:
    """A success response."""
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}, ensure_ascii=False)


def error_body(error: KysoError) -> dict[str, Any]:
    """The JSON-RPC error object: rpc code, English message, and the full error in ``data``."""
    return {"code": error.spec.rpc_code, "message": error.message_en, "data": error.to_dict()}


def error_message(request_id: RequestId | None, error: KysoError) -> str:
    """An error response carrying the stable code and both languages in ``data``."""
    body = error_body(error)
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "error": body}, ensure_ascii=False)


def notification_message(method: str, params: dict[str, Any]) -> str:
    """A notification (no id)."""
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params}, ensure_ascii=False)
