"""Where a PDF page's glyphs are drawn, for the sneaky-signature check (agent.signing.pdf
.overlay): a small content-stream interpreter that follows the graphics state, the text
matrices and form XObjects, and records each shown glyph's box. Widths come
from a simple font's /Widths, else an estimate: the test is whether a stamp hides a word, not
exact glyph outlines. Pure logic on pypdf objects; no I/O.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from agent.signing.pdf.fontmetrics import FontMetrics, metrics_of

log = logging.getLogger(__name__)

# What one page's text may cost to read (pypdf parses a whole stream before its first
# operator; operators, TJ elements and glyphs are counted as work): past it the page counts as
# covered, since where its words are cannot be told.
MAX_PAGE_CONTENT_BYTES = 1_000_000
MAX_PAGE_OPERATORS = 500_000


class _OverBudget(Exception):
    """A page's text went past what the check reads."""


@dataclass(frozen=True)
class Box:
    """A rectangle in the page's default user space (points, origin bottom-left)."""

    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def of(cls, values: Any) -> Box | None:
        """A widget's /Rect normalised, or None when it is not four numbers or has no area."""
        try:
            x1, y1, x2, y2 = (float(v) for v in values)
        except (TypeError, ValueError):
            return None
        box = cls(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
        return box if box.x2 - box.x1 > 0 and box.y2 - box.y1 > 0 else None

    def covers_centre_of(self, other: Box) -> bool:
        """Whether ``other``'s centre lies inside this box."""
        cx, cy = (other.x1 + other.x2) / 2, (other.y1 + other.y2) / 2
        return self.x1 < cx < self.x2 and self.y1 < cy < self.y2


def text_boxes(page: Any, deadline: float | None = None) -> list[Box] | None:
    """Where the page's glyphs are drawn, one box each in user space (a stamp hides a glyph
    when it covers the box's centre; see :class:`_TextFinder`); None when reading them would
    cost more than the budget (a hostile page, or ``deadline``, a :func:`time.monotonic`
    value, passed) or the page's content cannot be parsed at all."""
    finder = _TextFinder(deadline)
    try:
        finder.run_page(page)
    except _OverBudget:
        return None
    except Exception as exc:  # pypdf's errors on a damaged stream are many
        # Where its words are cannot be told: as costly as a hostile page (fail closed).
        log.debug("page text unreadable for the stamp check: %s", exc)
        return None
    return finder.found


_IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
# A glyph's ink across, in font-size units, whatever its advance: the font's /Widths move the
# pen, not the ink, so a hostile width must not carry the box away from the glyph.
MIN_INK_EM = 0.3
MAX_INK_EM = 1.2
# Full stops in a row from which they are a leader line, not punctuation.
LEADER_RUN = 3
# A glyph's extent below and above the baseline, in font-size units (its centre is then
# 0.3 em above the baseline, where a stamp must reach to hide it).
DESCENT_EM = 0.25
ASCENT_EM = 0.85
# Nested form XObjects followed (a form drawing itself is a loop; past this, over budget).
MAX_FORM_DEPTH = 8
# Glyphs recorded per page (a hostile page may draw millions).
MAX_PAGE_GLYPHS = 200_000


@dataclass
class _State:
    """The graphics and text state the glyph positions depend on."""

    ctm: tuple[float, ...] = _IDENTITY
    font: Any = None
    size: float = 0.0
    char_spacing: float = 0.0
    word_spacing: float = 0.0
    scale: float = 1.0
    leading: float = 0.0
    rise: float = 0.0


@dataclass
class _TextPosition:
    """The text matrix and the text line matrix (PDF 32000 §9.4.2)."""

    matrix: tuple[float, ...] = _IDENTITY
    line: tuple[float, ...] = _IDENTITY

    def move_to(self, matrix: tuple[float, ...]) -> None:
        self.matrix = self.line = matrix


_STATE_OPERATORS = frozenset({"cm", "Tf", "Tc", "Tw", "Tz", "TL", "Ts"})
_TEXT_OPERATORS = frozenset({"BT", "Td", "TD", "Tm", "T*", "'", '"', "Tj", "TJ"})


def _set_state(state: _State, op: str, operands: Any, resources: Any) -> None:
    """One operator of :data:`_STATE_OPERATORS`."""
    if op == "cm":
        state.ctm = _multiply(_numbers(operands), state.ctm)
    elif op == "Tf":
        state.font = _get(_get(_get(resources).get("/Font")).get(operands[0]))
        state.size = float(operands[1])
    else:
        value = float(operands[0])
        if op == "Tc":
            state.char_spacing = value
        elif op == "Tw":
            state.word_spacing = value
        elif op == "Tz":
            state.scale = value / 100
        elif op == "TL":
            state.leading = value
        else:
            state.rise = value


class _TextFinder:
    """A small content-stream interpreter: it follows what moves text (q/Q/cm, the text
    matrices, Tf/Tc/Tw/Tz/TL/Ts, and form XObjects with their /Matrix) and records the box
    of each shown glyph, so text drawn through forms, turned by a matrix or set apart inside
    one TJ is found where a reader sees it. Advances come from the fonts as readers take them
    (agent.signing.pdf.fontmetrics). Clipping and render modes are not followed: invisible
    text (a scan's OCR layer) marks where the scan's words are. A Type3 font's glyphs are
    procedures that may draw anywhere: a page showing one counts as unreadable (covered)."""

    def __init__(self, deadline: float | None) -> None:
        self.found: list[Box] = []
        self.deadline = deadline
        self.work = 0
        self.next_clock = 0
        self.forms: dict[int, Any] = {}
        self.fonts: dict[int, FontMetrics] = {}

    def run_page(self, page: Any) -> None:
        contents = page.get_contents()
        if contents is None:
            return
        if len(contents.get_data()) > MAX_PAGE_CONTENT_BYTES:
            raise _OverBudget
        resources = page.get("/Resources")
        self._run(contents.operations, _get(resources), _State(), 0)

    def _spend(self, amount: int = 1) -> None:
        self.work += amount
        if self.work > MAX_PAGE_OPERATORS or len(self.found) > MAX_PAGE_GLYPHS:
            raise _OverBudget
        if self.deadline is not None and self.work >= self.next_clock:
            self.next_clock = self.work + 1024
            if time.monotonic() > self.deadline:
                raise _OverBudget

    def _run(self, operations: Any, resources: Any, state: _State, depth: int) -> None:
        stack: list[_State] = []
        text = _TextPosition()
        for operands, operator in operations:
            self._spend()
            op = operator.decode("latin-1") if isinstance(operator, bytes) else str(operator)
            try:
                if op == "q":
                    stack.append(replace(state))
                elif op == "Q":
                    state = stack.pop() if stack else state
                elif op == "Do" and operands:
                    self._form(operands[0], resources, state, depth)
                elif op in _STATE_OPERATORS:
                    _set_state(state, op, operands, resources)
                elif op in _TEXT_OPERATORS:
                    self._text(text, op, operands, state)
            except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
                # One odd operator (a viewer skips it too): the page's other glyphs still count.
                log.debug("operator %s skipped in the stamp check: %s", op, exc)

    def _text(self, text: _TextPosition, op: str, operands: Any, state: _State) -> None:
        """One text-positioning or text-showing operator."""
        if op == "BT":
            text.move_to(_IDENTITY)
        elif op in ("Td", "TD"):
            tx, ty = float(operands[0]), float(operands[1])
            if op == "TD":
                state.leading = -ty
            text.move_to(_multiply((1.0, 0.0, 0.0, 1.0, tx, ty), text.line))
        elif op == "Tm":
            text.move_to(_numbers(operands))
        elif op in ("T*", "'", '"'):
            if op == '"':
                state.word_spacing, state.char_spacing = float(operands[0]), float(operands[1])
            text.move_to(_multiply((1.0, 0.0, 0.0, 1.0, 0.0, -state.leading), text.line))
            if op != "T*":
                text.matrix = self._show(operands[-1], text.matrix, state)
        elif op == "Tj":
            text.matrix = self._show(operands[0], text.matrix, state)
        elif op == "TJ":
            for item in operands[0]:
                self._spend()
                if isinstance(item, (str, bytes)):
                    text.matrix = self._show(item, text.matrix, state)
                else:
                    shift = -float(item) / 1000 * state.size * state.scale
                    text.matrix = _multiply((1.0, 0.0, 0.0, 1.0, shift, 0.0), text.matrix)

    def _form(self, name: Any, resources: Any, state: _State, depth: int) -> None:
        from pypdf.generic import ContentStream

        form = _get(_get(_get(resources).get("/XObject")).get(name))
        if form is None or form.get("/Subtype") != "/Form":
            return
        if depth >= MAX_FORM_DEPTH:
            raise _OverBudget
        key = id(form)
        if key not in self.forms:
            data = form.get_data()
            if len(data) > MAX_PAGE_CONTENT_BYTES:
                raise _OverBudget
            self._spend(1 + len(data) // 64)
            self.forms[key] = ContentStream(form, None).operations
        operations = self.forms[key]
        matrix = _numbers(form.get("/Matrix", _IDENTITY))
        inner = replace(state, ctm=_multiply(matrix, state.ctm))
        own = form.get("/Resources")
        self._run(operations, _get(own) if own is not None else resources, inner, depth + 1)

    def _show(self, text: Any, tm: tuple[float, ...], state: _State) -> tuple[float, ...]:
        """Record each glyph of ``text`` and return the text matrix after it."""
        raw = text.get_original_bytes() if hasattr(text, "get_original_bytes") else bytes(text)
        metrics = self._metrics(state.font)
        if metrics.type3 and raw:
            # Its glyphs are procedures that may draw anywhere: where they land is unknown.
            raise _OverBudget
        step = 2 if metrics.two_byte else 1
        codes = [
            int.from_bytes(raw[at : at + step], "big") for at in range(0, len(raw) - step + 1, step)
        ]
        leaders = _leaders(codes, metrics)
        full = _multiply(tm, state.ctm)
        x = 0.0
        # From the descenders to the ascenders: the box's centre is the glyph's middle.
        low = state.rise - DESCENT_EM * state.size
        high = state.rise + ASCENT_EM * state.size
        for index, code in enumerate(codes):
            self._spend()
            em = metrics.width(code) / 1000
            advance = em * state.size + state.char_spacing
            if step == 1 and code == 32:
                advance += state.word_spacing
            elif index not in leaders:
                # The ink starts at the pen, whatever the font claims its width to be.
                ink = min(max(em, MIN_INK_EM), MAX_INK_EM)
                right = x + ink * state.size * state.scale
                corners = [_apply(full, cx, cy) for cx in (x, right) for cy in (low, high)]
                xs, ys = [c[0] for c in corners], [c[1] for c in corners]
                self.found.append(Box(min(xs), min(ys), max(xs), max(ys)))
            x += advance * state.scale
        return _multiply((1.0, 0.0, 0.0, 1.0, x, 0.0), tm)

    def _metrics(self, font: Any) -> FontMetrics:
        key = id(font)
        if key not in self.fonts:
            self.fonts[key] = metrics_of(font)
        return self.fonts[key]


def _leaders(codes: list[int], metrics: FontMetrics) -> set[int]:
    """Positions of rule and leader glyphs: underscores, and full stops in runs of three or
    more (a signature line "________", a form's "Họ tên: ........."): a stamp on them hides
    no word. A single full stop (a decimal point) still counts."""
    found = {i for i, code in enumerate(codes) if code in metrics.underscore}
    run: list[int] = []
    for i, code in enumerate([*codes, -1]):
        if code in metrics.full_stop:
            run.append(i)
            continue
        if len(run) >= LEADER_RUN:
            found.update(run)
        run = []
    return found


def _get(value: Any) -> Any:
    """A PDF value with an indirect reference resolved; {} for None (a missing dictionary)."""
    if value is None:
        return {}
    return value.get_object() if hasattr(value, "get_object") else value


def _numbers(values: Any) -> tuple[float, ...]:
    numbers = tuple(float(v) for v in values)
    if len(numbers) != 6:
        raise ValueError("a matrix has six numbers")
    return numbers


def _apply(m: tuple[float, ...], x: float, y: float) -> tuple[float, float]:
    """The point (x, y) through the matrix ``m``."""
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def _multiply(m: Any, n: Any) -> tuple[float, float, float, float, float, float]:
    """The PDF matrix product m × n (six numbers each)."""
    a1, b1, c1, d1, e1, f1 = (float(v) for v in m)
    a2, b2, c2, d2, e2, f2 = (float(v) for v in n)
    return (
        a1 * a2 + b1 * c2,
        a1 * b2 + b1 * d2,
        c1 * a2 + d1 * c2,
        c1 * b2 + d1 * d2,
        e1 * a2 + f1 * c2 + e2,
        e1 * b2 + f1 * d2 + f2,
    )
