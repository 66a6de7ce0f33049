"""Signature fields already in a PDF: where each empty one sits, what signing it locks, what its
seed values demand, and which later signatures the earlier ones forbid. Pure reading.

A form author can attach to an empty signature field a /Lock dictionary (ISO 32000-2
12.7.5.5: which fields the signature locks and, in PDF 2.0, the DocMDP level /P it sets) and a
seed value dictionary /SV (12.7.5.5, table 236). pyHanko honours both when it signs that field:
/Lock /P 1 (or /SV /LockDocument true) turns an approval signature into one that forbids every
later change, another signature included; /SV can demand a reason, a /SubFilter, a digest,
revocation data, a certification, a certificate, or a timestamp from a server the file names
(pyHanko then contacts it). Kyso reads the same dictionaries with pyHanko's own parsers, so the
consent can say what the signature will lock, and a request the field's demands contradict is
refused before the consent instead of failing after the PIN.

pyHanko's reading of an earlier signature's field lock (its diff policy): /All locks every field
(fields added later too: a new signature field breaks it), /Include the fields named, /Exclude
every field not named.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

LOCK_ALL = "all"
LOCK_INCLUDE = "include"
LOCK_EXCLUDE = "exclude"
_ACTIONS = {"/All": LOCK_ALL, "/Include": LOCK_INCLUDE, "/Exclude": LOCK_EXCLUDE}
# The most pages Kyso reads a page tree for: the page count before a consent, where an empty
# field's widget is drawn, and verify-pdf's survey of what was drawn after a signature
# (widgets.py) share it, so Kyso never signs a file whose signatures it could not then check.
MAX_PAGES = 10_000
# Page-tree entries (/Kids items, repeats included) read in all: a tree is bounded by work,
# not by a clock, so the same file gets the same answer on a busy machine as on an idle one.
MAX_PAGE_TREE_ENTRIES = 4 * MAX_PAGES
# And by the walking thread's CPU time, as a safety net: a hostile file can make each lookup
# slow (pages at the end of a big object stream, which pyHanko scans from its start for every
# object). An honest 10,000-page file takes about 5 s here; other processes' load does not
# count against it, so a busy machine gets the same answer as an idle one.
PAGE_TREE_CPU_SECONDS = 20.0
MAX_FIELDS = 20_000  # form field entries read to find the fields that are not signatures
MAX_FIELD_DEPTH = 64  # form field levels (real forms: a few)
MAX_FIELD_WORK = 4 * MAX_FIELDS  # entries times their depth, as pyHanko's walk costs them
_HIDDEN = 2 | 32  # annotation flags Hidden and NoView: the widget is never drawn
LOCK_LABEL = "Khoá / lock"


@dataclass(frozen=True)
class FieldLock:
    """A field lock (/Lock of a field, or the FieldMDP of a signature): ``action`` (LOCK_ALL,
    LOCK_INCLUDE, LOCK_EXCLUDE, or "" when it only sets ``permission``), the ``fields`` named,
    and the DocMDP level /P it sets (1 no changes, 2 form filling and signing, 3 also
    comments; None when absent)."""

    action: str = ""
    fields: tuple[str, ...] = ()
    permission: int | None = None

    @property
    def locks_all(self) -> bool:
        """Whether any later signature breaks it: DocMDP P=1, or every field locked."""
        return self.permission == 1 or self.action == LOCK_ALL

    def locks(self, name: str) -> bool:
        """Whether filling (signing) the field ``name`` after this lock breaks it."""
        if self.locks_all:
            return True
        if self.action == LOCK_INCLUDE:
            return name in self.fields
        return self.action == LOCK_EXCLUDE and name not in self.fields


@dataclass(frozen=True)
class FieldSeed:
    """What an empty field's seed values (/SV) demand of the signature, as pyHanko applies
    them. ``problem``: why pyHanko cannot sign this field whatever the request (English)."""

    problem: str = ""
    lock_document: bool | None = None  # /LockDocument true, false; None: /auto or absent
    lock_required: bool = False  # the /Ff LockDocument bit: the value is a must
    certification: int | None = None  # /MDP /P: 0 approval only, 1-3 a certification
    reasons: tuple[str, ...] | None = None  # the only reasons allowed (/Ff Reasons bit)
    timestamp_required: bool = False  # pyHanko then asks /TimeStamp /URL if Kyso has no TSA
    revocation_info: bool | None = None  # /AddRevInfo, when the /Ff bit makes it a must
    certificate_rules: bool = False  # /Cert: pyHanko checks the signer's certificate


@dataclass(frozen=True)
class EmptyField:
    """An empty signature field: its name, the page (1-based) and /Rect (x1, y1, x2, y2) where
    its widget is drawn (None when hidden, zero-sized or on no page the walk reached), how
    many widgets it has (pyHanko signs a field with exactly one), its lock and seed values."""

    name: str
    page: int | None = None
    box: tuple[float, float, float, float] | None = None
    widgets: int = 1
    lock: FieldLock | None = None
    seed: FieldSeed | None = None
    # Other pages whose /Annots list the same widget: the stamp would be drawn there too.
    other_pages: tuple[int, ...] = ()


def deref(value: Any) -> Any:
    """The object an indirect reference points to; any other value as it is."""
    return value.get_object() if hasattr(value, "get_object") else value


def normalised_box(value: Any) -> tuple[float, float, float, float] | None:
    """A PDF rectangle (any two opposite corners, ISO 32000 7.9.5) as (left, bottom, right,
    top); None when it is not four numbers."""
    try:
        x1, y1, x2, y2 = (float(deref(v)) for v in value)
    except (TypeError, ValueError):
        return None
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def read_lock(lock_dict: Any) -> FieldLock:
    """A /Lock or FieldMDP /TransformParams dictionary; ValueError when unreadable."""
    lock_dict = deref(lock_dict)
    if not isinstance(lock_dict, dict):
        raise ValueError("the lock is not a dictionary")
    action = _ACTIONS.get(str(lock_dict.get("/Action", "")), "")
    fields = tuple(str(deref(f)) for f in deref(lock_dict.get("/Fields")) or ())
    raw_p = deref(lock_dict.get("/P"))
    permission = int(raw_p) if raw_p is not None else None
    if permission is not None and permission not in (1, 2, 3):
        raise ValueError(f"/P {permission}")
    return FieldLock(action, fields, permission)


def earlier_locks(sig_field: Any, sig_value: Any) -> tuple[FieldLock, ...]:
    """The locks a signed field imposes, as pyHanko reads them: its signature's DocMDP and
    FieldMDP transform parameters and the field's own /Lock (whose /P pyHanko falls back on).
    An unreadable lock counts as locking everything: guessing it lenient could let a signature
    through that breaks the earlier one."""
    found: list[FieldLock] = []
    try:
        for ref in deref(deref(sig_value).get("/Reference")) or ():
            ref = deref(ref)
            method = str(ref.get("/TransformMethod", ""))
            params = deref(ref.get("/TransformParams"))
            if method == "/DocMDP" and params is not None:
                found.append(FieldLock(permission=int(deref(params.get("/P", 2)))))
            elif method == "/FieldMDP" and params is not None:
                found.append(read_lock(params))
        lock = deref(sig_field).get("/Lock")
        if lock is not None:
            found.append(read_lock(lock))
    except (AttributeError, TypeError, KeyError, ValueError):
        found.append(FieldLock(LOCK_ALL))
    return tuple(found)


def read_seed(sv_dict: Any) -> FieldSeed:
    """/SV read by pyHanko's own parser (the one it signs with); an unreadable one, or one
    pyHanko refuses, gives a ``problem``."""
    from pyhanko.sign.fields import SeedLockDocument, SigSeedSubFilter, SigSeedValFlags
    from pyhanko.sign.fields import SigSeedValueSpec as Spec

    try:
        spec = Spec.from_pdf_object(sv_dict)
    except Exception as exc:  # pyHanko's parser: SigningError, KeyError, ValueError...
        return FieldSeed(problem=f"its seed values (/SV) cannot be used: {exc}")
    flags = spec.flags
    subfilters, digests = spec.subfilters, spec.digest_methods
    problem = ""
    if (
        flags & SigSeedValFlags.SUBFILTER
        and subfilters is not None
        and (not subfilters or subfilters[0] != SigSeedSubFilter.PADES)
    ):
        problem = "it requires a signature encoding (/SubFilter) other than PAdES"
    if flags & SigSeedValFlags.DIGEST_METHOD and digests is not None and "sha256" not in digests:
        problem = f"it allows only the digests {', '.join(digests)}"
    lock = {SeedLockDocument.LOCK: True, SeedLockDocument.DO_NOT_LOCK: False}
    signature_type = spec.seed_signature_type
    return FieldSeed(
        problem=problem,
        lock_document=lock.get(spec.lock_document) if spec.lock_document else None,
        lock_required=bool(flags & SigSeedValFlags.LOCK_DOCUMENT),
        certification=None
        if signature_type is None
        else (0 if signature_type.mdp_perm is None else signature_type.mdp_perm.value),
        reasons=tuple(spec.reasons or ()) if flags & SigSeedValFlags.REASONS else None,
        timestamp_required=spec.timestamp_required,
        revocation_info=spec.add_rev_info if flags & SigSeedValFlags.ADD_REV_INFO else None,
        certificate_rules=spec.cert is not None,
    )


def read_empty_field(name: str, field_ref: Any) -> tuple[EmptyField, Any]:
    """An empty field's lock, seed values and widget box (page still unknown), and the
    reference of its single widget (None when it has none or several)."""
    field = deref(field_ref)
    lock = seed = None
    try:
        if "/Lock" in field:
            lock = read_lock(field.get("/Lock"))
    except (AttributeError, TypeError, KeyError, ValueError):
        seed = FieldSeed(problem="its lock (/Lock) cannot be read")
    if seed is None and "/SV" in field:
        seed = read_seed(field.get("/SV"))
    kids = deref(field.get("/Kids"))
    if kids is None:
        widget_ref, count = field_ref, 1
    else:
        count = len(kids) if isinstance(kids, list) else 0
        widget_ref = list.__getitem__(kids, 0) if count == 1 else None
    box = _widget_box(deref(widget_ref)) if widget_ref is not None else None
    return EmptyField(name, None, box, count, lock, seed), widget_ref


def _widget_box(widget: Any) -> tuple[float, float, float, float] | None:
    """The widget's /Rect normalised, or None when it is never drawn (hidden, no area)."""
    try:
        if int(deref(widget.get("/F", 0))) & _HIDDEN:
            return None
        box = normalised_box(deref(widget["/Rect"]))
    except (AttributeError, TypeError, KeyError, ValueError):
        return None
    return box if box and box[2] - box[0] > 0 and box[3] - box[1] > 0 else None


