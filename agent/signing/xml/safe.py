"""Reading XML that came from outside: no DTD, no entities, no network, bounded size and depth.

Dossiers never need a DOCTYPE, so one is refused before libxml2 sees the document: that shuts
out external entities (XXE), entity expansion (billion laughs) and DTD loading in one rule,
and it lets the parser run with ``huge_tree`` (a 50 MB dossier may hold a base64 form file
longer than libxml2's default 10 MB text limit) without losing libxml2's entity guards.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from agent.errors import KysoError, invalid_input

DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # a 50 MB dossier fits, with room to spare
DEFAULT_MAX_DEPTH = 256
_LIBXML2_MAX_DEPTH = 256  # libxml2 2.x without XML_PARSE_HUGE

# The prolog: XML declaration, comments, PIs and whitespace before the first element.
_PROLOG_ITEM = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_DECL_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_DECL_START = re.compile(rb"^<\?xml[ \t\r\n]")  # <?xml-stylesheet ...?> is a PI, not this
# The XML declaration must end within this many bytes: its spaces are unbounded by the grammar,
# and an encoding named past any fixed window was missed (libxml2 still used it).
DECLARATION_WINDOW = 1024
_UTF8_BOM = b"\xef\xbb\xbf"
# Encodings whose bytes for ASCII characters are ASCII: the only ones whose markup we can find
# in the raw bytes (the signer splices bytes; UTF-16 files are not used by any portal).
_ASCII_COMPATIBLE = re.compile(
    r"^(utf-?8|us-ascii|ascii|iso-8859-\d+|latin1|windows-125[0-7]|cp125[0-7])$", re.I
)
# Vietnamese Windows (windows-1258 / cp1258) writes a tone mark as a combining character after
# its vowel. libxml2 decodes it through glibc's iconv, which composes the pair (U+1EA1), while
# Java and .NET keep it decomposed (a, U+0323): the same bytes give different canonical text,
# so Java and .NET (mono with its I18N code pages) compute another digest (docs/interop.md).
_DECOMPOSED_VIETNAMESE = re.compile(r"^(windows-?1258|cp-?1258|x-cp1258)$", re.I)
WINDOWS_1258_DETAIL = (
    "windows-1258 is decoded differently by libxml2 (composed tone marks) and by Java/.NET; "
    "save the file as UTF-8 and sign that"
)


def declared_encoding(data: bytes) -> str:
    """The document's encoding as declared (UTF-8 when there is no declaration).

    Raises XML_ENCODING_UNSUPPORTED for UTF-16/32 and other encodings whose markup is not
    ASCII bytes, and for windows-1258, which verifiers decode differently (detail: save the
    file as UTF-8).
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")) or (
        len(data) > 1 and (data[0] == 0 or data[1] == 0)
    ):
        raise KysoError("XML_ENCODING_UNSUPPORTED", {"encoding": "UTF-16/UTF-32"})
    head = data[3:] if data.startswith(_UTF8_BOM) else data
    declaration = b""
    if _DECL_START.match(head):
        end = head.find(b"?>", 0, DECLARATION_WINDOW)
        if end < 0:
            raise KysoError(
                "XML_MALFORMED",
                {
                    "detail": f"the XML declaration (<?xml ... ?>) does not end within its "
                    f"first {DECLARATION_WINDOW} bytes"
                },
            )
        declaration = head[: end + 2]
    match = _DECL_ENCODING.match(declaration)
    encoding = match.group(1).decode("ascii") if match else "utf-8"
    if _DECOMPOSED_VIETNAMESE.match(encoding):
        raise KysoError(
            "XML_ENCODING_UNSUPPORTED", {"encoding": encoding, "detail": WINDOWS_1258_DETAIL}
        )
    if not _ASCII_COMPATIBLE.match(encoding):
        raise KysoError("XML_ENCODING_UNSUPPORTED", {"encoding": encoding})
    return encoding


def _check_prolog(data: bytes, *, complete: bool = True) -> None:
    """Refuse a DOCTYPE (internal subset, external DTD, entity declarations) up front."""
    pos = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    while True:
        match = _PROLOG_ITEM.match(data, pos)
        if match is None:
            break
        pos = match.end()
    if data.startswith(b"<!DOCTYPE", pos) or data.startswith(b"<!ENTITY", pos):
        raise KysoError("XML_UNSAFE", {"detail": "DOCTYPE / DTD"})
    if not complete and (not data.startswith(b"<", pos) or data.startswith((b"<!", b"<?"), pos)):
        # The head ended inside the prolog: whitespace, a comment or PI not closed within 1 MiB,
        # or a declaration cut at the boundary ("<!DOC"). What follows is never seen here, so
        # it could hide a DOCTYPE (found by tests/fuzz/test_xml_safe.py).
        raise KysoError("XML_UNSAFE", {"detail": "prolog longer than 1 MiB"})


class _RefuseExternal(etree.Resolver):
    """Second line behind the DOCTYPE rule: libxml2 reads an external DTD or parameter entity
    from disk even with ``load_dtd=False`` (``no_network`` only stops the network). Any URL
    libxml2 wants to load is refused, so nothing outside the document is ever read."""

    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> None:
        raise KysoError("XML_UNSAFE", {"detail": "external DTD or entity"})


def _parser(huge: bool) -> etree.XMLParser:
    # A new parser per call: lxml parsers are not safe to share between threads.
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=huge,
        remove_comments=False,
        remove_pis=False,
        remove_blank_text=False,
        collect_ids=False,
    )
    parser.resolvers.add(_RefuseExternal())
    return parser


