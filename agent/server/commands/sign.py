"""sign.xml, sign.cms, sign.hash and sign.pdf: one document (or hash), one consent, one PIN."""

from __future__ import annotations

from typing import Any

from agent.server.commands.base import Command, Prepared, run_signing
from agent.server.commands.payloads import Payload, prepare_payload
from agent.server.context import CallContext
from agent.signing.signer import Signer


class _SingleSign(Command):
    kind: str
    signs = True

    async def run(self, ctx: CallContext, params: dict[str, Any]) -> Any:
        """Prepare the payload (no prompt yet), then the signing pipeline."""

        async def prepare() -> Prepared:
            payload = await prepare_payload(self.kind, params, ctx)
            return Prepared(
                (payload.item,),
                payload,
                sha256=payload.sha256,
                check=payload.check_certificate,
            )

        async def sign(signer: Signer, prepared: Prepared, ctx: CallContext) -> Any:
            payload: Payload = prepared.payload
            return await payload.sign(signer)

        return await run_signing(
            ctx,
            action=self.method,
            thumbprint=params.get("certificate"),
            certificate_filter=params.get("certificate_filter"),
            prepared=prepare,
            sign=sign,
        )


class SignXml(_SingleSign):
    """sign.xml {profile, document, certificate?} -> {document}."""

    method = "sign.xml"
    kind = "xml"


class SignCms(_SingleSign):
    """sign.cms {data | digest, detached?, hash?, certificate?} -> {cms}."""

    method = "sign.cms"
    kind = "cms"


class SignHash(_SingleSign):
    """sign.hash {digest, algorithm?, certificate?} -> {signature, algorithm, certificate}.
    Only for origins named in ``sign_hash_origins``."""

    method = "sign.hash"
    kind = "hash"


class SignPdf(_SingleSign):
    """sign.pdf {document, label?, placement? | field?, reason?, certify?, timestamp?,
    certificate?} -> {document, level, field, visible}."""

    method = "sign.pdf"
    kind = "pdf"
