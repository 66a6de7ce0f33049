"""Signed PDF attachments (scanned papers) filed with a dossier: signed on the SoftHSM2 tokens
with the agent library's sign_pdf, verified by the portal with verify_pdf against its trust
store, stored with the dossier and listed on the receipt."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest

from agent.signing.pdf import PdfSignOptions, sign_pdf
from agent.signing.signer import TokenSigner
from agent.tokens.pin import StaticPinProvider
from portal_stub.app import create_app
from portal_stub.attachments import clean_name, content_disposition
from portal_stub.config import PortalConfig
from tests.portal.helpers import PINS, PortalDriver
from tests.signing_pdf.conftest import make_pdf


def _code(body: Any) -> str:
    return body["error"]["code"]


async def _sign_pdf(portal: PortalDriver, cert: str, document: bytes) -> bytes:
    """Sign a PDF (invisible PAdES, as the portal page asks) on the token holding ``cert``."""
    pin = PINS[portal.demo["certificates"][cert]["token"]]
    async with portal.tokens.open_key(portal.thumb(cert), StaticPinProvider(pin)) as key:
        result = await sign_pdf(document, TokenSigner(key), PdfSignOptions())
    return result.document


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _check(
    portal: PortalDriver, dossier: bytes, attachments: list[tuple[str, bytes]]
) -> tuple[int, Any]:
    return await portal.request(
        "POST",
        "/api/v1/dossiers/check",
        json={
            "document": _b64(dossier),
            "attachments": [{"name": n, "document": _b64(d)} for n, d in attachments],
        },
    )


async def _signed_dossier(portal: PortalDriver) -> bytes:
    await portal.register_and_login()
    return await portal.sign_dossier("org", await portal.prepare())


async def test_signed_attachments_are_verified_stored_and_on_the_receipt(
    portal: PortalDriver,
) -> None:
    dossier = await _signed_dossier(portal)
    contract = await _sign_pdf(portal, "org", make_pdf(3, title="Hợp đồng lao động số 12"))
    decision = await _sign_pdf(portal, "org", make_pdf(1, title="Quyết định tuyển dụng"))
    status, body = await _check(
        portal, dossier, [("hop-dong-12.pdf", contract), ("C:\\scan\\quyết định.pdf", decision)]
    )
    assert status == 200, body
    found = body["attachments"]
    assert [a["name"] for a in found] == ["hop-dong-12.pdf", "quyết định.pdf"]
    assert [a["pages"] for a in found] == [3, 1]
    assert found[0]["sha256"] == hashlib.sha256(contract).hexdigest()
    assert found[0]["signer_mst"] == "0101234567" and found[0]["title"] == "Hợp đồng lao động số 12"

    status, body = await portal.request(
        "POST", "/api/v1/dossiers/submit", json={"upload_id": body["upload_id"]}
    )
    assert status == 200, body
    dossier_id = body["dossier"]["id"]
    listed = body["dossier"]["attachments"]
    assert [(a["name"], a["sha256"]) for a in listed] == [
        ("hop-dong-12.pdf", hashlib.sha256(contract).hexdigest()),
        ("quyết định.pdf", hashlib.sha256(decision).hexdigest()),
    ]
    status, body = await portal.request("GET", f"/api/v1/dossiers/{dossier_id}")
    assert [a["pages"] for a in body["dossier"]["attachments"]] == [3, 1]
    status, notices = await portal.request("GET", "/api/v1/notices")
    assert "Kèm theo 2 tệp đính kèm đã ký." in notices["notices"][0]["body"]

    # The dossier's page lists them in Vietnam time, and each downloads byte for byte.
    status, page = await portal.request("GET", f"/tra-cuu/ho-so/{dossier_id}")
    html = page.decode()
    assert "hop-dong-12.pdf" in html and hashlib.sha256(decision).hexdigest() in html
    assert "(giờ Việt Nam)" in html and html.count("data-attachment>") == 2
    first = body["dossier"]["attachments"][0]["id"]
    resp = await portal.client.get(
        f"/tra-cuu/ho-so/{dossier_id}/dinh-kem/{first}", headers=portal.headers
    )
    assert resp.status == 200 and await resp.read() == contract
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    status, _ = await portal.request("GET", f"/tra-cuu/ho-so/{dossier_id + 1}/dinh-kem/{first}")
    assert status == 404


async def test_the_page_form_posts_attachments_as_files_and_the_receipt_lists_them(
    portal: PortalDriver,
) -> None:
    dossier = await _signed_dossier(portal)
    scan = await _sign_pdf(portal, "org", make_pdf(2))
    from aiohttp import FormData

    form = FormData()
    form.add_field("signed_document", _b64(dossier))
    form.add_field("dinh_kem", scan, filename="giay-xac-nhan.pdf", content_type="application/pdf")
    # An empty file input still sends a part: it is no attachment.
    form.add_field("dinh_kem", b"", filename="", content_type="application/octet-stream")
    status, page = await portal.request("POST", "/nop-ho-so/kiem-tra", data=form)
    html = page.decode()
    assert status == 200, html
    assert "giay-xac-nhan.pdf" in html and hashlib.sha256(scan).hexdigest() in html
    upload_id = html.split('name="upload_id" value="')[1].split('"')[0]
    status, page = await portal.request("POST", "/nop-ho-so/nop", data={"upload_id": upload_id})
    html = page.decode()
    assert status == 200 and "data-receipt" in html, html
    assert html.count("data-attachment>") == 1 and "giay-xac-nhan.pdf" in html


async def test_attachments_that_fail_a_check_are_refused_and_nothing_is_kept(
    portal: PortalDriver,
) -> None:
    dossier = await _signed_dossier(portal)
    good = await _sign_pdf(portal, "org", make_pdf(1))

    status, body = await _check(portal, dossier, [("a.pdf", good), ("chua-ky.pdf", make_pdf(1))])
    assert status == 400 and _code(body) == "E417"
    assert body["error"]["details"]["name"] == "chua-ky.pdf"

    status, body = await _check(portal, dossier, [("anh.pdf", b"\x89PNG\r\n\x1a\n not a pdf")])
    assert status == 400 and _code(body) == "E416"

    status, body = await _check(portal, dossier, [("mat-khau.pdf", make_pdf(1, password="1"))])
    assert status == 400 and _code(body) == "E416" and "mật khẩu" in body["error"]["message_vi"]

    # A byte changed inside what the signature covers.
    tampered = bytearray(good)
    at = tampered.index(b"trang 1")
    tampered[at : at + 7] = b"trang 9"
    status, body = await _check(portal, dossier, [("sua.pdf", bytes(tampered))])
    assert status == 400 and _code(body) == "E418"

    # Another unit (the branch's MST), and a person's certificate without an MST.
    branch = await _sign_pdf(portal, "branch", make_pdf(1))
    status, body = await _check(portal, dossier, [("chi-nhanh.pdf", branch)])
    assert status == 400 and _code(body) == "E420"
    assert body["error"]["details"]["cert_mst"] == "0101234567-001"
    personal = await _sign_pdf(portal, "personal", make_pdf(1))
    status, body = await _check(portal, dossier, [("ca-nhan.pdf", personal)])
    assert status == 400 and _code(body) == "E420"

    # A revoked certificate of the right unit.
    revoked = await _sign_pdf(portal, "revoked", make_pdf(1))
    status, body = await _check(portal, dossier, [("thu-hoi.pdf", revoked)])
    assert status == 400 and _code(body) == "E418"

    # The same file twice.
    status, body = await _check(portal, dossier, [("a.pdf", good), ("b.pdf", good)])
    assert status == 400 and _code(body) == "E416" and "trùng" in body["error"]["message_vi"]

    # Nothing of these attempts was kept, and the dossier itself still goes through.
    db = (await _portal_db(portal)).db
    assert db.one("SELECT COUNT(*) AS n FROM upload_attachments")["n"] == 0
    assert db.one("SELECT COUNT(*) AS n FROM uploads")["n"] == 0
    status, body = await _check(portal, dossier, [("a.pdf", good)])
    assert status == 200, body


async def _portal_db(portal: PortalDriver) -> Any:
    from portal_stub.web.common import PORTAL

    return portal.client.server.app[PORTAL]


async def test_a_change_after_the_last_signature_is_refused(portal: PortalDriver) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    dossier = await _signed_dossier(portal)
    signed = await _sign_pdf(portal, "org", make_pdf(1))
    # An incremental update after the signature that replaces the page's text.
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Contents"] = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 14 Tf 72 760 Td (Noi dung khac) Tj ET")
    )
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    status, body = await _check(portal, dossier, [("sua-sau-ky.pdf", out.getvalue())])
    assert status == 400 and _code(body) == "E419", body
    assert "sửa nội dung" in body["error"]["message_vi"]

    # Someone else's earlier signature (an employee signed the contract) stays allowed when
    # it is valid and the unit's own signature is the newest.
    countersigned = await _sign_pdf(portal, "org", await _sign_pdf(portal, "personal", make_pdf(1)))
    status, body = await _check(portal, dossier, [("hop-dong.pdf", countersigned)])
    assert status == 200, body
    assert body["attachments"][0]["signatures"] == 2
    assert body["attachments"][0]["signer_mst"] == "0101234567"

    # Signed again after the change (as "Ký tệp đính kèm" would): accepted.
    resigned = await _sign_pdf(portal, "org", make_pdf(1, text="Noi dung moi"))
    status, body = await _check(portal, dossier, [("ky-lai.pdf", resigned)])
    assert status == 200, body


async def test_an_attachment_that_keeps_the_verifier_busy_is_refused_in_bounded_time(
    portal: PortalDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two signatures over objects tangled into one shared array: pyHanko's comparison of the
    revisions would run for hours (tests/signing_pdf/test_verify_deadline.py). It stops at its
    budget: the file could not be checked whole, and the portal refuses it."""
    from agent.signing.pdf import walkbudget
    from tests.signing_pdf.form_updates import update
    from tests.signing_pdf.test_verify_deadline import TANGLED, tangle

    monkeypatch.setattr(walkbudget, "ANALYSIS_SECONDS", 1.0)
    dossier = await _signed_dossier(portal)
    tangled = update(make_pdf(1), tangle(TANGLED))
    both = await _sign_pdf(portal, "org", await _sign_pdf(portal, "personal", tangled))
    status, body = await _check(portal, dossier, [("roi.pdf", both)])
    assert status == 400 and _code(body) == "E421", body
    assert "cấu trúc không kiểm tra hết được" in body["error"]["message_vi"]
    good = await _sign_pdf(portal, "org", make_pdf(1))
    status, body = await _check(portal, dossier, [("a.pdf", good)])
    assert status == 200, body  # the portal goes on


