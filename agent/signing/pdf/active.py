"""Active content in a PDF: what the file can do by itself once opened. Pure reading.

A PDF that runs script, launches a program or fetches data when opened can show something
other than what is signed, so the consent names each of these. Every object that can hold an
action is walked: the catalog (/OpenAction, /AA, the /JavaScript name tree, /AcroForm with its
fields and their /Kids), every page of the page tree (/AA, /Annots with /A, /PA and /AA), the
outline, and each action's /Next chain. Only dictionaries are read, never a content stream, so a
50 MB scan costs a few milliseconds more. Action types are judged by an allow-list: only moving
within the document is harmless; anything else the file runs by itself (resetting the form,
switching layers, playing media) is :data:`CHANGES_VIEW`, and a type Kyso does not know is
:data:`INCOMPLETE`.

A hostile file cannot hang or crash the walk: references already seen are skipped (cycles),
nesting stops at :data:`MAX_DEPTH`, and :data:`MAX_NODES` objects or :data:`MAX_SECONDS` end
it. Whatever cuts the walk short (a limit, an object that cannot be read) adds
:data:`INCOMPLETE`, so the consent says "could not check all of it" instead of calling the file
clean.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from typing import Any

from agent.signing.pdf.annotflags import view_differs_from_print

JAVASCRIPT = "javascript"
LAUNCH = "launch"
NETWORK = "network"
OTHER_FILES = "other_files"
EMBEDDED_FILES = "embedded_files"
XFA = "xfa"
CHANGES_VIEW = "changes_view"
LAYERS = "layers"
PRINT_DIFFERS = "print_differs"
FIELDS_REDRAWN = "fields_redrawn"
INCOMPLETE = "incomplete"
KINDS = (
    JAVASCRIPT,
    LAUNCH,
    NETWORK,
    OTHER_FILES,
    EMBEDDED_FILES,
    XFA,
    CHANGES_VIEW,
    LAYERS,
    PRINT_DIFFERS,
    FIELDS_REDRAWN,
    INCOMPLETE,
)

# Objects visited (read, or skipped as already seen). pyHanko parses an object in about 0.1 ms,
# so a file with ~10,000 annotations (500 pages of 10 links, each with its action) takes about a
# second; MAX_SECONDS stops the slow case, MAX_NODES the fast one (one object listed 10^6 times).
MAX_NODES = 50_000
MAX_DEPTH = 64  # page trees are a few levels deep, /Next chains and field trees a handful
MAX_SECONDS = 2.0
# A page whose first 4 KB hold none of these is known to carry no action (see plain_page).
_PAGE_WINDOW = 4096
_NOT_PLAIN = (b"/Kids", b"/AA", b"/Annots", b"/AF", b"#", b"(", b"%", b"\\", b"stream")
_REF_HOPS = 8  # "1 0 R" pointing at "2 0 R"...: pyHanko itself would recurse without end

# What the consent says about each kind, Vietnamese then English.
WARNINGS: dict[str, tuple[str, str]] = {
    JAVASCRIPT: (
        "tệp có JavaScript: khi mở, nội dung hiển thị có thể bị thay đổi và khác với những gì "
        "bạn ký",
        "the file contains JavaScript: once opened, what it shows can change and differ from "
        "what you sign",
    ),
    LAUNCH: (
        "tệp có lệnh chạy chương trình trên máy tính của bạn",
        "the file can launch a program on your computer",
    ),
    NETWORK: (
        "tệp có thể gửi dữ liệu biểu mẫu hoặc tự kết nối mạng",
        "the file can submit form data or connect to the network by itself",
    ),
    OTHER_FILES: (
        "tệp có thể mở hoặc nạp dữ liệu từ tệp khác",
        "the file can open other files or import data from them",
    ),
    EMBEDDED_FILES: (
        "tệp có tệp đính kèm bên trong; chữ ký phủ cả chúng",
        "the file carries embedded files, and the signature covers them too",
    ),
    XFA: (
        "tệp là biểu mẫu XFA: trình đọc PDF dựng nội dung hiển thị, có thể khác với những gì "
        "bạn ký",
        "the file is an XFA form: the PDF reader builds what it shows, which can differ from "
        "what you sign",
    ),
    CHANGES_VIEW: (
        "khi mở, tệp tự động đặt lại biểu mẫu, ẩn/hiện nội dung hoặc phát media: có thể hiển "
        "thị khác với những gì bạn ký",
        "once opened, the file itself resets forms, hides or shows content or plays media: it "
        "may show other than what you sign",
    ),
    # No action needed: a layer can be off on screen and on in print (or the reverse), and
    # readers differ in which they show.
    LAYERS: (
        "tệp có lớp nội dung (layer): trình đọc khác hoặc bản in có thể ẩn/hiện khác với những "
        "gì bạn thấy",
        "the file has layers: another reader, or the printout, may hide or show other content "
        "than you see",
    ),
    # No action needed either: an annotation's flags alone make it show on screen only, or in
    # print only (a white box over a clause).
    PRINT_DIFFERS: (
        "tệp có phần chỉ hiện trên màn hình hoặc chỉ có khi in: bản in có thể khác những gì bạn "
        "thấy",
        "the file has parts shown only on screen or only in print: the printout may differ",
    ),
    # The reader draws the fields from their values, which may differ from the pictures shown.
    FIELDS_REDRAWN: (
        "tệp yêu cầu trình đọc tự vẽ lại các ô biểu mẫu: giá trị ô có thể hiện khác",
        "the file asks readers to redraw its form fields: their values may show differently",
    ),
    # Each line fits a consent value (agent.ui.untrusted.VALUE_LIMIT) whole, English included.
    INCOMPLETE: (
        "Kyso không kiểm tra hết được tệp (quá lớn, cấu trúc lạ): có thể ẩn nội dung tự chạy; "
        "chỉ ký khi bạn tin nguồn tệp",
        "Kyso could not check all of the file (too large, odd): it may hide active content; "
        "sign only if you trust its source",
    ),
}
WARNING_LABEL = "Cảnh báo / warning"

# Actions that do something outside the document whatever starts them (a click or the file).
_ACTION_KINDS = {
    "/JavaScript": JAVASCRIPT,
    "/RichMediaExecute": JAVASCRIPT,  # a script call into embedded rich media
    "/Launch": LAUNCH,
    "/SubmitForm": NETWORK,
    "/ImportData": OTHER_FILES,
    "/GoToR": OTHER_FILES,
    "/GoToE": OTHER_FILES,
}
# An allow-list: actions that only move within the document, harmless however they start
# (/URI and /Thread are judged by their target below). Every other action type run without a
# click (an /OpenAction, any /AA trigger) is at least CHANGES_VIEW; an action type not known
# at all is INCOMPLETE, clicked or not: what a viewer does with it is a guess.
_NAVIGATION = frozenset({"/GoTo", "/GoToDp", "/Thread", "/URI"})
_NAVIGATION_NAMED = frozenset({"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"})
# Known actions that stay inside the document but change what it shows (or play media): a
# button the user clicks may do this; the file doing it by itself may not.
_CHANGES_VIEW_ACTIONS = frozenset(
    {"/ResetForm", "/SetOCGState", "/Hide", "/Named", "/Trans", "/GoTo3DView"}
)
_MEDIA_ACTIONS = frozenset({"/Rendition", "/Sound", "/Movie"})
_KNOWN_ACTIONS = frozenset({*_ACTION_KINDS, *_NAVIGATION, *_CHANGES_VIEW_ACTIONS, *_MEDIA_ACTIONS})
# Keys of a media action's tree that lead back into the document (its annotation, page,
# next action), not to the media: not followed from it.
_MEDIA_SKIP = frozenset({"/Next", "/AN", "/P", "/Parent", "/Annotation", "/AP", "/Type", "/S"})
# Address schemes a clicked link may use without a warning (opened by itself: network).
_WEB_SCHEMES = frozenset({"http", "https", "mailto", "ftp", "tel"})
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789+.-")

Handler = Callable[["_Walk", Any, int, bool], None]


def warning_lines(kinds: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """One consent line ("Cảnh báo / warning", "vi / en") per kind of active content, in the
    order of :data:`KINDS`."""
    present = set(kinds)
    return tuple(
        (WARNING_LABEL, f"{WARNINGS[kind][0]} / {WARNINGS[kind][1]}")
        for kind in KINDS
        if kind in present
    )


def scan_active(reader: Any) -> tuple[str, ...]:
    """The kinds of active content in the document ``reader`` reads (pyHanko's
    ``PdfFileReader``), in the order of :data:`KINDS`; empty for a file that does nothing by
    itself. Never raises on a hostile file: what it cannot read makes :data:`INCOMPLETE`."""
    walk = _Walk(reader)
    walk.run()
    return tuple(kind for kind in KINDS if kind in walk.found)


class _Walk:
    """One bounded, iterative walk (an explicit stack: no recursion to overflow)."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.found: set[str] = set()
        self.seen: set[tuple[int, int, str, bool]] = set()
        self.stack: list[tuple[str, Any, int, bool]] = []
        self.nodes = 0
        self.uri_base = ""  # the catalog's /URI /Base, cleaned: what relative links resolve to
        self.deadline = time.monotonic() + MAX_SECONDS

    def run(self) -> None:
        try:
            root_ref = self.reader.root_ref
            self.push("catalog", _indirect(root_ref), 0, True)
        except Exception:  # a trailer without /Root was refused earlier; be safe anyway
            self.found.add(INCOMPLETE)
            return
        while self.stack:
            if self.nodes >= MAX_NODES or time.monotonic() > self.deadline:
                self.found.add(INCOMPLETE)
                return
            role, raw, depth, auto = self.stack.pop()
            self.nodes += 1
            if depth > MAX_DEPTH:
                self.found.add(INCOMPLETE)
                continue
            try:
                if role == "pages" and self.plain_page(raw, auto):
                    continue
                obj = self.load(raw, role, auto)
                if obj is not None:
                    _HANDLERS[role](self, obj, depth, auto)
            except Exception:  # pyHanko's parser on a hostile object: many exception types
                self.found.add(INCOMPLETE)

    def push(self, role: str, raw: Any, depth: int, auto: bool) -> None:
        """Queue ``raw`` (a value as stored: maybe a reference) to be read as ``role``.
        ``auto``: it runs without a click (opening the file or a page, a form event)."""
        if raw is None:
            return
        if self.nodes + len(self.stack) >= MAX_NODES:  # each queued entry costs a node later
            self.found.add(INCOMPLETE)
            return
        self.stack.append((role, raw, depth, auto))

    def load(self, raw: Any, role: str, auto: bool) -> Any:
        """``raw`` dereferenced, or None when this reference was already walked in this role
        (a cycle or a shared object) or it is null."""
        from pyhanko.pdf_utils.generic import IndirectObject, NullObject

        obj = raw
        for hop in range(_REF_HOPS):
            if not isinstance(obj, IndirectObject):
                return None if isinstance(obj, NullObject) else obj
            key = (obj.idnum, obj.generation, role, auto)
            if key in self.seen:
                if hop:  # "5 0 R" whose object is "5 0 R": what a reader makes of it is a guess
                    self.found.add(INCOMPLETE)
                return None
            self.seen.add(key)
            obj = obj.get_pdf_handler().get_object(obj.reference)
        self.found.add(INCOMPLETE)  # a chain of references to references
        return None

    def plain_page(self, raw: Any, auto: bool) -> bool:
        """True when a page's own bytes show it has none of the keys :func:`_pages` reads
        (/Kids, /AA, /Annots, /AF); the page is then not parsed. pyHanko parses about a byte
        a microsecond: 40 ms or more for the pages of a 200-page scan, which signing itself
        never reads. Only a plain dictionary qualifies (no string, comment, escape, hex
        string or stream), where every key is spelled out and the object ends at the first
        ``endobj``; anything else is parsed as usual."""
        from pyhanko.pdf_utils.generic import IndirectObject

        if not isinstance(raw, IndirectObject):
            return False
        ref = raw.reference
        key = (ref.idnum, ref.generation, "pages", auto)
        cached = self.reader.cache_get_indirect_object(ref.generation, ref.idnum)
        offset = self.reader.xrefs[ref]
        if key in self.seen or cached is not None or not isinstance(offset, int):
            return False  # seen, read already, or inside an object stream
        self.reader.stream.seek(offset)
        window = self.reader.stream.read(_PAGE_WINDOW)
        end = window.find(b"endobj")
        body = window[:end].strip()
        header = f"{ref.idnum} {ref.generation} obj".encode()
        if end < 0 or not body.startswith(header) or not body.endswith(b">>"):
            return False
        inner = body[len(header) :].strip()
        bare = inner.replace(b"<<", b"").replace(b">>", b"")
        if not inner.startswith(b"<<") or inner.count(b"<<") != inner.count(b">>"):
            return False
        if b"<" in bare or b">" in bare or any(token in inner for token in _NOT_PLAIN):
            return False
        self.seen.add(key)
        return True

    def value(self, container: Any, key: str) -> Any:
        """``container[key]`` dereferenced (no cycle tracking: for leaves such as /S and the
        arrays the walk iterates), or None."""
        from pyhanko.pdf_utils.generic import IndirectObject, NullObject

        if not hasattr(container, "raw_get") or key not in container:
            return None
        obj = container.raw_get(key)
        for _ in range(_REF_HOPS):
            if not isinstance(obj, IndirectObject):
                return None if isinstance(obj, NullObject) else obj
            obj = obj.get_pdf_handler().get_object(obj.reference)
        self.found.add(INCOMPLETE)
        return None

    def push_each(self, role: str, container: Any, key: str, depth: int, auto: bool) -> None:
        """Queue every entry of the array ``container[key]`` (a lone entry is queued too)."""
        items = self.value(container, key)
        if isinstance(items, list):
            for entry in list.__iter__(items):  # as stored: a reference stays one (cycles)
                self.push(role, entry, depth, auto)
        elif items is not None:
            self.push(role, container.raw_get(key), depth, auto)

    def push_key(self, role: str, container: Any, key: str, depth: int, auto: bool) -> None:
        if key in container:
            self.push(role, container.raw_get(key), depth, auto)


