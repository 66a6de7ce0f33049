"""The consent summary shows what the signature covers, read where the portal reads it.

Red-team findings: the summary took each field from the first element of that local name
anywhere in the file (any namespace, outside the signed part too) and read only ``.text`` (cut at
a comment or a child element), so the dialog, and the MST check behind ``mst_mismatch =
"refuse"``, could be shown another unit than the one signed."""

from __future__ import annotations

import base64
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from agent.demo.pki import UNIT_MST
from agent.errors import KysoError
from agent.signing.consent import ConsentItem, check_mst, mst_mismatch
from agent.signing.xml import summarize_xml
from agent.tokens.certinfo import CertificateInfo

from .helpers import FORM, HOSO

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xml"
HTKK = (FIXTURES / "tax" / "htkk-01GTGT.xml").read_bytes()
SIGNED_MST = "0109876543"  # HSoKhaiThue's mst in the HTKK file: what the signature covers
DECOY = (
    b"<TTinBoSung><NNT><mst>" + UNIT_MST.encode() + b"</mst><tenNNT>C\xc3\xb4ng ty TNHH Gi\xe1"
    b"\xba\xa3i ph\xc3\xa1p Kyso</tenNNT></NNT><kyKKhai>11/2026</kyKKhai></TTinBoSung>\n  "
)
REAL_MST = f"<MaSoThue>{UNIT_MST}</MaSoThue>".encode()


def _lines(document: bytes) -> dict[str, str]:
    return dict(summarize_xml(document).lines)


def _refused(document: bytes) -> KysoError:
    with pytest.raises(KysoError) as err:
        summarize_xml(document)
    return err.value


def _certificate(mst: str) -> CertificateInfo:
    # check_mst reads only .mst and .ambiguous_ids
    return cast(CertificateInfo, SimpleNamespace(mst=mst, ambiguous_ids=()))


# --- (a) a decoy outside the signed part -------------------------------------------------------


def test_tax_decoy_beside_the_signed_part_is_not_shown() -> None:
    """Tax signs HSoKhaiThue only (Reference #ID_1): a sibling before it is not the dossier."""
    doc = HTKK.replace(b'<HSoKhaiThue id="ID_1">', DECOY + b'<HSoKhaiThue id="ID_1">', 1)
    assert doc != HTKK
    item = summarize_xml(doc)
    lines = dict(item.lines)
    assert lines["Mã số thuế"] == SIGNED_MST
    assert lines["Kỳ kê khai"] == "3/2026"
    assert lines["Đơn vị"] == "Công ty Cổ phần Hòa Bình"
    assert item.mst == SIGNED_MST
    # So the MST check compares the signed part's MST: refused for the decoy unit's certificate.
    assert mst_mismatch(UNIT_MST, (item,)) == SIGNED_MST
    with pytest.raises(KysoError) as err:
        check_mst("refuse", _certificate(UNIT_MST), (item,))
    assert err.value.code == "MST_MISMATCH"
    assert err.value.details["document_mst"] == SIGNED_MST
    check_mst("refuse", _certificate(SIGNED_MST), (item,))  # its own unit: no error


def test_tax_fields_are_read_only_inside_hsokhaithue() -> None:
    """Fields elsewhere in HSoThueDTu (not covered) never fill a missing one."""
    doc = HTKK.replace(b"<kyKKhai>3/2026</kyKKhai>", b"", 1).replace(
        b'<HSoKhaiThue id="ID_1">', DECOY + b'<HSoKhaiThue id="ID_1">', 1
    )
    lines = _lines(doc)
    assert "Kỳ kê khai" not in lines
    assert lines["Mã số thuế"] == SIGNED_MST


def test_two_signed_parts_are_refused_as_the_signer_refuses_them() -> None:
    twin = HTKK.split(b"<HSoKhaiThue", 1)[1].split(b"</HSoKhaiThue>", 1)[0]
    doc = HTKK.replace(b"<CKyDTu />", b"<HSoKhaiThue" + twin + b"</HSoKhaiThue><CKyDTu />", 1)
    assert _refused(doc).code == "XML_CONTAINER_AMBIGUOUS"


# --- (b) a field split by a comment, a PI or a child element -----------------------------------


