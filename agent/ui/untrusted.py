"""How text the agent does not own is shown: one line, inert, bounded. Pure.

Everything a page can influence reaches a prompt as a string: a batch label, a dossier's title
and summary lines (read from the XML the page sent), a file name, a certificate's subject (a DN
is whatever its issuer wrote). A label carrying ``ESC[2J ESC[H``, a newline and a fake
"Trang web / Origin: …" line, or U+202E, could otherwise clear or reorder the real prompt.
Every prompter (terminal, dialog, scripted log) passes such text through :func:`render_untrusted`
once, when the prompt's text is built, so all three show exactly the same thing.

The rules, in order:

1. NFC-normalise (Vietnamese typed in NFD becomes the usual precomposed letters).
2. Line breaks, tabs and every other kind of space (U+2028/2029, NEL, NBSP, ideographic space…)
   become one ordinary space; runs collapse to one space; the ends are trimmed. One line each.
3. Nothing invisible or active survives, and nothing is silently hidden: every control or
   format character becomes a visible ASCII tag ``<U+XXXX>`` (ESC → ``<U+001B>``): C0
   controls and DEL, C1 controls (U+009B CSI, U+009D OSC…), bidi embeddings, overrides,
   isolates and marks (U+202A–202E, U+2066–2069, U+200E/200F, U+061C), zero-width
   characters (U+200B–200D, U+2060, U+FEFF), soft hyphen, tag characters, variation selectors,
   Hangul fillers, lone surrogates, private-use and unassigned code points. Escape sequences are
   not parsed: without their ESC/CSI/OSC introducer the rest (``[2J``) is inert printable text,
   and showing it tells the user the label was tampered with. No parser means no parser to fool.
4. Combining marks: at most :data:`MAX_MARKS` per base character, counted in NFD (Vietnamese
   needs two: ệ is e + dot below + circumflex); a flood beyond that is dropped, and so is a
   mark with no base in the string (it would otherwise stack onto the agent's own prefix).
5. At most ``limit`` characters: longer text is cut at a whole character (a ``<U+XXXX>`` tag is
   never split) and ends with "…".

:func:`render_origin` is stricter: an origin is ASCII (browsers send IDN hosts as punycode), so
any other character is tagged, and a too-long origin is cut in the middle, never at the end
where the registrable domain is.
"""

from __future__ import annotations

import functools
import unicodedata

from agent.shown import HIDDEN_CATEGORIES, INVISIBLE, MARK_CATEGORIES, tag

__all__ = [
    "ELLIPSIS",
    "LABEL_LIMIT",
    "LINE_LIMIT",
    "MAX_MARKS",
    "ORIGIN_LIMIT",
    "TITLE_LIMIT",
    "VALUE_LIMIT",
    "render_origin",
    "render_untrusted",
]

ELLIPSIS = "…"
MAX_MARKS = 2  # combining marks kept per base character
LINE_LIMIT = 200  # default: one line of a prompt
TITLE_LIMIT = 160  # an item's title, a certificate's subject
LABEL_LIMIT = 60  # the label column of a summary line
VALUE_LIMIT = 240  # a summary line's value
ORIGIN_LIMIT = 300  # a host name is at most 253 characters; longer means something is wrong

# Line breaks, tabs and the separators that str.isspace() also counts (FS, GS, RS, US) collapse
# to one space; Zs (NBSP, thin, ideographic spaces...) too, so no odd space can pad a line.
_BREAKS = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")


def _clusters(text: str) -> list[str]:
    """The rendered text as atoms: a character with its kept marks, a tag, or one space."""
    out: list[str] = []
    marks = 0  # combining marks kept on the last base character
    have_base = False  # whether out[-1] is a character a mark may attach to
    space = False
    for char in text:
        category = unicodedata.category(char)
        if char in _BREAKS or category == "Zs":
            space = True
            continue
        if category in MARK_CATEGORIES and char not in INVISIBLE:
            # A mark attaches to the character before it; never to a space or to a prefix the
            # agent writes before this text, and never more than MAX_MARKS of them.
            if have_base and not space and marks < MAX_MARKS:
                out[-1] += char
                marks += 1
            continue
        if space and out:
            out.append(" ")
        space = False
        marks = 0
        if category in HIDDEN_CATEGORIES or char in INVISIBLE:
            out.append(tag(char))
            have_base = False  # a tag is not a base a mark may stack on
        else:
            out.append(char)
            have_base = True
            if ord(char) >= 0xC0:  # a precomposed letter already carries marks (ệ carries two)
                marks = _marks_within(char)
    return out


def _marks_within(char: str) -> int:
    """How many combining marks a precomposed character stands for (its NFD)."""
    decomposed = unicodedata.normalize("NFD", char)
    return sum(1 for c in decomposed[1:] if unicodedata.category(c) in MARK_CATEGORIES)


def _fit(clusters: list[str], limit: int, *, more: bool = False) -> str:
    """Join ``clusters``; when longer than ``limit`` (or ``more`` was cut off before), cut at a
    whole cluster (a letter keeps its marks, a tag stays whole) and end with "…"."""
    if not more and sum(len(c) for c in clusters) <= limit:
        return "".join(clusters)
    kept: list[str] = []
    used = 0
    for cluster in clusters:
        if used + len(cluster) > limit - len(ELLIPSIS):
            break
        kept.append(cluster)
        used += len(cluster)
    while kept and kept[-1] == " ":
        kept.pop()
    return "".join(kept) + ELLIPSIS


# Short texts keep their rendering: every consent shows the same certificate names, token
# label, origin and labels again (16 renderings per consent), and the result depends only on
# the text and the limit. Bounded in entries and in the length of a text kept.
MEMO_CHARS = 320  # a name, a label, a summary line; longer page text is rendered each time
MEMO_ENTRIES = 1024


