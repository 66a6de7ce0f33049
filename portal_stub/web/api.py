"""The JSON API (/api/v1/...) beside the pages: same flows, same rules, same error catalogue.

Authentication: ``POST /api/v1/login`` returns a bearer token (``Authorization: Bearer ...``,
no CSRF needed), or with ``"mode": "cookie"`` sets the page session cookie, after which every
POST must carry ``X-CSRF-Token``. Errors are ``{"error": {code, key, message_vi, message_en,
action_vi, action_en, details}}`` with a 4xx/5xx status. See docs/portal-api.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from typing import Any

from aiohttp import web

from portal_stub.attachments import Attachment, clean_name
from portal_stub.dossiers import STATUS_LABELS
from portal_stub.drafts import DraftVersion
from portal_stub.errors import CATALOGUE, PortalError
from portal_stub.forms import ACTIONS
from portal_stub.processing import advance
from portal_stub.timefmt import vietnam_iso
from portal_stub.web.common import (
    PORTAL,
    SESSION,
    check_csrf,
    read_form,
    read_within,
    require_account,
    set_session_cookie,
    signed_request_response,
    upload_request,
)

routes = web.RouteTableDef()
API = "/api/v1"


def _row(row: sqlite3.Row | None, drop: tuple[str, ...] = ()) -> dict[str, Any] | None:
    if row is None:
        return None
    # sqlite3.Row iterates over values, so keys() is needed here.
    return {k: row[k] for k in row.keys() if k not in drop and not isinstance(row[k], bytes)}  # noqa: SIM118


def _account_json(request: web.Request, account: sqlite3.Row) -> dict[str, Any]:
    data = _row(account, drop=("password_hash", "cert_der")) or {}
    data["dossier_types"] = request.app[PORTAL].accounts.types(account["id"])
    return data


async def _json(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            body = await read_within(request, request.json())
        except ValueError as exc:
            raise PortalError("FORM_INVALID", {"detail": "body is not JSON"}) from exc
        if not isinstance(body, dict):
            raise PortalError("FORM_INVALID", {"detail": "body must be a JSON object"})
        return body
    # Pages (the bridge script) post their form as-is.
    return _multi(await read_form(request))


def _multi(form: Any) -> dict[str, Any]:
    return {k: (form.getall(k) if len(form.getall(k)) > 1 else form.get(k)) for k in form}


async def _form(request: web.Request) -> Any:
    """JSON object, or the page's form (MultiDict keeps repeated checkboxes)."""
    if request.content_type == "application/json":
        return await _json(request)
    return await read_form(request)


# --- challenge, registration, log-in --------------------------------------------------------------


@routes.get(API + "/challenge")
async def challenge_get(request: web.Request) -> web.Response:
    """Refused: the portal writes the request from the form, so the form must be posted."""
    raise PortalError(
        "FORM_INVALID",
        {"detail": "POST the form to /api/v1/challenge: the portal writes the request to sign"},
    )


def _fields(form: dict[str, Any]) -> Any:
    """The JSON body's ``fields`` (an object), or the body itself when it has none."""
    fields = form.get("fields", form)
    if not isinstance(fields, dict):
        raise PortalError("FORM_INVALID", {"detail": "fields phải là một đối tượng JSON"})
    return fields


@routes.post(API + "/challenge")
async def challenge_post(request: web.Request) -> web.Response:
    """A nonce bound to the posted form (or JSON ``{"action", "fields"}``)."""
    portal = request.app[PORTAL]
    form = await _form(request)
    session = check_csrf(request, form)
    if isinstance(form, dict):
        action = str(request.query.get("action") or form.get("action", ""))
        fields = _fields(form)
    else:
        action, fields = str(request.query.get("action") or form.get("action", "")), form
    if action not in ACTIONS:
        raise PortalError("FORM_INVALID", {"detail": f"unknown action {action!r}"})
    account = portal.account_for(session)
    return web.json_response(
        portal.issue_challenge(action, fields, account, session, request.remote).to_json()
    )


