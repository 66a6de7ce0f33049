"""PAdES signatures with pyHanko: invisible or stamped, B-B, B-T (timestamp) or B-LT (+ DSS).

No PDF syntax is written here by hand: pyHanko adds the signature as an incremental update, so
earlier signatures keep covering their bytes. The key is a Kyso :class:`Signer` (a token, later
a remote service) reached through the same CMS bridge as ``sign.cms``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import io
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from agent.errors import KysoError
from agent.signing.cms import DelegatingCmsSigner
from agent.signing.pdf.annots import own_annots
from agent.signing.pdf.inspect import PdfFacts, PdfSource, inspect_pdf, malformed, unreadable
from agent.signing.pdf.stampfont import find_font, stamp_font
from agent.signing.signer import Signer

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_FIELD = "KysoSignature"
IO_CHUNK = 1 << 18  # bytes per read/write/hash step over the document
STAMP_SIZE = (220.0, 70.0)  # points: wide enough for "Ký bởi: <a company name>" on 2 lines


class PadesLevel(enum.StrEnum):
    """The PAdES baseline level a signature reached."""

    B_B = "PAdES-B-B"
    B_T = "PAdES-B-T"
    B_LT = "PAdES-B-LT"


@dataclass(frozen=True)
class Placement:
    """Where a visible signature goes: a page (1-based) and a box in points from bottom-left."""

    page: int
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class PdfSignOptions:
    """How to sign one PDF. Invisible unless ``placement`` or ``field_name`` of an existing empty
    field is given."""

    field_name: str | None = None  # an existing empty field, or the name of the new one
    placement: Placement | None = None
    anchor: str | None = None  # a stamp just below this text (when there is no placement)
    anchor_page: int | None = None  # look for the anchor on this page only
    reason: str | None = None
    location: str | None = None
    certify: bool = False  # DocMDP certification: no later changes allowed
    seal_png: Path | None = None  # overrides ``seals``
    seals: tuple[tuple[str, str], ...] = ()  # (certificate SHA-256 thumbprint, PNG path)
    timestamp_url: str | None = None  # B-T
    long_term: bool = False  # B-LT: certificates, CRLs and OCSP answers in the DSS
    trust_roots: tuple[bytes, ...] = ()  # DER; the chain B-LT gathers revocation data for
    ca_certs: tuple[bytes, ...] = ()  # DER CA certificates at hand (the tokens'): B-LT's chain
    font_path: Path | None = None
    now: dt.datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PdfSignResult:
    """The signed file and what it is."""

    document: bytes
    field_name: str
    level: PadesLevel
    visible: bool
    note: str | None = None  # why the level is lower than asked (B-LT fell back to B-T)


def stamp_lines(signer_name: str, mst: str | None, when: dt.datetime) -> str:
    """The Vietnamese stamp text: who, MST, and the signing time in Vietnam time."""
    local = when.astimezone(VIETNAM)
    lines = [f"Ký bởi: {signer_name}"]
    if mst:
        lines.append(f"MST: {mst}")
    lines.append(f"Ngày ký: {local:%d/%m/%Y %H:%M} (giờ Việt Nam)")
    return "\n".join(lines)


def choose_field(facts: PdfFacts, options: PdfSignOptions) -> tuple[str, bool]:
    """The field to sign and whether it already exists. Refuses a field that is signed, a
    document or field an earlier signature locks, and an existing field whose place, lock or
    seed values the request contradicts: all before the consent, never after the PIN."""
    signed = {s.field_name for s in facts.signatures}
    if facts.locked_by_certification:
        raise KysoError("PDF_CERTIFIED_NO_CHANGES")
    if options.certify and facts.signatures:
        # ISO 32000: a certification (DocMDP) signature is the document's first one.
        raise KysoError("PDF_CERTIFY_AFTER_SIGNATURE")
    name = options.field_name
    if name is not None and name in signed:
        raise KysoError("PDF_FIELD_ALREADY_SIGNED", {"field": name})
    if name is not None:
        check_name_free(facts, name)
    existing = name is not None and name in facts.empty_fields
    if name is None:
        base, n = DEFAULT_FIELD, 1
        name = base
        while name in signed or name in facts.empty_fields or name in facts.other_fields:
            n += 1
            name = f"{base}{n}"
    if any(lock.locks(name) for lock in facts.earlier_locks):
        # An earlier signer locked this field (or every field): signing it breaks theirs.
        raise KysoError("PDF_CERTIFIED_NO_CHANGES")
    if existing:
        check_existing_field(facts, options, name)
    elif options.placement is not None or options.anchor is not None:
        check_new_visible_field(facts)
    return name, existing


def check_name_free(facts: PdfFacts, name: str) -> None:
    """PDF_FIELD_REQUIREMENTS when the file's form has a field named ``name`` that is no
    signature field (text, check box, a node of other fields): pyHanko would refuse it only
    inside the signing, after the PIN ("exists but is not a /Sig field")."""
    if name in facts.other_fields:
        kind = facts.other_fields[name] or "none"
        raise KysoError(
            "PDF_FIELD_REQUIREMENTS",
            {
                "field": name,
                "detail": f"a form field of type {kind} has this name, not a signature field",
            },
        )


def check_new_visible_field(facts: PdfFacts) -> None:
    """A new visible signature field after a signature that set a DocMDP level (a
    certification with P=2 or 3, or an approval whose field /Lock has /P) is refused
    (PDF_CERTIFIED_NO_NEW_FIELD, naming the empty fields that can still be signed).

    pyHanko's diff policy (SigFieldCreationRule, default allow_new_visible_after_certify=False)
    judges such a field a change that breaks that signature, whatever its structure; an
    invisible new field or an existing empty field is accepted. Acrobat is more lenient, but a
    file one common verifier calls broken is not one Kyso writes."""
    levels = sorted({lock.permission for lock in facts.earlier_locks if lock.permission})
    if not levels:
        return
    open_fields = [
        name
        for name in facts.empty_fields
        if not any(lock.locks(name) for lock in facts.earlier_locks)
    ]
    fields = _field_list(open_fields) if open_fields else "không có / none"
    raise KysoError("PDF_CERTIFIED_NO_NEW_FIELD", {"level": levels[0], "fields": fields})


_FIELDS_NAMED = 5  # empty fields named in an error: the file decides how many there are
_NAME_CHARS = 40


def _field_list(names: list[str]) -> str:
    """Field names as an error names them: the first few, each cut short and printable only
    (the names are the file's text)."""

    def clean(name: str) -> str:
        kept = "".join(ch for ch in name if ch.isprintable())
        return kept if len(kept) <= _NAME_CHARS else kept[: _NAME_CHARS - 1] + "…"

    shown = ", ".join(f"«{clean(n)}»" for n in names[:_FIELDS_NAMED])
    more = len(names) - _FIELDS_NAMED
    return shown + (f" (+{more})" if more > 0 else "")


def check_existing_field(facts: PdfFacts, options: PdfSignOptions, name: str) -> None:
    """An existing empty field is signed where it is, as its lock and seed values say:
    a placement asked for as well would be shown and ignored (PDF_PLACEMENT_INVALID), a box
    outside the page's visible area would be shown and never seen (PDF_PLACEMENT_INVALID),
    and demands the request does not meet are PDF_FIELD_REQUIREMENTS."""
    from agent.signing.pdf.fields import field_conflict

    field = facts.empty_field(name)
    if field is None:
        return
    if options.placement is not None or options.anchor is not None:
        raise KysoError(
            "PDF_PLACEMENT_INVALID",
            {"detail": f"the field “{name}” already has its place; give a field or a position"},
        )
    if field.other_pages:
        # One widget listed by several pages is drawn on each: the consent names one page,
        # and the stamp would approve the others too (an appendix, a shifted clause).
        pages = ", ".join(str(p) for p in (field.page, *field.other_pages))
        raise KysoError(
            "PDF_PLACEMENT_INVALID",
            {
                "detail": f"the field “{name}” is drawn on several pages ({pages}); Kyso signs "
                "a field drawn on one page only"
            },
        )
    placement = field_placement(facts, name)
    if placement is not None:
        check_placement(facts, placement)
    problem = field_conflict(
        field,
        certify=options.certify,
        reason=options.reason,
        timestamp=bool(options.timestamp_url),
        long_term=options.long_term,
    )
    if problem:
        raise KysoError("PDF_FIELD_REQUIREMENTS", {"field": name, "detail": problem})


def field_placement(facts: PdfFacts, name: str) -> Placement | None:
    """Where the existing empty field ``name`` draws its stamp: its widget's page and box;
    None when it is drawn nowhere (hidden, no area) or on a page that was not found."""
    field = facts.empty_field(name)
    if field is None or field.page is None or field.box is None:
        return None
    return Placement(field.page, field.box)


def resolve_anchor(source: PdfSource, options: PdfSignOptions) -> PdfSignOptions:
    """``options`` with the anchor turned into a placement: a stamp just below the first
    occurrence of the anchor text (PDF_ANCHOR_NOT_FOUND when it is nowhere). Unchanged when
    there is no anchor or a placement is already given."""
    if options.anchor is None or options.placement is not None:
        return options
    from agent.signing.pdf.anchor import find_text, place_near

    hit = find_text(source, options.anchor, page=options.anchor_page)
    if hit is None:
        raise KysoError("PDF_ANCHOR_NOT_FOUND", {"anchor": options.anchor})
    return replace(options, placement=Placement(hit.page, place_near(hit, STAMP_SIZE)))


def seal_for(options: PdfSignOptions, thumbprint: str) -> Path | None:
    """The seal image for this certificate: ``seal_png`` if given, else the configured one."""
    if options.seal_png is not None:
        return options.seal_png
    wanted = normalize_thumbprint(thumbprint)
    for print_, path in options.seals:
        if normalize_thumbprint(print_) == wanted:
            return Path(path).expanduser()
    return None


def normalize_thumbprint(value: str) -> str:
    """Lower-case hex without separators (``AB:CD`` and ``abcd`` name the same certificate)."""
    return value.replace(":", "").replace(" ", "").lower()


def check_placement(facts: PdfFacts, placement: Placement) -> None:
    """The page exists and the box lies in its visible area (PDF_PLACEMENT_INVALID
    otherwise)."""
    if not 1 <= placement.page <= facts.pages:
        raise KysoError(
            "PDF_PLACEMENT_INVALID",
            {"detail": f"page {placement.page} of {facts.pages}"},
        )
    x1, y1, x2, y2 = placement.box
    if not (x1 < x2 and y1 < y2):  # not "outside the page": the corners are the other way
        raise KysoError(
            "PDF_PLACEMENT_INVALID",
            {
                "detail": f"box {placement.box}: give the bottom-left corner first "
                "(X1 < X2 and Y1 < Y2)",
                "detail_vi": f"khung {placement.box}: hãy ghi góc dưới bên trái trước "
                "(X1 < X2 và Y1 < Y2)",
            },
        )
    # The box is user space, as the field's /Rect: it lies inside the part of the page viewers
    # show (CropBox within MediaBox), which need not start at (0, 0) (cropped scans, some
    # office suites). A stamp outside it is in the file and seen by nobody.
    frame = facts.page_frames.get(placement.page)
    mx1, my1, mx2, my2 = frame.box if frame is not None else (0.0, 0.0, 1e6, 1e6)
    if not (mx1 <= x1 < x2 <= mx2 and my1 <= y1 < y2 <= my2):
        size = f"{mx2 - mx1:.0f}×{my2 - my1:.0f} pt"
        if (mx1, my1) != (0.0, 0.0):
            size += f" from ({mx1:g}, {my1:g})"
        raise KysoError(
            "PDF_PLACEMENT_INVALID",
            {"detail": f"box {placement.box} outside the visible page ({size})"},
        )


async def sign_pdf(
    document: bytes,
    signer: Signer,
    options: PdfSignOptions = PdfSignOptions(),
    *,
    facts: PdfFacts | None = None,
) -> PdfSignResult:
    """Sign ``document`` as PAdES with ``signer``; the level follows the options. ``facts``:
    what :func:`inspect_pdf` already found in these very bytes (read again when absent)."""
    output = io.BytesIO()
    result = await sign_pdf_stream(io.BytesIO(document), output, signer, options, facts=facts)
    return replace(result, document=output.getvalue())


async def sign_pdf_stream(
    source: BinaryIO,
    output: BinaryIO,
    signer: Signer,
    options: PdfSignOptions = PdfSignOptions(),
    *,
    facts: PdfFacts | None = None,
) -> PdfSignResult:
    """Sign the PDF read from ``source`` (seekable) into ``output`` (``w+b``: pyHanko reads
    back what it wrote to fill in the signature), without holding either in memory. The
    result's ``document`` is empty: the signed file is ``output``."""
    if options.anchor is not None and options.placement is None:
        options = resolve_anchor(source, options)
        facts = None  # the page the anchor is on needs its size
    if facts is None:
        facts = inspect_pdf(source, size_of_pages=_pages_of(options))
    field_name, existing = choose_field(facts, options)
    visible = options.placement is not None or existing
    if options.placement is not None:
        check_placement(facts, options.placement)
    now = options.now or dt.datetime.now(dt.UTC)
    note = None
    async with contextlib.AsyncExitStack() as stack:
        context = None
        if options.long_term:
            from agent.signing.pdf.longterm import NO_TIMESTAMP_LINE, long_term_context

            note = NO_TIMESTAMP_LINE
            if options.timestamp_url:
                context, note = await stack.enter_async_context(
                    long_term_context(
                        signer.certificate.der,
                        options.trust_roots,
                        options.ca_certs,
                        now,
                        timestamp_url=options.timestamp_url,
                    )
                )
            if context is None:
                options = replace(options, long_term=False)
        rotate = _rotation(facts, options, field_name)
        target = _Target(field_name, existing, visible, rotate, facts.pages, facts.pdfa_part == 1)
        level = await _sign_into(source, output, signer, options, target, now, context)
    return PdfSignResult(b"", field_name, level, visible, note)


@dataclass(frozen=True)
class _Target:
    """Where the signature goes: the field, whether it exists and is drawn, and the /Rotate
    of its page (the stamp is drawn upright for the reader: agent.signing.pdf.upright)."""

    field_name: str
    existing: bool
    visible: bool
    rotate: int = 0
    page_count: int = 0
    opaque: bool = False  # PDF/A-1 forbids transparency: the seal drawn opaque, no soft mask


def _rotation(facts: PdfFacts, options: PdfSignOptions, field_name: str) -> int:
    """The /Rotate (0, 90, 180, 270) of the page the stamp goes on; 0 when not known."""
    field = facts.empty_field(field_name)
    page = field.page if field is not None else None
    if page is None and options.placement is not None:
        page = options.placement.page
    frame = facts.page_frames.get(page) if page is not None else None
    return frame.rotate % 360 if frame is not None else 0


async def _sign_into(
    source: BinaryIO,
    output: BinaryIO,
    signer: Signer,
    options: PdfSignOptions,
    target: _Target,
    now: dt.datetime,
    context: Any,
) -> PadesLevel:
    """pyHanko's part: the field (``target``), stamp and signature."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import FormFillingError
    from pyhanko.sign import fields, signers

    field_name, existing, visible = target.field_name, target.existing, target.visible
    algorithm = signer.default_algorithm("sha256")
    cms_signer = DelegatingCmsSigner(signer, algorithm, ())
    timestamper, level = _timestamper(options)
    meta = _metadata(options, field_name, now, context)
    new_field = None
    if options.placement is not None and not existing:
        x1, y1, x2, y2 = options.placement.box
        new_field = fields.SigFieldSpec(
            field_name,
            on_page=options.placement.page - 1,
            box=(int(x1), int(y1), int(x2), int(y2)),
        )
    seal = seal_for(options, signer.certificate.thumbprint)
    stamp_style = (
        _stamp_style(replace(options, seal_png=seal), target.rotate, opaque=target.opaque)
        if visible
        else None
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer=cms_signer,
        timestamper=timestamper,
        stamp_style=stamp_style,
        new_field_spec=new_field,
    )
    cert = signer.certificate
    text_params = {"kyso": stamp_lines(cert.subject_cn or cert.subject_display, cert.mst, now)}
    source.seek(0)
    writer = IncrementalPdfFileWriter(source, strict=False)
    # pyHanko copies and hashes in 4 KB steps: 25 000 Python-level steps for a 50 MB file when
    # the output is a file (its CLI hashes one in-memory buffer). 256 KB steps: same bytes.
    writer.IO_CHUNK_SIZE = IO_CHUNK
    try:
        if new_field is not None:
            own_annots(writer, new_field.on_page, target.page_count)
        await pdf_signer.async_sign_pdf(
            writer,
            existing_fields_only=existing,
            appearance_text_params=text_params if visible else None,
            output=output,
            chunk_size=IO_CHUNK,
        )
    except KysoError:
        raise
    except FormFillingError as exc:  # SigningError, or a field of another type with the name
        if timestamper is not None and "larger than expected" in str(exc):
            # The room for the signature is sized from the authority's test token: a real one
            # much larger (an authority changing its answer) does not fit. The authority's
            # fault, not the file's.
            detail = "its token was larger than its test token, the signature did not fit"
            raise KysoError(
                "TIMESTAMP_ANSWER_INVALID", {"url": options.timestamp_url or "", "detail": detail}
            ) from exc
        raise KysoError("PDF_SIGN_FAILED", {"detail": str(exc)}) from exc
    except OSError as exc:  # the timestamp authority or a revocation source did not answer
        raise KysoError("TIMESTAMP_UNAVAILABLE", {"url": options.timestamp_url or ""}) from exc
    except unreadable() as exc:
        # inspect_pdf rehearses what pyHanko reads, so this is a shape it did not reach (an
        # existing field's widget, say): still a code, never a traceback.
        raise malformed(exc) from exc
    return level


def _timestamper(options: PdfSignOptions) -> tuple[Any, PadesLevel]:
    """The RFC 3161 client, and the level the options reach (B-LT needs a timestamp)."""
    if not options.timestamp_url:
        return None, PadesLevel.B_B
    from agent.signing.tsa import CheckedTimeStamper

    stamper = CheckedTimeStamper(options.timestamp_url)
    return stamper, PadesLevel.B_LT if options.long_term else PadesLevel.B_T


def _metadata(
    options: PdfSignOptions, field_name: str, now: dt.datetime, context: Any = None
) -> Any:
    """pyHanko's signature metadata: PAdES, SHA-256, DocMDP, and the DSS for B-LT."""
    from pyhanko.sign import fields, signers

    return signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=options.reason,
        location=options.location,
        certify=options.certify,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES
        if options.certify
        else fields.MDPPerm.FILL_FORMS,
        embed_validation_info=options.long_term,
        validation_context=context if options.long_term else None,
    )