def parse_untrusted(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> etree._ElementTree:
    """Parse ``data`` safely and return the document (comments, PIs and whitespace kept).

    Raises KysoError: XML_TOO_LARGE (more than ``max_bytes``), XML_ENCODING_UNSUPPORTED,
    XML_UNSAFE (DOCTYPE, DTD, entity declarations or references), XML_TOO_DEEP (elements
    nested more than ``max_depth`` levels) or XML_MALFORMED (not well-formed XML, or not
    XML 1.0).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise invalid_input("XML input must be bytes", "dữ liệu XML phải ở dạng bytes")
    assumed = _check_head(bytes(data[:_HEAD]), len(data), max_bytes, complete=len(data) <= _HEAD)
    return _checked_parse(lambda huge: etree.fromstring(data, _parser(huge)), max_depth, assumed)


def parse_untrusted_file(
    path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> etree._ElementTree:
    """Like :func:`parse_untrusted` for a file, fed to libxml2 in 64 KiB chunks, so the file's bytes
    are never held in memory beside the tree (how the CLI signs a 50 MB dossier)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(_HEAD)
    except OSError as exc:
        raise invalid_input(
            f"cannot read {path}: {exc.strerror}", f"không đọc được {path} ({exc.strerror})"
        ) from exc
    assumed = _check_head(head, size, max_bytes, complete=size <= _HEAD)
    del head  # not kept beside the tree
    return _checked_parse(lambda huge: _feed_file(path, huge), max_depth, assumed)


def _feed_file(path: Path, huge: bool) -> etree._Element:
    # libxml2's push parser fed 64 KiB at a time: faster here than letting libxml2
    # read the path itself, and only one chunk of the file is in memory beside the tree.
    parser = _parser(huge)
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                parser.feed(chunk)
        return parser.close()
    except etree.XMLSyntaxError:
        # The push parser's messages are poorer (an undefined entity reads "no element
        # found"): on failure, let the reading parser say what is wrong. From an open file,
        # not the path: libxml2 would ask the resolver for the path, which refuses every URL.
        with path.open("rb") as handle:
            etree.parse(handle, _parser(huge))
        raise


_HEAD = 1 << 20  # the prolog must end within the first MiB
_CHUNK = 64 * 1024


def _check_head(head: bytes, size: int, max_bytes: int, *, complete: bool) -> str:
    """Size, emptiness, encoding and prolog checks on the file's head; the declared encoding."""
    if size > max_bytes:
        raise KysoError("XML_TOO_LARGE", {"size": size, "limit": max_bytes})
    if not head.strip():
        raise KysoError("XML_MALFORMED", {"detail": "the file is empty"})
    encoding = declared_encoding(head[:DECLARATION_WINDOW])
    _check_prolog(head, complete=complete)
    return encoding


def _same_encoding(used: str | None, assumed: str) -> None:
    """The encoding libxml2 decoded with is the one every byte-level check assumed (the
    declaration as :func:`declared_encoding` read it); anything else is refused."""
    if (used or "utf-8").replace("_", "-").lower() != assumed.replace("_", "-").lower():
        raise KysoError(
            "XML_ENCODING_UNSUPPORTED",
            {"encoding": (used or "?")[:40], "detail": f"Kyso read the declaration as {assumed}"},
        )


def _checked_parse(
    parse: Callable[[bool], etree._Element], max_depth: int, assumed: str
) -> etree._ElementTree:
    huge = False
    try:
        try:
            # libxml2's default limits first: depth 256 (our default) checked while parsing.
            root = parse(huge)
        except etree.XMLSyntaxError as exc:
            if "huge" not in str(exc).lower() and "too long" not in str(exc).lower():
                raise
            # A text node over 10 MB (a big base64 form file): allowed, depth checked below.
            huge = True
            root = parse(huge)
    except etree.XMLSyntaxError as exc:
        message = str(exc)
        if "depth" in message.lower():
            raise KysoError("XML_TOO_DEEP", {"limit": max_depth}) from exc
        if "entity" in message.lower():
            raise KysoError("XML_UNSAFE", {"detail": f"entity reference ({message})"}) from exc
        raise KysoError("XML_MALFORMED", {"detail": message}) from exc
    except (ValueError, OSError) as exc:  # e.g. an unknown encoding name, an unreadable file
        raise KysoError("XML_MALFORMED", {"detail": str(exc)}) from exc
    if root is None:
        raise KysoError("XML_MALFORMED", {"detail": "no root element"})
    tree = root.getroottree()
    docinfo = tree.docinfo
    _same_encoding(docinfo.encoding, assumed)
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise KysoError("XML_UNSAFE", {"detail": "DOCTYPE / DTD"})
    if docinfo.xml_version != "1.0":
        # libxml2 reads a 1.1 file by 1.0's rules; Java normalises NEL and U+2028 in it to a
        # line feed (another digest) and .NET refuses the version outright.
        version = (docinfo.xml_version or "?")[:10]  # digits and dots: libxml2 checked them
        raise KysoError("XML_VERSION_UNSUPPORTED", {"version": version})
    # An element max_depth + 1 levels down exists? The XPath walks level by level in C; it is
    # needed only when libxml2's own limit (256 levels without huge_tree) is not ours.
    if (huge or max_depth < _LIBXML2_MAX_DEPTH) and root.xpath(
        "boolean(" + "/*" * (max_depth + 1) + ")"
    ):
        raise KysoError("XML_TOO_DEEP", {"limit": max_depth})
    return tree
