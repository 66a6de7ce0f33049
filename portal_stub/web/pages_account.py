"""Pages: home, "Đăng ký", log-in, and "Tài khoản" with its signed changes."""

from __future__ import annotations

import sqlite3
from typing import Any

from aiohttp import web

from portal_stub.certwords import certificate_words
from portal_stub.errors import PortalError
from portal_stub.forms import CANCEL_REASONS, DETAIL_FIELDS, REGISTER_FIELDS, as_mapping
from portal_stub.security import safe_next_url
from portal_stub.web.common import (
    PORTAL,
    SESSION,
    check_csrf,
    read_form,
    render,
    require_account,
    set_session_cookie,
    signed_request_response,
)

routes = web.RouteTableDef()

# Signed actions: (page path, template, page title).
SIGNED_PAGES = {
    "add-types": ("/tai-khoan/dang-ky-them-ho-so", "add_types.html", "Đăng ký thêm hồ sơ"),
    "stop-types": ("/tai-khoan/dang-ky-ngung-ho-so", "stop_types.html", "Đăng ký ngừng hồ sơ"),
    "cancel": ("/tai-khoan/ngung-dich-vu", "cancel.html", "Ngưng dịch vụ"),
    "change-details": ("/tai-khoan/thay-doi-thong-tin", "change.html", "Thay đổi thông tin"),
    "change-certificate": ("/tai-khoan/thay-doi-chung-thu-so", "change.html", "Thay đổi thông tin"),
}


def _account_context(request: web.Request, account: sqlite3.Row | None) -> dict[str, Any]:
    portal = request.app[PORTAL]
    types = portal.accounts.types(account["id"]) if account else {}
    words = (
        certificate_words(account["cert_der"], account["cert_thumbprint"], account["cert_device"])
        if account
        else None
    )
    return {
        "cert_words": words,
        "offices": portal.offices(),
        "dossier_types": portal.dossier_types(),
        "unit_types": types,
        "register_fields": REGISTER_FIELDS,
        "detail_fields": DETAIL_FIELDS,
        "cancel_reasons": CANCEL_REASONS,
        "values": {},
        "error_action": None,
    }


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    """Trang chủ."""
    return render(request, "home.html")


@routes.get("/dang-ky")
async def register_page(request: web.Request) -> web.Response:
    """ "Đăng ký" form."""
    return render(request, "register.html", _account_context(request, None))


@routes.post("/dang-ky")
async def register_post(request: web.Request) -> web.Response:
    """The signed registration."""
    portal = request.app[PORTAL]
    form = await read_form(request)
    check_csrf(request, form)
    try:
        result = await portal.perform(
            "register",
            form,
            signed_raw=form.get("signed_request"),
            account=None,
            device=form.get("thiet_bi"),
            session=request.get(SESSION),
        )
    except PortalError as exc:
        ctx = {
            **_account_context(request, None),
            "error": exc.to_dict(),
            "values": as_mapping(form),
        }
        return render(request, "register.html", ctx, status=exc.status)
    return render(
        request,
        "result.html",
        {
            "title": "Đăng ký",
            "message": result["message_vi"],
            "links": [("/hop-thu", "Mở hộp thư (bản thử nghiệm)"), ("/dang-nhap", "Đăng nhập")]
            if portal.config.smtp_sink
            else [("/dang-nhap", "Đăng nhập")],
        },
    )


@routes.get("/dang-nhap")
async def login_page(request: web.Request) -> web.Response:
    """Log-in form."""
    # Cleaned on the way in too: the hidden field never carries another site's address.
    return render(
        request, "login.html", {"next": safe_next_url(request.query.get("tiep")), "username": ""}
    )


@routes.post("/dang-nhap")
async def login_post(request: web.Request) -> web.Response:
    """Check the password, rotate the session."""
    portal = request.app[PORTAL]
    form = await read_form(request)
    old = check_csrf(request, form)
    username = str(form.get("ten_dang_nhap", ""))
    try:
        account = await portal.accounts.login(username, str(form.get("mat_khau", "")))
    except PortalError as exc:
        ctx = {
            "error": exc.to_dict(),
            "next": safe_next_url(form.get("tiep")),
            "username": username,
        }
        return render(request, "login.html", ctx, status=exc.status)
    if old is not None:
        portal.sessions.delete(old)
    token, session = portal.sessions.create("cookie", account["id"])
    request[SESSION] = session
    # Only a path on this site: never send the user to another site after log-in.
    response = web.HTTPSeeOther(safe_next_url(form.get("tiep")))
    set_session_cookie(request, response, token)
    raise response


@routes.post("/dang-xuat")
async def logout(request: web.Request) -> web.Response:
    """End the session."""
    form = await read_form(request)
    session = check_csrf(request, form)
    if session is not None:
        request.app[PORTAL].sessions.delete(session)
    raise web.HTTPSeeOther("/")


@routes.get("/tai-khoan")
async def account_page(request: web.Request) -> web.Response:
    """ "Tài khoản": the registration, the certificate and the dossier types."""
    portal = request.app[PORTAL]
    account = require_account(request)
    events = portal.accounts.history(account["id"], limit=10)
    office = portal.db.one("SELECT name FROM offices WHERE code = ?", (account["office_code"],))
    return render(
        request,
        "account.html",
        {
            **_account_context(request, account),
            "events": events,
            "office_name": office["name"] if office else account["office_code"],
        },
    )


@routes.get(r"/tai-khoan/yeu-cau/{id:\d{1,18}}")
async def signed_request_download(request: web.Request) -> web.Response:
    """A signed account request from the history, as the unit signed it."""
    account = require_account(request)
    row = request.app[PORTAL].accounts.signed_request(account["id"], int(request.match_info["id"]))
    if row is None:
        raise PortalError("NOT_FOUND")
    return signed_request_response(row)


def _signed_get(action: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        account = require_account(request)
        _, template, title = SIGNED_PAGES[action]
        return render(request, template, {**_account_context(request, account), "title": title})

    return handler


def _signed_post(action: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        portal = request.app[PORTAL]
        form = await read_form(request)
        check_csrf(request, form)
        account = require_account(request)
        _, template, title = SIGNED_PAGES[action]
        try:
            result = await portal.perform(
                action,
                form,
                signed_raw=form.get("signed_request"),
                account=account,
                device=form.get("thiet_bi"),
                session=request.get(SESSION),
            )
        except PortalError as exc:
            ctx = {
                **_account_context(request, account),
                "title": title,
                "error": exc.to_dict(),
                "error_action": action,
                "values": as_mapping(form),
            }
            return render(request, template, ctx, status=exc.status)
        links = (
            [("/", "Trang chủ")] if action == "cancel" else [("/tai-khoan", "Về trang Tài khoản")]
        )
        return render(
            request,
            "result.html",
            {"title": title, "message": result["message_vi"], "links": links},
        )

    return handler


for _action, (_path, _template, _title) in SIGNED_PAGES.items():
    if _action != "change-certificate":
        routes.get(_path)(_signed_get(_action))
    routes.post(_path)(_signed_post(_action))