def _page_nodes(reader: Any) -> Iterator[Any]:
    """The page tree's leaves in viewer order (each node once: a loop is not followed).
    Raises :class:`PageTreeTooLarge` past :data:`MAX_PAGES` leaves, and
    :class:`PageTreeUnusual` past :data:`MAX_PAGE_TREE_ENTRIES` entries or
    :data:`PAGE_TREE_CPU_SECONDS` of this thread's CPU time."""
    from pyhanko.pdf_utils.generic import IndirectObject

    stack: list[Any] = [reader.root.raw_get("/Pages")]
    seen: set[tuple[int, int]] = set()
    leaves = entries = 0
    cpu_limit = time.thread_time() + PAGE_TREE_CPU_SECONDS
    while stack:
        if time.thread_time() > cpu_limit:
            raise PageTreeUnusual(f"reading it took over {PAGE_TREE_CPU_SECONDS:g} s")
        raw = stack.pop()
        if isinstance(raw, IndirectObject):
            key = (raw.idnum, raw.generation)
            if key in seen:
                continue  # a page tree loop: each node counts once
            seen.add(key)
        node = deref(raw)
        if not hasattr(node, "raw_get"):  # not a dictionary: nothing drawn from it
            continue
        kids = deref(node.raw_get("/Kids")) if "/Kids" in node else None
        if isinstance(kids, list):
            entries += len(kids)
            if entries > MAX_PAGE_TREE_ENTRIES:  # repeats: far more entries than pages
                raise PageTreeUnusual(f"over {MAX_PAGE_TREE_ENTRIES} /Kids entries")
            stack.extend(reversed(list(list.__iter__(kids))))  # as stored: references
            continue
        leaves += 1
        if leaves > MAX_PAGES:
            raise PageTreeTooLarge
        yield node


