"""The encoding every byte-level check assumes is the one libxml2 decodes with. The XML
declaration's spaces are unbounded: an encoding named past a fixed window (windows-1258 after
300 spaces) was read as UTF-8 by the checks while libxml2 used windows-1258, so the refused
encoding was summarised, passed the portal check and was signed; Java and .NET then decoded
other characters and the portal refused the dossier."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from agent.errors import KysoError
from agent.signing.xml import parse_untrusted
from agent.signing.xml.safe import DECLARATION_WINDOW, parse_untrusted_file

from .helpers import HOSO, token_sign, xmlsec_verify

BODY = b"<Hoso><Ten>C\xf4ng ty Ha\xf2</Ten><CKy_Dvi/></Hoso>\n"


def _declared(encoding: bytes, spaces: int) -> bytes:
    return b'<?xml version="1.0"' + b" " * spaces + b' encoding="' + encoding + b'"?>\n' + BODY


@pytest.mark.parametrize("encoding", [b"windows-1258", b"UTF-7", b"SHIFT_JIS", b"ISO-2022-JP"])
@pytest.mark.parametrize("spaces", [1, 300, DECLARATION_WINDOW - 60])
def test_a_refused_encoding_is_refused_however_far_it_is_named(
    tmp_path: Path, encoding: bytes, spaces: int
) -> None:
    doc = _declared(encoding, spaces)
    path = tmp_path / "doc.xml"
    path.write_bytes(doc)
    for parse in (lambda: parse_untrusted(doc), lambda: parse_untrusted_file(path)):
        with pytest.raises(KysoError) as refused:
            parse()
        assert refused.value.code == "XML_ENCODING_UNSUPPORTED"


def test_a_declaration_that_does_not_end_in_the_window_is_malformed() -> None:
    with pytest.raises(KysoError) as refused:
        parse_untrusted(_declared(b"utf-8", DECLARATION_WINDOW))
    assert refused.value.code == "XML_MALFORMED"
    assert "declaration" in refused.value.details["detail"]


def test_a_byte_order_mark_that_contradicts_the_declaration_is_refused() -> None:
    # libxml2 follows the UTF-8 mark; the checks would read the bytes as latin-1.
    utf8 = '<?xml version="1.0" encoding="iso-8859-1"?>\n<Hoso><Ten>Công ty</Ten></Hoso>\n'
    doc = b"\xef\xbb\xbf" + utf8.encode()
    with pytest.raises(KysoError) as refused:
        parse_untrusted(doc)
    assert refused.value.code == "XML_ENCODING_UNSUPPORTED"


async def test_a_long_but_honest_declaration_still_signs(
    token_service: Any, demo: dict[str, Any], xmlsec1: str, tmp_path: Path
) -> None:
    doc = HOSO.replace(b'<?xml version="1.0"', b'<?xml version="1.0"' + b" " * 300, 1)
    assert doc != HOSO
    signed = await token_sign(token_service, demo, "org", doc, "bhxh")
    path = tmp_path / "signed.xml"
    path.write_bytes(signed)
    assert xmlsec_verify(xmlsec1, demo, path).returncode == 0


# Names libxml2 and Java read but .NET's XmlDocument does not resolve: the portal could not even
# open the signed file (mono: "System does not support 'utf8' encoding").
DOTNET_UNKNOWN = ["utf8", "UTF8", "cp1252", "cp1250"]


@pytest.mark.parametrize("name", DOTNET_UNKNOWN)
@pytest.mark.parametrize("profile", ["bhxh", "tax"])
async def test_an_encoding_name_dotnet_lacks_is_refused_for_the_portals(
    token_service: Any, demo: dict[str, Any], name: str, profile: str
) -> None:
    from agent.signing.xml import check_portal_verifier

    from .helpers import TAX

    # ASCII bytes (the letters as character references), so every name decodes them alike.
    base = (HOSO if profile == "bhxh" else TAX).decode().encode("ascii", "xmlcharrefreplace")
    doc = re.sub(rb'encoding="utf-8"', f'encoding="{name}"'.encode(), base, count=1, flags=re.I)
    assert doc != base
    with pytest.raises(KysoError) as refused:
        check_portal_verifier(doc, profile)  # before consent and PIN
    assert refused.value.code == "XML_ENCODING_UNSUPPORTED"
    assert 'encoding="utf-8"' in refused.value.details["detail"]
    with pytest.raises(KysoError) as refused:
        await token_sign(token_service, demo, "org", doc, profile)
    assert refused.value.code == "XML_ENCODING_UNSUPPORTED"


async def test_verify_xml_says_the_portal_cannot_open_it(
    token_service: Any, demo: dict[str, Any]
) -> None:
    """A file signed elsewhere under such a name: not VALID for the portal's profile."""
    from agent.signing.xml import check_xml_signature

    signed = await token_sign(token_service, demo, "org", HOSO, "bhxh")
    renamed = signed.replace(b'encoding="utf-8"', b'encoding="utf8"', 1)
    with pytest.raises(KysoError) as refused:
        check_xml_signature(renamed, profile="bhxh")
    assert refused.value.code == "XML_ENCODING_UNSUPPORTED"


async def test_a_generic_document_may_still_say_utf8(
    token_service: Any, demo: dict[str, Any], xmlsec1: str, tmp_path: Path
) -> None:
    from .helpers import GENERIC

    doc = GENERIC.replace(b'encoding="utf-8"', b'encoding="utf8"', 1)
    signed = await token_sign(token_service, demo, "org", doc, "generic")
    path = tmp_path / "signed.xml"
    path.write_bytes(signed)
    assert xmlsec_verify(xmlsec1, demo, path).returncode == 0


def test_latin_dash_one_is_refused_as_an_encoding_not_as_damage() -> None:
    """libxml2 does not know "latin-1": it is an unsupported encoding, not a broken file."""
    with pytest.raises(KysoError) as refused:
        parse_untrusted(_declared(b"latin-1", 1))
    assert refused.value.code == "XML_ENCODING_UNSUPPORTED"
