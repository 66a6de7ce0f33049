"""What every verifier reads the same way: the names in a document, the id a Reference uses.

Names. libxml2 (Kyso, xmlsec1, signxml) reads the names of XML 1.0's fifth edition. .NET's
XmlReader (the BHXH and tax portals, mono) and Java's Xerces (JSR 105, Santuario) still read
those of the fourth edition: no name character outside the BMP (``<𠀀>``), none of the letters
Unicode added after 2.0 (U+0221, U+3400, ``₫`` U+20AB...); they refuse the whole document before
any signature is looked at. Expat (Python's standard library) implements the same fourth-edition
tables (checked against mono and Java in docs/interop.md), so a name is judged by expat.

Ids. A ``Reference URI="#v"`` is resolved differently by each verifier: .NET's SignedXml finds
only an id that is an NCName (``DefaultGetIdElement``, else "Malformed reference element"), Java
and signxml read ``#v`` as a URI (no space, no second ``#``), xmlsec1 evaluates
``xpointer(id('v'))`` (no quote; a space separates two ids), and the attribute taken for an id is
``Id``/``ID``/``id`` unprefixed for some and in any namespace, or ``xml:id``, for others. So ``v``
must be a fourth-edition NCName and exactly one element may carry it in any such attribute:
then every verifier resolves it, and to the same element.

Pure logic over a parsed tree; no I/O.
"""

from __future__ import annotations

import codecs
import functools
import re
from xml.parsers import expat

from lxml import etree

from agent.errors import KysoError

# Every attribute some verifier takes for an id: Id, ID or id in any namespace or none (xml:id
# is "id" in the XML namespace). Strings: compiled lxml XPath objects are not thread-safe.
_ID_ATTRIBUTE = "(local-name()='Id' or local-name()='ID' or local-name()='id')"
ID_ATTRIBUTES_XPATH = f"//@*[{_ID_ATTRIBUTE}]"
_CARRYING = f"//*[@*[{_ID_ATTRIBUTE} and .=$v]]"
_ASCII_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:.-]*")
_ASCII = bytes(range(128))
_UTF8_BOM = b"\xef\xbb\xbf"
_SHOWN_MAX = 40  # characters of an untrusted name or value in a message


class VerifierRefusal(KysoError):
    """Kyso refuses to sign because another verifier would not read the signed file as Kyso
    does (the portal's .NET, Java, xmlsec1, signxml). The agent raises these before consent and
    PIN (:func:`agent.signing.xml.signer.check_portal_verifier`); the code is a table code."""


def shown(value: str) -> str:
    """``value`` (from the document) for a message: cut short, quoted, with control, format
    and bidi characters escaped by ``repr`` (so nothing in it acts on the terminal or UI)."""
    cut = value if len(value) <= _SHOWN_MAX else value[: _SHOWN_MAX - 1] + "…"
    return repr(cut)


@functools.lru_cache(maxsize=4096)
def portable_name(name: str) -> bool:
    """Whether ``name`` is an XML 1.0 fourth-edition Name (colons allowed), which .NET and Java
    parsers read: expat, without namespace processing, must read ``<name/>`` as that element."""
    if _ASCII_NAME.fullmatch(name):
        return True  # the common case; ASCII names are the same in both editions
    seen: list[tuple[str, dict[str, str]]] = []
    parser = expat.ParserCreate()
    parser.StartElementHandler = lambda tag, attrs: seen.append((tag, attrs))
    try:
        parser.Parse(f"<{name}/>".encode(), True)
    except (expat.ExpatError, UnicodeEncodeError, ValueError):
        return False
    return seen == [(name, {})]


def portable_ncname(value: str) -> bool:
    """Whether ``value`` is a fourth-edition NCName: a name every verifier resolves as an id."""
    return ":" not in value and portable_name(value)


def elements_with_id(root: etree._Element, value: str) -> list[etree._Element]:
    """Every element carrying ``value`` in an attribute some verifier takes for an id."""
    return list(root.xpath(_CARRYING, v=value))