async def test_limits_are_enforced_before_any_signature_check(portal: PortalDriver) -> None:
    dossier = await _signed_dossier(portal)
    portal.config.max_attachments = 2
    portal.config.max_attachment_bytes = 1024 * 1024
    files = [(f"{i}.pdf", make_pdf(1, text=f"so {i}")) for i in range(3)]
    status, body = await _check(portal, dossier, files)
    assert status == 413 and _code(body) == "E415", body
    assert "tối đa 2 tệp" in body["error"]["action_vi"]
    big = make_pdf(1) + b"%" + b"x" * (1024 * 1024)
    status, body = await _check(portal, dossier, [("lon.pdf", big)])
    assert status == 413 and _code(body) == "E415" and "lon.pdf" in body["error"]["message_vi"]


def test_file_names_are_cleaned_for_showing() -> None:
    assert clean_name("C:\\Users\\ke toan\\scan.pdf", 1) == "scan.pdf"
    assert clean_name("../../etc/passwd", 1) == "passwd"
    # U+202E would show "hoso\u202efdp.exe" as "hosoexe.pdf".
    assert clean_name("hoso\u202efdp.exe", 1) == "hosofdp.exe"
    assert clean_name("a\r\nb.pdf", 1) == "ab.pdf"
    assert clean_name("", 3) == "tep-dinh-kem-3.pdf"
    long = clean_name("x" * 300 + ".pdf", 1)
    assert len(long) <= 120 and long.endswith(".pdf")
    # NFD (combining accents) becomes NFC.
    assert clean_name("quye\u0301t.pdf", 1) == "quyét.pdf"


