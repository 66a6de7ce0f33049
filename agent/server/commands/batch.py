"""sign.batch: N documents under ONE consent (listing them all) and ONE PIN entry."""

from __future__ import annotations

import logging
from typing import Any

from agent.errors import KysoError
from agent.server.audit import AuditRecord
from agent.server.commands.base import Command, Prepared, run_signing
from agent.server.commands.sign import PREPARE, SIGN
from agent.server.context import CallContext
from agent.server.rpc import error_body
from agent.signing.signer import Signer

log = logging.getLogger(__name__)


class SignBatch(Command):
    """Each item is prepared before anything is shown: a bad item fails the whole request
    with PARAMS_INVALID/DOCUMENT_TOO_LARGE and no prompt. Then one consent, one key session,
    one ``sign.progress`` notification per item and a result per item."""

    method = "sign.batch"
    signs = True

    async def run(self, ctx: CallContext, params: dict[str, Any]) -> Any:
        """Sign every item; ``stop_on_error`` skips the rest after the first failure."""
        limit = ctx.core.settings.max_document_bytes

        async def prepare() -> Prepared:
            prepared_items = []
            total = 0
            for index, item in enumerate(params["items"]):
                try:
                    consent_item, payload, digest = await PREPARE[item["kind"]](item, limit)
                except KysoError as exc:
                    exc.details.setdefault("item", index)
                    raise
                total += len(payload[0]) if item["kind"] == "xml" else 0
                if total > limit:
                    raise KysoError("DOCUMENT_TOO_LARGE", {"size": total, "limit": limit})
                prepared_items.append((item["kind"], consent_item, payload, digest))
            return Prepared(
                tuple(p[1] for p in prepared_items),
                (prepared_items, bool(params.get("stop_on_error", False))),
                count=len(prepared_items),
            )

        return await run_signing(
            ctx,
            action=self.method,
            thumbprint=params.get("certificate"),
            prepared=prepare,
            sign=self._sign_all,
        )

    @staticmethod
    async def _sign_all(signer: Signer, prepared: Prepared, ctx: CallContext) -> Any:
        items, stop_on_error = prepared.payload
        audit = ctx.core.services.audit
        results: list[dict[str, Any]] = []
        failed = False
        for index, (kind, _item, payload, digest) in enumerate(items):
            if failed and stop_on_error:
                error = KysoError("BATCH_ITEM_SKIPPED")
                results.append({"index": index, "ok": False, "error": error_body(error)})
                audit.write(_record(ctx, error.code, digest, index))
                continue
            try:
                result = await SIGN[kind](signer, payload)
            except KysoError as exc:
                failed = True
                results.append({"index": index, "ok": False, "error": error_body(exc)})
                audit.write(_record(ctx, exc.code, digest, index))
            except Exception as exc:  # one broken item must not lose the others' results
                log.exception("batch item %d failed", index)
                error = KysoError("INTERNAL_ERROR", {"detail": type(exc).__name__})
                failed = True
                results.append({"index": index, "ok": False, "error": error_body(error)})
                audit.write(_record(ctx, error.code, digest, index))
            else:
                results.append({"index": index, "ok": True, "result": result})
                audit.write(_record(ctx, "OK", digest, index))
            await ctx.notify(
                "sign.progress",
                {"request_id": ctx.request_id, "done": index + 1, "total": len(items)},
            )
        signed = sum(1 for r in results if r["ok"])
        return {
            "results": results,
            "signed": signed,
            "failed": len(results) - signed,
            "thumbprint": signer.certificate.thumbprint,
        }


def _record(ctx: CallContext, result: str, digest: str, index: int) -> AuditRecord:
    return AuditRecord(
        origin=ctx.origin,
        method="sign.batch",
        result=result,
        thumbprint=ctx.thumbprint,
        sha256=digest,
        request_id=str(ctx.request_id),
        item=index,
    )