def check_reference_id(root: etree._Element, value: str, where: tuple[str, str]) -> etree._Element:
    """The one element a ``#value`` reference resolves to in every verifier; ``where`` says,
    in Vietnamese and English, where the value came from (the attribute of an element, the
    reference option).

    Raises (:class:`VerifierRefusal`) XML_REFERENCE_ID_UNUSABLE when ``value`` is not a
    fourth-edition NCName (empty, a space, a quote, a colon, '#', a leading digit...) or when
    not exactly one element carries it (in Id/ID/id of any namespace or xml:id).
    """
    where_vi, where_en = where
    details = {"where_vi": where_vi, "where_en": where_en, "value": shown(value)}
    if not portable_ncname(value):
        # .NET's SignedXml (the portals' verifier), Java or xmlsec1 cannot find the element
        # such a reference names.
        raise VerifierRefusal(
            "XML_REFERENCE_ID_UNUSABLE",
            {
                **details,
                "detail_vi": "không phải một tên XML (NCName), nên phần mềm kiểm tra chữ ký "
                "(.NET của cổng, Java, xmlsec1) không tìm được phần tử được ký",
                "detail_en": "it is not an XML name (NCName), so verifiers (the portal's .NET, "
                "Java, xmlsec1) cannot find the element signed",
            },
        )
    found = elements_with_id(root, value)
    if len(found) != 1:
        count = len(found)
        raise VerifierRefusal(
            "XML_REFERENCE_ID_UNUSABLE",
            {
                **details,
                "detail_vi": f"{count} phần tử mang mã này (trong Id/ID/id hoặc xml:id), nên mỗi "
                "phần mềm kiểm tra có thể hiểu chữ ký phủ một phần tử khác",
                "detail_en": f"{count} elements carry it (in Id/ID/id or xml:id), so verifiers "
                "may take the signature to cover different elements",
            },
        )
    element = found[0]
    shadowing = _earlier_namesake(element, value)
    if shadowing is not None:
        raise VerifierRefusal(
            "XML_REFERENCE_ID_UNUSABLE",
            {
                **details,
                "detail_vi": f"phần tử còn có thuộc tính {shadowing} cùng tên đứng trước, nên "
                "xmlsec1 (và cổng dùng nó) lấy nhầm thuộc tính đó làm mã định danh",
                "detail_en": f"the element has another attribute named {shadowing} before it, "
                "which xmlsec1 (and portals built on it) takes as the id instead",
            },
        )
    return element


def _earlier_namesake(element: etree._Element, value: str) -> str | None:
    """An attribute of ``element`` with the same local name as the id attribute carrying
    ``value``, written before it (``w:id="W1" id="X"``), shown inert; else None. xmlsec1 takes
    the first attribute of a local name as the id (libxml2's xmlHasProp ignores namespaces)."""
    names = list(element.attrib.keys())
    for index, name in enumerate(names):
        local = name.rpartition("}")[2]
        if local in ("Id", "ID", "id") and element.get(name) == value:
            for earlier in names[:index]:
                if earlier.rpartition("}")[2] == local:
                    return shown(_prefixed(element, earlier))
            return None
    return None


def _prefixed(element: etree._Element, clark: str) -> str:
    """``{uri}local`` as written (``prefix:local``), for a message."""
    uri, _, local = clark[1:].rpartition("}") if clark.startswith("{") else ("", "", clark)
    if not uri:
        return local
    if uri == "http://www.w3.org/XML/1998/namespace":
        return f"xml:{local}"
    prefix = next((p for p, u in element.nsmap.items() if u == uri and p), None)
    return f"{prefix}:{local}" if prefix else local


class NonAsciiCharacters:
    """The distinct non-ASCII characters of a document, fed its bytes in chunks (``write``:
    also a file for lxml's serializer), never holding it as one string.

    Every character of a name is written literally (a character reference is not allowed in
    a name), so a name's characters are among these.
    """

    def __init__(self, encoding: str = "utf-8") -> None:
        self.found: set[str] = set()
        self._decoder = codecs.getincrementaldecoder(encoding)("replace")
        self._start = True

    def write(self, data: bytes) -> int:
        """Take the next chunk of the document's bytes."""
        size = len(data)
        if self._start and data:
            self._start = False
            data = data.removeprefix(_UTF8_BOM)
        # Without its ASCII bytes, UTF-8 (or a single-byte encoding) still decodes: the other
        # characters' bytes are all >= 0x80.
        high = data.translate(None, _ASCII)
        if high:
            self.found.update(self._decoder.decode(high))
        return size

    def finish(self) -> set[str]:
        """The characters, once every chunk was written."""
        self.found.update(self._decoder.decode(b"", final=True))
        return self.found

    @classmethod
    def of(cls, data: bytes, encoding: str) -> set[str]:
        """The distinct non-ASCII characters of ``data`` (in ``encoding``)."""
        collector = cls(encoding)
        collector.write(data)
        return collector.finish()


