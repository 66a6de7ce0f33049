"""XML signed as CMS gets the XML checks, however it is encoded or wrapped.

Red-team finding: only the first 64 bytes (after a UTF-8 mark) were looked at, and any summary
error but three became "plain data". A dossier in UTF-16, declaring windows-1258, with a
DOCTYPE, or after 80 spaces was shown as "data to sign" and a size, so another unit's dossier
was signed under ``mst_mismatch = "refuse"`` and a request for another portal under the
portal check; Java and .NET portals read all of these. Now data an XML reader takes for XML is
summarised as XML, or refused before any prompt.
"""

from __future__ import annotations

import base64

import pytest

from agent.demo.pki import UNIT_MST
from agent.server.consent import looks_like_xml
from tests.conftest import cert_thumbprint
from tests.server.conftest import ORIGIN

OTHER = "0109999999"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def dossier(mst: str, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return (
        f"{declaration}<Hoso><NoiDung><ThongTinHoSo><MaThuTuc>600</MaThuTuc></ThongTinHoSo>"
        f"<ThongTinDonVi><TenDoiTuong>Cong ty khac</TenDoiTuong><MaSoThue>{mst}</MaSoThue>"
        "</ThongTinDonVi></NoiDung><CKy_Dvi/></Hoso>"
    )


def request_for(portal: str, encoding: str = "utf-8") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><YeuCauTaiKhoan><ThongTinYeuCau>'
        "<LoaiYeuCau>NGUNG_DICH_VU</LoaiYeuCau><MaXacThuc>abc</MaXacThuc>"
        f"<CongGiaoDich>{portal}</CongGiaoDich>"
        "<ThoiGianLap>2026-11-24T10:00:00+07:00</ThoiGianLap></ThongTinYeuCau>"
        f"<ThongTinDonVi><TenDonVi>X</TenDonVi><MaSoThue>{UNIT_MST}</MaSoThue></ThongTinDonVi>"
        "<CKy_Dvi/></YeuCauTaiKhoan>"
    )


def bare(document: str) -> str:
    """``document`` without its XML declaration."""
    return document.split("?>", 1)[1]


UTF16 = '<?xml version="1.0" encoding="utf-16"?>'
# Another unit's dossier, as Java and .NET portals read it; what Kyso answers.
ESCAPES = {
    "utf-16 with a mark": (dossier(OTHER, UTF16).encode("utf-16"), "XML_ENCODING_UNSUPPORTED"),
    "utf-16-be, no mark": (dossier(OTHER, UTF16).encode("utf-16-be"), "XML_ENCODING_UNSUPPORTED"),
    "utf-32": (dossier(OTHER, "").encode("utf-32"), "XML_ENCODING_UNSUPPORTED"),
    "windows-1258": (
        dossier(OTHER, '<?xml version="1.0" encoding="windows-1258"?>').encode(),
        "XML_ENCODING_UNSUPPORTED",
    ),
    "doctype": (dossier(OTHER, '<?xml version="1.0"?><!DOCTYPE Hoso>').encode(), "XML_UNSAFE"),
    "80 spaces first": ((" " * 80 + dossier(OTHER, "")).encode(), "MST_MISMATCH"),
    "a mark, then 4000 line breaks": (
        b"\xef\xbb\xbf" + b"\r\n" * 2000 + dossier(OTHER, "").encode(),
        "MST_MISMATCH",
    ),
    "utf-16, spaces first": (
        (" " * 40 + dossier(OTHER, "")).encode("utf-16-le"),
        "XML_ENCODING_UNSUPPORTED",
    ),
    "not well-formed": (dossier(OTHER).replace("</Hoso>", "").encode(), "XML_MALFORMED"),
}


async def test_xml_kyso_cannot_read_is_refused_not_signed_as_data(demo, harness) -> None:
    await harness.start(mst_mismatch="refuse")
    client = await harness.client()
    org = cert_thumbprint(demo, "org")
    got = {}
    for name, (data, _) in ESCAPES.items():
        for detached in (True, False):
            params = {"data": b64(data), "detached": detached, "certificate": org}
            reply = await client.request("sign.cms", params)
            got[name, detached] = reply.get("error", {}).get("data", {}).get("code", "SIGNED")
        batch = {"items": [{"kind": "cms", "data": b64(data)}], "certificate": org}
        reply = await client.request("sign.batch", batch)
        got[name, "batch"] = reply.get("error", {}).get("data", {}).get("code", "SIGNED")
    for (name, _), code in got.items():
        assert code == ESCAPES[name][1], (name, got)
    assert harness.prompter.prompts == []  # each refused before any prompt


async def test_a_utf16_request_for_another_portal_is_refused_as_cms(demo, agent) -> None:
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    elsewhere = request_for("https://other-portal.example", "utf-16").encode("utf-16")
    reply = await client.request("sign.cms", {"data": b64(elsewhere), "certificate": org})
    assert reply["error"]["data"]["code"] == "XML_ENCODING_UNSUPPORTED", reply
    # After 100 spaces (no declaration: it must come first), in UTF-8: read, so the portal
    # check runs.
    spaced = (" " * 100 + bare(request_for("https://other-portal.example"))).encode()
    reply = await client.request("sign.cms", {"data": b64(spaced), "certificate": org})
    assert reply["error"]["data"]["code"] == "XML_REQUEST_ORIGIN_MISMATCH", reply
    assert agent.prompter.prompts == []
    # The same request for this portal, after the spaces: summarised as the request it is.
    spaced = (" " * 100 + bare(request_for(ORIGIN))).encode()
    await client.call("sign.cms", {"data": b64(spaced), "detached": False, "certificate": org})
    (consent,) = (p for p in agent.prompter.prompts if p.kind == "consent")
    title = next(t for t, _ in consent.shown if "CMS" in t)
    assert "gưng" in title and "Dữ liệu cần ký" not in repr(consent.shown), consent.shown


async def test_data_that_is_not_xml_is_still_signed_as_data(demo, agent) -> None:
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    for data in (b"phu luc <Hoso>", "Phụ lục".encode("utf-16"), b"%!PS-Adobe\n%%EOF", b"\x00\x01<"):
        await client.call("sign.cms", {"data": b64(data), "certificate": org})
    consents = [p for p in agent.prompter.prompts if p.kind == "consent"]
    assert len(consents) == 4
    assert all("Dữ liệu cần ký" in repr(c.shown) for c in consents)


@pytest.mark.parametrize(
    "data",
    [
        b"<a/>",
        b" \t\r\n" * 1000 + b"<a/>",
        b"\xef\xbb\xbf  <?xml version='1.0'?><a/>",
        "<a/>".encode("utf-16"),
        "<a/>".encode("utf-16-le"),
        "  <a/>".encode("utf-16-be"),
        "\n<a/>".encode("utf-32"),
        "<a/>".encode("utf-32-be"),
        b"\x00\x00<\x00",  # UCS-4, unusual byte order 3412 (XML 1.0 appendix F)
        b"\x00<\x00\x00",  # 2143
        "<?xml version='1.0' encoding='cp037'?><a/>".encode("cp037"),
    ],
)
def test_what_an_xml_reader_takes_for_xml(data: bytes) -> None:
    assert looks_like_xml(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"x<a/>",
        b"\x00\x00\x00\x00<",
        "Phụ lục <a/>".encode("utf-16"),
        b"%PDF-1.7",
        b"\x0c<a/>",
    ],
)
def test_what_an_xml_reader_does_not(data: bytes) -> None:
    assert not looks_like_xml(data)
