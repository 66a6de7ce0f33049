"""The portal reads what was signed: fields come from the canonical signed content, comments
and processing instructions inside it are refused, and duplicates are found on the canonical
digest, so no variant of a signed file earns a second receipt."""

from __future__ import annotations

import base64
import dataclasses
import re
import unicodedata
from typing import Any

from lxml import etree

from portal_stub.checks import CheckResult
from portal_stub.signed_content import canonical_content, refuse_hidden_nodes
from portal_stub.web.common import PORTAL
from tests.portal.helpers import PortalDriver
from tests.portal.test_dossiers import _dossier


def _c14n(document: bytes) -> bytes:
    return etree.tostring(etree.fromstring(document), method="c14n", with_comments=False)


def _code(body: Any) -> str:
    return body["error"]["code"]


async def _signed(portal: PortalDriver) -> tuple[bytes, str]:
    """A logged-in unit's signed dossier and its number."""
    await portal.register_and_login()
    unsigned = await portal.prepare()
    number = etree.fromstring(unsigned).findtext("NoiDung/ThongTinHoSo/SoHoSo")
    assert number
    return await portal.sign_dossier("org", unsigned), number


async def _submit(portal: PortalDriver, document: bytes) -> tuple[int, Any]:
    status, body = await portal.check(document)
    if status != 200:
        return status, body
    return await portal.request(
        "POST", "/api/v1/dossiers/submit", json={"upload_id": body["upload_id"]}
    )


async def test_comment_inside_a_signed_field_is_refused(portal: PortalDriver) -> None:
    signed, number = await _signed(portal)
    old = f"<SoHoSo>{number}</SoHoSo>".encode()
    for hidden in (b"<!---->", b"<!-- ghi chu -->", b"<?x y?>"):
        tampered = signed.replace(
            old, b"<SoHoSo>" + number[:4].encode() + hidden + number[4:].encode() + b"</SoHoSo>"
        )
        assert tampered != signed
        if hidden.startswith(b"<!--"):
            # The premise: the canonical form (what the digest covers) drops comments, so to
            # a conforming verifier the signature still holds...
            assert _c14n(tampered) == _c14n(signed)
        # ...but the portal records no value the signature does not pin down: refused before
        # the signature is even looked at, whatever the verifier makes of it.
        status, body = await portal.check(tampered)
        assert status == 400 and _code(body) == "E414", body
        assert "SoHoSo" in body["error"]["message_vi"]


async def test_comment_in_the_signed_dossier_or_its_form_is_refused(portal: PortalDriver) -> None:
    await portal.register_and_login()
    plain = _dossier(number="TA0101234-2026-00077")
    # A comment the unit signed (inside the envelope) and one inside the embedded form file.
    with_comment = plain.replace(b"<MaSoThue>", b"<!-- MST --><MaSoThue>", 1)
    status, body = await portal.check(await portal.sign_dossier("org", with_comment))
    assert status == 400 and _code(body) == "E414", body
    root = etree.fromstring(plain)
    form_el = root.find("NoiDung/ThongTinHoSo/ToKhais/FileToKhai/NoiDungFile")
    assert form_el is not None and form_el.text
    form = base64.b64decode(form_el.text)
    form_el.text = base64.b64encode(
        form.replace(b"<MaSoThue>0101234567", b"<MaSoThue>01012<?x?>34567", 1)
    ).decode()
    status, body = await portal.check(await portal.sign_dossier("org", etree.tostring(root)))
    assert status == 400 and _code(body) == "E414", body
    assert "tờ khai D02-TS" in body["error"]["message_vi"]


def test_fields_are_read_from_the_canonical_form() -> None:
    # Even without the refusal, the canonical tree reads what C14N (and so the signature) sees.
    root = etree.fromstring(
        b"<Hoso><NoiDung><SoHoSo>00<!-- x -->0<![CDATA[0]]>&#49;</SoHoSo></NoiDung>"
        b'<CKy_Dvi><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/>\n</CKy_Dvi></Hoso>'
    )
    assert root.findtext("NoiDung/SoHoSo") == "00"  # what the old reader recorded
    content = canonical_content(root, max_depth=64)
    assert content.root.findtext("NoiDung/SoHoSo") == "00001"
    assert b"Signature" not in content.canonical and b"<!--" not in content.canonical
    assert content.canonical.endswith(b"<CKy_Dvi>\n</CKy_Dvi></Hoso>")  # tail text kept