def _libxml2_reads(name: str) -> bool:
    """Whether libxml2's parser (fifth-edition names) reads ``<name/>`` as that element."""
    try:
        root = etree.fromstring(f"<{name}/>".encode(), etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return False
    return bool(root.tag == name)


@functools.lru_cache(maxsize=8192)
def _editions_agree(char: str) -> bool:
    """Whether expat (fourth edition) and libxml2 (fifth) agree on ``char`` as a name's first
    character and as a later one. In a document whose every character agrees, every name
    libxml2 read is one .NET and Java read too."""
    return all(portable_name(n) == _libxml2_reads(n) for n in (char, "a" + char))


def unportable_name(
    tree: etree._ElementTree, characters: set[str] | None = None
) -> tuple[str, str] | None:
    """The first name in ``tree`` that .NET and Java parsers cannot read, as (what it names,
    the name): element, attribute, namespace prefix or processing-instruction target; None
    when every name is a fourth-edition one.

    The names are walked only when the document holds a character the two editions judge
    differently (a Vietnamese dossier has none): a walk over every element and attribute in
    Python costs several times a pass over the bytes. ``characters``: the document's
    non-ASCII characters (:class:`NonAsciiCharacters`) when its bytes are at hand; else the
    tree is serialized to find them.
    """
    if characters is None:
        collector = NonAsciiCharacters()
        tree.write(collector, encoding="utf-8")
        characters = collector.finish()
    if all(_editions_agree(c) for c in characters):
        return None
    seen: set[str] = set()
    for event, node in etree.iterwalk(tree, events=("start", "start-ns", "pi")):
        if event == "start":
            # Clark names ({uri}local): a prefix is judged where it is declared (start-ns).
            for i, name in enumerate((node.tag, *node.keys())):
                local = name.rpartition("}")[2]
                if name not in seen:
                    seen.add(name)
                    if not portable_name(local):
                        return ("element" if i == 0 else "attribute"), local
            continue
        if event == "start-ns":
            kind, name = "namespace prefix", node[0]
            if not name:
                continue  # the default namespace has no name
        else:
            kind, name = "processing instruction", node.target
        if name not in seen:
            seen.add(name)
            if not portable_name(name):
                return kind, name
    return None


_KIND_VI = {
    "element": "phần tử",
    "attribute": "thuộc tính",
    "namespace prefix": "tiền tố không gian tên",
    "processing instruction": "chỉ thị xử lý",
}


# Encoding names .NET's XmlDocument resolves (Encoding.GetEncoding): mono refused the whole file
# for "utf8", "UTF8", "cp1252" or "latin-1", which libxml2 and Java read (interop round 15).
_DOTNET_ENCODINGS = re.compile(
    r"^(utf-8|us-ascii|ascii|iso-8859-(?:[1-9]|13|15)|latin1|windows-125[0-7])$", re.I
)


def refuse_dotnet_encoding(encoding: str | None, profile: str) -> None:
    """XML_ENCODING_UNSUPPORTED when the portal's .NET parser cannot open a file declaring
    ``encoding`` (libxml2's reading of the declaration; None or "" means none: UTF-8)."""
    name = encoding or "utf-8"
    if not _DOTNET_ENCODINGS.match(name):
        raise VerifierRefusal(
            "XML_ENCODING_UNSUPPORTED",
            {
                "encoding": name[:_SHOWN_MAX],
                "detail": f"the {profile} portal (.NET) cannot open a file declared encoding="
                f'"{name[:_SHOWN_MAX]}": write encoding="utf-8" in its first line',
            },
        )


def refuse_unportable_names(
    tree: etree._ElementTree, profile: str, characters: set[str] | None = None
) -> None:
    """XML_NAME_UNPORTABLE naming the first name .NET and Java parsers cannot read (``profile``'s
    portals verify with .NET); ``characters`` as for :func:`unportable_name`."""
    found = unportable_name(tree, characters)
    if found is not None:
        kind, name = found
        # Outside the BMP, or letters added to Unicode after 2.0: XML 1.0 names allow them only
        # since its fifth edition, which .NET's and Java's parsers do not follow.
        raise VerifierRefusal(
            "XML_NAME_UNPORTABLE",
            {
                "kind_vi": _KIND_VI.get(kind, kind),
                "kind_en": kind,
                "name": shown(name),
                "profile": profile,
            },
        )