def test_download_header_keeps_the_name_and_cannot_be_broken() -> None:
    header = content_disposition('hồ sơ "1".pdf')
    assert header.startswith('attachment; filename="h__s___1_.pdf"; ')
    assert "filename*=UTF-8''h%E1%BB%93%20s%C6%A1%20%221%22.pdf" in header
    assert "\n" not in content_disposition("a\nb.pdf")


@pytest.fixture
async def small_portal(
    aiohttp_client: Any,
    portal_trust: Any,
    clock: Any,
    tmp_path: Path,
    token_service: Any,
    demo: dict[str, Any],
) -> PortalDriver:
    """A portal whose dossier limit (1 MB) is smaller than what its attachments may add."""
    config = PortalConfig(
        db_path=tmp_path / "portal.sqlite3",
        smtp_port=0,
        debug_hooks=True,
        clock=clock,
        max_upload_bytes=1024 * 1024,
    )
    client = await aiohttp_client(create_app(config, portal_trust))
    config.public_origin = str(client.make_url("")).rstrip("/")
    return PortalDriver(client, config, token_service, demo)


async def test_only_a_logged_in_unit_may_send_the_larger_attachment_body(
    small_portal: PortalDriver,
) -> None:
    portal = small_portal
    filler = "x" * (700 * 1024)  # three of these are past the app's 2.3 MB body limit
    anonymous = {"document": "", "attachments": [{"name": "a.pdf", "document": filler * 4}]}
    status, body = await portal.request("POST", "/api/v1/dossiers/check", json=anonymous)
    assert status == 401 and _code(body) == "E102"

    dossier = await _signed_dossier(portal)
    files = [
        (f"{i}.pdf", await _sign_pdf(portal, "org", make_pdf(1, text=f"{i} {filler}")))
        for i in range(3)
    ]
    assert sum(len(d) for _, d in files) * 4 // 3 > 1024 * 1024 * 4 // 3 + 1024 * 1024
    status, body = await _check(portal, dossier, files)
    assert status == 200, body
    assert [a["name"] for a in body["attachments"]] == ["0.pdf", "1.pdf", "2.pdf"]


def test_every_kind_of_active_content_has_a_vietnamese_name() -> None:
    """A kind the agent learns later must not reach the refusal as a raw code (or a KeyError)."""
    from agent.signing.pdf.active import KINDS
    from portal_stub.attachments import _ACTIVE_NAMES

    assert set(_ACTIVE_NAMES) == set(KINDS)
