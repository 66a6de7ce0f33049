"""A page's label is the page's words: a line of its own, never the consent's title or before
it. Otherwise a long label pushes out of the title's width what Kyso read from the document
(for an account request, the action itself: "stop using the service")."""

from __future__ import annotations

import base64
import json

from agent.demo.pki import UNIT_MST
from tests.conftest import cert_thumbprint
from tests.server.conftest import ORIGIN

LABEL = (
    "Hồ sơ 600 — Báo tăng, giảm, điều chỉnh đóng BHXH, BHYT, BHTN tháng 11/2026 — "
    "Công ty TNHH Giải pháp Kyso Việt Nam — 3 lao động — tờ khai D02-TS kèm theo bảng kê chi tiết"
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def stop_service_request() -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<YeuCauTaiKhoan><ThongTinYeuCau>'
        "<LoaiYeuCau>NGUNG_DICH_VU</LoaiYeuCau><MaXacThuc>abc</MaXacThuc>"
        f"<CongGiaoDich>{ORIGIN}</CongGiaoDich>"
        "<ThoiGianLap>2026-11-24T10:00:00+07:00</ThoiGianLap></ThongTinYeuCau>"
        "<ThongTinDonVi><TenDonVi>Công ty TNHH Giải pháp Kyso Việt Nam</TenDonVi>"
        f"<MaSoThue>{UNIT_MST}</MaSoThue><MaDonVi>TA0101234</MaDonVi></ThongTinDonVi>"
        "<NoiDung><LyDo><TenLyDo>Giải thể doanh nghiệp</TenLyDo></LyDo></NoiDung>"
        "<CKy_Dvi/></YeuCauTaiKhoan>"
    ).encode()


async def test_a_long_label_cannot_hide_what_the_document_is(demo, agent) -> None:
    assert len(LABEL) > 160  # longer than a title is shown
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    document = b64(stop_service_request())
    await client.call("sign.xml", {"document": document, "label": LABEL, "certificate": org})
    items = [
        {"kind": "xml", "document": document, "label": LABEL},
        {"kind": "cms", "data": b64(stop_service_request()), "label": LABEL},
        {"kind": "hash", "digest": b64(bytes(32)), "label": LABEL},
    ]
    await client.call("sign.batch", {"items": items, "certificate": org})
    single, batch = (p for p in agent.prompter.prompts if p.kind == "consent")
    for consent in (single, batch):
        sections = [(title, dict(lines)) for title, lines in consent.shown]
        documents = [s for s in sections if "Trang web gọi là" in json.dumps(s, ensure_ascii=False)]
        assert documents, sections
        for title, lines in documents:
            assert not title.startswith("Hồ sơ 600"), title  # the page's words are not the title
            assert LABEL in lines.values()  # they are shown whole, as the page's
    # The account request's action is in its title, whatever the label.
    xml_title = next(t for t, _ in single.shown if "Trang web gọi là" in repr(_))
    assert "Ngưng" in xml_title or "ngưng" in xml_title, xml_title
    # The batch's list: Kyso's title first; the label after it, in quotes, cut if need be.
    overview = next(lines for title, lines in batch.shown if "tài liệu" in title.lower())
    assert all(not value.startswith("Hồ sơ 600") for _, value in overview), overview
    # (Kyso's own ⚠ may lead: the hash item carries a warning of its own.)
    hash_line = overview[2][1].removeprefix("⚠ ")
    assert "«Hồ sơ 600" in hash_line and hash_line.startswith("Ký một giá trị băm")


async def test_xml_signed_as_cms_is_summarised_and_checked_as_xml(demo, agent) -> None:
    """CMS over an account request: the consent says what the request does, and a request
    written for another portal is refused before any prompt, as it is for sign.xml."""
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    request = stop_service_request()
    await client.call("sign.cms", {"data": b64(request), "detached": False, "certificate": org})
    (consent,) = (p for p in agent.prompter.prompts if p.kind == "consent")
    title = next(t for t, lines in consent.shown if "CMS" in t)
    assert "gưng" in title, title  # Ngưng dịch vụ: the action, in the title
    assert UNIT_MST in repr(consent.shown)
    elsewhere = request.replace(ORIGIN.encode(), b"https://other-portal.example")
    for method, params in (
        ("sign.cms", {"data": b64(elsewhere), "certificate": org}),
        ("sign.batch", {"items": [{"kind": "cms", "data": b64(elsewhere)}], "certificate": org}),
    ):
        reply = await client.request(method, params)
        assert reply["error"]["data"]["code"] == "XML_REQUEST_ORIGIN_MISMATCH", reply
    # A dossier whose MST the summary cannot read as the portal will is refused as CMS too.
    split = request.replace(UNIT_MST.encode(), UNIT_MST.encode() + b"<!-- -->999")
    reply = await client.request("sign.cms", {"data": b64(split), "certificate": org})
    assert reply["error"]["data"]["code"] == "XML_FIELD_AMBIGUOUS", reply
    assert [p.kind for p in agent.prompter.prompts] == ["consent", "pin"]
    # Data that is not XML is still shown as data (XML Kyso cannot read is refused:
    # tests/server/test_cms_xml_detection.py).
    await client.call("sign.cms", {"data": b64(b"not xml"), "certificate": org})
    last = [p for p in agent.prompter.prompts if p.kind == "consent"][-1]
    assert "Dữ liệu cần ký" in repr(last.shown)


def test_a_pdf_s_label_is_the_page_s_words_not_its_file_name() -> None:
    """The page's label for a PDF was shown as "Tên tệp / file": a page could state a file
    name, or "verified safe by Kyso" in Kyso's own style, as a fact about the document."""
    from agent.server.consent import pdf_item
    from agent.signing.pdf import inspect_pdf
    from tests.signing_pdf.conftest import make_pdf

    claim = "Hop_dong.pdf | Kyso: tệp đã được kiểm tra, an toàn / verified safe by Kyso"
    lines = pdf_item(inspect_pdf(make_pdf()), claim, None).lines
    assert ("Trang web gọi là / the site calls it", claim) in lines
    assert all(label != "Tên tệp / file" for label, _ in lines)
