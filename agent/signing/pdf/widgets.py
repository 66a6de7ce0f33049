"""The widgets of one revision of a PDF (form fields' boxes on its pages), so two revisions
can be compared: which widgets a later revision added or redrew (a later signer's stamp, a
field typed over, a font or appearance swapped under a field) and which showed something the
earlier signer saw.

A widget is redrawn when it is new, or when any object it draws with changed: the widget, its
appearance streams and everything they refer to (fonts, images, forms) are compared by where
each revision's cross-reference table puts them, so a stream rewritten with the same bytes but
another font counts. The field keys a widget inherits (/DA, /V, …) are compared by value, and
/NeedAppearances turned on (or its /DR changed) redraws every widget, since viewers then make
appearances afresh. Widgets are found where viewers draw them, in the pages' /Annots, and named
through the /AcroForm /Fields tree, else through /Parent. A survey past its budgets is marked
incomplete: the check then fails closed. Pure logic on pypdf objects; no I/O.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

# MAX_PAGES is signing's page limit too: a file Kyso signs never stops its survey by pages.
from agent.signing.pdf.fields import MAX_PAGES
from agent.signing.pdf.glyphs import Box

log = logging.getLogger(__name__)

# What one revision's survey reads (a hostile file may hold millions of annotations).
MAX_ANNOTATIONS_PER_PAGE = 1000
MAX_FIELD_NODES = 5000
MAX_FIELD_DEPTH = 32
# Objects visited while following what widgets draw with, for the whole survey.
MAX_SURVEY_WORK = 200_000
# Annotation flags that keep a widget from being drawn (PDF 32000 §12.5.3: Hidden, NoView).
NOT_DRAWN = 2 | 32
# NoRotate: on a turned page the appearance is drawn unturned, pivoting on the box's corner
# that is upper-left as shown, so it lands outside /Rect (red team 31).
NO_ROTATE = 16
# Field keys a widget inherits that change what a viewer draws for it.
DRAWN_FIELD_KEYS = ("/FT", "/V", "/DV", "/DA", "/Q", "/Ff", "/MaxLen", "/Opt", "/DS", "/RV")
# What a widget draws with: its appearance streams (and all they use) and its appearance
# characteristics. Not its actions, value or page: they lead to objects every update rewrites.
DRAWN_WITH_KEYS = ("/AP", "/MK")
# Keys never followed below those: up to a page or into the field tree.
NOT_FOLLOWED = frozenset({"/P", "/Parent"})

Location = tuple[Any, ...]


class _Incomplete(Exception):
    """The survey went past its budget."""


@dataclass(frozen=True)
class Widget:
    """One drawn widget of a revision."""

    key: tuple[int, int]  # (object number, generation); (-1, n) for a direct object
    page: int  # 0-based
    box: Box
    field: str  # the field's full name; "" when it belongs to no field
    shows: bool  # draws something: an appearance with content or a value (not an empty /Sig)
    draws_with: frozenset[int]  # object numbers of everything it draws with
    inherited: str  # the drawn field keys it inherits, as text
    # False when it has no appearance stream: viewers draw it from its value, /DA and the
    # form's /DR, so the form's look is part of its own.
    own_appearance: bool = True


@dataclass
class Survey:
    """One revision's drawn widgets, its fields' values and where its objects are."""

    widgets: list[Widget] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # field full name → value as text
    locations: dict[int, Location] = field(default_factory=dict)
    need_appearances: bool = False
    # What a viewer drawing a field afresh takes from the form (its /DR with every object it
    # reaches by location, /DA, /Q), as text.
    form_look: str = ""
    complete: bool = True


def redrawn(before: Survey, after: Survey) -> set[tuple[int, int]]:
    """Keys of the widgets of ``after`` that are new or drawn otherwise than in ``before``."""
    if after.need_appearances and (
        not before.need_appearances or before.form_look != after.form_look
    ):
        return {w.key for w in after.widgets}  # viewers draw every field afresh
    earlier = {w.key: w for w in before.widgets}
    form_changed = before.form_look != after.form_look
    changed = set()
    for widget in after.widgets:
        old = earlier.get(widget.key)
        if (
            old is None
            or (form_changed and not (widget.own_appearance and old.own_appearance))
            or widget.key[0] < 0
            or (old.box, old.inherited) != (widget.box, widget.inherited)
            or any(
                before.locations.get(n) != after.locations.get(n)
                for n in old.draws_with | widget.draws_with
            )
        ):
            changed.add(widget.key)
    return changed


def survey(reader: Any, deadline: float | None = None) -> Survey:
    """The drawn widgets with an area on the pages of ``reader`` (a pypdf reader), its fields'
    values and its objects' locations; ``complete`` False past the budgets or ``deadline``."""
    result = Survey(locations=_locations(reader))
    walker = _Walker(deadline)
    try:
        fields = _fields(reader, result, walker)
        pages = list(reader.pages)
        if len(pages) > MAX_PAGES:
            raise _Incomplete
        for index, page in enumerate(pages):
            annotations = _resolved(page.get("/Annots")) or []
            annotations = list(annotations)
            if len(annotations) > MAX_ANNOTATIONS_PER_PAGE:
                raise _Incomplete
            turned = _rotation(page)
            for position, ref in enumerate(annotations):
                key = _key(ref) or (-1, index * MAX_ANNOTATIONS_PER_PAGE + position)
                widget = _widget(_resolved(ref), key, (index, turned), fields, walker)
                if widget is not None:
                    result.widgets.append(widget)
    except _Incomplete:
        result.complete = False
    except Exception as exc:  # pypdf's errors on a hostile file are many: fail closed
        log.debug("widgets unreadable: %s", exc)
        result.complete = False
    return result