def test_hidden_nodes_outside_the_root_are_allowed() -> None:
    doc = etree.fromstring(b"<!-- header --><?tool v1?><Hoso><a>1</a></Hoso>").getroottree()
    refuse_hidden_nodes(doc.getroot())  # no error: outside every field


async def test_every_variant_of_a_submitted_file_is_a_duplicate(portal: PortalDriver) -> None:
    signed, _ = await _signed(portal)
    status, body = await _submit(portal, signed)
    assert status == 200, body
    receipt, dossier_id = body["receipt"], body["dossier"]["id"]
    variants = {
        "same bytes": signed,
        "comment before the root": signed.replace(b"<Hoso>", b"<!-- ban sao -->\n<Hoso>", 1),
        "white space inside a tag": signed.replace(b"<SoHoSo>", b"<SoHoSo  >", 1),
        "CRLF line ends": signed.replace(b"\n", b"\r\n"),
        "character reference": signed.replace(b"<MaIVAN>KYSO<", b"<MaIVAN>&#75;YSO<", 1),
        "CDATA": signed.replace(b"<MaIVAN>KYSO<", b"<MaIVAN><![CDATA[KYSO]]><", 1),
        "empty element spelled out": signed.replace(b"<CKy_Dvi>", b"<CKy_Dvi >", 1),
        "blank lines after the root": signed + b"\n\n",
        "signed again": await portal.sign_dossier("org", await _unsigned_again(signed)),
        # The verifier's canonical bytes differ from the portal's canonical form of the root in
        # these two (a PI is part of the document's C14N; exclusive C14N): the check reads them
        # again from what the signature covers, and the content digest stays the same.
        "PI before the root": await portal.sign_dossier(
            "org", (await _unsigned_again(signed)).replace(b"<Hoso>", b"<?cong-cu v1?>\n<Hoso>", 1)
        ),
        "signed with exclusive C14N": await portal.sign_dossier(
            "org", await _unsigned_again(signed), c14n="exc-c14n"
        ),
    }
    for name, variant in variants.items():
        assert variant != signed or name == "same bytes", name
        status, body = await portal.check(variant)
        assert status == 409 and _code(body) == "E409", (name, body)
        assert body["error"]["details"]["receipt"] == receipt
        assert body["error"]["details"]["dossier_id"] == dossier_id
    status, body = await portal.request("GET", "/api/v1/dossiers")
    assert [d["receipt"] for d in body["dossiers"]] == [receipt]


async def _unsigned_again(signed: bytes) -> bytes:
    """The signed file with its signature taken out: the same content, to be signed anew."""
    return re.sub(rb"<CKy_Dvi>.*</CKy_Dvi>", b"<CKy_Dvi/>", signed, flags=re.DOTALL)


async def test_variants_have_one_canonical_digest(portal: PortalDriver) -> None:
    signed, _ = await _signed(portal)
    results = []
    for variant in (
        signed,
        signed.replace(b"\n", b"\r\n"),
        signed.replace(b"<Hoso>", b"<!-- x --><Hoso>", 1),
        await portal.sign_dossier("org", await _unsigned_again(signed)),
    ):
        status, body = await portal.check(variant)
        assert status == 200, body
        results.append(body["result"])
    assert len({r["content_digest"] for r in results}) == 1
    assert len({r["sha256"] for r in results}) == len(results)  # the bytes all differ


async def test_duplicate_found_on_content_even_under_another_number(
    portal: PortalDriver,
) -> None:
    # The database rule itself: the same canonical content is a duplicate whatever number
    # was read from it (the old reader could be made to read another one).
    signed, _ = await _signed(portal)
    status, checked = await portal.check(signed)
    assert status == 200, checked
    result = CheckResult(**checked["result"])
    status, body = await portal.request(
        "POST", "/api/v1/dossiers/submit", json={"upload_id": checked["upload_id"]}
    )
    assert status == 200, body
    service = portal.client.app[PORTAL].dossiers
    account_id = body["dossier"]["account_id"]
    other = dataclasses.replace(result, dossier_number="KHAC-00001", sha256="0" * 64)
    dup = service.find_duplicate(account_id, other)
    assert dup is not None and dup["receipt"] == body["receipt"]
    assert (
        service.find_duplicate(account_id, dataclasses.replace(other, content_digest="1")) is None
    )


