"""The agent's side of the audit log: records built from a request, written by ``agent.audit``.

The log itself (file, rotation, locking, the record type) lives in :mod:`agent.audit`, shared
with the command line, so a signature from a page and one from ``kyso-agent sign-xml`` leave the
same kind of record. This module only knows how to fill one in from a protocol request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.audit import AuditLog, AuditRecord, Digests, certificate_fields

if TYPE_CHECKING:  # context.py imports this module for AuditLog
    from agent.server.context import CallContext

__all__ = ["METHOD_KINDS", "AuditLog", "AuditRecord", "call_record"]

# What kind of document each signing method signs (a batch line per item carries its own).
METHOD_KINDS = {
    "sign.xml": "xml",
    "sign.cms": "cms",
    "sign.hash": "hash",
    "sign.pdf": "pdf",
    "auth.challenge": "challenge",
    "sign.batch": "batch",
}


def call_record(
    *,
    origin: str,
    method: str,
    result: str,
    request_id: str | int | None,
    ctx: CallContext | None = None,
    params: dict[str, Any] | None = None,
    kind: str | None = None,
    sha256: str | None = None,
    item: int | None = None,
) -> AuditRecord:
    """The record of one signing request (or one item of a batch) as far as it got.

    Without ``ctx`` the request was refused before it started (invalid params): only what the
    connection vouches for is recorded, nothing the page sent besides its id and method.
    """
    cert = ctx.certificate if ctx is not None else None
    fields = certificate_fields(cert)
    if cert is None and ctx is not None:
        fields["thumbprint"] = ctx.thumbprint
    profile = None
    if ctx is not None and params is not None and method == "sign.xml":
        profile = params.get("profile", "bhxh")  # schema-checked: ^[a-z0-9_-]{1,32}$
    hexdigest = sha256 if sha256 is not None else (ctx.sha256 if ctx is not None else None)
    return AuditRecord(
        origin=origin,
        method=method,
        result=result,
        channel="agent",
        kind=kind or METHOD_KINDS.get(method),
        profile=profile,
        request_id=None if request_id is None else str(request_id),
        item=item,
        **_digests(hexdigest),
        **fields,
    )


# sign.hash and sign.cms accept a precomputed digest of another hash: its length says which.
_HASH_BY_HEX_LENGTH = {40: "sha1", 96: "sha384", 128: "sha512"}


def _digests(hexdigest: str | None) -> Digests:
    if not hexdigest:
        return {}
    other = _HASH_BY_HEX_LENGTH.get(len(hexdigest))
    return {"digest": hexdigest, "digest_alg": other} if other else {"sha256": hexdigest}
