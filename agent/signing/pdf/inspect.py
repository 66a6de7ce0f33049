"""What a PDF is before it is signed: pages, title, earlier signatures, risky content. Pure.

Everything here reads; nothing writes (the rehearsal of a signature changes objects in memory
only). The facts feed the consent ("what you see is what you sign") and the refusals with their
codes (encrypted, broken, already-signed field). A PDF with a broken cross-reference table is
refused, never repaired: a signature covers the exact bytes, and a silently rebuilt file is not
the file the user chose.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import struct
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO, cast

from agent.errors import KysoError
from agent.signing.pdf.active import EMBEDDED_FILES, INCOMPLETE, JAVASCRIPT, KINDS, scan_active
from agent.signing.pdf.fields import (
    MAX_PAGES,
    EmptyField,
    FieldLock,
    FieldTreeUnusual,
    PageTreeUnusual,
    check_field_paths,
    deref,
    earlier_locks,
    normalised_box,
    other_fields,
    page_leaves,
    read_empty_field,
    widget_pages,
)
from agent.signing.pdf.metadata import pdf_text, read_xmp
from agent.signing.pdf.syntax import (
    read_every_object,
    refuse_repeats,
    repeated_keys,
    trailer_repeats,
)

PDF_MAGIC = b"%PDF-"
_CHUNK = 1 << 18  # bytes per hashing step: large enough that Python's per-step cost vanishes


@dataclass(frozen=True)
class EarlierSignature:
    """A signature already in the document: its field and who made it."""

    field_name: str
    signer: str
    certifying: bool
    # The file was changed after it beyond filling in forms and adding signatures (content,
    # annotations drawn over the page), or its bytes no longer match it: the person is not
    # looking at what this signer signed.
    changed_after: bool = False


@dataclass(frozen=True)
class PageFrame:
    """The part of a page viewers show, in user space (CropBox ∩ MediaBox: a stamp outside it
    is never seen), and its /Rotate (0, 90, 180, 270; clockwise)."""

    box: tuple[float, float, float, float]
    rotate: int = 0


@dataclass(frozen=True)
class PdfFacts:
    """What the consent shows about a PDF, and what decides a refusal."""

    sha256: str
    size: int
    pages: int
    title: str  # /Info's /Title
    signatures: tuple[EarlierSignature, ...] = ()
    empty_fields: tuple[str, ...] = ()
    has_javascript: bool = False
    has_embedded_files: bool = False
    # Every kind of active content found (agent.signing.pdf.active.KINDS: JavaScript, launching
    # a program, network, other files, embedded files, XFA; "incomplete" when the walk could not
    # read all of the file): the consent names each.
    active_content: tuple[str, ...] = ()
    # An earlier signature forbids every later change: a DocMDP certification, or an approval
    # whose field lock set /P 1 or locked every field (pyHanko counts new fields in /All).
    locked_by_certification: bool = False
    # The empty signature fields in detail (where each is drawn, its /Lock and /SV), and the
    # field locks of the earlier signatures: which fields a further signature may not fill.
    fields: tuple[EmptyField, ...] = ()
    earlier_locks: tuple[FieldLock, ...] = ()
    # (width, height) in points of the pages asked for (1-based): walking every page of a
    # 200-page file costs more than signing it.
    page_sizes: dict[int, tuple[float, float]] = field(default_factory=dict, repr=False)
    # The same pages' (and those of the empty fields') visible area (x1, y1, x2, y2) and
    # /Rotate: where a renderer puts a point.
    page_frames: dict[int, PageFrame] = field(default_factory=dict, repr=False)
    # The form's other fields (text, check box...) by name, with their /FT: a signature field
    # of one of these names cannot be made or signed (pyHanko refuses it after the PIN).
    other_fields: dict[str, str] = field(default_factory=dict, repr=False)
    # dc:title of the XMP metadata: the title pdf.js and Acrobat show when there is one.
    xmp_title: str = ""
    pdfa_part: int | None = None  # the PDF/A part its XMP claims (1 forbids transparency)

    def empty_field(self, name: str) -> EmptyField | None:
        """The empty signature field ``name`` in detail, or None."""
        return next((f for f in self.fields if f.name == name), None)


PdfSource = bytes | BinaryIO


def unreadable() -> tuple[type[BaseException], ...]:
    """What pyHanko raises on a damaged file, reading or walking it. PdfError: its own (a page
    index past the tree's end is not a PdfReadError); AssertionError: its page walk asserts
    that /Pages is a reference to a dictionary; RecursionError: "5 0 R" whose object is
    "5 0 R" (pyHanko follows it without end), a tree nested thousands deep; ArithmeticError:
    a number no integer holds; zlib and struct: a damaged stream or cross-reference stream."""
    from pyhanko.pdf_utils.misc import PdfError

    return (
        PdfError,
        ValueError,
        LookupError,
        TypeError,
        AttributeError,
        AssertionError,
        RecursionError,
        ArithmeticError,
        NotImplementedError,
        zlib.error,
        struct.error,
    )


_DETAIL_CHARS = 200  # pyHanko's messages can quote a whole object


def malformed(exc: BaseException, where: str = "") -> KysoError:
    """PDF_MALFORMED for what pyHanko raised (``where``: the part of the file it read)."""
    text = f"{type(exc).__name__}: {exc}"
    if len(text) > _DETAIL_CHARS:
        text = text[: _DETAIL_CHARS - 1] + "…"
    return KysoError("PDF_MALFORMED", {"detail": f"{where}: {text}" if where else text})


def _stream(source: PdfSource) -> BinaryIO:
    if isinstance(source, bytes | bytearray):
        return io.BytesIO(source)
    return cast(BinaryIO, _DamageAsValueError(source))


class _DamageAsValueError:
    """A file pyHanko reads in place, whose seek to an impossible offset (a damaged
    ``startxref`` of -5) fails as BytesIO's does, ValueError (PDF_MALFORMED), instead of the
    OS's EINVAL, an OSError no damaged-file handler expects."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def seek(self, offset: int, whence: int = 0) -> int:
        try:
            return self._raw.seek(offset, whence)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            raise ValueError(f"seek to {offset}: {exc.strerror}") from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def open_reader(source: PdfSource) -> Any:
    """A pyHanko reader over ``source`` (bytes, or a seekable binary file read in place);
    PDF_MALFORMED / PDF_ENCRYPTED with a clear detail."""
    from agent.signing.pdf.walkbudget import BudgetedReader

    stream = _stream(source)
    stream.seek(0)
    if not stream.read(1024).lstrip()[:8].startswith(PDF_MAGIC):
        raise KysoError("PDF_MALFORMED", {"detail": "the file does not start with %PDF-"})
    stream.seek(0)
    try:
        # Its difference analysis (earlier signatures still intact?) stops at a time budget.
        reader = BudgetedReader(stream)
        encrypted = reader.encrypted
        reader.root  # noqa: B018 - forces the trailer and catalogue to be read now
    except KysoError:
        raise
    except unreadable() as exc:
        raise malformed(exc) from exc
    if encrypted:
        raise KysoError("PDF_ENCRYPTED")
    return reader


def inspect_pdf(
    source: PdfSource, *, size_of_pages: tuple[int, ...] = (), digest: bool = True
) -> PdfFacts:
    """Read a PDF's facts (and the size of ``size_of_pages``, 1-based, where they exist);
    raises PDF_MALFORMED or PDF_ENCRYPTED. A file is read in place, not loaded whole.
    ``digest=False``: ``sha256`` is left empty for a caller that hashes the file meanwhile
    (:func:`fd_sha256`)."""
    stream = _stream(source)
    with repeated_keys() as repeats:  # the trailer, read on opening: pyHanko's warning
        reader = open_reader(stream)
    repeats += trailer_repeats(stream)  # the same, whatever the logging settings
    try:
        complete = read_every_object(reader, repeats)
        refuse_repeats(repeats)  # before anything is read for the consent
        facts = _facts(reader, stream, size_of_pages, digest)
    except KysoError:
        raise
    except unreadable() as exc:
        raise malformed(exc) from exc
    finally:
        # The objects read (every page, annotation, field) point back at the reader, so
        # they would live until a garbage collection, through the signing that follows.
        reader.resolved_objects.clear()
    # Too many objects to check them all, or an earlier signature's revisions too tangled to
    # compare in time (it counts as changed after it was signed): the consent says so.
    if not complete or reader.ran_out:
        kinds = {*facts.active_content, INCOMPLETE}
        facts = replace(facts, active_content=tuple(k for k in KINDS if k in kinds))
    return facts


def _digest(stream: BinaryIO, digest: bool = True) -> tuple[str, int]:
    """SHA-256 (empty unless ``digest``) and size of a whole stream, in chunks; the position
    is restored."""
    position = stream.tell()
    if not digest:
        size = stream.seek(0, io.SEEK_END)
        stream.seek(position)
        return "", size
    stream.seek(0)
    hashed = hashlib.sha256()
    size = 0
    while chunk := stream.read(_CHUNK):
        hashed.update(chunk)
        size += len(chunk)
    stream.seek(position)
    return hashed.hexdigest(), size


def fd_sha256(fd: int, size: int) -> str:
    """SHA-256 of the first ``size`` bytes of the open file ``fd``, read with ``pread``: the
    descriptor's offset is not moved, so another reader of the same file (pyHanko signing it)
    is undisturbed, and a thread can hash while the caller signs (both release the GIL)."""
    hashed = hashlib.sha256()
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(_CHUNK, size - offset), offset)
        if not chunk:
            raise OSError(f"the file ended at {offset} of {size} bytes")
        hashed.update(chunk)
        offset += len(chunk)
    return hashed.hexdigest()


