"""One small typed object per kind of thing a page asks to sign.

Each payload is built from validated params (decoding and summarising, before any prompt), knows
what the user will see (its consent item), how big it is and its SHA-256 for the audit line, and
signs itself with a :class:`Signer`: one hand-off to the token per signature. Single calls and
``sign.batch`` items are the same objects, so a rule on a kind holds on every path.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar

from agent.errors import KysoError, invalid_input
from agent.server.commands.base import b64, decode_b64
from agent.server.consent import data_item, digest_item, looks_like_pdf, pdf_item, xml_item
from agent.server.context import CallContext
from agent.signing.signer import Signer
from agent.tokens.algorithms import SignatureAlgorithm, check_digest_length, hash_for_length
from agent.tokens.certinfo import CertificateInfo
from agent.ui.api import ConsentItem

# Documents above this are hashed and summarised on a thread, keeping the loop responsive.
_THREAD_THRESHOLD = 1024 * 1024
_T = TypeVar("_T")


async def _offload(func: Callable[..., _T], *args: Any, size: int, **kwargs: Any) -> _T:
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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Payload(abc.ABC):
    """Something a page asked to sign, decoded and summarised."""

    kind: ClassVar[str]
    item: ConsentItem
    sha256: str  # of the document, or the page's digest, for the audit line
    size: int  # decoded bytes held in memory (batch limits)

    @classmethod
    @abc.abstractmethod
    async def prepare(cls, params: dict[str, Any], ctx: CallContext) -> Payload:
        """Decode and summarise validated params; errors carry their codes, no prompt yet."""

    @abc.abstractmethod
    async def sign(self, signer: Signer) -> dict[str, Any]:
        """Sign with ``signer`` and return the JSON result for the page."""

    def check_certificate(self, certificate: CertificateInfo) -> None:  # noqa: B027 - a hook
        """Refuse, before consent and PIN, a certificate this payload cannot be signed with.
        Most kinds can be signed with any signing key."""


@dataclass(frozen=True)
class XmlPayload(Payload):
    """A dossier signed in place with an XML-DSig profile (bhxh, tax, generic)."""

    kind: ClassVar[str] = "xml"
    item: ConsentItem
    sha256: str
    size: int
    document: bytes
    profile: str
    limit: int
    # allow_ecdsa: the page says its portal verifies ECDSA (bhxh/tax refuse EC keys otherwise)
    options: tuple[tuple[str, bool], ...] = ()
    timestamp_url: str | None = None  # the agent's TSA, when the profile asks for a timestamp

    @classmethod
    async def prepare(cls, params: dict[str, Any], ctx: CallContext) -> XmlPayload:
        """Check the profile, decode and summarise the dossier (on a thread when large)."""
        from agent.signing.xml import check_portal_verifier
        from agent.signing.xml.profiles import get_profile

        limit = ctx.core.settings.max_document_bytes
        profile = params.get("profile", "bhxh")
        options = (("allow_ecdsa", True),) if params.get("allow_ecdsa") else ()
        # An unknown profile, or a required timestamp without an authority, fails here, before
        # any prompt.
        tsa = get_profile(profile, **dict(options)).timestamp_url(
            ctx.core.settings.timestamp_url, params.get("timestamp")
        )
        document = decode_b64(params["document"], "document", limit=limit)
        item = await _offload(
            xml_item, document, params.get("label"), ctx.origin, size=len(document)
        )
        # A dossier the profile's .NET portal would misread (XML_DOTNET_MISREAD): before any prompt.
        await _offload(
            check_portal_verifier, document, profile, max_bytes=limit, size=len(document)
        )
        digest = item.sha256 or await _offload(_sha256, document, size=len(document))
        return cls(item, digest, len(document), document, profile, limit, options, tsa)

    def check_certificate(self, certificate: CertificateInfo) -> None:
        """bhxh and tax refuse an EC key (.NET portals cannot verify ECDSA) unless allowed."""
        from agent.signing.xml.profiles import get_profile

        profile = get_profile(self.profile, **dict(self.options))
        profile.check_algorithms(ecdsa=certificate.key_type == "EC")

    async def sign(self, signer: Signer) -> dict[str, Any]:
        """The signed document, base64."""
        from agent.signing.xml import sign_xml

        signed = await sign_xml(
            self.document,
            signer,
            self.profile,
            max_bytes=self.limit,
            timestamp_url=self.timestamp_url,
            **dict(self.options),
        )
        return {"document": b64(signed), "thumbprint": signer.certificate.thumbprint}


@dataclass(frozen=True)
class CmsPayload(Payload):
    """A CMS SignedData over data, or over the page's digest of it (detached)."""

    kind: ClassVar[str] = "cms"
    item: ConsentItem
    sha256: str
    size: int
    data: bytes | None
    digest: bytes | None
    detached: bool
    hash_name: str
    timestamp_url: str | None = None  # the agent's TSA: CAdES-T

    @classmethod
    async def prepare(cls, params: dict[str, Any], ctx: CallContext) -> CmsPayload:
        """Decode the data (summarised) or the digest (shown as a bare hash)."""
        hash_name = params.get("hash", "sha256")
        detached = params.get("detached", True)
        label = params.get("label")
        tsa = ctx.core.settings.timestamp_url or None
        if "data" in params:
            limit = ctx.core.settings.max_document_bytes
            data = decode_b64(params["data"], "data", limit=limit)
            # A CMS over a PDF's bytes is a PAdES signature the page can put into the PDF: the
            # user would sign a document shown only as "data". sign.pdf shows it; bare CMS over
            # a PDF is for origins trusted with bare hashes (they can sign anything anyway).
            is_pdf = await _offload(looks_like_pdf, data, size=len(data))
            if is_pdf and not ctx.core.settings.raw_hash_allowed(ctx.origin):
                raise KysoError("CMS_DATA_IS_PDF", {"origin": ctx.origin})
            item = await _offload(
                data_item,
                data,
                detached=detached,
                label=label,
                origin=ctx.origin,
                is_pdf=is_pdf,
                size=len(data),
            )
            return cls(item, item.sha256, len(data), data, None, detached, hash_name, tsa)
        # Over a page's digest nobody can show what is signed, and the CMS is a signature on
        # any content the page likes (a PDF, a contract): allowed where sign.hash is, only.
        if not ctx.core.settings.raw_hash_allowed(ctx.origin):
            raise KysoError("SIGN_HASH_NOT_ALLOWED", {"origin": ctx.origin})
        digest = decode_b64(params["digest"], "digest", limit=1024)
        # A digest that is not the named hash's length is refused before the consent shows it.
        check_digest_length(digest, hash_name)
        item = digest_item(digest, hash_name, label)
        return cls(item, digest.hex(), len(digest), None, digest, detached, hash_name, tsa)

    async def sign(self, signer: Signer) -> dict[str, Any]:
        """DER CMS, base64."""
        from agent.signing.cms import sign_cms

        cms = await sign_cms(
            signer,
            data=self.data,
            digest=self.digest,
            detached=self.detached,
            hash_name=self.hash_name,
            timestamp_url=self.timestamp_url,
        )
        return {"cms": b64(cms), "thumbprint": signer.certificate.thumbprint}