async def test_look_alike_and_padded_codes_are_refused(portal: PortalDriver) -> None:
    await portal.register_and_login()
    number = "TA0101234-2026-00042"
    bad = {
        "fullwidth digits in the number": number.replace("00042", "０００４２"),
        "Arabic-Indic digits in the MST": None,
        "space-padded number": f" {number} ",
        "Cyrillic A in the number": number.replace("A", "\u0410", 1),
        "two numbers": None,
    }
    for name, value in bad.items():
        doc = _dossier(number=value or number)
        if name == "Arabic-Indic digits in the MST":
            doc = doc.replace(b"<MaSoThue>0101234567", "<MaSoThue>٠١٠١٢٣٤٥٦٧".encode(), 1)
        if name == "two numbers":
            doc = doc.replace(
                f"<SoHoSo>{number}</SoHoSo>".encode(),
                f"<SoHoSo>{number}</SoHoSo><SoHoSo>X-1</SoHoSo>".encode(),
            )
        status, body = await portal.check(await portal.sign_dossier("org", doc))
        assert status == 400 and _code(body) == "E403", (name, body)


async def test_unit_name_in_decomposed_unicode_reads_composed(portal: PortalDriver) -> None:
    await portal.register_and_login()
    doc = _dossier(number="TA0101234-2026-00043")
    name = "Công ty TNHH Giải pháp Kyso Việt Nam"
    decomposed = unicodedata.normalize("NFD", name)
    assert decomposed != name
    doc = doc.replace(f"<TenDoiTuong>{name}".encode(), f"<TenDoiTuong>{decomposed}".encode())
    status, body = await portal.check(await portal.sign_dossier("org", doc))
    assert status == 200, body
    assert body["result"]["unit_name"] == name


async def test_duplicate_page_links_to_the_earlier_dossier(portal: PortalDriver) -> None:
    signed, _ = await _signed(portal)
    status, body = await _submit(portal, signed)
    assert status == 200, body
    headers = {"Authorization": f"Bearer {portal.bearer}"}
    resp = await portal.client.post(
        "/nop-ho-so/kiem-tra",
        data={"signed_document": base64.b64encode(signed.replace(b"\n", b"\r\n")).decode()},
        headers=headers,
    )
    html = await resp.text()
    assert resp.status == 409 and "Mã lỗi E409" in html
    assert f'href="/tra-cuu/ho-so/{body["dossier"]["id"]}"' in html and body["receipt"] in html


async def test_second_wall_reads_canonically_even_if_comments_got_through(
    portal: PortalDriver, monkeypatch: Any
) -> None:
    # Take the first wall (the refusal) away: the number is still read as signed, because
    # fields come from the canonical tree, not from ``.text`` of the uploaded file.
    import portal_stub.checks

    monkeypatch.setattr(portal_stub.checks, "refuse_hidden_nodes", lambda *a, **k: None)
    await portal.register_and_login()
    number = "TA0101234-2026-00088"
    doc = _dossier(number=number).replace(
        f"<SoHoSo>{number}<".encode(), f"<SoHoSo>{number[:4]}<!---->{number[4:]}<".encode()
    )
    status, body = await portal.check(await portal.sign_dossier("org", doc))
    assert status == 200, body
    assert body["result"]["dossier_number"] == number


async def test_employee_lists_in_both_the_dossier_and_its_form_are_refused(
    portal: PortalDriver,
) -> None:
    """The envelope's list and the form's list both filled: the portal read the envelope's
    and never looked at the form's (a reader of the form gets other employees)."""
    await portal.register_and_login()
    inline = _dossier(number="TA0101234-2026-00078", inline_rows=True)
    in_form = _dossier(number="TA0101234-2026-00078")
    root = etree.fromstring(inline)
    form_el = root.find("NoiDung/ThongTinHoSo/ToKhais/FileToKhai/NoiDungFile")
    assert form_el is not None
    form_el.text = etree.fromstring(in_form).findtext(
        "NoiDung/ThongTinHoSo/ToKhais/FileToKhai/NoiDungFile"
    )
    status, body = await portal.check(await portal.sign_dossier("org", etree.tostring(root)))
    assert status == 400 and "cả hồ sơ và tờ khai" in body["error"]["message_vi"], body
    # Each list alone is fine.
    for alone in (inline, in_form):
        status, body = await portal.check(await portal.sign_dossier("org", alone))
        assert status == 200, body