def _facts(reader: Any, stream: BinaryIO, size_of_pages: tuple[int, ...], digest: bool) -> PdfFacts:
    from pyhanko.sign.fields import enumerate_sig_fields

    root = reader.root
    pages = deref(root["/Pages"])
    count = int(pages.get("/Count", 0))
    if count < 1:
        raise KysoError("PDF_MALFORMED", {"detail": "the page tree has no pages (/Count)"})
    try:
        leaves = page_leaves(reader)
    except PageTreeUnusual as exc:  # fail closed, in words: not "too many pages"
        raise KysoError(
            "PDF_MALFORMED", {"detail": f"its page tree could not be checked ({exc})"}
        ) from None
    if leaves is None:  # fail closed: a count nobody could check is not shown as a fact
        raise KysoError("PDF_TOO_MANY_PAGES", {"limit": MAX_PAGES})
    if leaves != count:
        # The consent would say one number and show page 1 while some viewers show others.
        raise KysoError(
            "PDF_MALFORMED",
            {"detail": f"the page tree says it has {count} pages (/Count) but holds {leaves}"},
        )
    info = deref(reader.trailer_view.get("/Info"))
    title = pdf_text(deref(info.get("/Title", ""))) if hasattr(info, "get") else ""
    try:
        check_field_paths(reader)  # before pyHanko's walk below, which has no budget
    except FieldTreeUnusual as exc:
        raise KysoError(
            "PDF_MALFORMED", {"detail": f"its form fields could not be checked ({exc})"}
        ) from None
    signatures = []
    empty: list[tuple[EmptyField, Any]] = []
    locks: list[FieldLock] = []
    for name, value, ref in enumerate_sig_fields(reader):
        if value is None:
            empty.append(read_empty_field(str(name), ref))
            continue
        signatures.append(EarlierSignature(str(name), _signer_name(value), _is_certifying(value)))
        locks.extend(earlier_locks(ref, value))
    if signatures:
        altered = _changed_since_signed(reader, {s.field_name for s in signatures})
        signatures = [replace(s, changed_after=s.field_name in altered) for s in signatures]
    active = scan_active(reader)  # every object that can hold an action, not only the catalog
    fields = _place_fields(reader, empty)
    wanted = {*size_of_pages, *(f.page for f in fields if f.page is not None)}
    frames = {n: _page_frame(reader, n - 1) for n in sorted(wanted) if 1 <= n <= count}
    sizes = {n: (f.box[2] - f.box[0], f.box[3] - f.box[1]) for n, f in frames.items()}
    # Last: it changes the objects read (in memory only; they are dropped with the reader).
    rehearse_signing(reader, tuple(n for n in size_of_pages if 1 <= n <= count))
    sha256, size = _digest(stream, digest)
    xmp = read_xmp(root)
    return PdfFacts(
        sha256=sha256,
        size=size,
        pages=count,
        title=title,
        xmp_title=xmp.title,
        pdfa_part=xmp.pdfa_part,
        signatures=tuple(signatures),
        empty_fields=tuple(f.name for f in fields),
        has_javascript=JAVASCRIPT in active,
        has_embedded_files=EMBEDDED_FILES in active,
        active_content=active,
        locked_by_certification=_locked(root) or any(lock.locks_all for lock in locks),
        fields=fields,
        earlier_locks=tuple(locks),
        page_sizes=sizes,
        page_frames=frames,
        other_fields=other_fields(reader),
    )