@dataclass(frozen=True)
class HashPayload(Payload):
    """A bare signature over a digest the page computed: only for origins configured for it."""

    kind: ClassVar[str] = "hash"
    item: ConsentItem
    sha256: str
    size: int
    digest: bytes
    algorithm: SignatureAlgorithm | None

    @classmethod
    async def prepare(cls, params: dict[str, Any], ctx: CallContext) -> HashPayload:
        """Refuse unless configuration names the origin; decode the digest."""
        if not ctx.core.settings.raw_hash_allowed(ctx.origin):
            raise KysoError("SIGN_HASH_NOT_ALLOWED", {"origin": ctx.origin})
        digest = decode_b64(params["digest"], "digest", limit=1024)
        algorithm = parse_algorithm(params.get("algorithm"))
        hash_name = algorithm.hash_name if algorithm else hash_for_length(len(digest))
        # The consent names the hash: a digest of another length is refused before it shows.
        check_digest_length(digest, hash_name)
        item = digest_item(digest, hash_name, params.get("label"))
        return cls(item, digest.hex(), len(digest), digest, algorithm)

    def check_certificate(self, certificate: CertificateInfo) -> None:
        """An algorithm the page named must fit the chosen key: refused before consent and PIN."""
        if self.algorithm is not None and self.algorithm.key_kind.value != certificate.key_type:
            raise invalid_input(
                f"{self.algorithm.value} does not fit a {certificate.key_type} key",
                f"thuật toán {self.algorithm.value} không phù hợp với khóa {certificate.key_type}",
            )

    async def sign(self, signer: Signer) -> dict[str, Any]:
        """The signature, the algorithm used and the certificate."""
        from agent.signing.raw import sign_hash

        signature, used = await sign_hash(signer, self.digest, self.algorithm)
        return {
            "signature": b64(signature),
            "algorithm": used.value,
            "jose_algorithm": used.jose_name,
            "certificate": b64(signer.certificate.der),
            "thumbprint": signer.certificate.thumbprint,
        }