@pytest.mark.parametrize(
    "field",
    [
        f"<MaSoThue>{UNIT_MST}<!-- -->999</MaSoThue>",
        f"<MaSoThue>{UNIT_MST}<?x y?>999</MaSoThue>",
        f"<MaSoThue>{UNIT_MST}<b>999</b></MaSoThue>",
        f"<MaSoThue><!-- -->{UNIT_MST}</MaSoThue>",
    ],
    ids=["comment", "pi", "child-element", "leading-comment"],
)
def test_a_split_mst_is_refused(field: str) -> None:
    """C14N joins the pieces (0101234567999) where ``.text`` stopped at the first one."""
    error = _refused(HOSO.replace(REAL_MST, field.encode()))
    assert error.code == "XML_FIELD_AMBIGUOUS"
    assert "MaSoThue" in error.details["detail_en"]


def test_a_split_period_or_name_is_refused_too() -> None:
    assert _refused(HOSO.replace(b"11/2026</KyKeKhai>", b"11<!---->/2027</KyKeKhai>")).code == (
        "XML_FIELD_AMBIGUOUS"
    )
    assert _refused(HTKK.replace(b"</tenNNT>", b"<x/></tenNNT>")).code == "XML_FIELD_AMBIGUOUS"


def test_text_the_field_holds_is_read_whole() -> None:
    """CDATA is text: the whole value is shown, as canonical XML has it."""
    doc = HOSO.replace(
        REAL_MST, f"<MaSoThue>{UNIT_MST[:4]}<![CDATA[{UNIT_MST[4:]}]]></MaSoThue>".encode()
    )
    assert _lines(doc)["Mã số thuế"] == UNIT_MST


def test_a_split_account_request_field_is_refused() -> None:
    request = (
        "<YeuCauTaiKhoan><ThongTinYeuCau><LoaiYeuCau>NGUNG_DICH_VU</LoaiYeuCau></ThongTinYeuCau>"
        f"<ThongTinDonVi><TenDonVi>Kyso</TenDonVi><MaSoThue>{UNIT_MST}<!---->9</MaSoThue>"
        "</ThongTinDonVi><NoiDung><LyDo><TenLyDo>x</TenLyDo></LyDo></NoiDung><CKy_Dvi/>"
        "</YeuCauTaiKhoan>"
    ).encode()
    assert _refused(request).code == "XML_FIELD_AMBIGUOUS"
    assert dict(summarize_xml(request.replace(b"<!---->9", b"")).lines)["Mã số thuế"] == UNIT_MST


# --- (c) an element in a foreign namespace, a repeated field -----------------------------------


def test_a_foreign_namespace_decoy_is_refused() -> None:
    """Not the field (the dossier has no namespace), and a reader matching local names only
    would take it: refused rather than shown either way."""
    doc = HOSO.replace(
        REAL_MST,
        f'<x:MaSoThue xmlns:x="urn:x">{UNIT_MST}</x:MaSoThue><MaSoThue>0109999999</MaSoThue>'.encode(),
    )
    error = _refused(doc)
    assert error.code == "XML_FIELD_AMBIGUOUS" and "urn:x" in error.details["detail_en"]
    # Alone, in a default namespace of its own: still not the dossier's MaSoThue.
    alone = HOSO.replace(REAL_MST, f'<MaSoThue xmlns="urn:x">{UNIT_MST}</MaSoThue>'.encode())
    assert _refused(alone).code == "XML_FIELD_AMBIGUOUS"


def test_a_tax_field_outside_the_gdt_namespace_is_refused() -> None:
    doc = HTKK.replace(b"<mst>0109876543</mst>", f'<mst xmlns="">{UNIT_MST}</mst>'.encode(), 1)
    assert _refused(doc).code == "XML_FIELD_AMBIGUOUS"


def test_a_repeated_field_is_refused() -> None:
    doc = HOSO.replace(REAL_MST, REAL_MST + b"<MaSoThue>0109999999</MaSoThue>")
    error = _refused(doc)
    assert error.code == "XML_FIELD_AMBIGUOUS" and "2" in error.details["detail_en"]
    # The same field at the flat (IVAN) and the nested layout of one Hoso: one too many.
    both = HOSO.replace(b"<NoiDung>", b"<NoiDung><MaSoThue>0109999999</MaSoThue>", 1)
    assert _refused(both).code == "XML_FIELD_AMBIGUOUS"


def test_a_field_elsewhere_in_the_dossier_is_not_the_field() -> None:
    """Only the portal's path counts: a MaSoThue of another block is not the unit's."""
    doc = HOSO.replace(
        b"<NoiDung>", b"<NoiDung><ThongTinIVAN><MaSoThue>0109999999</MaSoThue></ThongTinIVAN>", 1
    )
    assert _lines(doc)["Mã số thuế"] == UNIT_MST