def rehearse_signing(reader: Any, pages: tuple[int, ...] = ()) -> None:
    """Do in memory what pyHanko does to a file when it signs it, on a writer that is never
    written: add a signature field (on page 1, and a widget on each of ``pages``, 1-based),
    read the certification, mark the form and the catalog as PAdES needs, update the
    metadata. A damaged file then fails here, before the consent and the PIN, as
    PDF_MALFORMED naming the part that failed, instead of inside pyHanko after the PIN: an
    object the cross-reference table calls free where a page should be, a /Kids loop, an
    /Annots or /Fields that is not an array, a /Perms, /Extensions or XMP pyHanko cannot
    read. The steps are pyHanko's own functions, so the check follows pyHanko's reading
    exactly; a shape Kyso never thought of fails here too."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import ensure_sig_flags, prepare_sig_field
    from pyhanko.sign.signers.constants import ESIC_EXTENSION_1
    from pyhanko.sign.validation import read_certification_data

    writer = IncrementalPdfFileWriter.from_reader(reader)
    probe = f"KysoProbe{uuid.uuid4().hex}"  # a name no field of the file has

    def widgets() -> None:
        _, field = prepare_sig_field(probe, writer.root, update_writer=writer)
        for number in pages:
            page = writer.find_page_for_modification(number - 1)[0]
            writer.register_annotation(page, field)

    def extensions() -> None:
        writer.ensure_output_version(version=(1, 7))
        if writer.output_version < (2, 0):
            writer.register_extension(ESIC_EXTENSION_1)

    steps: tuple[tuple[str, Any], ...] = (
        ("the page tree, a page's /Annots or the form's /Fields", widgets),
        ("the form (/AcroForm)", lambda: ensure_sig_flags(writer, lock_sig_flags=True)),
        ("the certification (/Perms)", lambda: read_certification_data(reader)),
        ("the catalog's /Extensions", extensions),
        # pyHanko's own step before writing (private in 0.25-0.38): /Info and the XMP.
        ("the metadata (/Info, /Metadata)", getattr(writer, "_prep_dom_for_writing", None)),
    )
    for where, step in steps:
        if step is None:
            continue
        try:
            step()
        except unreadable() as exc:
            raise malformed(exc, where) from exc


def _inherited(page: Any, key: str) -> Any:
    """A page attribute, or its nearest ancestor's (MediaBox and Rotate are inheritable)."""
    node, depth = page, 0
    while node is not None and depth < 64:  # a hostile /Parent loop ends here
        if key in node:
            return deref(node[key])
        node, depth = deref(node.get("/Parent")), depth + 1
    return None