def _indirect(reference: Any) -> Any:
    from pyhanko.pdf_utils.generic import IndirectObject

    return IndirectObject(reference.idnum, reference.generation, reference.pdf)


def _name(walk: _Walk, container: Any, key: str) -> str:
    value = walk.value(container, key)
    return str(value) if value is not None else ""


def _is_dict(obj: Any) -> bool:
    return isinstance(obj, dict)


def _catalog(walk: _Walk, root: Any, depth: int, auto: bool) -> None:
    """Document-level actions, script and files; then the fields, outline and pages."""
    if not _is_dict(root):
        walk.found.add(INCOMPLETE)
        return
    uri = walk.value(root, "/URI")
    if _is_dict(uri):  # read first: every action is walked after the catalog
        walk.uri_base = _clean_address(walk.value(uri, "/Base"))
    walk.push_key("action", root, "/OpenAction", depth + 1, True)
    walk.push_key("aa", root, "/AA", depth + 1, True)
    names = walk.value(root, "/Names")
    if _is_dict(names):
        if "/JavaScript" in names:  # document-level script runs when the file opens
            walk.found.add(JAVASCRIPT)
            walk.push_key("names", names, "/JavaScript", depth + 1, True)
        if "/EmbeddedFiles" in names:
            walk.found.add(EMBEDDED_FILES)
    if "/Collection" in root or "/AF" in root:  # a portfolio; associated files (PDF 2.0)
        walk.found.add(EMBEDDED_FILES)
    form = walk.value(root, "/AcroForm")
    if _is_dict(form):
        walk.push_each("node", form, "/Fields", depth + 1, True)
    _drawn_by_the_reader(walk, root, form)
    outline = walk.value(root, "/Outlines")
    if _is_dict(outline):
        walk.push_key("outline", outline, "/First", depth + 1, False)
    walk.push_key("pages", root, "/Pages", depth + 1, True)