def _pages_of(options: PdfSignOptions) -> tuple[int, ...]:
    return (options.placement.page,) if options.placement is not None else ()


def _stamp_style(options: PdfSignOptions, rotate: int = 0, *, opaque: bool = False) -> Any:
    """pyHanko's stamp: the Vietnamese text, a red border, the seal behind it (at 90 % so the
    text over it reads; ``opaque``: at 100 %, its transparent parts made white, for PDF/A-1)."""
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
    from pyhanko.pdf_utils.text import TextBoxStyle

    from agent.signing.pdf.upright import UprightTextStampStyle

    font = GlyphAccumulatorFactory(str(stamp_font(find_font(options.font_path))))
    background = None
    if options.seal_png is not None:
        from PIL import Image
        from pyhanko.pdf_utils.images import PdfImage

        try:
            image = Image.open(options.seal_png)
            if opaque:
                image = _on_white(image)
            background = PdfImage(image)
        except OSError as exc:
            raise KysoError("PDF_SEAL_UNREADABLE", {"path": str(options.seal_png)}) from exc
    return UprightTextStampStyle(
        rotate=rotate,
        stamp_text="%(kyso)s",
        text_box_style=TextBoxStyle(font=font, font_size=10),
        border_width=1,
        border_color=(0.75, 0.0, 0.0),
        background=background,
        background_opacity=1.0 if opaque else 0.9,
    )


def _on_white(image: Any) -> Any:
    """``image`` with its transparency flattened onto white: no soft mask (PDF/A-1)."""
    from PIL import Image

    rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat
