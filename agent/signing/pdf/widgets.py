"""The widgets of one revision of a PDF (form fields' boxes on its pages), each with what it
shows, so two revisions can be compared: which widgets a later revision added or redrew (a
later signer's stamp, a field typed over) and which show a value the earlier signer saw.

Widgets are found where viewers draw them, in the pages' /Annots, and named through the
/AcroForm /Fields tree (as pyHanko and viewers name them), else through /Parent: a widget
listed in its field's /Kids without a /Parent link is still its field's. Pure logic on pypdf
objects; no I/O.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from agent.signing.pdf.glyphs import Box

log = logging.getLogger(__name__)

# What one revision's survey reads (a hostile file may hold millions of annotations).
MAX_PAGES = 2000
MAX_ANNOTATIONS_PER_PAGE = 1000
MAX_FIELD_NODES = 5000
MAX_FIELD_DEPTH = 32
# Appearance streams larger than this are told apart by length and start only.
MAX_HASHED_APPEARANCE = 1_000_000
# Annotation flags that keep a widget from being drawn (PDF 32000 §12.5.3: Hidden, NoView).
NOT_DRAWN = 2 | 32


@dataclass(frozen=True)
class Widget:
    """One drawn widget of a revision."""

    key: tuple[int, int]  # (object number, generation); (-1, n) for a direct object
    page: int  # 0-based
    box: Box
    field: str  # the field's full name; "" when it belongs to no field
    shows_value: bool  # a filled text or choice field, a signed signature, a ticked box
    look: str  # a digest of its box, flags, state and appearance: differs when redrawn


@dataclass(frozen=True)
class Survey:
    """One revision's drawn widgets and its fields' values (full name → value as text)."""

    widgets: tuple[Widget, ...]
    values: dict[str, str]

    def state_of(self, field: str) -> tuple[str, ...] | None:
        """The field's value and its widgets' looks; None when the revision has no such
        field. Equal in two revisions when the field was not touched between them."""
        looks = sorted(w.look for w in self.widgets if w.field == field)
        if field not in self.values and not looks:
            return None
        return (self.values.get(field, ""), *looks)


def survey(reader: Any) -> Survey:
    """The drawn widgets with an area on the pages of ``reader`` (a pypdf reader), and its
    fields' values."""
    fields = _fields(reader)
    found: list[Widget] = []
    try:
        pages = list(reader.pages)[:MAX_PAGES]
    except Exception as exc:  # pypdf's errors on a hostile page tree are many
        log.debug("pages unreadable for the widget survey: %s", exc)
        pages = []
    direct = 0
    for index, page in enumerate(pages):
        try:
            annotations = page.get("/Annots")
            annotations = annotations.get_object() if annotations is not None else []
            for ref in list(annotations)[:MAX_ANNOTATIONS_PER_PAGE]:
                key = _key(ref)
                if key is None:
                    direct += 1
                    key = (-1, direct)
                widget = _widget(ref.get_object(), key, index, fields)
                if widget is not None:
                    found.append(widget)
        except Exception as exc:  # one odd page: the others are still looked at
            log.debug("page %d's annotations unreadable: %s", index + 1, exc)
    values = dict(fields.values())
    return Survey(tuple(found), values)


def _key(ref: Any) -> tuple[int, int] | None:
    idnum = getattr(ref, "idnum", None)
    return (int(idnum), int(getattr(ref, "generation", 0))) if idnum is not None else None


def _widget(
    annotation: Any, key: tuple[int, int], page: int, fields: dict[tuple[int, int], tuple[str, str]]
) -> Widget | None:
    if not hasattr(annotation, "get") or annotation.get("/Subtype") != "/Widget":
        return None
    box = Box.of(annotation.get("/Rect"))
    flags = _int(annotation.get("/F"))
    if box is None or flags & NOT_DRAWN:
        return None
    name, value = fields.get(key) or _by_parent(annotation)
    state = str(annotation.get("/AS", ""))
    shows_value = bool(value) and value != "/Off" and state != "/Off"
    look = hashlib.sha256(
        repr((box, flags, state, _appearance(annotation.get("/AP")))).encode()
    ).hexdigest()
    return Widget(key, page, box, name, shows_value, look)


def _appearance(ap: Any) -> str:
    """A digest of a widget's normal appearance (its stream, or each state's stream)."""
    try:
        ap = ap.get_object() if ap is not None else None
        normal = ap.get("/N") if hasattr(ap, "get") else None
        normal = normal.get_object() if normal is not None else None
        if normal is None:
            return ""
        if hasattr(normal, "get_data"):
            return _stream_digest(normal)
        return repr(sorted((str(k), _stream_digest(v.get_object())) for k, v in normal.items()))
    except Exception as exc:  # an unreadable appearance: told apart by its error
        return f"unreadable: {type(exc).__name__}"


def _stream_digest(stream: Any) -> str:
    raw = stream.get_data() if hasattr(stream, "get_data") else b""
    if len(raw) > MAX_HASHED_APPEARANCE:
        raw = len(raw).to_bytes(8, "big") + raw[:65536]
    return hashlib.sha256(raw).hexdigest()


def _fields(reader: Any) -> dict[tuple[int, int], tuple[str, str]]:
    """Each field node's and widget's object key → (the field's full name, its value as
    text; "" when empty), walking /AcroForm /Fields and /Kids."""
    found: dict[tuple[int, int], tuple[str, str]] = {}
    try:
        form = reader.trailer["/Root"].get("/AcroForm")
        roots = form.get_object().get("/Fields") if form is not None else None
        roots = list(roots.get_object()) if roots is not None else []
    except Exception as exc:
        log.debug("form fields unreadable: %s", exc)
        return found
    stack: list[tuple[Any, str, Any, int]] = [(ref, "", None, 0) for ref in reversed(roots)]
    seen: set[tuple[int, int]] = set()
    while stack and len(seen) < MAX_FIELD_NODES:
        ref, prefix, inherited, depth = stack.pop()
        key = _key(ref)
        if key is None or key in seen or depth > MAX_FIELD_DEPTH:
            continue
        seen.add(key)
        try:
            node = ref.get_object()
            title = node.get("/T")
            name = f"{prefix}.{title}" if prefix and title is not None else str(title or prefix)
            value = node.get("/V", inherited)
            found[key] = (name, _value_text(value))
            kids = node.get("/Kids")
            for kid in reversed(list(kids.get_object()) if kids is not None else []):
                stack.append((kid, name, value, depth + 1))
        except Exception as exc:  # one odd node: its siblings are still named
            log.debug("form field unreadable: %s", exc)
    return found


def _by_parent(annotation: Any) -> tuple[str, str]:
    """A widget's field name and value through /Parent (at most 32 levels)."""
    names: list[str] = []
    value: Any = None
    node: Any = annotation
    for _ in range(MAX_FIELD_DEPTH):
        if node is None or not hasattr(node, "get"):
            break
        if "/T" in node:
            names.append(str(node["/T"]))
        if value is None and "/V" in node:
            value = node["/V"]
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    return ".".join(reversed(names)), _value_text(value)


def _value_text(value: Any) -> str:
    """A field value as text for comparison: a signature dictionary is "signed"."""
    try:
        value = value.get_object() if value is not None else None
    except Exception:
        return "unreadable"
    if value is None:
        return ""
    if hasattr(value, "get") and ("/Contents" in value or "/ByteRange" in value):
        return "signed " + hashlib.sha256(repr(value.get("/ByteRange")).encode()).hexdigest()
    text = str(value)
    return text[:10000]


def _int(value: Any) -> int:
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0
