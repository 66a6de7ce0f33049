"""What "Ký và nộp" signs is the draft version the page showed (redteam6 F1).

Every "Ghi" counts the draft's revision up. The draft page names its revision in the export
URL and in the signing form; the export, the check and "Nộp hồ sơ" refuse any revision but the
saved one (E422), and the check refuses a signed dossier that is not the named revision's
export (E423). A page drawn from values not yet saved ("Thêm dòng", a refused "Ghi") is marked
so that portal-sign.js refuses to sign it (E424); the browser side is
tests/browser/test_portal_draft_versions.py.
"""

from __future__ import annotations

import base64
import html as html_lib
import json
import re
from typing import Any

from tests.portal.helpers import ROWS, PortalDriver

EDITED = {**ROWS[0], "HoTen": "Lê Thị Bình", "MucLuong": "99000000", "TuThang": "12/2026"}


async def _draft(portal: PortalDriver) -> int:
    """A logged-in unit's numbered draft (revision 1): Nguyễn Văn An, 8 500 000 đ, 11/2026."""
    await portal.register_and_login()
    status, body = await portal.request(
        "POST",
        "/api/v1/drafts",
        json={"period": "11/2026", "rows": [ROWS[0]], "take_number": True},
    )
    assert status == 200, body
    assert body["draft"]["revision"] == 1
    return int(body["draft"]["id"])


async def _save(portal: PortalDriver, draft_id: int, rows: list[dict[str, str]]) -> int:
    """ "Ghi" through the API (another tab, another program); the new revision."""
    status, body = await portal.request(
        "POST", "/api/v1/drafts", json={"id": draft_id, "period": "12/2026", "rows": rows}
    )
    assert status == 200, body
    return int(body["draft"]["revision"])


async def _export(portal: PortalDriver, draft_id: int, revision: int) -> tuple[int, Any]:
    return await portal.request("GET", f"/api/v1/drafts/{draft_id}/export?revision={revision}")


def _shown(xml: bytes) -> str:
    """The export's text with its embedded D02-TS form (base64) decoded."""
    match = re.search(rb"<NoiDungFile>([^<]+)</NoiDungFile>", xml)
    assert match
    return (xml + base64.b64decode(match.group(1))).decode()


async def _check(
    portal: PortalDriver, signed: bytes, draft_id: Any = None, revision: Any = None
) -> tuple[int, Any]:
    body: dict[str, Any] = {"document": base64.b64encode(signed).decode()}
    if draft_id is not None:
        body["draft_id"] = draft_id
    if revision is not None:
        body["revision"] = revision
    return await portal.request("POST", "/api/v1/dossiers/check", json=body)


async def test_export_refuses_a_revision_that_is_no_longer_saved(portal: PortalDriver) -> None:
    draft_id = await _draft(portal)
    status, first = await _export(portal, draft_id, 1)
    assert status == 200 and "8500000" in _shown(first)
    assert await _save(portal, draft_id, [EDITED]) == 2

    status, body = await _export(portal, draft_id, 1)
    assert status == 409, body
    error = body["error"]
    assert (error["code"], error["key"]) == ("E422", "DRAFT_CHANGED")
    assert error["details"]["shown"] == 1 and error["details"]["current"] == 2
    assert "phiên bản 1" in error["message_vi"] and "phiên bản 2" in error["message_vi"]
    assert error["action_vi"] and error["message_en"] and error["action_en"]

    status, second = await _export(portal, draft_id, 2)
    assert status == 200 and "99000000" in _shown(second) and "8500000" not in _shown(second)
    # The page's download link carries the version too ("?phien_ban="); a stale one is an
    # error page, not the other version's file.
    resp = await portal.client.get(
        f"/lap-ho-so/{draft_id}/xuat-file?phien_ban=1", headers=portal.headers
    )
    assert resp.status == 409 and "Mã lỗi E422" in await resp.text()
    resp = await portal.client.get(
        f"/lap-ho-so/{draft_id}/xuat-file?phien_ban=2", headers=portal.headers
    )
    assert resp.status == 200 and await resp.read() == second
    # Without a version it is the saved one, as before (the API and scripts).
    assert (await portal.request("GET", f"/api/v1/drafts/{draft_id}/export"))[1] == second


async def test_check_refuses_a_dossier_signed_from_another_revision(portal: PortalDriver) -> None:
    draft_id = await _draft(portal)
    _, first = await _export(portal, draft_id, 1)
    signed_first = await portal.sign_dossier("org", first)
    await _save(portal, draft_id, [EDITED])  # another tab saves while Kyso's window is open

    # Signed from revision 1, which the page showed: no longer the saved one.
    status, body = await _check(portal, signed_first, draft_id, 1)
    assert status == 409 and body["error"]["code"] == "E422", body
    # The same file claimed as revision 2: not revision 2's export.
    status, body = await _check(portal, signed_first, draft_id, 2)
    assert status == 409 and body["error"]["code"] == "E423", body
    assert body["error"]["details"]["revision"] == 2

    _, second = await _export(portal, draft_id, 2)
    status, body = await _check(portal, await portal.sign_dossier("org", second), draft_id, 2)
    assert status == 200, body
    assert body["result"]["period"] == "12/2026"


async def test_submit_refuses_once_the_draft_is_saved_again(portal: PortalDriver) -> None:
    draft_id = await _draft(portal)
    _, first = await _export(portal, draft_id, 1)
    status, body = await _check(portal, await portal.sign_dossier("org", first), draft_id, 1)
    assert status == 200, body
    await _save(portal, draft_id, [EDITED])  # saved between "Kiểm tra" and "Nộp hồ sơ"

    status, body = await portal.request(
        "POST", "/api/v1/dossiers/submit", json={"upload_id": body["upload_id"]}
    )
    assert status == 409 and body["error"]["code"] == "E422", body
    status, body = await portal.request("GET", "/api/v1/dossiers")
    assert status == 200 and body["dossiers"] == []