class PageTreeTooLarge(Exception):
    """The page tree holds more pages than Kyso reads (:data:`MAX_PAGES`)."""


class PageTreeUnusual(Exception):
    """The page tree could not be read within the walk's work bounds; ``str()`` says which."""


def widget_pages(
    reader: Any, widgets: set[tuple[int, int]]
) -> dict[tuple[int, int], tuple[int, ...]]:
    """The pages (1-based, in page-tree order) whose /Annots draw each widget (by reference):
    a widget's own /P may lie, and a widget listed by two pages is drawn on both (the consent
    must not name one). A walk stopped at its bounds (:func:`_page_nodes`) answers for no
    widget: one seen so far may be listed again past the stop, so its pages are not known."""
    from pyhanko.pdf_utils.generic import IndirectObject

    found: dict[tuple[int, int], list[int]] = {}
    if not widgets:
        return {}
    try:
        for page, node in enumerate(_page_nodes(reader), start=1):
            annots = deref(node.raw_get("/Annots")) if "/Annots" in node else None
            for entry in list.__iter__(annots) if isinstance(annots, list) else ():
                if isinstance(entry, IndirectObject):
                    ref = (entry.idnum, entry.generation)
                    if ref in widgets:
                        pages = found.setdefault(ref, [])
                        if page not in pages:
                            pages.append(page)
    except (PageTreeTooLarge, PageTreeUnusual):
        return {}  # each left with page None: "drawn on a page that could not be found"
    return {ref: tuple(pages) for ref, pages in found.items()}


