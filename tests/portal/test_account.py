"""Registration, log-in and the signed account changes, through the JSON API with real
SoftHSM2 signatures and the real SMTP sink."""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.portal.helpers import UNIT, PortalDriver


def _code(body: Any) -> str:
    return body["error"]["code"]


async def test_register_mails_account_and_login_works(portal: PortalDriver) -> None:
    status, body = await portal.register()
    assert status == 200, body
    assert body["username"] == UNIT["ma_so_thue"]
    assert body["reactivated"] is False
    password = await portal.mailed_password()
    assert password and len(password) >= 12
    _, box = await portal.request("GET", "/api/v1/mailbox")
    mail = box["messages"][0]
    # Every space survives the RFC 2047 encoding ("…điện tửcủa…" was seen).
    assert mail["subject"] == "Tài khoản giao dịch BHXH điện tử của đơn vị"
    assert "(giờ Việt Nam)" in mail["body"]
    login = await portal.login(body["username"], password)
    assert login["account"]["mst"] == "0101234567"
    assert login["account"]["cert_thumbprint"] == portal.thumb("org")
    assert login["account"]["dossier_types"] == {"600": "registered"}
    assert "password_hash" not in login["account"]


async def test_wrong_password_is_refused(portal: PortalDriver) -> None:
    status, body = await portal.register()
    assert status == 200
    status, body = await portal.request(
        "POST", "/api/v1/login", json={"username": body["username"], "password": "sai-mat-khau"}
    )
    assert status == 401 and _code(body) == "E101"


async def test_register_twice_while_active_is_refused(portal: PortalDriver) -> None:
    assert (await portal.register())[0] == 200
    status, body = await portal.register()
    assert status == 409 and _code(body) == "E104"
    assert body["error"]["details"]["username"] == UNIT["ma_so_thue"]


async def test_register_with_another_units_certificate_is_refused(portal: PortalDriver) -> None:
    for cert in ("org_in_o", "personal", "branch"):
        status, body = await portal.register(cert)
        assert status == 400 and _code(body) == "E208", (cert, body)


async def test_register_with_revoked_or_expired_certificate_is_refused(
    portal: PortalDriver,
) -> None:
    status, body = await portal.register("revoked")
    assert status == 400 and _code(body) == "E304", body
    status, body = await portal.register("expired")
    assert status == 400 and _code(body) == "E302", body


async def test_replayed_request_is_refused(portal: PortalDriver) -> None:
    request = await portal.challenge("register", UNIT)
    signed = await portal.sign_request("org", request)
    status, _ = await portal.signed("/api/v1/register", "register", UNIT, signed_request=signed)
    assert status == 200
    # The same signed request again: only its burnt nonce can refuse it.
    status, body = await portal.signed("/api/v1/register", "register", UNIT, signed_request=signed)
    assert status == 400 and _code(body) == "E203"


async def test_expired_request_is_refused(portal: PortalDriver, clock: Any) -> None:
    request = await portal.challenge("register", UNIT)
    signed = await portal.sign_request("org", request)
    clock.advance(minutes=5, seconds=1)
    status, body = await portal.signed("/api/v1/register", "register", UNIT, signed_request=signed)
    assert status == 400 and _code(body) == "E204"


async def test_request_within_five_minutes_is_accepted(portal: PortalDriver, clock: Any) -> None:
    request = await portal.challenge("register", UNIT)
    signed = await portal.sign_request("org", request)
    clock.advance(minutes=4, seconds=50)
    status, body = await portal.signed("/api/v1/register", "register", UNIT, signed_request=signed)
    assert status == 200, body


async def test_signature_for_other_fields_cannot_be_reused(portal: PortalDriver) -> None:
    signed = await portal.sign_request("org", await portal.challenge("register", UNIT))
    changed = {**UNIT, "email": "ke-gian@example.com"}
    status, body = await portal.signed(
        "/api/v1/register", "register", changed, signed_request=signed
    )
    assert status == 400 and _code(body) == "E205"


async def test_a_request_changed_before_signing_is_refused(portal: PortalDriver) -> None:
    """The page (or a script in it) edits the portal's request before the unit signs it: the
    signature is valid, but it covers something the portal did not write."""
    request = await portal.challenge("register", UNIT)
    edited = request.replace(b"ketoan@kyso-demo.vn", b"ke-gian@example.com")
    assert edited != request
    status, body = await portal.signed(
        "/api/v1/register",
        "register",
        UNIT,
        signed_request=await portal.sign_request("org", edited),
    )
    assert status == 400 and _code(body) == "E205"


async def test_a_request_changed_after_signing_is_refused(portal: PortalDriver) -> None:
    signed = base64.b64decode(
        await portal.sign_request("org", await portal.challenge("register", UNIT))
    )
    tampered = signed.replace(b"ketoan@kyso-demo.vn", b"ke-gian@example.com")
    status, body = await portal.signed(
        "/api/v1/register", "register", UNIT, signed_request=base64.b64encode(tampered).decode()
    )
    assert status == 400 and _code(body) == "E405", body  # signature invalid