def _drawn_by_the_reader(walk: _Walk, root: Any, form: Any) -> None:
    """What the reader itself decides to show: an XFA form, fields it must redraw from their
    values, layers it (or the printer) may switch."""
    if _is_dict(form):
        if "/XFA" in form:
            walk.found.add(XFA)
        if _is_true(walk.value(form, "/NeedAppearances")):
            walk.found.add(FIELDS_REDRAWN)
    if _is_true(walk.value(root, "/NeedsRendering")):  # a dynamic XFA form
        walk.found.add(XFA)
    layers = walk.value(root, "/OCProperties")
    if _is_dict(layers):
        groups = walk.value(layers, "/OCGs")
        if not isinstance(groups, list) or groups:  # unreadable counts as present
            walk.found.add(LAYERS)


def _is_true(value: Any) -> bool:
    # pyHanko's BooleanObject keeps its value in .value and is always truthy itself.
    return getattr(value, "value", value) is True


def _pages(walk: _Walk, node: Any, depth: int, auto: bool) -> None:
    """A page tree node: its kids, or a page's own actions and annotations."""
    if not _is_dict(node):
        return
    walk.push_each("pages", node, "/Kids", depth + 1, True)
    walk.push_key("aa", node, "/AA", depth + 1, True)  # page open / close
    walk.push_each("node", node, "/Annots", depth + 1, False)
    if "/AF" in node:
        walk.found.add(EMBEDDED_FILES)