class _Walker:
    """Follows what a widget draws with, within one budget for the whole survey."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.work = 0
        self.content: dict[int, bool] = {}  # appearance stream → draws something
        self.reached: dict[int, frozenset[int]] = {}  # object → the objects it reaches

    def spend(self) -> None:
        self.work += 1
        if self.work > MAX_SURVEY_WORK:
            raise _Incomplete
        if self.deadline is not None and self.work % 512 == 0 and time.monotonic() > self.deadline:
            raise _Incomplete

    def draws_with(self, widget: Any, key: tuple[int, int]) -> frozenset[int]:
        """The widget's own object number and those of everything it draws with."""
        found: set[int] = {key[0]} if key[0] >= 0 else set()
        for entry in (widget[k] for k in DRAWN_WITH_KEYS if k in widget):
            found |= self._reached(entry, set())[0]
        return frozenset(found)

    def _reached(self, value: Any, active: set[int]) -> tuple[frozenset[int], bool]:
        """The object numbers ``value`` reaches, and whether that set is whole: a set cut
        short by a loop back to an object being walked (``active``) is not remembered, so a
        later widget never takes a partial set for the whole one. Objects shared by many
        widgets (a form's font) are walked once."""
        found: set[int] = set()
        whole = True
        stack = [value]
        while stack:
            item = stack.pop()
            number = getattr(item, "idnum", None)
            if number is not None:
                number = int(number)
                if number in self.reached:
                    found |= self.reached[number]
                    continue
                if number in active:
                    found.add(number)
                    whole = False
                    continue
                self.spend()
                active.add(number)
                inner, inner_whole = self._reached_inside(item.get_object(), active)
                active.discard(number)
                inner = inner | {number}
                if inner_whole:
                    self.reached[number] = inner
                found |= inner
                whole = whole and inner_whole
            elif isinstance(item, (dict, list)):
                stack.extend(_containers(item))
        return frozenset(found), whole

    def _reached_inside(self, value: Any, active: set[int]) -> tuple[frozenset[int], bool]:
        self.spend()
        found: set[int] = set()
        whole = True
        for item in _containers(value) if isinstance(value, (dict, list)) else ():
            inner, inner_whole = self._reached(item, active)
            found |= inner
            whole = whole and inner_whole
        return frozenset(found), whole

    def fingerprint(self, value: Any, locations: dict[int, Location]) -> str:
        """``value`` as text, each indirect object it reaches named by its location (an object
        a later update rewrites gets another), within the survey's budget."""
        parts: list[str] = []
        seen: set[int] = set()
        stack = [value]
        while stack:
            self.spend()
            item = stack.pop()
            number = getattr(item, "idnum", None)
            if number is not None:
                parts.append(f"@{number}={locations.get(int(number))}")
                if number in seen:
                    continue
                seen.add(int(number))
                item = item.get_object()
            if isinstance(item, dict):
                keys = sorted(item.keys())
                parts.append("{" + ",".join(str(k) for k in keys))
                stack.extend(item[k] for k in reversed(keys))
            elif isinstance(item, list):
                parts.append(f"[{len(item)}")
                stack.extend(reversed(item))
            else:
                parts.append(str(item)[:1000])
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def appearance_shows(self, annotation: Any) -> bool:
        """Whether the widget's normal appearance (the /AS state's) draws anything."""
        normal = _resolved(_resolved(annotation.get("/AP") or {}).get("/N"))
        if hasattr(normal, "get") and not hasattr(normal, "get_data"):
            normal = _resolved(normal.get(annotation.get("/AS")))
        if not hasattr(normal, "get_data"):
            return False
        number = getattr(normal.indirect_reference, "idnum", None)
        if number is not None and number in self.content:
            return self.content[number]
        self.spend()
        shows = bool(normal.get_data().strip())
        if number is not None:
            self.content[number] = shows
        return shows


