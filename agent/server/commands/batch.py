"""sign.batch: N documents under ONE consent (listing them all) and ONE PIN entry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from agent.errors import KysoError
from agent.server.audit import AuditRecord, call_record
from agent.server.commands.base import Command, Prepared, run_signing
from agent.server.commands.payloads import Payload, prepare_payload
from agent.server.context import CallContext
from agent.server.rpc import error_body
from agent.signing.signer import Signer
from agent.tokens.certinfo import CertificateInfo

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
            payloads: list[Payload] = []
            total = 0
            for index, item in enumerate(params["items"]):
                try:
                    payload = await prepare_payload(item["kind"], item, ctx)
                except KysoError as exc:
                    exc.details.setdefault("item", index)
                    raise
                total += payload.size
                if total > limit:
                    raise KysoError("DOCUMENT_TOO_LARGE", {"size": total, "limit": limit})
                payloads.append(payload)

            def check(certificate: CertificateInfo) -> None:
                for payload in payloads:
                    payload.check_certificate(certificate)

            return Prepared(
                tuple(p.item for p in payloads),
                (tuple(payloads), bool(params.get("stop_on_error", False))),
                count=len(payloads),
                check=check,
            )

        return await run_signing(
            ctx,
            action=self.method,
            thumbprint=params.get("certificate"),
            certificate_filter=params.get("certificate_filter"),
            prepared=prepare,
            sign=self._sign_all,
        )

    @staticmethod
    async def _sign_all(signer: Signer, prepared: Prepared, ctx: CallContext) -> Any:
        payloads: tuple[Payload, ...]
        payloads, stop_on_error = prepared.payload
        audit = ctx.core.services.audit
        results: list[dict[str, Any] | None] = [None] * len(payloads)
        failed = False
        unrecorded = False  # an item's record could not be stored: no further signature
        done = 0
        # Records are written one item at a time, in the order items end: a remote batch's
        # items end together, and the check before handing out a signature must see the
        # record before it.
        recording = asyncio.Lock()
        stop_pending: Callable[[KysoError], None] = _nothing_pending

        async def one(index: int, payload: Payload) -> None:
            nonlocal failed, unrecorded, done
            error: KysoError | None = None
            if failed and stop_on_error:
                error = KysoError("BATCH_ITEM_SKIPPED")
            elif unrecorded or audit.healthy is False:
                # The check ran once for the request; a record that failed since means the
                # next signature would have none either (the one made is kept: it exists).
                error = _audit_unavailable(ctx)
            else:
                result, error = await _sign_item(ctx, signer, payload, index)
            if error is not None and stop_on_error:
                # At once, before this item's record: the items of a remote batch waiting to
                # be authorised are skipped, as a token batch's later items are.
                stop_pending(KysoError("BATCH_ITEM_SKIPPED"))
            async with recording:
                if error is None and (unrecorded or audit.healthy is False):
                    # Signed together with an item whose record failed (a remote batch): the
                    # signature is not handed out, as no record would cover it.
                    error = _audit_unavailable(ctx)
                if error is None:
                    results[index] = {"index": index, "ok": True, "result": result}
                else:
                    failed = True
                    results[index] = {"index": index, "ok": False, "error": error_body(error)}
                code = "OK" if error is None else error.code
                # On the log's thread, in order with every other record; awaited before the
                # next item, so a failed record stops the signing here.
                record = _record(ctx, code, payload.sha256, index, payload.kind)
                if not await audit.write_async(record):
                    unrecorded = True
                    stop_pending(_audit_unavailable(ctx))
            done += 1
            await ctx.notify(
                "sign.progress",
                {"request_id": ctx.request_id, "done": done, "total": len(payloads)},
            )

        from agent.signing.remote import RemoteSigner  # only a batch needs it, at first use

        if isinstance(signer, RemoteSigner):
            # A remote key: every item runs at once and their hashes are signed together, one
            # authorisation (one PIN/OTP) per ``multisign`` of them, not one per item. After a
            # failure the signer sends nothing more; items already signed are kept. With
            # stop_on_error nothing is authorised before every item has reached its signature
            # or failed (patient), so a failure here skips the rest as in a token batch.
            async with signer.collect(len(payloads), patient=stop_on_error) as batch:
                stop_pending = batch.stop
                await asyncio.gather(*(batch.run(one(i, p)) for i, p in enumerate(payloads)))
        else:
            for index, payload in enumerate(payloads):  # a token signs one at a time anyway
                await one(index, payload)
        return _summary([r for r in results if r is not None], signer, ctx)


def _summary(final: list[dict[str, Any]], signer: Signer, ctx: CallContext) -> dict[str, Any]:
    """The batch's answer; a batch that signed nothing has its own record say so, with the
    first item's reason (each item's record says its own)."""
    signed = sum(1 for r in final if r["ok"])
    if final and not signed:
        ctx.extra["audit_result"] = final[0]["error"]["data"]["code"]
    return {
        "results": final,
        "signed": signed,
        "failed": len(final) - signed,
        "thumbprint": signer.certificate.thumbprint,
    }


def _nothing_pending(error: KysoError) -> None:
    """A token batch signs its items one at a time: none waits to be stopped."""


async def _sign_item(
    ctx: CallContext, signer: Signer, payload: Payload, index: int
) -> tuple[Any, KysoError | None]:
    """One item's signature, or why it failed (one broken item must not lose the others')."""
    try:
        return await payload.sign(signer), None
    except asyncio.CancelledError:
        # The page went away (the site was revoked, the agent is stopping) while the token had
        # this item: it may have signed it all the same (a call on the token's thread runs to
        # its end), so its digest is on record too, not only the batch's end.
        record = _record(ctx, ctx.cancelled_because(), payload.sha256, index, payload.kind)
        await ctx.core.services.audit.write_async(record)
        raise
    except KysoError as exc:
        return None, exc
    except Exception as exc:
        log.exception("batch item %d failed", index)
        return None, KysoError("INTERNAL_ERROR", {"detail": type(exc).__name__})


def _audit_unavailable(ctx: CallContext) -> KysoError:
    return KysoError("AUDIT_UNAVAILABLE", {"path": ctx.core.services.audit.shown_path()})


def _record(ctx: CallContext, result: str, digest: str, index: int, kind: str) -> AuditRecord:
    return call_record(
        origin=ctx.origin,
        method="sign.batch",
        result=result,
        request_id=ctx.request_id,
        ctx=ctx,
        kind=kind,
        sha256=digest,
        item=index,
    )