def page_leaves(reader: Any) -> int | None:
    """How many pages the page tree really holds (its leaves, walked as :func:`widget_pages`
    walks it), or None past :data:`MAX_PAGES` pages (:class:`PageTreeUnusual` past the walk's
    other bounds). Viewers disagree when this is not the tree's /Count: poppler and pdf.js
    show /Count pages, pypdf and others every leaf."""
    try:
        return sum(1 for _ in _page_nodes(reader))
    except PageTreeTooLarge:
        return None


def other_fields(reader: Any) -> dict[str, str]:
    """The form's fields that are not signature fields, by fully qualified name, with their
    /FT ("" for a field that has none, such as a node holding other fields), read as pyHanko
    reads /Fields: names joined by "." down /Kids, /FT inherited, a field without /T or an
    entry that is not a reference to a dictionary skipped. pyHanko refuses to sign a field of
    such a name ("exists but is not a /Sig field"), and only after the PIN: so Kyso refuses it
    first, and never names a new field like one of them. Bounded by :data:`MAX_FIELDS`."""
    from pyhanko.pdf_utils.generic import IndirectObject

    try:
        fields = deref(deref(reader.root.raw_get("/AcroForm")).raw_get("/Fields"))
    except (AttributeError, KeyError, TypeError):
        return {}
    found: dict[str, str] = {}
    # (field references, parent's name, inherited /FT, the references above: a loop ends)
    stack: list[tuple[Any, str, str, frozenset[tuple[int, int]]]] = [(fields, "", "", frozenset())]
    visited = 0
    while stack and visited < MAX_FIELDS:
        refs, parent, inherited, above = stack.pop()
        for ref in list.__iter__(refs) if isinstance(refs, list) else ():
            visited += 1
            if not isinstance(ref, IndirectObject) or (ref.idnum, ref.generation) in above:
                continue
            field = ref.get_object()
            if not hasattr(field, "raw_get") or "/T" not in field:
                continue  # not a field, or a bare widget
            own = str(deref(field.raw_get("/T")))
            name = f"{parent}.{own}" if parent else own
            kind = str(deref(field.raw_get("/FT"))) if "/FT" in field else inherited
            if kind != "/Sig":
                found.setdefault(name, kind)
            if "/Kids" in field:
                path = above | {(ref.idnum, ref.generation)}
                stack.append((deref(field.raw_get("/Kids")), name, kind, path))
    return found