def _containers(value: Any) -> list[Any]:
    """The references and containers directly inside a dictionary (but the keys never
    followed) or an array: plain numbers and names lead nowhere."""
    items = (
        [v for k, v in value.items() if k not in NOT_FOLLOWED] if isinstance(value, dict) else value
    )
    return [v for v in items if hasattr(v, "idnum") or isinstance(v, (dict, list))]


def _widget(
    annotation: Any,
    key: tuple[int, int],
    where: tuple[int, bool],
    fields: dict[tuple[int, int], tuple[str, str, str]],
    walker: _Walker,
) -> Widget | None:
    """``where``: the page's index and whether the page is turned (/Rotate)."""
    if not hasattr(annotation, "get") or annotation.get("/Subtype") != "/Widget":
        return None
    page, turned = where
    box = Box.of(annotation.get("/Rect"))
    flags = _int(annotation.get("/F"))
    if box is None or flags & NOT_DRAWN:
        return None
    if turned and flags & NO_ROTATE:
        box = _swung(box)
    name, value, field_type = fields.get(key) or _by_parent(annotation)
    inherited = _inherited(annotation)
    empty_signature = field_type == "/Sig" and not value
    ticked_off = value == "/Off" or str(annotation.get("/AS", "")) == "/Off"
    shows = (
        not empty_signature
        and not ticked_off
        and (bool(value) or walker.appearance_shows(annotation))
    )
    own = hasattr(_resolved(_resolved(annotation.get("/AP") or {}).get("/N")), "get")
    draws_with = walker.draws_with(annotation, key)
    return Widget(key, page, box, name, shows, draws_with, inherited, own_appearance=own)


def _swung(box: Box) -> Box:
    """Everywhere a NoRotate widget's appearance may land on a turned page: the box swung a
    quarter, half or three quarters about any of its corners."""
    reach = max(box.x2 - box.x1, box.y2 - box.y1)
    return Box(box.x1 - reach, box.y1 - reach, box.x2 + reach, box.y2 + reach)


def _rotation(page: Any) -> bool:
    """Whether the page is shown turned (/Rotate, inherited too)."""
    try:
        return int(page.rotation) % 360 != 0
    except Exception:  # a hostile /Rotate: viewers show such a page unturned
        return False


def _locations(reader: Any) -> dict[int, Location]:
    """Where the revision's cross-reference data puts each object (pypdf's tables): an object
    rewritten by a later update has another location there."""
    found: dict[int, Location] = {}
    try:
        for generation, table in dict(reader.xref).items():
            for number, offset in dict(table).items():
                found[int(number)] = ("offset", generation, offset)
        for number, place in dict(reader.xref_objStm).items():
            found[int(number)] = ("stream", *tuple(place))
    except Exception as exc:  # no table to compare: every widget counts as redrawn
        log.debug("cross-reference tables unreadable: %s", exc)
    return found


