""".NET SignedXml re-parses what a signature covers: bhxh and tax refuse what it reads differently.

.NET's ``PreProcessDocumentInput`` writes the covered part out and parses it again: a TAB written
as ``&#9;`` in an attribute comes back as a space, a CR written as ``&#13;`` in text as a line
feed, so a correct signature is INVALID at a .NET portal (mono's SignedXml, the real verifier,
says so below). bhxh and tax (whose portals are .NET) refuse such a document with
XML_DOTNET_MISREAD, before any key is used; what .NET reads alike still signs and .NET accepts
it; the generic profile signs either (its verifier is not known to be .NET).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.errors import KysoError
from agent.signing.signer import TokenSigner
from agent.signing.xml import check_portal_verifier, sign_xml_file
from agent.signing.xml.dotnet import may_misread
from agent.tokens.pin import StaticPinProvider
from tests.conftest import cert_thumbprint
from tests.interop import toolchain

from .helpers import PIN, token_sign, xmlsec_verify

TAX_NS = "http://kekhaithue.gdt.gov.vn/TKhaiThue"


def _hoso(extra: str, outside: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<Hoso><NoiDung><TenDonVi>Kyso</TenDonVi>'
        f"<MaSoThue>0101234567</MaSoThue>{extra}</NoiDung>{outside}<CKy_Dvi/></Hoso>\n"
    ).encode()


def _tax(extra: str, outside: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<HSoThueDTu xmlns="{TAX_NS}"><HSoKhaiThue>'
        f"<TTinChung><mst>0101234567</mst></TTinChung>{extra}</HSoKhaiThue>{outside}"
        "<CKyDTu/></HSoThueDTu>\n"
    ).encode()


DOCS = {"bhxh": _hoso, "tax": _tax}

# (id, covered content, what the refusal names): .NET digests other characters than C14N.
MISREAD = [
    ("tab-ref-attr", '<DiaChi Dong2="tầng 3&#9;phòng 301"/>', "attribute Dong2 of <DiaChi>"),
    ("tab-hex-ref-attr", '<DiaChi Dong2="tầng 3&#x09;phòng"/>', "attribute Dong2 of <DiaChi>"),
    ("cr-ref-text", "<DiaChi>Số 1&#13;\nPhố Huế</DiaChi>", "text of <DiaChi>"),
    ("cr-ref-tail", "<DiaChi><Dong/>&#13;</DiaChi>", "text of <DiaChi>"),  # after an element
    ("cr-hex-ref-text", "<DiaChi>Số 1&#xD;&#x0a;Phố Huế</DiaChi>", "text of <DiaChi>"),
    ("cr-zeros-ref-text", "<DiaChi>Số 1&#0013;</DiaChi>", "text of <DiaChi>"),
    ("tab-zeros-ref-attr", '<DiaChi Dong2="&#x0009;"/>', "attribute Dong2 of <DiaChi>"),
]
# .NET writes these back as references (&#xA;, &#xD; in attributes) or keeps them (TAB, LF in
# text; a CR inside CDATA is a line feed already after parsing): every verifier agrees.
READ_ALIKE = [
    ("newline-ref-attr", '<DiaChi Dong2="tầng 3&#13;&#10;phòng 301"/>'),
    ("lf-ref-attr", '<DiaChi Dong2="tầng 3&#10;phòng"/>'),
    ("tab-ref-text", "<DiaChi>Số 1&#9;Phố Huế&#10;</DiaChi>"),
    ("cdata-cr", "<DiaChi><![CDATA[Số 1\r\nPhố Huế]]></DiaChi>"),
]


def _dotnet(paths: list[Path]) -> dict[str, toolchain.Verdict]:
    return toolchain.run_batch(toolchain.dotnet_command(), [str(p) for p in paths])


@pytest.mark.parametrize("profile", ["bhxh", "tax"])
@pytest.mark.parametrize(("case", "content", "named"), MISREAD, ids=[m[0] for m in MISREAD])
async def test_portal_profiles_refuse_what_dotnet_misreads_before_using_the_key(
    token_service: Any,
    demo: dict[str, Any],
    tmp_path: Path,
    profile: str,
    case: str,
    content: str,
    named: str,
) -> None:
    doc = DOCS[profile](content)
    with pytest.raises(KysoError) as err:
        check_portal_verifier(doc, profile)  # what the agent runs before consent and PIN
    assert err.value.code == "XML_DOTNET_MISREAD"
    assert named in err.value.details["detail_en"]
    assert err.value.details["profile"] == profile
    assert "--profile generic" in err.value.spec.action_en
    with pytest.raises(KysoError) as err:
        await token_sign(token_service, demo, "org", doc, profile)
    assert err.value.code == "XML_DOTNET_MISREAD"
    path = tmp_path / f"{case}.xml"
    path.write_bytes(doc)
    async with token_service.open_key(cert_thumbprint(demo, "org"), StaticPinProvider(PIN)) as key:
        with pytest.raises(KysoError) as err:
            await sign_xml_file(path, TokenSigner(key), profile)
    assert err.value.code == "XML_DOTNET_MISREAD"


async def test_what_dotnet_misreads_is_why_the_portal_profiles_refuse(
    token_service: Any, demo: dict[str, Any], xmlsec1: str, tmp_path: Path
) -> None:
    """The generic profile signs the same contents: xmlsec1 says valid, .NET (mono) invalid.
    If mono ever accepts one of them, the refusal above has lost its reason."""
    paths = []
    for case, content, _ in MISREAD:
        signed = await token_sign(token_service, demo, "org", _hoso(content), "generic")
        path = tmp_path / f"{case}.xml"
        path.write_bytes(signed)
        assert xmlsec_verify(xmlsec1, demo, path).returncode == 0, case
        paths.append(path)
    verdicts = _dotnet(paths)
    assert not any(v.valid for v in verdicts.values()), verdicts
    assert all("CheckSignature returned false" in v.reason for v in verdicts.values()), verdicts


async def test_what_dotnet_reads_alike_is_signed_and_dotnet_accepts_it(
    token_service: Any, demo: dict[str, Any], tmp_path: Path
) -> None:
    paths = []
    for profile, make in DOCS.items():
        for case, content in READ_ALIKE:
            signed = await token_sign(token_service, demo, "org", make(content), profile)
            paths.append(tmp_path / f"{profile}-{case}.xml")
            paths[-1].write_bytes(signed)
    # The tax profile covers HSoKhaiThue only: a TAB reference beside it is not its concern
    # (nor .NET's: it re-parses the referenced element, not the document).
    outside = '<PhuLuc Ma="a&#9;b">x&#13;y</PhuLuc>'
    signed = await token_sign(token_service, demo, "org", _tax("", outside), "tax")
    paths.append(tmp_path / "tax-outside.xml")
    paths[-1].write_bytes(signed)
    verdicts = _dotnet(paths)
    assert all(v.valid for v in verdicts.values()), verdicts


def test_the_refusal_names_the_element_in_both_languages() -> None:
    with pytest.raises(KysoError) as err:
        check_portal_verifier(_hoso('<Dong a="1"/><DiaChi Dong2="x&#9;y"/>'), "bhxh")
    details = err.value.details
    assert "Dong2" in details["detail_vi"] and "<DiaChi>" in details["detail_vi"]
    assert "&#9;" in err.value.spec.action_vi and "--profile generic" in err.value.spec.action_vi
    text = err.value.spec.vi.format(**details)
    assert "TAB" in text and ".NET SignedXml" in text and "bhxh" in text


@pytest.mark.parametrize("code", [9, 13])
def test_every_way_of_writing_the_reference_is_caught_without_a_parse(code: int) -> None:
    """may_misread (the byte search that spares the agent the misreading check) never misses a form
    the parser accepts: decimal or hexadecimal, leading zeros, either case of the hex digit."""
    for form in (
        f"&#{code};",
        f"&#000{code};",
        f"&#x{code:x};",
        f"&#x{code:X};",
        f"&#x00{code:x};",
    ):
        doc = _hoso(f'<D a="{form}">{form}</D>')
        assert may_misread(doc), form
        with pytest.raises(KysoError) as err:
            check_portal_verifier(doc, "bhxh")
        assert err.value.code == "XML_DOTNET_MISREAD", form
    assert not may_misread(_hoso('<D a="&#10;&#32;&#x20;&#93;&#913;">&#10;&#x91;</D>'))
