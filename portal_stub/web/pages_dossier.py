"""Pages: dossier preparation (iBHXH stand-in), "Nộp hồ sơ", "Tra cứu", catalogues, mailbox."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from portal_stub.attachments import Attachment, clean_name, content_disposition
from portal_stub.dossier_xml import GENDERS, PHUONG_AN, ROW_FIELDS, parse_rows
from portal_stub.dossiers import STATUS_LABELS, DossierService
from portal_stub.drafts import DraftVersion
from portal_stub.errors import PortalError
from portal_stub.web.common import (
    PORTAL,
    check_csrf,
    read_form,
    render,
    require_account,
    upload_request,
)

routes = web.RouteTableDef()
BLANK_ROWS = 3


def _rows_from_form(form: Any) -> list[dict[str, str]]:
    try:
        count = min(int(form.get("so_dong", "0")), 500)
    except ValueError:
        count = 0
    return [{f: str(form.get(f"dong-{i}-{f}", "")) for f in ROW_FIELDS} for i in range(count)]


def _draft_context(rows: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {
        "rows": rows,
        "row_fields": ROW_FIELDS,
        "genders": GENDERS,
        "phuong_an": PHUONG_AN,
        "unsaved": False,
        # What "Ký và nộp" shows when the page holds edits not saved with "Ghi" (portal-sign.js).
        "unsaved_error": PortalError("DRAFT_UNSAVED").to_dict(),
        **extra,
    }


def _unsaved(dossiers: DossierService, draft: Any, rows: list[dict[str, str]], period: str) -> bool:
    """Would the page show values other than the saved draft's? ("Thêm dòng" and a refused
    "Ghi" draw the page from the posted form, not from the database.) "Ký và nộp" signs the
    saved version only, so such a page must not sign until "Ghi" has saved what it shows."""
    if draft is None:
        return False
    try:
        shown = parse_rows(rows)
    except PortalError:
        return True  # the saved draft is always valid
    return period != draft["period"] or shown != dossiers.draft_rows(draft)


# --- "Lập hồ sơ" (iBHXH stand-in) ------------------------------------------------------------------


@routes.get("/lap-ho-so")
async def drafts_page(request: web.Request) -> web.Response:
    """The unit's drafts."""
    account = require_account(request)
    drafts = request.app[PORTAL].dossiers.drafts(account["id"])
    return render(request, "drafts.html", {"drafts": drafts})


@routes.get("/lap-ho-so/moi")
async def new_draft(request: web.Request) -> web.Response:
    """An empty procedure-600 dossier."""
    require_account(request)
    blank = [dict.fromkeys(ROW_FIELDS, "") for _ in range(BLANK_ROWS)]
    return render(request, "draft.html", _draft_context(blank, draft=None, period=""))


@routes.get(r"/lap-ho-so/{id:\d{1,18}}")
async def draft_page(request: web.Request) -> web.Response:
    """A saved draft with "Lấy số hồ sơ", "Ghi", "Xuất file BHXH-VAN" and "Ký và nộp"."""
    portal = request.app[PORTAL]
    account = require_account(request)
    draft = portal.dossiers.draft(account["id"], int(request.match_info["id"]))
    rows = [{k: str(v) for k, v in e.__dict__.items()} for e in portal.dossiers.draft_rows(draft)]
    return render(
        request,
        "draft.html",
        _draft_context(
            rows,
            draft=draft,
            period=draft["period"],
            saved=request.query.get("da_ghi") == "1",
        ),
    )


@routes.post("/lap-ho-so/ghi")
async def save_draft(request: web.Request) -> web.Response:
    """ "Ghi", "Lấy số hồ sơ" or "Thêm dòng" (one form, three buttons)."""
    portal = request.app[PORTAL]
    form = await read_form(request)
    check_csrf(request, form)
    account = require_account(request)
    rows = _rows_from_form(form)
    draft_field = str(form.get("draft_id", ""))
    draft_id = int(draft_field) if draft_field.isdigit() else None
    period = str(form.get("ky_ke_khai", "")).strip()
    draft = portal.dossiers.draft(account["id"], draft_id) if draft_id else None
    unsaved = _unsaved(portal.dossiers, draft, rows, period)
    if form.get("thao_tac") == "them_dong":
        rows.append(dict.fromkeys(ROW_FIELDS, ""))
        ctx = _draft_context(rows, draft=draft, period=period, unsaved=unsaved)
        return render(request, "draft.html", ctx)
    try:
        draft_id = portal.dossiers.save_draft(account, draft_id=draft_id, period=period, rows=rows)
        if form.get("thao_tac") == "lay_so":
            portal.dossiers.take_number(account, draft_id)
    except PortalError as exc:
        ctx = _draft_context(rows, draft=draft, period=period, unsaved=unsaved, error=exc.to_dict())
        return render(request, "draft.html", ctx, status=exc.status)
    raise web.HTTPSeeOther(f"/lap-ho-so/{draft_id}?da_ghi=1")


