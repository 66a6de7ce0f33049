"""sign.xml, sign.cms and sign.hash: one document (or hash), one consent, one PIN."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from agent.server.commands.base import Command, Prepared, b64, decode_b64, run_signing
from agent.server.consent import data_item, digest_item, xml_item
from agent.server.context import CallContext
from agent.signing.signer import Signer
from agent.tokens.algorithms import SignatureAlgorithm
from agent.ui.api import ConsentItem

# Documents above this are hashed and summarised on a thread, keeping the loop responsive.
_THREAD_THRESHOLD = 1024 * 1024


async def _offload(func: Any, *args: Any, size: int, **kwargs: Any) -> Any:
    if size > _THREAD_THRESHOLD:
        return await asyncio.to_thread(func, *args, **kwargs)
    return func(*args, **kwargs)


def parse_algorithm(name: str | None) -> SignatureAlgorithm | None:
    """A wire name (RSA_PKCS1_SHA256) or a JOSE name (RS256); None for the key's default."""
    if name is None:
        return None
    if name in SignatureAlgorithm.__members__.values():
        return SignatureAlgorithm(name)
    return SignatureAlgorithm.from_jose(name)


# ---- per-kind preparation, shared with sign.batch ---------------------------------------------


async def prepare_xml(params: dict[str, Any], limit: int) -> tuple[ConsentItem, Any, str]:
    """Decode and summarise a dossier; returns (consent item, payload, sha256)."""
    from agent.signing.xml.profiles import get_profile

    profile = params.get("profile", "bhxh")
    get_profile(profile)  # an unknown profile fails here, before any prompt
    document = decode_b64(params["document"], "document", limit=limit)
    item = await _offload(xml_item, document, params.get("label"), size=len(document))
    digest = item.sha256 or await _offload(_sha256, document, size=len(document))
    return item, (document, profile, limit), digest


async def prepare_cms(params: dict[str, Any], limit: int) -> tuple[ConsentItem, Any, str]:
    """Decode data or digest for CMS."""
    hash_name = params.get("hash", "sha256")
    detached = params.get("detached", True)
    label = params.get("label")
    if "data" in params:
        data = decode_b64(params["data"], "data", limit=limit)
        item = await _offload(data_item, data, detached=detached, label=label, size=len(data))
        return item, {"data": data, "detached": detached, "hash_name": hash_name}, item.sha256
    digest = decode_b64(params["digest"], "digest", limit=1024)
    item = digest_item(digest, hash_name, label)
    payload = {"digest": digest, "detached": detached, "hash_name": hash_name}
    return item, payload, digest.hex()


async def prepare_hash(params: dict[str, Any], limit: int) -> tuple[ConsentItem, Any, str]:
    """Decode a digest and its optional algorithm."""
    digest = decode_b64(params["digest"], "digest", limit=1024)
    algorithm = parse_algorithm(params.get("algorithm"))
    hash_name = (
        algorithm.hash_name
        if algorithm
        else {20: "sha1", 48: "sha384", 64: "sha512"}.get(len(digest), "sha256")
    )
    return digest_item(digest, hash_name, params.get("label")), (digest, algorithm), digest.hex()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def sign_xml_payload(signer: Signer, payload: Any) -> dict[str, Any]:
    """Sign a dossier with the XML profile; the signed document comes back as base64."""
    try:
        from agent.signing.xml import sign_xml
    except ImportError:  # older layout: the function lives in the signer module
        from agent.signing.xml.signer import sign_xml

    document, profile, limit = payload
    signed = await sign_xml(document, signer, profile, max_bytes=limit)
    return {"document": b64(signed), "thumbprint": signer.certificate.thumbprint}


async def sign_cms_payload(signer: Signer, payload: Any) -> dict[str, Any]:
    """Make a CMS SignedData (DER, base64 on the wire)."""
    from agent.signing.cms import sign_cms

    cms = await sign_cms(signer, **payload)
    return {"cms": b64(cms), "thumbprint": signer.certificate.thumbprint}


async def sign_hash_payload(signer: Signer, payload: Any) -> dict[str, Any]:
    """A bare signature over a digest, with the algorithm used and the certificate."""
    from agent.signing.raw import sign_hash

    digest, algorithm = payload
    signature, used = await sign_hash(signer, digest, algorithm)
    return {
        "signature": b64(signature),
        "algorithm": used.value,
        "jose_algorithm": used.jose_name,
        "certificate": b64(signer.certificate.der),
        "thumbprint": signer.certificate.thumbprint,
    }


PREPARE = {"xml": prepare_xml, "cms": prepare_cms, "hash": prepare_hash}
SIGN = {"xml": sign_xml_payload, "cms": sign_cms_payload, "hash": sign_hash_payload}


class _SingleSign(Command):
    kind: str
    signs = True

    async def run(self, ctx: CallContext, params: dict[str, Any]) -> Any:
        """Prepare (no prompt yet), then the signing pipeline."""
        sign = SIGN[self.kind]

        async def prepare() -> Prepared:
            item, payload, digest = await PREPARE[self.kind](
                params, ctx.core.settings.max_document_bytes
            )
            return Prepared((item,), payload, sha256=digest)

        async def do_sign(signer: Signer, prepared: Prepared, ctx: CallContext) -> Any:
            return await sign(signer, prepared.payload)

        return await run_signing(
            ctx,
            action=self.method,
            thumbprint=params.get("certificate"),
            prepared=prepare,
            sign=do_sign,
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
    """sign.hash {digest, algorithm?, certificate?} -> {signature, algorithm, certificate}."""

    method = "sign.hash"
    kind = "hash"