def _node(walk: _Walk, node: Any, depth: int, auto: bool) -> None:
    """An annotation or a form field (a widget is often both): its actions, its kids, its
    parent field, and the annotations that carry files or 3D script."""
    if not _is_dict(node):
        return
    subtype = _name(walk, node, "/Subtype")
    if subtype in ("/FileAttachment", "/RichMedia"):  # rich media assets are embedded files
        walk.found.add(EMBEDDED_FILES)
    if subtype == "/RichMedia":
        _rich_media(walk, node, depth)
    elif subtype == "/3D":
        stream = walk.value(node, "/3DD")
        if _is_dict(stream) and "/OnInstantiate" in stream:  # script run on activation
            walk.found.add(JAVASCRIPT)
    if view_differs_from_print(node, subtype, walk.value):
        walk.found.add(PRINT_DIFFERS)
    walk.push_key("action", node, "/A", depth + 1, False)
    walk.push_key("action", node, "/PA", depth + 1, False)
    walk.push_key("aa", node, "/AA", depth + 1, True)  # form events, page visible, focus...
    walk.push_each("node", node, "/Kids", depth + 1, auto)
    walk.push_key("node", node, "/Parent", depth + 1, auto)


def _rich_media(walk: _Walk, node: Any, depth: int) -> None:
    """A rich media annotation plays by itself when its activation condition is the page
    opening or becoming visible (/PO, /PV; a click, /XA, is the default)."""
    settings = walk.value(node, "/RichMediaSettings")
    activation = walk.value(settings, "/Activation") if _is_dict(settings) else None
    condition = _name(walk, activation, "/Condition") if _is_dict(activation) else ""
    auto = condition in ("/PO", "/PV")
    if auto:
        walk.found.add(CHANGES_VIEW)
    walk.push_key("media", node, "/RichMediaContent", depth + 1, auto)