# --- (d) the taxpayer's name as GDT writes it ------------------------------------------------


def test_taxpayer_name_is_read_from_tennnt() -> None:
    assert b"<tenNNT>" in HTKK
    assert _lines(HTKK)["Đơn vị"] == "Công ty Cổ phần Hòa Bình"


# --- employee rows ------------------------------------------------------------------------------


def test_rows_are_counted_only_at_their_path() -> None:
    stray = HOSO.replace(
        b"<CKy_Dvi></CKy_Dvi>", b"<CKy_Dvi></CKy_Dvi><Them>" + b"<NguoiLaoDong/>" * 7 + b"</Them>"
    )
    assert _lines(stray)["Số lao động"] == "2"  # the D02-TS file's two rows only
    foreign = FORM.replace(b"<DanhSach>", b'<DanhSach><NguoiLaoDong xmlns="urn:x"/>', 1)
    assert _refused(foreign).code == "XML_FIELD_AMBIGUOUS"


def test_rows_inside_a_form_file_are_counted_at_their_path() -> None:
    inner = FORM.replace(b"<Cky/>", b"<Them><NguoiLaoDong/><NguoiLaoDong/></Them><Cky/>")
    doc = HOSO.replace(base64.b64encode(FORM), base64.b64encode(inner))
    assert doc != HOSO
    assert _lines(doc)["Số lao động"] == "2"


# --- every fixture summarised before says the same -------------------------------------------

# (unit, MST, period) as the summary read them before the fix. Changed on purpose: the HTKK
# file now names its taxpayer (tenNNT), and the signed wrapping-attack files are read in their
# HSoKhaiThue child (the forged one: no period; two of them: refused).
_SAME = ("Công ty TNHH Giải pháp Kyso Việt Nam", UNIT_MST, "11/2026")
_IVAN = ("Công ty TNHH Giải pháp Kyso Việt Nam", UNIT_MST, None)
_HOA_BINH = ("Công ty Hòa Bình", SIGNED_MST, "Q3/2026")
_FORGED = ("Công ty Giả Mạo", "0100000000", None)
EXPECTED: dict[str, tuple[str | None, str | None, str | None] | str] = {
    **{f"forms/{c}.xml": _SAME for c in ("D01-TS", "D02-TS", "D03-TS", "D05-TS")},
    **{f"forms/{c}.xml": _SAME for c in ("M01B-HSB", "TK1-TS", "TK3-TS")},
    **{f"ivan/{c}-IVAN.xml": _IVAN for c in ("04_DK", "05_SD", "06_NG")},
    "tax/htkk-01GTGT.xml": ("Công ty Cổ phần Hòa Bình", SIGNED_MST, "3/2026"),
    "tax/tbao-thue.xml": (None, None, "3/2026"),
    **{
        f"wrapping/{name}.xml": _SAME
        for name in (
            "hoso-covers-only-object",
            "hoso-second-signature",
            "hoso-signature-outside-container",
            "hoso-xpath-excludes-content",
            "valid-hoso",
        )
    },
    "wrapping/valid-tax.xml": _HOA_BINH,
    "wrapping/tax-covers-nested-element.xml": _HOA_BINH,
    "wrapping/tax-signed-in-object.xml": _FORGED,
    "wrapping/tax-signed-in-wrapper.xml": _FORGED,
    "wrapping/tax-duplicate-id.xml": "XML_CONTAINER_AMBIGUOUS",
    "wrapping/tax-twin-after.xml": "XML_CONTAINER_AMBIGUOUS",
    "wrapping/tax-twin-before.xml": "XML_CONTAINER_AMBIGUOUS",
}


def test_every_fixture_is_listed() -> None:
    found = {p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.xml")}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_summary(name: str) -> None:
    document = (FIXTURES / name).read_bytes()
    expected = EXPECTED[name]
    if isinstance(expected, str):
        assert _refused(document).code == expected
        return
    lines = dict(summarize_xml(document).lines)
    assert (lines.get("Đơn vị"), lines.get("Mã số thuế"), lines.get("Kỳ kê khai")) == expected


@pytest.mark.parametrize("name", ["forms/D02-TS.xml", "ivan/04_DK-IVAN.xml", "tax/htkk-01GTGT.xml"])
def test_the_item_carries_the_mst_it_shows(name: str) -> None:
    """ConsentItem.mst is set (what the file-signing dialog passes on to the MST check)."""
    item: ConsentItem = summarize_xml((FIXTURES / name).read_bytes())
    assert item.mst and item.mst == dict(item.lines)["Mã số thuế"]