def _place_fields(reader: Any, empty: list[tuple[EmptyField, Any]]) -> tuple[EmptyField, ...]:
    """The empty fields with the page their widget is drawn on (looked for only for a widget
    with a box: the page tree is walked only when some field would show a stamp). A box
    whose page is not found keeps ``page`` None: drawn somewhere the consent cannot name."""
    from dataclasses import replace

    def key(f: EmptyField, ref: Any) -> tuple[int, int] | None:
        return (ref.idnum, ref.generation) if f.box and hasattr(ref, "idnum") else None

    wanted = {k for f, ref in empty if (k := key(f, ref)) is not None}
    pages = widget_pages(reader, wanted) if wanted else {}
    placed = []
    for f, ref in empty:
        on = pages.get(key(f, ref) or (-1, -1), ())
        placed.append(replace(f, page=on[0] if on else None, other_pages=on[1:]))
    return tuple(placed)


def _page_frame(reader: Any, index: int) -> PageFrame:
    """The page's visible area: its CropBox (inheritable, the MediaBox when absent) clipped to
    its MediaBox, as viewers and ``pdftoppm -cropbox`` show it. A CropBox that misses the
    MediaBox leaves an empty area, clamped to the MediaBox's edge as poppler does: no stamp
    fits in it."""
    page = reader.find_page_for_modification(index)[0].get_object()
    media = normalised_box(_inherited(page, "/MediaBox") or ()) or (0.0, 0.0, 595.0, 842.0)
    crop = normalised_box(_inherited(page, "/CropBox") or ()) or media
    return PageFrame(visible_area(media, crop), page_rotation(page))


