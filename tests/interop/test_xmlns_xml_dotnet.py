"""Interop 39 F2: an explicit ``xmlns:xml="http://www.w3.org/XML/1998/namespace"`` declaration
(allowed by Namespaces in XML: "It MAY, but need not, be declared") anywhere in a bhxh or tax
dossier, or on the container holding the signature, makes .NET's SignedXml refuse Kyso's
correct signature ("CheckSignature returned false"), while xmlsec1, signxml, JSR 105 and
Santuario accept it.

.NET's inclusive C14N writes the declaration out (``Utils.IsXmlPrefixDefinitionNode`` returns
false: the real test is commented out in the reference source, and mono 6.8 shares it);
libxml2, Santuario and the JDK never output it (C14N 1.0 does not say so in words: W3C
xmlsec ISSUE-58 asked for the clarification).
libxml2 drops the declaration at parse time, so Kyso's tree never sees it and
the XML_DOTNET_MISREAD check for the .NET portals' profiles did not see it: Kyso signed, and
the BHXH / tax portal (.NET) would refuse the signed file. The bytes are searched for it now
(agent/signing/xml/namespaces.py), and such a file is refused before the PIN for bhxh/tax.

Passes when Kyso refuses such a file for bhxh/tax before the PIN, or when mono accepts what
it signs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from tests.interop import toolchain

XMLNS_XML = 'xmlns:xml="http://www.w3.org/XML/1998/namespace"'
ROWS = "<TenDonVi>Công ty TNHH Kyso</TenDonVi><MaSoThue>0101234567</MaSoThue>"
TAX_NS = "http://kekhaithue.gdt.gov.vn/TKhaiThue"
DOCS = {
    "bhxh-in-content": (
        "bhxh",
        f'<?xml version="1.0" encoding="utf-8"?>\n<Hoso>\n  <NoiDung>{ROWS}'
        f'<GhiChu {XMLNS_XML} xml:lang="vi">Ghi chú</GhiChu></NoiDung>\n  <CKy_Dvi/>\n</Hoso>\n',
    ),
    "bhxh-on-root": (
        "bhxh",
        f'<?xml version="1.0" encoding="utf-8"?>\n<Hoso {XMLNS_XML}>\n  <NoiDung>{ROWS}'
        "</NoiDung>\n  <CKy_Dvi/>\n</Hoso>\n",
    ),
    "bhxh-on-container": (
        "bhxh",
        f'<?xml version="1.0" encoding="utf-8"?>\n<Hoso>\n  <NoiDung>{ROWS}</NoiDung>\n'
        f"  <CKy_Dvi {XMLNS_XML}/>\n</Hoso>\n",
    ),
    "tax-on-root": (
        "tax",
        f'<?xml version="1.0" encoding="utf-8"?>\n<HSoThueDTu xmlns="{TAX_NS}" {XMLNS_XML}>\n'
        f'  <HSoKhaiThue id="ID_1">{ROWS}</HSoKhaiThue>\n  <CKyDTu/>\n</HSoThueDTu>\n',
    ),
}


@pytest.mark.parametrize("name", sorted(DOCS))
def test_kyso_does_not_sign_what_dotnet_signedxml_refuses(
    demo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    profile, text = DOCS[name]
    src = tmp_path / f"{name}.xml"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / f"{name}_signed.xml"
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    capsys.readouterr()
    code = main(
        ["sign-xml", str(src), "--profile", profile, "--cert",
         demo["certificates"]["org"]["thumbprint"], "--pin-file", str(pin), "-o", str(out),
         "--json"]
    )  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    if code != 0:  # refused before the PIN: what the .NET portals' profiles are for
        assert report["results"][0]["error"]["code"] == "XML_DOTNET_MISREAD", report
        assert "xmlns:xml" in report["results"][0]["error"]["message_en"], report
        return
    verdict = toolchain.run_batch(toolchain.dotnet_command(), [str(out)])[str(out)]
    assert verdict.valid, (
        f"Kyso signed {name} for the {profile} profile (.NET portals) and .NET SignedXml "
        f"(mono) refuses it: {verdict.reason}"
    )


def test_the_declaration_is_found_across_chunks_and_only_as_written() -> None:
    from agent.signing.xml.namespaces import RelativeNamespaceScan, declares_xml_prefix

    text = f"<Hoso {XMLNS_XML}><NoiDung/></Hoso>".encode()
    for cut in range(1, len(text)):
        scan = RelativeNamespaceScan()
        scan.write(text[:cut])
        scan.write(text[cut:])
        scan.finish()
        assert scan.xml_prefix, cut
    assert not declares_xml_prefix(b'<Hoso xml:lang="vi" xmlns:xmlx="urn:x"/>')


def test_a_generic_document_with_the_declaration_is_still_signed(
    demo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the .NET portals' profiles refuse it: xmlsec1, signxml and Santuario read it."""
    src = tmp_path / "vanban.xml"
    src.write_text(f'<?xml version="1.0"?>\n<VanBan {XMLNS_XML}><A>1</A></VanBan>\n', "utf-8")
    (tmp_path / "pin.txt").write_text("123456\n")
    code = main(
        ["sign-xml", str(src), "--profile", "generic", "--cert",
         demo["certificates"]["org"]["thumbprint"], "--pin-file", str(tmp_path / "pin.txt"),
         "-o", str(tmp_path / "out.xml"), "--json"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().out