def _fields(
    reader: Any, result: Survey, walker: _Walker
) -> dict[tuple[int, int], tuple[str, str, str]]:
    """Each field node's and widget's object key → (the field's full name, its value as
    text, its type), walking /AcroForm /Fields and /Kids; the form's values and flags go into
    ``result``."""
    found: dict[tuple[int, int], tuple[str, str, str]] = {}
    form = _resolved(reader.trailer["/Root"].get("/AcroForm"))
    if not hasattr(form, "get"):
        return found
    result.need_appearances = bool(_resolved(form.get("/NeedAppearances")))
    result.form_look = walker.fingerprint(
        [form.get("/DR"), form.get("/DA"), form.get("/Q")], result.locations
    )
    roots = list(_resolved(form.get("/Fields")) or [])
    stack: list[tuple[Any, str, Any, str, int]] = [(r, "", None, "", 0) for r in reversed(roots)]
    seen: set[tuple[int, int]] = set()
    while stack:
        if len(seen) >= MAX_FIELD_NODES:
            raise _Incomplete
        ref, prefix, inherited_value, inherited_type, depth = stack.pop()
        key = _key(ref)
        if key is None or key in seen or depth > MAX_FIELD_DEPTH:
            continue
        seen.add(key)
        node = ref.get_object()
        if not hasattr(node, "get"):
            continue
        title = node.get("/T")
        name = f"{prefix}.{title}" if prefix and title is not None else str(title or prefix)
        value = node.get("/V", inherited_value)
        field_type = str(node.get("/FT", inherited_type))
        found[key] = (name, _value_text(value), field_type)
        result.values[name] = _value_text(value)
        for kid in reversed(list(_resolved(node.get("/Kids")) or [])):
            stack.append((kid, name, value, field_type, depth + 1))
    return found


def _by_parent(annotation: Any) -> tuple[str, str, str]:
    """A widget's field name, value and type through /Parent (at most 32 levels)."""
    names: list[str] = []
    value: Any = None
    field_type = ""
    node: Any = annotation
    for _ in range(MAX_FIELD_DEPTH):
        if not hasattr(node, "get"):
            break
        if "/T" in node:
            names.append(str(node["/T"]))
        if value is None and "/V" in node:
            value = node["/V"]
        if not field_type and "/FT" in node:
            field_type = str(node["/FT"])
        node = _resolved(node.get("/Parent"))
    return ".".join(reversed(names)), _value_text(value), field_type


def _inherited(annotation: Any) -> str:
    """The drawn field keys of the widget and its field ancestors, as text."""
    parts: list[str] = []
    node: Any = annotation
    for _ in range(MAX_FIELD_DEPTH):
        if not hasattr(node, "get"):
            break
        parts.extend(f"{k}={_text(node.get(k))}" for k in DRAWN_FIELD_KEYS if k in node)
        parts.append("|")
        node = _resolved(node.get("/Parent"))
    return "".join(parts)


def _value_text(value: Any) -> str:
    """A field value as text for comparison: a signature dictionary is "signed"."""
    value = _resolved(value)
    if value is None:
        return ""
    if hasattr(value, "get") and ("/Contents" in value or "/ByteRange" in value):
        return "signed " + _text(value.get("/ByteRange"))
    return _text(value)


def _text(value: Any, depth: int = 2) -> str:
    """``value`` as text, references followed ``depth`` levels (at most 10,000 characters)."""
    value = _resolved(value)
    if depth > 0 and isinstance(value, dict):
        inner = ",".join(f"{k}:{_text(v, depth - 1)}" for k, v in sorted(value.items())[:50])
        return ("{" + inner + "}")[:10_000]
    if depth > 0 and isinstance(value, list):
        return ("[" + ",".join(_text(v, depth - 1) for v in value[:50]) + "]")[:10_000]
    return str(value)[:10_000]


def _key(ref: Any) -> tuple[int, int] | None:
    number = getattr(ref, "idnum", None)
    return (int(number), int(getattr(ref, "generation", 0))) if number is not None else None


def _resolved(value: Any) -> Any:
    return value.get_object() if hasattr(value, "get_object") else value


def _int(value: Any) -> int:
    try:
        return int(_resolved(value)) if value is not None else 0
    except (TypeError, ValueError):
        return 0