def render_untrusted(text: object, limit: int = LINE_LIMIT) -> str:
    """``text`` as one inert, visible line of at most ``limit`` characters (see module doc).

    Safe for every prompter: the result has no control, format, bidi or zero-width character,
    no line break, no character a UTF-8 stream cannot encode, and at most MAX_MARKS combining
    marks per base. Plain Vietnamese text comes back unchanged (in NFC).
    """
    if type(text) is str and len(text) <= MEMO_CHARS:  # a str subclass could override str()
        return _render_memo(text, limit)
    return _render(text, limit)


def render_untrusted_middle(text: object, limit: int = LINE_LIMIT) -> str:
    """:func:`render_untrusted`, but a text too long loses its middle, never its end: for file
    names and folders, where the end tells two apart (``.pdf`` against ``.exe``, ``thang10``
    against ``thang11``, ``_signed.pdf``)."""
    whole = render_untrusted(text, limit * 4)
    if len(whole) <= limit:
        return whole
    tail = (limit * 2) // 3
    head = limit - tail - len(ELLIPSIS)
    start = len(whole) - tail
    # Never open the tail with a combining mark (it would sit on the ellipsis).
    while start < len(whole) - 1 and not _shows_alone(whole[start]):
        start += 1
    return whole[:head].rstrip(" ") + ELLIPSIS + whole[start:]


def _render(text: object, limit: int) -> str:
    """:func:`render_untrusted`, computed."""
    if limit <= len(ELLIPSIS):
        raise ValueError("limit must leave room for the ellipsis")
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    # Bound the work: every character shown costs at least one of the limit, so past a few
    # times the limit (spaces and marks collapse) nothing more can show.
    bound = limit * 4 + 16
    head = text[:bound]
    if _plain(head):
        # The common case (names, MST, hashes, dates, the agent's own warnings): nothing to
        # change, only perhaps to cut. Exactly what _careful gives for such text (each
        # character is its own cluster, spaces are single), without walking it in Python.
        if len(text) <= bound:  # head is all of it; a trailing space is dropped
            whole = head[:-1] if head.endswith(" ") else head
            if len(whole) <= limit:
                return whole
        return head[: limit - len(ELLIPSIS)].rstrip(" ") + ELLIPSIS
    return _careful(head, limit, more=len(text) > bound)


_render_memo = functools.lru_cache(maxsize=MEMO_ENTRIES)(_render)


def _careful(head: str, limit: int, *, more: bool) -> str:
    """The character-by-character rendering of ``head`` (at most the bound), ``more`` when
    the text went on past it."""
    # NFC cannot create controls; it may compose letters, and leaves lone surrogates alone.
    return _fit(_clusters(unicodedata.normalize("NFC", head)), limit, more=more)


def _plain(text: str) -> bool:
    """True when every rule leaves ``text`` as it is, but for a trailing space and the cut:
    printable (no control, format, private or unassigned character; no space but U+0020),
    no double space, no leading space, and NFC with no combining mark or invisible letter."""
    return (
        text.isprintable()
        and "  " not in text
        and not text.startswith(" ")
        and (text.isascii() or _plain_unicode(text))
    )


@functools.lru_cache(maxsize=4096)
def _shows_alone(char: str) -> bool:
    """False for a combining mark (Mn, Me) or an invisible letter. Asked once per distinct
    character: a page's text uses a few dozen, and the cache is bounded against one that
    cycles through many (each call sees at most a few times the limit, see the bound)."""
    return unicodedata.category(char) not in MARK_CATEGORIES and char not in INVISIBLE


def _plain_unicode(text: str) -> bool:
    """True when the slow path would return ``text`` unchanged: NFC, no combining mark (NFC
    Vietnamese has none: its letters are precomposed) and no invisible character. Each
    distinct character is judged once (``set`` runs in C); walking the text character by
    character cost about 1 ms per consent, and a table of every mark in Unicode cost 0.1 s
    on the event loop at the first consent."""
    return unicodedata.is_normalized("NFC", text) and all(map(_shows_alone, set(text)))


def _ascii_tagged(value: str) -> str:
    return "".join(c if 0x21 <= ord(c) <= 0x7E else tag(c) for c in value)


def render_origin(origin: object, limit: int = ORIGIN_LIMIT) -> str:
    """An origin for display: printable ASCII as is, anything else tagged ``<U+XXXX>``.

    The agent normalises origins before asking (``scheme://host[:port]``), so this changes
    nothing for a real one; it only keeps a malformed value from passing as another site. A
    value longer than ``limit`` loses its middle, never its end (the registrable domain).
    """
    if origin is None:
        return ""
    if type(origin) is str and len(origin) <= MEMO_CHARS:
        return _origin_memo(origin, limit)
    return _render_origin(origin if isinstance(origin, str) else str(origin), limit)


def _render_origin(value: str, limit: int) -> str:
    """:func:`render_origin`, computed."""
    shown = _ascii_tagged(value[: limit + 1])
    if len(value) <= limit and len(shown) <= limit:
        return shown
    # Too long: keep the scheme and host start, and the end, where the registrable domain is.
    tail = (limit * 2) // 3
    head = limit - tail - len(ELLIPSIS)
    return _ascii_tagged(value[:head])[:head] + ELLIPSIS + _ascii_tagged(value[-tail:])[-tail:]


# The same few origins are shown at every prompt (see MEMO_CHARS).
_origin_memo = functools.lru_cache(maxsize=MEMO_ENTRIES)(_render_origin)
