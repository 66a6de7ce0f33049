"""Review 40: the chunked xmlns:xml scan kept a 32-byte tail, but the pattern allows any
whitespace before "=" (XML's Eq): a declaration spread over more than 32 bytes that fell on a
chunk boundary was missed in the file path (sign-xml FILE) while the bytes path refused it."""

from __future__ import annotations

from agent.signing.xml.namespaces import RelativeNamespaceScan, declares_xml_prefix


def test_whitespace_before_eq_across_chunks() -> None:
    text = ("<Hoso xmlns:xml" + " " * 40 + '="http://www.w3.org/XML/1998/namespace"/>').encode()
    assert declares_xml_prefix(text)
    missed = []
    for cut in range(1, len(text)):
        scan = RelativeNamespaceScan()
        scan.write(text[:cut])
        scan.write(text[cut:])
        if not scan.xml_prefix:
            missed.append(cut)
    assert missed == []