_INT32 = 1 << 31


def page_rotation(page: Any) -> int:
    """The page's /Rotate as poppler reads it (its pdftoppm draws the consent's preview and
    checks the signed file): the nearest integer up the page tree, in 0-359; a value of any
    other kind (a name, a string, a real, null) or past 32 bits is ignored as if absent, the
    parent's then counting. ISO 32000 asks for an integer multiple of 90, yet readers open a
    page with anything else: such a file is signed, not refused as damaged. A multiple of 90 or
    0: poppler and pdf.js draw another angle upright, and so does the preview."""
    node, depth = page, 0
    while hasattr(node, "get") and depth < 64:  # a hostile /Parent loop ends here
        value = deref(node.get("/Rotate"))
        if isinstance(value, int) and not isinstance(value, bool) and -_INT32 <= value < _INT32:
            return value % 360 if value % 90 == 0 else 0
        node, depth = deref(node.get("/Parent")), depth + 1
    return 0


def visible_area(
    media: Sequence[float], crop: Sequence[float]
) -> tuple[float, float, float, float]:
    """The part of a page viewers show, as (left, bottom, right, top): the CropBox's edges
    clamped into the MediaBox, as poppler does (either box may name any two opposite corners).
    A CropBox that misses the MediaBox leaves an empty area on the MediaBox's edge, where no
    stamp fits. The one rule for the consent's frame (pyHanko's boxes) and an anchor's
    placement (pypdf's)."""
    ml, mb, mr, mt = normalised_box(media) or media
    cl, cb, cr, ct = normalised_box(crop) or crop

    def clamp(v: float, lo: float, hi: float) -> float:
        return min(max(v, lo), hi)

    return (clamp(cl, ml, mr), clamp(cb, mb, mt), clamp(cr, ml, mr), clamp(ct, mb, mt))