async def _signed(request: web.Request, action: str) -> web.Response:
    portal = request.app[PORTAL]
    form = await _form(request)
    check_csrf(request, form)
    account = None if action == "register" else require_account(request)
    fields = _fields(form) if isinstance(form, dict) else form
    # thiet_bi: where Kyso said the signing certificate lives (a JSON text, as the page posts it).
    device = form.get("thiet_bi")
    result = await portal.perform(
        action,
        fields,
        signed_raw=form.get("signed_request"),
        account=account,
        device=json.dumps(device) if isinstance(device, dict) else device,
        session=request.get(SESSION),
    )
    return web.json_response({"ok": True, **result})


@routes.post(API + "/register")
async def register(request: web.Request) -> web.Response:
    """Registration signed with the unit's certificate; the account is e-mailed."""
    return await _signed(request, "register")


@routes.post(API + "/login")
async def login(request: web.Request) -> web.Response:
    """User name + password -> bearer token (or a cookie session with ``mode: cookie``)."""
    portal = request.app[PORTAL]
    if request.content_type != "application/json":
        # Another site's form can post urlencoded, multipart or text/plain, never JSON (that
        # needs a CORS preflight this portal never grants): a second wall against login CSRF
        # for browsers that send neither Origin nor Sec-Fetch-Site.
        raise PortalError("FORM_INVALID", {"detail": "log-in takes a JSON body"})
    body = await _json(request)
    account = await portal.accounts.login(
        str(body.get("username", "")), str(body.get("password", ""))
    )
    mode = body.get("mode", "bearer")
    if mode not in ("bearer", "cookie"):
        raise PortalError("FORM_INVALID", {"detail": "mode is bearer or cookie"})
    token, session = portal.sessions.create(mode, account["id"])
    payload: dict[str, Any] = {
        "account": _account_json(request, account),
        "csrf_token": session.csrf_token,
    }
    if mode == "bearer":
        payload["token"] = token
    response = web.json_response(payload)
    if mode == "cookie":
        set_session_cookie(request, response, token)
    return response


@routes.post(API + "/logout")
async def logout(request: web.Request) -> web.Response:
    """End the current session."""
    session = check_csrf(request, None)
    if session is not None:
        request.app[PORTAL].sessions.delete(session)
    return web.json_response({"ok": True})


@routes.get(API + "/account")
async def account(request: web.Request) -> web.Response:
    """The logged-in unit."""
    return web.json_response(_account_json(request, require_account(request)))


@routes.get(API + "/account/history")
async def account_history(request: web.Request) -> web.Response:
    """The unit's signed account requests, newest first; times in Vietnam time."""
    portal = request.app[PORTAL]
    acct = require_account(request)
    items = [
        {
            "id": row["id"],
            "action": row["action"],
            "at": vietnam_iso(row["at"]),
            "summary": row["summary"],
            "signed_request_sha256": row["request_sha256"],
            "signed_request_url": f"{API}/account/history/{row['id']}/request.xml"
            if row["has_request"]
            else None,
        }
        for row in portal.accounts.history(acct["id"])
    ]
    return web.json_response({"events": items})


@routes.get(API + r"/account/history/{id:\d{1,18}}/request.xml")
async def account_history_request(request: web.Request) -> web.Response:
    """One signed request, as the unit signed it."""
    portal = request.app[PORTAL]
    acct = require_account(request)
    row = portal.accounts.signed_request(acct["id"], int(request.match_info["id"]))
    if row is None:
        raise PortalError("NOT_FOUND")
    return signed_request_response(row)


for _path, _action in (
    ("/account/types/add", "add-types"),
    ("/account/types/stop", "stop-types"),
    ("/account/cancel", "cancel"),
    ("/account/details", "change-details"),
    ("/account/certificate", "change-certificate"),
):

    async def _handler(request: web.Request, _a: str = _action) -> web.Response:
        return await _signed(request, _a)

    _handler.__doc__ = f"Signed account change: {_action}."
    routes.post(API + _path)(_handler)


# --- dossiers -------------------------------------------------------------------------------------------


def _is_row_id(value: object) -> bool:
    """A database row's id as JSON sends it: a positive integer SQLite can hold."""
    return type(value) is int and 0 < value < 2**63


