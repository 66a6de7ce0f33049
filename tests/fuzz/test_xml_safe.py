"""Fuzzing the safe XML reader (agent/signing/xml/safe.py), bounded to seconds.

Whatever bytes a page or a file hands over, the reader gives back a tree or a KysoError with an
XML code: never another exception, never a DTD, an expanded entity or a fetched file in the tree.
Reading from bytes and reading from a file (the CLI's streaming path) must agree.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from agent.errors import KysoError
from agent.signing.xml.safe import parse_untrusted, parse_untrusted_file
from tests.signing_xml.helpers import FORM, GENERIC, HOSO, TAX

XML_CODES = {
    "XML_MALFORMED",
    "XML_UNSAFE",
    "XML_TOO_DEEP",
    "XML_TOO_LARGE",
    "XML_ENCODING_UNSUPPORTED",
}
SECRET = "kyso-fuzz-secret-" + "7" * 8  # would show up in a tree that read a local file

DOSSIERS = [HOSO, FORM, TAX, GENERIC]
FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "xml").rglob("*.xml"))


def outcome(data: bytes, **limits: int) -> tuple[str, etree._ElementTree | None]:
    """("OK", tree) or (error code, None); any other exception fails the test."""
    try:
        tree = parse_untrusted(data, **limits)
    except KysoError as exc:
        assert exc.code in XML_CODES, (exc.code, exc.details)
        assert exc.message_vi and exc.message_en
        return exc.code, None
    check_tree(tree)
    return "OK", tree


def check_tree(tree: etree._ElementTree) -> None:
    """A tree the reader hands out carries no DTD and nothing an entity could have brought in."""
    info = tree.docinfo
    assert not info.doctype and info.internalDTD is None and info.externalDTD is None
    for node in tree.iter():
        assert not isinstance(node, etree._Entity), "an entity reference survived"
    assert SECRET not in etree.tostring(tree, encoding="unicode")


def file_outcome(data: bytes) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hoso.xml"
        path.write_bytes(data)
        try:
            check_tree(parse_untrusted_file(path))
        except KysoError as exc:
            assert exc.code in XML_CODES, (exc.code, exc.details)
            return exc.code
        return "OK"


@pytest.fixture(scope="module")
def secret_file() -> str:
    """A local file an external entity would try to read (its content must never appear)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(SECRET)
    return handle.name


# ---- random bytes -------------------------------------------------------------------------------


@settings(max_examples=400)
@given(st.binary(max_size=2048))
@example(b"")
@example(b"\xef\xbb\xbf")
@example(b"\x00<a/>")
@example(b"<a/>\x00")
@example(b"<?xml version='1.0' encoding='klingon'?><a/>")
@example(b"<?xml version='1.0' encoding='utf-16'?><a/>")
@example(b"\xff\xfe<\x00a\x00/\x00>\x00")
@example(b"<a>\xff\xfe</a>")
@example(b"<!---->")
@example(b"<!--" + b"x" * 100)
def test_random_bytes_give_a_tree_or_an_xml_code(data: bytes) -> None:
    outcome(data)


@settings(max_examples=400)
@given(st.text(alphabet="<>/=\"'&;!?-[]ax: \n#%DOCTYPEENTITYSYSTEM", max_size=300))
def test_markup_soup_gives_a_tree_or_an_xml_code(text: str) -> None:
    outcome(text.encode())


# ---- DTDs, entities, bombs ------------------------------------------------------------------------


def _lol(levels: int) -> bytes:
    ents = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, levels + 1)
    ]
    return (
        f'<?xml version="1.0"?><!DOCTYPE Hoso [{"".join(ents)}]><Hoso>&l{levels};</Hoso>'.encode()
    )


UNSAFE = [
    _lol(9),  # billion laughs
    b'<!DOCTYPE Hoso [<!ENTITY a "' + b"x" * 50_000 + b'">]><Hoso>' + b"&a;" * 5000 + b"</Hoso>",
    b'<!DOCTYPE Hoso [<!ENTITY x SYSTEM "file://{secret}">]><Hoso>&x;</Hoso>',
    b'<!DOCTYPE Hoso SYSTEM "file://{secret}"><Hoso/>',
    b'<!DOCTYPE Hoso [<!ENTITY % p SYSTEM "file://{secret}"> %p;]><Hoso/>',
    b'<!DOCTYPE Hoso [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><Hoso>&x;</Hoso>',
    b'<?xml version="1.0"?>\n<!-- c --><?pi x?>\n<!DOCTYPE Hoso><Hoso/>',
    b"\xef\xbb\xbf<!DOCTYPE Hoso><Hoso/>",
    b'<!ENTITY x "y"><Hoso/>',
]


# The same, behind a prolog longer than the part the reader looks at before libxml2 does.
LONG_COMMENT = b"<!--" + b"x" * (1 << 20) + b"-->"


@pytest.mark.parametrize("prefix", [b"", LONG_COMMENT], ids=["", "after-1MiB-comment"])
@pytest.mark.parametrize("template", UNSAFE)
def test_dtds_and_entity_bombs_are_refused(
    template: bytes, prefix: bytes, secret_file: str
) -> None:
    data = template.replace(b"{secret}", secret_file.encode())
    if prefix:
        data = prefix + data.removeprefix(b"\xef\xbb\xbf")
        data = data.replace(b'<?xml version="1.0"?>', b"")
    assert outcome(data)[0] == "XML_UNSAFE"
    assert file_outcome(data) == "XML_UNSAFE"