async def test_unsigned_or_token_only_registration_is_refused(portal: PortalDriver) -> None:
    request = await portal.challenge("register", UNIT)
    status, body = await portal.request("POST", "/api/v1/register", json={"fields": UNIT})
    assert status == 400 and _code(body) == "E201"
    # The old origin-bound auth token proves nothing about what was asked: not accepted.
    nonce = re.search(rb"<MaXacThuc>([^<]+)<", request).group(1).decode()  # type: ignore[union-attr]
    token = await portal.auth_token("org", nonce)
    status, body = await portal.request(
        "POST", "/api/v1/register", json={"fields": UNIT, "auth_token": token, "nonce": nonce}
    )
    assert status == 400 and _code(body) == "E201"
    # The request as the portal wrote it, unsigned (a fresh one: the nonce above is burnt).
    request = await portal.challenge("register", UNIT)
    status, body = await portal.signed(
        "/api/v1/register", "register", UNIT, signed_request=base64.b64encode(request).decode()
    )
    assert status == 400 and _code(body) == "E201", body


async def test_a_dossier_is_not_an_account_request(portal: PortalDriver) -> None:
    await portal.register_and_login()
    dossier = await portal.sign_dossier("org", await portal.prepare())
    status, body = await portal.signed(
        "/api/v1/account/types/add",
        "add-types",
        {"loai_ho_so": ["601"]},
        signed_request=base64.b64encode(dossier).decode(),
    )
    assert status == 400 and _code(body) == "E211"


async def test_invalid_form_is_explained(portal: PortalDriver) -> None:
    status, body = await portal.request(
        "POST",
        "/api/v1/challenge",
        json={"action": "register", "fields": {**UNIT, "email": "khong-hop-le"}},
    )
    assert status == 400 and _code(body) == "E106"
    assert "thư điện tử" in body["error"]["message_vi"]


async def test_account_changes_are_signed_and_bound(portal: PortalDriver) -> None:
    await portal.register_and_login()
    me = "0101234567"
    status, body = await portal.signed(
        "/api/v1/account/types/add",
        "add-types",
        {"ten_dang_nhap": me, "loai_ho_so": ["601", "604"]},
    )
    assert status == 200, body
    status, body = await portal.signed(
        "/api/v1/account/types/stop", "stop-types", {"loai_ho_so": ["604"]}
    )
    assert status == 200, body
    status, acct = await portal.request("GET", "/api/v1/account")
    assert acct["dossier_types"] == {"600": "registered", "601": "registered", "604": "stopped"}

    details = {
        k: UNIT[k] for k in ("ten_don_vi", "co_quan_bhxh", "dia_chi", "nguoi_lien_he", "dien_thoai")
    }
    details |= {"email": "nhansu@kyso-demo.vn", "co_quan_bhxh": "01005"}
    status, body = await portal.signed("/api/v1/account/details", "change-details", details)
    assert status == 200, body
    status, acct = await portal.request("GET", "/api/v1/account")
    assert acct["email"] == "nhansu@kyso-demo.vn" and acct["office_code"] == "01005"

    # A signature from another certificate of the same unit is not the registered one.
    status, body = await portal.signed(
        "/api/v1/account/types/add", "add-types", {"loai_ho_so": ["602"]}, "org_renewed"
    )
    assert status == 400 and _code(body) == "E209"


async def test_change_certificate_then_old_one_is_refused(portal: PortalDriver) -> None:
    await portal.register_and_login()
    # Signing the change with the registered certificate is no change at all.
    status, body = await portal.signed(
        "/api/v1/account/certificate", "change-certificate", {}, "org"
    )
    assert status == 400 and _code(body) == "E210"
    status, body = await portal.signed(
        "/api/v1/account/certificate", "change-certificate", {}, "personal"
    )
    assert status == 400 and _code(body) == "E208"
    status, body = await portal.signed(
        "/api/v1/account/certificate", "change-certificate", {}, "org_renewed"
    )
    assert status == 200, body
    status, acct = await portal.request("GET", "/api/v1/account")
    assert acct["cert_thumbprint"] == portal.thumb("org_renewed")
    status, body = await portal.signed(
        "/api/v1/account/types/add", "add-types", {"loai_ho_so": ["601"]}, "org"
    )
    assert status == 400 and _code(body) == "E209"
    status, body = await portal.signed(
        "/api/v1/account/types/add", "add-types", {"loai_ho_so": ["601"]}, "org_renewed"
    )
    assert status == 200, body


async def test_cancel_and_register_again_keeps_the_account(portal: PortalDriver) -> None:
    login = await portal.register_and_login()
    first_password = await portal.mailed_password()
    status, body = await portal.signed(
        "/api/v1/account/cancel", "cancel", {"ly_do": "03", "ghi_chu": "Tạm nghỉ Tết"}
    )
    assert status == 200, body
    # The session ended with the service.
    status, body = await portal.request("GET", "/api/v1/account")
    assert status == 401 and _code(body) == "E102"
    portal.headers.clear()
    status, body = await portal.request(
        "POST", "/api/v1/login", json={"username": "0101234567", "password": first_password}
    )
    assert status == 403 and _code(body) == "E105"

    status, body = await portal.register(loai_ho_so=["600", "601"])
    assert status == 200, body
    assert body["reactivated"] is True and body["username"] == login["account"]["username"]
    assert await portal.mailed_password() is None  # the mail says the password is unchanged
    again = await portal.login("0101234567", first_password)
    assert again["account"]["id"] == login["account"]["id"]
    assert again["account"]["dossier_types"] == {"600": "registered", "601": "registered"}