@routes.post(API + "/drafts")
async def draft_create(request: web.Request) -> web.Response:
    """Save a procedure-600 draft: ``{"period": "11/2026", "rows": [...], "take_number": true}``."""
    portal = request.app[PORTAL]
    body = await _json(request)
    check_csrf(request, body)
    acct = require_account(request)
    draft_id, rows = body.get("id"), body.get("rows") or []
    if (draft_id is not None and not _is_row_id(draft_id)) or not isinstance(rows, list):
        raise PortalError("FORM_INVALID", {"detail": "id là số, rows là một danh sách"})
    draft_id = portal.dossiers.save_draft(
        acct, draft_id=draft_id, period=str(body.get("period", "")), rows=rows
    )
    if body.get("take_number"):
        portal.dossiers.take_number(acct, draft_id)
    return web.json_response({"draft": _row(portal.dossiers.draft(acct["id"], draft_id))})


@routes.post(API + r"/drafts/{id:\d{1,18}}/number")
async def draft_number(request: web.Request) -> web.Response:
    """ "Lấy số hồ sơ"."""
    portal = request.app[PORTAL]
    check_csrf(request, None)
    acct = require_account(request)
    number = portal.dossiers.take_number(acct, int(request.match_info["id"]))
    return web.json_response({"dossier_number": number})