@given(
    st.sampled_from(["&x;", "&amp;", "&#65;", "&#x1F600;", "&#0;", "&#xD800;", "&lt", "&;", "&#;"])
)
def test_entity_references_without_a_dtd(reference: str) -> None:
    code, tree = outcome(f"<Hoso>{reference}</Hoso>".encode())
    if reference in ("&amp;", "&#65;", "&#x1F600;"):
        assert code == "OK" and tree is not None
    else:
        assert code in ("XML_UNSAFE", "XML_MALFORMED")


# ---- depth and size -------------------------------------------------------------------------------


@given(st.integers(1, 3000), st.integers(1, 300))
@example(256, 256)
@example(257, 256)
@example(2000, 256)
def test_nesting_deeper_than_the_limit_is_refused(depth: int, limit: int) -> None:
    data = b"<a>" * depth + b"</a>" * depth
    code, _ = outcome(data, max_depth=limit)
    assert code == ("OK" if depth <= limit else "XML_TOO_DEEP"), (depth, limit)


def test_deep_nesting_inside_a_big_text_is_still_bounded() -> None:
    # A text node over libxml2's 10 MB limit makes the reader retry with huge_tree, which lifts
    # libxml2's own depth guard: the reader's own limit must still hold.
    big = b"<t>" + b"A" * (10 * 1024 * 1024 + 10) + b"</t>"
    assert outcome(b"<a>" * 300 + big + b"</a>" * 300)[0] == "XML_TOO_DEEP"
    assert outcome(b"<a>" * 10 + big + b"</a>" * 10)[0] == "OK"


def test_huge_attributes_and_names_get_a_tree_or_a_code() -> None:
    value = b"A" * (10 * 1024 * 1024 + 10)
    assert outcome(b'<Hoso ghiChu="' + value + b'"/>')[0] in ("OK", "XML_MALFORMED")
    name = b"N" * 60_000
    assert outcome(b"<" + name + b"/>")[0] in ("OK", "XML_MALFORMED")
    many = b"<Hoso " + b" ".join(b'a%d="1"' % i for i in range(50_000)) + b"/>"
    assert outcome(many)[0] in ("OK", "XML_MALFORMED")


@given(st.integers(0, 4096))
def test_the_size_limit_is_exact(size: int) -> None:
    data = b"<a>" + b"x" * size + b"</a>"
    limit = len(b"<a></a>") + 2048
    code, _ = outcome(data, max_bytes=limit)
    assert code == ("OK" if len(data) <= limit else "XML_TOO_LARGE")


# ---- mutated real dossiers ------------------------------------------------------------------------

SNIPPETS = [
    b"<!DOCTYPE Hoso>",
    b'<!DOCTYPE x [<!ENTITY e "&#38;#60;">]>',
    b"&e;",
    b"<![CDATA[<!DOCTYPE x>]]>",
    b"<!-- <!DOCTYPE x> -->",
    b"<?xml version='1.0'?>",
    b"\x00",
    b"\xff",
    b"<",
    b"]]>",
    b"</Hoso>",
    b"<Hoso>",
    b"&#x0;",
    b"\xef\xbb\xbf",
    b'xmlns:a="urn:x"',
    b"<a:b/>",
]


@st.composite
def mutated_dossiers(draw: st.DrawFn) -> bytes:
    base = draw(st.sampled_from(DOSSIERS + [p.read_bytes() for p in FIXTURES[:6]]))
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "snippet"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(st.sampled_from(SNIPPETS))
    return bytes(data)


@settings(max_examples=200)
@given(mutated_dossiers())
def test_mutated_dossiers_give_a_tree_or_an_xml_code(data: bytes) -> None:
    outcome(data)


@settings(max_examples=40)
@given(mutated_dossiers())
@example(HOSO)
@example(b"<!-- " + b"x" * (1 << 20) + b" --><!DOCTYPE a><a/>")
def test_reading_a_file_agrees_with_reading_bytes(data: bytes) -> None:
    assert file_outcome(data) == outcome(data)[0]


@pytest.mark.parametrize("cut", [1, 2, 5, 9])
def test_a_doctype_cut_by_the_prolog_boundary_is_refused(cut: int, secret_file: str) -> None:
    # The reader looks at the first MiB before libxml2 parses: a DOCTYPE that starts just
    # before that boundary ("<!DOC" | "TYPE ...") must not slip past it.
    doctype = b'<!DOCTYPE Hoso SYSTEM "file://' + secret_file.encode() + b'">'
    comment = b"<!--" + b"x" * ((1 << 20) - cut - 7) + b"-->"
    data = comment + doctype + b"<Hoso/>"
    assert data.index(b"<!DOCTYPE") == (1 << 20) - cut
    assert outcome(data)[0] == "XML_UNSAFE"
    assert file_outcome(data) == "XML_UNSAFE"


def test_the_parser_itself_never_reads_an_external_dtd_or_entity(secret_file: str) -> None:
    # Behind the DOCTYPE rule, the parser refuses every URL libxml2 asks for (a DTD, a
    # parameter entity), although load_dtd is off: libxml2 reads local files regardless.
    from agent.signing.xml import safe

    for doc in (
        b'<!DOCTYPE Hoso SYSTEM "file://{secret}"><Hoso/>',
        b'<!DOCTYPE Hoso [<!ENTITY % p SYSTEM "file://{secret}"> %p;]><Hoso/>',
    ):
        with pytest.raises(KysoError) as info:
            etree.fromstring(doc.replace(b"{secret}", secret_file.encode()), safe._parser(False))
        assert info.value.code == "XML_UNSAFE"