def _additional(walk: _Walk, triggers: Any, depth: int, auto: bool) -> None:
    """An /AA dictionary: each trigger's action runs without a click."""
    if not _is_dict(triggers):
        return
    for key in list(triggers):
        walk.push("action", triggers.raw_get(key), depth + 1, True)


def _action(walk: _Walk, action: Any, depth: int, auto: bool) -> None:
    """One action: what it does, then the actions its /Next runs after it."""
    if not _is_dict(action):
        return  # e.g. an /OpenAction that is a destination array
    kind_of = _name(walk, action, "/S")
    kind = _ACTION_KINDS.get(kind_of)
    if kind is not None:
        walk.found.add(kind)
    elif kind_of and kind_of not in _KNOWN_ACTIONS:
        walk.found.add(INCOMPLETE)  # a viewer may still do something with it
    elif auto and _changes_view(walk, action, kind_of):
        walk.found.add(CHANGES_VIEW)
    if "/JS" in action:  # JavaScript, or a Rendition's script; a viewer may run it regardless
        walk.found.add(JAVASCRIPT)
    if kind_of == "/URI":
        _uri(walk, action, auto)
    if kind_of == "/Thread" and "/F" in action:  # a thread in another file
        walk.found.add(OTHER_FILES)
    if kind_of in _MEDIA_ACTIONS:
        for key in ("/R", "/Sound", "/Annotation"):  # where each kind keeps its media
            walk.push_key("media", action, key, depth + 1, auto)
    walk.push_each("action", action, "/Next", depth + 1, auto)


def _changes_view(walk: _Walk, action: Any, kind_of: str) -> bool:
    """Whether the action, run by itself, changes what the document shows (or plays media):
    anything but in-document navigation."""
    if kind_of == "/Named":
        return _name(walk, action, "/N") not in _NAVIGATION_NAMED
    return kind_of in _CHANGES_VIEW_ACTIONS or kind_of in _MEDIA_ACTIONS