@routes.get(r"/lap-ho-so/{id:\d{1,18}}/xuat-file")
async def export_draft(request: web.Request) -> web.Response:
    """ "Xuất file BHXH-VAN": the unsigned XML as a download; ``?phien_ban=`` (the page's
    link carries it) refuses any version but the saved one (E422)."""
    account = require_account(request)
    shown = request.query.get("phien_ban")
    version = DraftVersion.parse(request.match_info["id"], shown) if shown else None
    name, data = request.app[PORTAL].dossiers.export(
        account, int(request.match_info["id"]), version.revision if version else None
    )
    return web.Response(
        body=data,
        content_type="application/xml",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- "Nộp hồ sơ" ------------------------------------------------------------------------------------


@routes.get("/nop-ho-so")
async def submit_page(request: web.Request) -> web.Response:
    """Choose the signed file ("Duyệt") and press "Kiểm tra hồ sơ"."""
    require_account(request)
    return render(request, "submit.html")


async def _uploaded_bytes(form: Any) -> bytes:
    signed = form.get("signed_document")
    if signed:
        try:
            return base64.b64decode(str(signed), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PortalError(
                "XML_MALFORMED", {"detail": "signed_document không phải base64"}
            ) from exc
    field = form.get("ho_so")
    if field is None or not hasattr(field, "file"):
        raise PortalError("FORM_INVALID", {"detail": 'chưa chọn tệp hồ sơ (bấm "Duyệt")'})
    return field.file.read()


def _attachments(form: Any) -> list[Attachment]:
    """The PDF files posted as ``dinh_kem`` (the bridge puts the signed ones there). An empty
    file input still sends one part without a file name: that is no attachment."""
    files: list[Attachment] = []
    for field in form.getall("dinh_kem", []):
        if not hasattr(field, "file"):
            if not field:  # aiohttp reads an empty part without a file name as text
                continue
            raise PortalError("FORM_INVALID", {"detail": "tệp đính kèm phải gửi dạng tệp"})
        data = field.file.read()
        if not field.filename and not data:
            continue
        files.append(Attachment(clean_name(field.filename or "", len(files) + 1), data))
    return files


@routes.post("/nop-ho-so/kiem-tra")
async def check_post(request: web.Request) -> web.Response:
    """ "Kiểm tra hồ sơ": the uploaded (or just signed) file goes through every check."""
    portal = request.app[PORTAL]
    require_account(request)  # before the body is read: see upload_request
    request = upload_request(request)
    form = await read_form(request)
    check_csrf(request, form)
    account = require_account(request)
    try:
        data = await _uploaded_bytes(form)
        # "Ký và nộp" on a draft page names the draft version it showed (hidden fields).
        draft = DraftVersion.parse(form.get("draft_id"), form.get("phien_ban"))
        upload_id, result, attachments = await portal.check(
            account, data, _attachments(form), draft
        )
    except PortalError as exc:
        return render(request, "submit.html", {"error": exc.to_dict()}, status=exc.status)
    return render(
        request,
        "check_result.html",
        {"upload_id": upload_id, "result": result, "attachments": attachments},
    )


@routes.post("/nop-ho-so/nop")
async def submit_post(request: web.Request) -> web.Response:
    """ "Nộp hồ sơ" after a passed check: the receipt."""
    portal = request.app[PORTAL]
    form = await read_form(request)
    check_csrf(request, form)
    account = require_account(request)
    try:
        dossier = await portal.submit(account, str(form.get("upload_id", "")))
    except PortalError as exc:
        return render(request, "submit.html", {"error": exc.to_dict()}, status=exc.status)
    return render(
        request,
        "receipt.html",
        {
            "dossier": dossier,
            "labels": STATUS_LABELS,
            "attachments": portal.dossiers.attachments(dossier["id"]),
        },
    )


# --- "Tra cứu" ------------------------------------------------------------------------------------------


@routes.get("/tra-cuu")
async def lookup_menu(request: web.Request) -> web.Response:
    """The "Tra cứu" menu."""
    return render(request, "lookup_menu.html")


@routes.get("/tra-cuu/ho-so")
async def lookup(request: web.Request) -> web.Response:
    """ "Tra cứu hồ sơ": filters, then "Hiển thị kết quả"."""
    portal = request.app[PORTAL]
    account = require_account(request)
    q = request.query
    filters = {
        k: q.get(k, "").strip() for k in ("tu_ngay", "den_ngay", "trang_thai", "ma_thu_tuc", "ky")
    }
    ctx: dict[str, Any] = {
        "filters": filters,
        "labels": STATUS_LABELS,
        "dossier_types": portal.dossier_types(),
        "results": None,
    }
    if "xem" in q:
        try:
            ctx["results"] = portal.dossiers.search(
                account["id"],
                date_from=filters["tu_ngay"],
                date_to=filters["den_ngay"],
                status=filters["trang_thai"],
                procedure=filters["ma_thu_tuc"],
                period=filters["ky"],
            )
        except PortalError as exc:
            ctx["error"] = exc.to_dict()
    return render(request, "lookup.html", ctx)


@routes.get(r"/tra-cuu/ho-so/{id:\d{1,18}}")
async def dossier_page(request: web.Request) -> web.Response:
    """One submitted dossier and its processing history."""
    portal = request.app[PORTAL]
    account = require_account(request)
    dossier = portal.dossiers.dossier(account["id"], int(request.match_info["id"]))
    return render(
        request,
        "dossier.html",
        {
            "dossier": dossier,
            "history": portal.dossiers.history(dossier["id"]),
            "labels": STATUS_LABELS,
            "attachments": portal.dossiers.attachments(dossier["id"]),
        },
    )


@routes.get(r"/tra-cuu/ho-so/{id:\d{1,18}}/dinh-kem/{attachment:\d{1,18}}")
async def attachment_download(request: web.Request) -> web.Response:
    """One signed attachment as filed, for the unit itself (a download, never shown inline)."""
    account = require_account(request)
    row = request.app[PORTAL].dossiers.attachment_file(
        account["id"], int(request.match_info["id"]), int(request.match_info["attachment"])
    )
    return web.Response(
        body=bytes(row["content"]),
        content_type="application/pdf",
        headers={"Content-Disposition": content_disposition(row["name"])},
    )


@routes.get("/tra-cuu/thong-bao")
async def notices_page(request: web.Request) -> web.Response:
    """ "Nhận thông báo": choose the period, "Hiển thị kết quả"."""
    portal = request.app[PORTAL]
    account = require_account(request)
    period = request.query.get("ky", "").strip()
    ctx: dict[str, Any] = {"period": period, "notices": None}
    if "xem" in request.query:
        try:
            ctx["notices"] = portal.dossiers.notices(account["id"], period)
        except PortalError as exc:
            ctx["error"] = exc.to_dict()
    return render(request, "notices.html", ctx)


@routes.get(r"/tra-cuu/thong-bao/{id:\d{1,18}}")
async def notice_page(request: web.Request) -> web.Response:
    """Read one notice."""
    account = require_account(request)
    notice = request.app[PORTAL].dossiers.read_notice(account["id"], int(request.match_info["id"]))
    return render(request, "notice.html", {"notice": notice})


@routes.get("/tra-cuu/danh-muc-co-quan-bhxh")
async def offices_page(request: web.Request) -> web.Response:
    """ "Danh mục cơ quan BHXH"."""
    return render(request, "offices.html", {"offices": request.app[PORTAL].offices()})


@routes.get("/tra-cuu/danh-muc-ho-so")
async def types_page(request: web.Request) -> web.Response:
    """ "Danh mục hồ sơ"."""
    return render(request, "types.html", {"dossier_types": request.app[PORTAL].dossier_types()})


@routes.get("/tra-cuu/danh-muc-ma-loi")
async def errors_page(request: web.Request) -> web.Response:
    """ "Danh mục mã lỗi"."""
    return render(request, "error_codes.html")


# --- the demo mailbox ---------------------------------------------------------------------------------


def _require_sink(request: web.Request) -> None:
    """E107 unless the portal runs its demo SMTP sink: the mailbox shows every unit's mail,
    passwords included, to anyone who can open the portal (as /api/v1/mailbox)."""
    if not request.app[PORTAL].config.smtp_sink:
        raise PortalError("NOT_FOUND")


@routes.get("/hop-thu")
async def mailbox(request: web.Request) -> web.Response:
    """Mail received by the embedded SMTP sink (demo only)."""
    _require_sink(request)
    portal = request.app[PORTAL]
    mails = portal.db.all("SELECT id, rcpt_to, subject, received_at FROM mail ORDER BY id DESC")
    return render(request, "mailbox.html", {"mails": mails})


@routes.get(r"/hop-thu/{id:\d{1,18}}")
async def mail_page(request: web.Request) -> web.Response:
    """One message (demo only)."""
    _require_sink(request)
    mail = request.app[PORTAL].db.one(
        "SELECT * FROM mail WHERE id = ?", (int(request.match_info["id"]),)
    )
    if mail is None:
        raise PortalError("NOT_FOUND")
    return render(request, "mail.html", {"mail": mail})