async def test_csrf_is_required_with_cookie_sessions(portal: PortalDriver) -> None:
    status, body = await portal.register()
    password = await portal.mailed_password()
    status, body = await portal.request(
        "POST",
        "/api/v1/login",
        json={"username": "0101234567", "password": password, "mode": "cookie"},
    )
    assert status == 200 and "token" not in body
    csrf = body["csrf_token"]
    draft = {
        "period": "11/2026",
        "rows": [
            {
                "HoTen": "Nguyễn Văn An",
                "MaSoBHXH": "0123456789",
                "NgaySinh": "1990-01-15",
                "GioiTinh": "Nam",
                "ChucVu": "",
                "MucLuong": "8500000",
                "TuThang": "11/2026",
                "PhuongAn": "TM",
            }
        ],
    }
    status, body = await portal.request("POST", "/api/v1/drafts", json=draft)
    assert status == 403 and _code(body) == "E103"
    status, body = await portal.request(
        "POST", "/api/v1/drafts", json=draft, headers={"X-CSRF-Token": "sai"}
    )
    assert status == 403 and _code(body) == "E103"
    status, body = await portal.request(
        "POST", "/api/v1/drafts", json=draft, headers={"X-CSRF-Token": csrf}
    )
    assert status == 200, body


async def test_page_forms_need_the_csrf_token(portal: PortalDriver) -> None:
    resp = await portal.client.get("/dang-nhap")
    assert resp.status == 200
    html = await resp.text()
    assert 'name="csrf_token"' in html
    resp = await portal.client.post("/dang-nhap", data={"ten_dang_nhap": "x", "mat_khau": "y"})
    assert resp.status == 403
    assert "E103" in await resp.text()


async def test_a_client_computed_fields_hash_gets_no_challenge(portal: PortalDriver) -> None:
    from portal_stub.security import fields_hash

    # The portal writes the request from the form itself: a bare hash cannot make one.
    status, body = await portal.request(
        "GET",
        "/api/v1/challenge",
        params={"action": "register", "fields_hash": fields_hash("register", UNIT)},
    )
    assert status == 400 and _code(body) == "E106"


async def test_migrations_are_recorded(tmp_path: Any) -> None:
    from portal_stub.db import Database, migrations

    db = Database(tmp_path / "p.sqlite3")
    assert db.version() == migrations()[-1][0] >= 2
    db.close()
    again = Database(tmp_path / "p.sqlite3")  # reopening applies nothing twice
    rows = again.all("SELECT version FROM schema_version")
    assert [r["version"] for r in rows] == [m[0] for m in migrations()]
    assert again.one("SELECT COUNT(*) AS n FROM offices")["n"] >= 12


async def test_registration_is_undone_when_the_mail_cannot_be_sent(portal: PortalDriver) -> None:
    real_port = portal.config.smtp_port
    portal.config.smtp_port = 1  # nothing listens there
    status, body = await portal.register()
    assert status == 500 and _code(body) == "E501"
    assert UNIT["email"] in body["error"]["message_vi"]
    portal.config.smtp_port = real_port
    status, body = await portal.register()  # a retry works: no half-made account in the way
    assert status == 200, body


def test_forgetting_stale_sessions_uses_an_index(tmp_path: Any) -> None:
    """Each cookieless visit makes a session and forgets the stale ones: with 300 000 rows a
    full scan made every page 35 ms slower (red-team). The delete must search an index."""
    from portal_stub.db import Database

    db = Database(tmp_path / "p.sqlite3")
    plan = db.all("EXPLAIN QUERY PLAN DELETE FROM sessions WHERE last_seen < ?", ("2026",))
    assert any("sessions_last_seen" in row["detail"] for row in plan), [dict(r) for r in plan]
    db.close()


async def test_a_change_of_certificate_or_details_ends_the_account_s_other_sessions(
    portal: PortalDriver,
) -> None:
    """Red-team: an accountant who left kept an open session after the unit changed its
    certificate and e-mail. The session that signed the change stays; the others end."""
    first = await portal.register_and_login()
    password = await portal.mailed_password()
    assert password
    leaked = first["token"]  # a session someone else still holds
    await portal.login(first["account"]["username"], password)  # the unit's own session
    status, body = await portal.signed(
        "/api/v1/account/certificate", "change-certificate", {}, "org_renewed"
    )
    assert status == 200, body
    status, _ = await portal.request("GET", "/api/v1/account")
    assert status == 200  # the session that made the change goes on
    mine = portal.headers["Authorization"]
    portal.headers["Authorization"] = f"Bearer {leaked}"
    status, body = await portal.request("GET", "/api/v1/account")
    assert status == 401 and body["error"]["key"] == "LOGIN_REQUIRED", body
    portal.headers["Authorization"] = mine