def _media(walk: _Walk, node: Any, depth: int, auto: bool) -> None:
    """Part of what a media action plays (a rendition, its clip, a sound, a movie
    annotation): where the data comes from. A file specification (or a stream's /F) naming
    a URL contacts the network when played by itself; one naming another file reads it,
    clicked or not; data embedded in the file is covered by the signature."""
    if isinstance(node, list):
        for entry in list.__iter__(node):
            walk.push("media", entry, depth + 1, auto)
        return
    if not _is_dict(node):
        return
    if "/EF" in node:  # an embedded file: its /F and /UF are names, not paths
        walk.found.add(EMBEDDED_FILES)
        return
    if _name(walk, node, "/FS") == "/URL":
        if auto:
            walk.found.add(NETWORK)
        return
    for key in list(node):
        if key in _MEDIA_SKIP:
            continue
        value = walk.value(node, key)
        if key in ("/F", "/UF", "/D", "/DOS", "/Mac", "/Unix") and _is_text(value):
            walk.found.add(OTHER_FILES)  # a file specification that is a path
        elif isinstance(value, list) or _is_dict(value):
            walk.push("media", node.raw_get(key), depth + 1, auto)


def _is_text(value: Any) -> bool:
    return isinstance(value, str | bytes) and not str(value).startswith("/")


def _uri(walk: _Walk, action: Any, auto: bool) -> None:
    """A web address opened by itself contacts the network (a hyperlink clicked is no
    surprise); a javascript: or file: address is script or another file, and an address for
    another program (ms-msdt:, smb:...) launches it, clicked or not. A relative address is
    read against the catalog's /URI /Base, as viewers resolve it."""
    uri = walk.value(action, "/URI")
    address = _clean_address(uri)
    if walk.uri_base and not _scheme(address) and not address.startswith("//"):
        address = walk.uri_base + address
    scheme = _scheme(address)
    if scheme in ("javascript", "vbscript"):
        walk.found.add(JAVASCRIPT)
    elif scheme == "file" or len(scheme) == 1 or (not scheme and address.startswith("//")):
        walk.found.add(OTHER_FILES)  # file:, a drive letter C:, a UNC path \\host\share
    elif scheme and scheme not in _WEB_SCHEMES:
        walk.found.add(LAUNCH)  # handed to whatever program registered the scheme
    elif auto:
        walk.found.add(NETWORK)


def _clean_address(value: Any) -> str:
    """An address as readers see it: tabs, line breaks and spaces dropped (as browsers do),
    backslashes as slashes, lower case (only the scheme and the start matter here)."""
    text = bytes(value).decode("latin-1") if isinstance(value, bytes) else str(value or "")
    kept = itertools.islice((ch for ch in text if ch > " "), 256)  # padding cannot hide it
    return "".join(kept).lower().replace("\\", "/")


def _scheme(address: str) -> str:
    """The scheme of a cleaned address ("" when it is relative)."""
    head, colon, _ = address.partition(":")
    if not colon or not head or not head[0].isalpha() or not set(head) <= _SCHEME_CHARS:
        return ""
    return head


def _names(walk: _Walk, node: Any, depth: int, auto: bool) -> None:
    """A node of the /JavaScript name tree: its kids, and the actions it names."""
    if not _is_dict(node):
        return
    walk.push_each("names", node, "/Kids", depth + 1, True)
    pairs = walk.value(node, "/Names")
    if isinstance(pairs, list):
        for entry in list(list.__iter__(pairs))[1::2]:  # [name action name action ...]
            walk.push("action", entry, depth + 1, True)


def _outline(walk: _Walk, item: Any, depth: int, auto: bool) -> None:
    """An outline (bookmark) item: its action, its children, then its next sibling (at the
    same depth: a long list of bookmarks is not deep)."""
    if not _is_dict(item):
        return
    walk.push_key("action", item, "/A", depth + 1, False)
    walk.push_key("outline", item, "/First", depth + 1, False)
    walk.push_key("outline", item, "/Next", depth, False)


_HANDLERS: dict[str, Handler] = {
    "catalog": _catalog,
    "pages": _pages,
    "node": _node,
    "aa": _additional,
    "action": _action,
    "media": _media,
    "names": _names,
    "outline": _outline,
}