async def test_a_file_signed_elsewhere_names_no_draft(portal: PortalDriver) -> None:
    """ "Xuất file" → other signing software → "Nộp hồ sơ": no draft named, no binding (the
    other program showed what it signed); half a binding is refused."""
    draft_id = await _draft(portal)
    _, first = await _export(portal, draft_id, 1)
    signed = await portal.sign_dossier("org", first)
    for draft, revision in ((draft_id, None), (None, 1), (draft_id, "1a"), (draft_id, -1)):
        status, body = await _check(portal, signed, draft, revision)
        assert status == 400 and body["error"]["code"] == "E106", (draft, revision, body)
    status, body = await portal.check(signed)
    assert status == 200, body


def _attr(html: str, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', html)
    assert match, name
    return html_lib.unescape(match.group(1))


def _sign_form(html: str) -> str:
    start = html.index('data-kyso-action="sign-dossier"')
    return html[start : html.index("</form>", start)]


async def _page_fields(portal: PortalDriver, draft_id: int) -> tuple[str, dict[str, str]]:
    """The draft page and its edit form's fields, as a browser would post them."""
    resp = await portal.client.get(f"/lap-ho-so/{draft_id}", headers=portal.headers)
    html = await resp.text()
    assert resp.status == 200
    fields = {
        "csrf_token": "",
        "draft_id": str(draft_id),
        "so_dong": "1",
        "ky_ke_khai": "11/2026",
    }
    fields |= {f"dong-0-{k}": v for k, v in ROWS[0].items()}
    return html, fields


async def test_draft_page_names_its_revision_and_marks_unsaved_values(
    portal: PortalDriver,
) -> None:
    draft_id = await _draft(portal)
    html, fields = await _page_fields(portal, draft_id)
    form = _sign_form(html)
    assert _attr(form, "data-kyso-document-url") == f"/api/v1/drafts/{draft_id}/export?revision=1"
    assert f'name="draft_id" value="{draft_id}"' in form
    assert 'name="phien_ban" value="1"' in form
    assert _attr(form, "data-kyso-edit-form") == "f-ho-so" and 'id="f-ho-so"' in html
    assert _attr(form, "data-kyso-unsaved") == ""
    error = json.loads(_attr(form, "data-kyso-unsaved-error"))
    assert (error["code"], error["key"]) == ("E424", "DRAFT_UNSAVED")
    assert "Ghi" in error["action_vi"]
    assert f'href="/lap-ho-so/{draft_id}/xuat-file?phien_ban=1"' in html

    # "Thêm dòng" draws the page from the posted form: unchanged values stay signable...
    resp = await portal.client.post(
        "/lap-ho-so/ghi", data={**fields, "thao_tac": "them_dong"}, headers=portal.headers
    )
    assert _attr(_sign_form(await resp.text()), "data-kyso-unsaved") == ""
    # ...edited ones (not saved) are marked, and so is a refused "Ghi".
    edited = {**fields, "dong-0-MucLuong": "99000000"}
    resp = await portal.client.post(
        "/lap-ho-so/ghi", data={**edited, "thao_tac": "them_dong"}, headers=portal.headers
    )
    page = await resp.text()
    assert _attr(_sign_form(page), "data-kyso-unsaved") == "1"
    assert 'value="99000000"' in page
    bad = {**edited, "dong-0-NgaySinh": "khong-phai-ngay", "thao_tac": "ghi"}
    resp = await portal.client.post("/lap-ho-so/ghi", data=bad, headers=portal.headers)
    assert resp.status == 400
    assert _attr(_sign_form(await resp.text()), "data-kyso-unsaved") == "1"

    # "Ghi" saves: the page that follows shows revision 2 and signs it.
    resp = await portal.client.post(
        "/lap-ho-so/ghi", data={**edited, "thao_tac": "ghi"}, headers=portal.headers
    )
    page = await resp.text()
    assert resp.status == 200 and "Đã ghi hồ sơ" in page
    assert 'name="phien_ban" value="2"' in page and "phiên bản 2 đã ghi" in page
    assert _attr(_sign_form(page), "data-kyso-unsaved") == ""


async def test_page_check_refuses_a_stale_revision(portal: PortalDriver) -> None:
    """The signing form posts draft_id and phien_ban to "Kiểm tra hồ sơ" (as the browser
    does it: the form's fields, the cookie-less bearer session stands in for the cookie)."""
    draft_id = await _draft(portal)
    _, first = await _export(portal, draft_id, 1)
    signed = base64.b64encode(await portal.sign_dossier("org", first)).decode()
    await _save(portal, draft_id, [EDITED])
    resp = await portal.client.post(
        "/nop-ho-so/kiem-tra",
        data={"signed_document": signed, "draft_id": str(draft_id), "phien_ban": "1"},
        headers=portal.headers,
    )
    page = await resp.text()
    assert resp.status == 409 and 'data-error-code="E422"' in page, page


async def test_birth_dates_are_kept_as_the_date_field_shows_them(portal: PortalDriver) -> None:
    """ "19900115" is a valid ISO date, but a date field shows nothing for it: the draft page
    would show an empty birth date above a dossier that holds one."""
    draft_id = await _draft(portal)
    await _save(portal, draft_id, [{**EDITED, "NgaySinh": "19900115"}])
    status, body = await _export(portal, draft_id, 2)
    assert status == 200
    assert "<NgaySinh>1990-01-15</NgaySinh>" in _shown(body) and "19900115" not in _shown(body)