@routes.get(API + r"/drafts/{id:\d{1,18}}/export")
async def draft_export(request: web.Request) -> web.Response:
    """ "Xuất file BHXH-VAN": the unsigned XML; ``?revision=N`` (the draft page's
    "Ký và nộp" sends the version it shows) refuses any version but the saved one (E422)."""
    acct = require_account(request)
    shown = request.query.get("revision")
    version = DraftVersion.parse(request.match_info["id"], shown) if shown else None
    name, data = request.app[PORTAL].dossiers.export(
        acct, int(request.match_info["id"]), version.revision if version else None
    )
    return web.Response(
        body=data,
        content_type="application/xml",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _document(
    request: web.Request,
) -> tuple[bytes, list[Attachment], DraftVersion | None]:
    """(signed dossier, attachments, the draft version it was signed from, if named)."""
    if request.content_type in ("application/xml", "text/xml"):
        query = request.query
        draft = DraftVersion.parse(query.get("draft_id"), query.get("revision"))
        return await read_within(request, request.read()), [], draft
    body = await _json(request)
    draft = DraftVersion.parse(body.get("draft_id"), body.get("revision"))
    try:
        document = base64.b64decode(str(body.get("document", "")), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PortalError("XML_MALFORMED", {"detail": "document is not base64"}) from exc
    return document, _attachments(body.get("attachments")), draft


def _attachments(raw: Any) -> list[Attachment]:
    """``[{"name": "…", "document": base64}, …]`` -> attachments (names cleaned)."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(a, dict) for a in raw):
        raise PortalError("FORM_INVALID", {"detail": "attachments must be a list of objects"})
    files = []
    for position, item in enumerate(raw, start=1):
        name = clean_name(str(item.get("name", "")), position)
        try:
            data = base64.b64decode(str(item.get("document", "")), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PortalError(
                "ATTACHMENT_INVALID", {"name": name, "detail": "document is not base64"}
            ) from exc
        files.append(Attachment(name, data))
    return files


@routes.post(API + "/dossiers/check")
async def dossier_check(request: web.Request) -> web.Response:
    """ "Kiểm tra hồ sơ": body is the signed XML (application/xml) or ``{"document": base64,
    "attachments": [{"name", "document": base64 PDF}]}``. Signed from a draft: name it,
    ``"draft_id"`` and ``"revision"`` (or ``?draft_id=&revision=`` beside an XML body), and
    the portal insists it is that version's export, still the saved one (E422, E423)."""
    portal = request.app[PORTAL]
    check_csrf(request, None)
    acct = require_account(request)
    document, files, draft = await _document(upload_request(request))
    upload_id, result, found = await portal.check(acct, document, files, draft)
    return web.json_response(
        {
            "ok": True,
            "upload_id": upload_id,
            "result": result.to_json(),
            "attachments": [a.to_json() for a in found],
        }
    )


@routes.post(API + "/dossiers/submit")
async def dossier_submit(request: web.Request) -> web.Response:
    """ "Nộp hồ sơ" of a checked upload: ``{"upload_id": ...}`` -> receipt."""
    portal = request.app[PORTAL]
    body = await _json(request)
    check_csrf(request, body)
    acct = require_account(request)
    dossier = await portal.submit(acct, str(body.get("upload_id", "")))
    return web.json_response(
        {
            "ok": True,
            "receipt": dossier["receipt"],
            "dossier": _dossier_json(dossier, portal.dossiers.attachments(dossier["id"])),
        }
    )


def _dossier_json(row: sqlite3.Row, attachments: list[sqlite3.Row] | None = None) -> dict[str, Any]:
    data = _row(row) or {}
    data["status_label"] = STATUS_LABELS.get(row["status"], row["status"])
    if attachments is not None:
        data["attachments"] = [_row(a) for a in attachments]
    return data


@routes.get(API + "/dossiers")
async def dossiers(request: web.Request) -> web.Response:
    """ "Tra cứu hồ sơ": ?from=YYYY-MM-DD&to=&status=&procedure=&period=MM/YYYY."""
    acct = require_account(request)
    q = request.query
    rows = request.app[PORTAL].dossiers.search(
        acct["id"],
        date_from=q.get("from", ""),
        date_to=q.get("to", ""),
        status=q.get("status", ""),
        procedure=q.get("procedure", ""),
        period=q.get("period", ""),
    )
    return web.json_response({"dossiers": [_dossier_json(r) for r in rows]})


@routes.get(API + r"/dossiers/{id:\d{1,18}}")
async def dossier(request: web.Request) -> web.Response:
    """One dossier with its history."""
    portal = request.app[PORTAL]
    acct = require_account(request)
    row = portal.dossiers.dossier(acct["id"], int(request.match_info["id"]))
    history = [_row(h) for h in portal.dossiers.history(row["id"])]
    attachments = portal.dossiers.attachments(row["id"])
    return web.json_response({"dossier": _dossier_json(row, attachments), "history": history})


@routes.get(API + "/notices")
async def notices(request: web.Request) -> web.Response:
    """ "Nhận thông báo": ?period=MM/YYYY."""
    acct = require_account(request)
    rows = request.app[PORTAL].dossiers.notices(acct["id"], request.query.get("period", ""))
    return web.json_response({"notices": [_row(r) for r in rows]})


@routes.get(API + r"/notices/{id:\d{1,18}}")
async def notice(request: web.Request) -> web.Response:
    """Read one notice (marks it read)."""
    acct = require_account(request)
    row = request.app[PORTAL].dossiers.read_notice(acct["id"], int(request.match_info["id"]))
    return web.json_response({"notice": _row(row)})


# --- catalogues, mailbox, debug -------------------------------------------------------------------


@routes.get(API + "/catalogues/offices")
async def cat_offices(request: web.Request) -> web.Response:
    """ "Danh mục cơ quan BHXH"."""
    return web.json_response({"offices": [_row(r) for r in request.app[PORTAL].offices()]})


@routes.get(API + "/catalogues/dossier-types")
async def cat_types(request: web.Request) -> web.Response:
    """ "Danh mục hồ sơ"."""
    rows = request.app[PORTAL].dossier_types()
    return web.json_response(
        {"dossier_types": [{**(_row(r) or {}), "forms": r["forms"].split(",")} for r in rows]}
    )


@routes.get(API + "/catalogues/errors")
async def cat_errors(request: web.Request) -> web.Response:
    """ "Danh mục mã lỗi"."""
    return web.json_response({"errors": [row.__dict__ for row in CATALOGUE]})


@routes.get(API + "/mailbox")
async def mail_list(request: web.Request) -> web.Response:
    """The demo SMTP sink's messages (newest first)."""
    portal = request.app[PORTAL]
    if not portal.config.smtp_sink:
        raise PortalError("NOT_FOUND")
    rows = portal.db.all("SELECT * FROM mail ORDER BY id DESC")
    return web.json_response({"messages": [_row(r) for r in rows]})


@routes.post(API + "/debug/advance")
async def debug_advance(request: web.Request) -> web.Response:
    """Move dossiers one step in the simulated office (only with debug hooks on)."""
    portal = request.app[PORTAL]
    if not portal.config.debug_hooks:
        raise PortalError("NOT_FOUND")
    body = await _json(request) if request.can_read_body else {}
    dossier_id = body.get("dossier_id")
    changes = advance(
        portal.db, portal.config.clock(), dossier_id=int(dossier_id) if dossier_id else None
    )
    return web.json_response({"changes": changes})
