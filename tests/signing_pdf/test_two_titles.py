"""Red team 38 (not covered then): a PDF carries its title twice, in /Info and in its XMP
metadata (dc:title). pdf.js and Acrobat show the XMP one, poppler the /Info one; the consent read
/Info only, so the name a user saw in the browser's viewer could differ from the consent's."""

from __future__ import annotations

from typing import Any

from agent.server.consent import TITLE_LABEL, XMP_TITLE_LABEL, pdf_item
from agent.signing.pdf.inspect import inspect_pdf
from agent.signing.pdf.metadata import MAX_XMP_BYTES, same_title, xmp_title

from .test_active_content import _amend, _d

WARNING = "Cảnh báo / warning"


def _xmp(title: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<dc:title><rdf:Alt><rdf:li xml:lang="en">English</rdf:li>'
        f'<rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>'
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def _titled(info: str | None, xmp: bytes | None) -> bytes:
    def edit(writer: Any, root: Any, page: Any) -> None:

        writer.set_info(_d(Title=info) if info is not None else _d())  # make_pdf's has one
        from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream

        if xmp is not None:  # pyHanko rewrites a plain stream at /Metadata, not this kind
            root["/Metadata"] = writer.add_object(MetadataStream(stream_data=xmp))

    return _amend(edit)


def _lines(document: bytes) -> list[tuple[str, str]]:
    return list(pdf_item(inspect_pdf(document), "hopdong.pdf", None).lines)


def test_two_different_titles_are_both_shown_with_a_warning() -> None:
    lines = _lines(_titled("Hợp đồng mua bán", _xmp("Hợp đồng vay 1.000.000.000 đồng")))
    assert (TITLE_LABEL, "Hợp đồng mua bán") in lines
    assert (XMP_TITLE_LABEL, "Hợp đồng vay 1.000.000.000 đồng") in lines
    assert any(label == WARNING and "hai tiêu đề" in value for label, value in lines)


def test_an_xmp_title_alone_is_the_title() -> None:
    lines = _lines(_titled(None, _xmp("Tờ khai 600")))
    assert (TITLE_LABEL, "Tờ khai 600") in lines
    assert not any(label == WARNING for label, _ in lines)


def test_the_same_title_twice_is_shown_once() -> None:
    lines = _lines(_titled("Tờ khai  600", _xmp("tờ khai 600")))
    assert [label for label, _ in lines].count(TITLE_LABEL) == 1
    assert XMP_TITLE_LABEL not in dict(lines)
    assert not any(label == WARNING for label, _ in lines)


def test_an_unreadable_packet_claims_no_title() -> None:
    from pyhanko.pdf_utils import generic

    doctype = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    huge = _xmp("A" * 10) + b" " * MAX_XMP_BYTES
    for packet in (b"not xml <", doctype, b"", huge, _xmp("<&>")):
        stream = generic.StreamObject(_d(Type="/Metadata", Subtype="/XML"), stream_data=packet)
        assert xmp_title(_d(Metadata=stream)) == "", packet[:40]
    assert xmp_title(_d(Metadata=generic.NumberObject(3))) == ""
    assert xmp_title(_d()) == ""


def test_titles_compare_as_a_person_reads_them() -> None:
    decomposed = "Ho\u0302\u0323p đồng"  # NFD of "Hộp" vs the NFC form
    assert same_title(decomposed, "Hộp đồng") and same_title(" A  b ", "a B")
    assert not same_title("Hợp đồng mua bán", "Hợp đồng vay")