@dataclass(frozen=True)
class PdfPayload(Payload):
    """A PDF signed as PAdES, visible or not; a timestamp when the agent has a TSA."""

    kind: ClassVar[str] = "pdf"
    item: ConsentItem
    sha256: str
    size: int
    document: bytes
    options: Any  # agent.signing.pdf.PdfSignOptions (imported lazily: pyHanko is heavy)
    facts: Any  # agent.signing.pdf.PdfFacts of these bytes

    @classmethod
    async def prepare(cls, params: dict[str, Any], ctx: CallContext) -> PdfPayload:
        """Decode, inspect (refusing encrypted/broken files) and summarise for the consent."""
        from agent.signing.pdf import PdfSignOptions, Placement
        from agent.signing.pdf.preview import consent_preview
        from agent.signing.pdf.sign import check_placement, choose_field, field_placement

        settings = ctx.core.settings
        document = decode_b64(params["document"], "document", limit=settings.max_document_bytes)
        placement = None
        where = params.get("placement", {})
        if "box" in where:
            x1, y1, x2, y2 = (float(v) for v in where["box"])
            placement = Placement(int(where["page"]), (x1, y1, x2, y2))
        timestamp_url = settings.timestamp_url if params.get("timestamp", True) else None
        long_term = bool(timestamp_url) and settings.pdf_long_term
        options = PdfSignOptions(
            field_name=params.get("field"),
            placement=placement,
            anchor=where.get("anchor"),
            # 1.0 is an integer to the schema (JSON has one number type): a page number here.
            anchor_page=int(where["page"]) if "anchor" in where and "page" in where else None,
            reason=params.get("reason"),
            location=params.get("location"),
            certify=bool(params.get("certify", False)),
            timestamp_url=timestamp_url,
            long_term=long_term,
            # The tokens' CA certificates lead B-LT's chain to its root (docs/protocol.md).
            ca_certs=tuple(
                c.info.der for c in await ctx.core.certs.token_certificates() if c.info.is_ca
            )
            if long_term
            else (),
            seals=settings.pdf_seals,
        )
        # Always on a thread, whatever the size: a small file can keep pyHanko busy for
        # seconds (45,000 annotations in object streams fit in 1 MB), and the loop serves
        # every other page meanwhile.
        options, facts = await asyncio.to_thread(_inspect_pdf, document, options)
        placement = options.placement
        if placement is not None:
            check_placement(facts, placement)
        field_name, existing = choose_field(facts, options)
        item = pdf_item(
            facts,
            params.get("label"),
            placement,
            field_name if existing else None,
            reason=options.reason,
            location=options.location,
            certify=options.certify,
        )
        # Where the stamp lands (an existing field: where it is), as a picture; a subprocess,
        # so always off the event loop.
        shown = field_placement(facts, field_name) if existing else placement
        preview = await asyncio.to_thread(consent_preview, document, facts, shown)
        item = replace(item, preview_png=preview)
        return cls(item, facts.sha256, len(document), document, options, facts)

    async def sign(self, signer: Signer) -> dict[str, Any]:
        """The signed PDF, base64, with the PAdES level reached."""
        from agent.signing.pdf import sign_pdf

        result = await sign_pdf(self.document, signer, self.options, facts=self.facts)
        return {
            "document": b64(result.document),
            "level": str(result.level),
            "field": result.field_name,
            "visible": result.visible,
            "thumbprint": signer.certificate.thumbprint,
            **({"note": result.note} if result.note else {}),
        }


def _inspect_pdf(document: bytes, options: Any) -> tuple[Any, Any]:
    """``options`` with a text anchor resolved to a placement, and the PDF's facts (with the
    placed page's size): the whole file read once. Blocking: run it on a thread."""
    from agent.signing.pdf import inspect_pdf
    from agent.signing.pdf.inspect import open_reader
    from agent.signing.pdf.sign import resolve_anchor

    if options.anchor is not None:
        # Broken or encrypted files are refused by our own reader before pypdf reads text.
        open_reader(document)
        options = resolve_anchor(document, options)
    pages = (options.placement.page,) if options.placement else ()
    facts = inspect_pdf(document, size_of_pages=pages)
    from agent.signing.pdf.overlay import stamp_check_needed

    if stamp_check_needed(facts, options):
        options = _keep_what_is_shown_clear(document, options, bool(facts.signatures))
    return options, facts


def _keep_what_is_shown_clear(document: bytes, options: Any, earlier_signers: bool) -> Any:
    """An earlier signature, or on a first signature the document's own text, must not end up
    under the new stamp (a signature would read NOT VALID; words would no longer read): refused,
    or an anchored stamp moved down to the first empty place."""
    from agent.signing.pdf.overlay import check_stamp_clear
    from agent.signing.pdf.sign import Placement

    placement = options.placement
    place = (placement.page, placement.box) if placement is not None else None
    moved = check_stamp_clear(
        io.BytesIO(document),
        place,
        field=options.field_name,
        slide_down=options.anchor is not None,
        earlier_signers=earlier_signers,
    )
    if moved is None or moved == place:
        return options
    return replace(options, placement=Placement(*moved))


PAYLOADS: dict[str, type[Payload]] = {
    p.kind: p for p in (XmlPayload, CmsPayload, HashPayload, PdfPayload)
}


async def prepare_payload(kind: str, params: dict[str, Any], ctx: CallContext) -> Payload:
    """The typed payload for ``kind``: single calls and batch items both come through here."""
    return await PAYLOADS[kind].prepare(params, ctx)