def changed_after_lines(signatures: Sequence[EarlierSignature]) -> tuple[tuple[str, str], ...]:
    """A consent warning for each earlier signature the file was changed after: the person
    should not take that signer's approval for what they see."""
    from agent.signing.pdf.active import WARNING_LABEL

    return tuple(
        (
            WARNING_LABEL,
            f"tệp đã bị sửa sau chữ ký của {s.signer}: người đó không ký nội dung bạn đang xem "
            f"/ the file was changed after {s.signer} signed: they did not sign what you see",
        )
        for s in signatures
        if s.changed_after
    )


def _changed_since_signed(reader: Any, listed: set[str]) -> set[str]:
    """Which of the ``listed`` earlier signatures (field names) no longer cover what the file
    shows. Fail closed: only a signature shown to cover it counts as unchanged, so one pyHanko
    does not list (an unknown /SubFilter), cannot read or cannot analyse is flagged too."""
    try:
        embedded = list(reader.embedded_signatures)
    except Exception:  # a damaged signature dictionary: none can be shown unchanged
        embedded = []
    unchanged = set()
    for sig in embedded:
        try:
            if _still_covers(sig):
                unchanged.add(str(sig.field_name))
        except Exception:  # damaged or unanalysable: not shown to cover the file
            continue
    return listed - unchanged


def _still_covers(sig: Any) -> bool:
    """True when the bytes ``sig`` covers are still what it signed (a signature: pyHanko's
    integrity check, no certificate trusted; a document timestamp: its message imprint) and
    the revisions after it change nothing but form fields, signatures and validation data
    (pyHanko's difference analysis, as verify-pdf runs it)."""
    from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    from agent.signing.cms import refuse_crowds

    refuse_crowds(sig.signed_data)  # padded (100,000 attributes: 13 s here): not shown to cover
    sig.compute_integrity_info()
    diff = sig.diff_result
    if diff is None or isinstance(diff, SuspiciousModification):
        return False
    if diff.modification_level > ModificationLevel.FORM_FILLING:
        return False
    digest = sig.compute_digest()
    if sig.sig_object_type == "/DocTimeStamp":
        tst_info = sig.signed_data["encap_content_info"]["content"].parsed
        return bool(tst_info["message_imprint"]["hashed_message"].native == digest)
    intact, valid = validate_sig_integrity(sig.signer_info, sig.signer_cert, "data", digest)
    return bool(intact and valid)


def _signer_name(sig_value: Any) -> str:
    """The common name in an earlier signature's certificate, or '?' when unreadable."""
    try:
        from asn1crypto import cms

        from agent.signing.cms import refuse_crowds

        contents = sig_value.get_object()["/Contents"]
        signed_data = cms.ContentInfo.load(bytes(contents))["content"]
        refuse_crowds(signed_data)  # 20,000 certificates: not searched before a consent
        certs = signed_data["certificates"]
        sid = signed_data["signer_infos"][0]["sid"]
        for choice in certs:
            cert = choice.chosen
            if sid.name == "issuer_and_serial_number":
                issuer_serial = sid.chosen
                if cert.serial_number != issuer_serial["serial_number"].native:
                    continue
            return str(cert.subject.native.get("common_name", "?"))
    except Exception:  # an earlier signature we cannot parse is shown as unknown, not fatal
        return "?"
    return "?"


def _is_certifying(sig_value: Any) -> bool:
    try:
        refs = sig_value.get_object().get("/Reference") or ()
        return any(ref.get_object().get("/TransformMethod") == "/DocMDP" for ref in refs)
    except (AttributeError, TypeError, KeyError):
        return False


def _locked(root: Any) -> bool:
    """A certification signature with DocMDP P=1 forbids every later change."""
    try:
        perms = root.get("/Perms")
        docmdp = perms.get_object().get("/DocMDP") if perms is not None else None
        if docmdp is None:
            return False
        for ref in docmdp.get_object().get("/Reference") or ():
            params = ref.get_object().get("/TransformParams")
            if params is not None and int(params.get("/P", 2)) == 1:
                return True
    except (AttributeError, TypeError, KeyError, ValueError):
        return False
    return False