class FieldTreeUnusual(Exception):
    """Walking the form's fields as pyHanko does would not end in reasonable time."""


def check_field_paths(reader: Any) -> None:
    """Raise :class:`FieldTreeUnusual` when walking /AcroForm /Fields the way pyHanko's
    ``enumerate_sig_fields`` does (every path down /Kids, only a loop on the path stopped)
    would visit more than :data:`MAX_FIELDS` entries. Fields sharing children make the paths
    grow as a power of two with no loop at all: a 3.5 KB file, 40 levels of two references to
    one child, walked for ever before the consent, in a thread the agent cannot stop (red
    team 43). The walk here stops at the budget."""
    from pyhanko.pdf_utils.generic import IndirectObject

    try:
        fields = deref(deref(reader.root.raw_get("/AcroForm")).raw_get("/Fields"))
    except (AttributeError, KeyError, TypeError):
        return
    stack: list[tuple[Any, frozenset[tuple[int, int]]]] = [(fields, frozenset())]
    work = 0
    while stack:
        refs, above = stack.pop()
        if len(above) > MAX_FIELD_DEPTH:
            raise FieldTreeUnusual(f"form fields nested over {MAX_FIELD_DEPTH} levels deep")
        for ref in list.__iter__(refs) if isinstance(refs, list) else ():
            # pyHanko's cost of an entry grows with its depth (it looks up /FT through every
            # ancestor, one generator frame per level): 10,900 entries 900 levels deep took
            # 27 s (review 42). Counted as entries times depth.
            work += 1 + len(above)
            if work > MAX_FIELD_WORK:
                raise FieldTreeUnusual(
                    f"too many form field entries along its paths (entries times their depth "
                    f"over {MAX_FIELD_WORK})"
                )
            if not isinstance(ref, IndirectObject) or (ref.idnum, ref.generation) in above:
                continue
            field = ref.get_object()
            if not hasattr(field, "raw_get") or "/T" not in field or "/Kids" not in field:
                continue  # not a field, a bare widget (pyHanko goes no further), or a leaf
            path = above | {(ref.idnum, ref.generation)}
            stack.append((deref(field.raw_get("/Kids")), path))


def lock_lines(field: EmptyField | None, *, certify: bool) -> tuple[tuple[str, str], ...]:
    """The consent's words for what signing ``field`` locks, Vietnamese then English; empty
    when it locks nothing (a certification's own line says the rest)."""
    if field is None or certify:  # a certification locks everything: its own line says so
        return ()
    lines: list[str] = []
    if locks_document(field):  # nothing can change after it: which fields it locks is moot
        lines.append(
            "ký vào ô này sẽ khoá tài liệu: sau đó không ai ký thêm hay sửa được gì / signing "
            "this field locks the document: after it nobody can sign or change anything"
        )
        return tuple((LOCK_LABEL, line) for line in lines)
    lock = field.lock
    if lock is not None and lock.action == LOCK_ALL:
        lines.append(
            "ký vào ô này khoá mọi ô của biểu mẫu: sau đó không ai điền hay ký thêm được / "
            "signing this field locks every form field: after it nobody can fill in or sign "
            "anything"
        )
    elif lock is not None and lock.action == LOCK_INCLUDE and lock.fields:
        names = _names(lock.fields)
        lines.append(
            f"ký vào ô này khoá các ô {names}: sau đó không ai điền hay ký vào các ô đó được / "
            f"signing this field locks the fields {names}: after it nobody can fill in or sign "
            "them"
        )
    elif lock is not None and lock.action == LOCK_EXCLUDE:
        names = _names(lock.fields) or "(không ô nào / none)"
        lines.append(
            f"ký vào ô này khoá mọi ô trừ {names}: sau đó chỉ còn các ô đó điền hay ký được / "
            f"signing this field locks every field but {names}: after it only those can be "
            "filled in or signed"
        )
    return tuple((LOCK_LABEL, line) for line in lines)


def _names(fields: tuple[str, ...], shown: int = 8) -> str:
    """Field names as the consent lists them: the first few (the file chooses how many)."""
    names = ", ".join(f"«{n}»" for n in fields[:shown])
    return names + (f" (+{len(fields) - shown})" if len(fields) > shown else "")


def locks_document(field: EmptyField) -> bool:
    """Whether an approval signature in ``field`` gets DocMDP P=1 from pyHanko: /Lock /P 1, or
    /SV /LockDocument true without a /Lock /P."""
    permission = field.lock.permission if field.lock is not None else None
    if permission is not None:
        return permission == 1
    return field.seed is not None and field.seed.lock_document is True


def field_conflict(
    field: EmptyField, *, certify: bool, reason: str | None, timestamp: bool, long_term: bool
) -> str:
    """Why signing ``field`` as asked would fail in pyHanko or do what the consent does not
    say (English, for the error's detail); "" when it can be signed."""
    if field.widgets != 1:
        return f"it has {field.widgets} widgets, and only a field with exactly one can be signed"
    seed = field.seed
    if seed is None:
        return ""
    return (
        seed.problem
        or _lock_conflict(field, seed)
        or _type_conflict(seed, certify)
        or _reason_conflict(seed, reason)
        or _extras_conflict(seed, timestamp, long_term)
    )


def _lock_conflict(field: EmptyField, seed: FieldSeed) -> str:
    """A /Lock /P that a mandatory /LockDocument contradicts: pyHanko refuses the field."""
    permission = field.lock.permission if field.lock is not None else None
    if not seed.lock_required or seed.lock_document is None or permission is None:
        return ""
    if (permission == 1) != seed.lock_document:
        return "its lock (/Lock /P) contradicts its seed values (/LockDocument)"
    return ""


def _type_conflict(seed: FieldSeed, certify: bool) -> str:
    """/MDP: the field is for a certification (with a DocMDP level) or for an approval."""
    if seed.certification is None:
        return ""
    if (seed.certification > 0) != certify:
        wanted = "a certification" if seed.certification else "an approval (non-certifying)"
        return f"it must hold {wanted} signature"
    if certify and seed.certification != 1:  # Kyso certifies with P=1 (no changes)
        return f"its certification must allow changes (DocMDP P={seed.certification})"
    return ""


def _reason_conflict(seed: FieldSeed, reason: str | None) -> str:
    """Mandatory /Reasons: the reason must be one of them; none or "." forbids a reason."""
    if seed.reasons is None:
        return ""
    allowed = tuple(r for r in seed.reasons if r != ".")
    if not allowed and reason is not None:
        return "it forbids giving a reason"
    if allowed and reason not in allowed:
        return "its reason must be one of: " + ", ".join(f"“{r}”" for r in allowed)
    return ""


def _extras_conflict(seed: FieldSeed, timestamp: bool, long_term: bool) -> str:
    """A required timestamp (pyHanko would fetch it from the server the file names when Kyso
    has none) and mandatory revocation data."""
    if seed.timestamp_required and not timestamp:
        return "it requires a timestamp and Kyso has no timestamp authority for this signature"
    if seed.revocation_info:  # Adobe-style, which pyHanko writes only outside PAdES
        return "it requires Adobe-style revocation data in the signature"
    if seed.revocation_info is False and long_term:
        return "it forbids revocation data in the signature (long-term signing)"
    return ""
