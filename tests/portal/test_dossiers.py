"""Prepare → export → sign (SoftHSM2, agent library) → "Kiểm tra hồ sơ" → "Nộp hồ sơ" →
receipt → "Tra cứu hồ sơ" → processing → "Nhận thông báo", and every refusal of the check."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lxml import etree

from portal_stub.dossier_xml import Employee, Unit, build_dossier
from tests.portal.helpers import ROWS, UNIT, PortalDriver


def _code(body: Any) -> str:
    return body["error"]["code"]


def _dossier(
    procedure: str = "600",
    mst: str = "0101234567",
    unit_code: str = "TA0101234",
    number: str = "TA0101234-2026-09999",
    rows: list[dict[str, str]] = ROWS,
    inline_rows: bool = False,
) -> bytes:
    unit = Unit(
        UNIT["ten_don_vi"], unit_code, mst, "BHXH quận Ba Đình", "Trần Thị Mai", "024", "a@b.vn"
    )
    employees = [Employee(**{**r, "MucLuong": int(r["MucLuong"])}) for r in rows]  # type: ignore[arg-type]
    return build_dossier(
        unit,
        procedure=procedure,
        procedure_name="Thủ tục thử",
        period="11/2026",
        dossier_number=number,
        created=dt.date(2026, 11, 24),
        rows=employees,
        inline_rows=inline_rows,
    )


async def test_whole_flow_from_registration_to_notice(portal: PortalDriver) -> None:
    await portal.register_and_login()
    period = f"{portal.config.clock():%m/%Y}"
    unsigned = await portal.prepare()
    root = etree.fromstring(unsigned)
    assert root.findtext("NoiDung/ThongTinDonVi/MaSoThue") == "0101234567"
    assert root.findtext("NoiDung/ThongTinHoSo/MaThuTuc") == "600"
    number = root.findtext("NoiDung/ThongTinHoSo/SoHoSo")
    assert number and number.startswith("TA0101234-")

    status, body = await portal.check(unsigned)
    assert status == 400 and _code(body) == "E404"  # not signed yet

    signed = await portal.sign_dossier("org", unsigned)
    status, body = await portal.check(signed)
    assert status == 200, body
    result = body["result"]
    assert result["dossier_number"] == number and result["employees"] == 2
    assert result["signer_mst"] == "0101234567" and result["forms"] == ["D02-TS"]

    status, body = await portal.request(
        "POST", "/api/v1/dossiers/submit", json={"upload_id": body["upload_id"]}
    )
    assert status == 200, body
    receipt = body["receipt"]
    dossier_id = body["dossier"]["id"]
    assert receipt.startswith("BN") and body["dossier"]["status"] == "received"

    # The same file (or the same dossier number) cannot be submitted twice.
    status, body = await portal.check(signed)
    assert (
        status == 409 and _code(body) == "E409" and body["error"]["details"]["receipt"] == receipt
    )

    status, body = await portal.request("GET", "/api/v1/dossiers", params={"status": "received"})
    assert [d["receipt"] for d in body["dossiers"]] == [receipt]
    status, body = await portal.request("GET", "/api/v1/dossiers", params={"procedure": "601"})
    assert body["dossiers"] == []

    for expected in ("processing", "accepted"):
        status, body = await portal.request(
            "POST", "/api/v1/debug/advance", json={"dossier_id": dossier_id}
        )
        assert body["changes"][0]["status"] == expected
    status, body = await portal.request("GET", f"/api/v1/dossiers/{dossier_id}")
    assert body["dossier"]["status"] == "accepted"
    assert [h["status"] for h in body["history"]] == ["received", "processing", "accepted"]

    status, body = await portal.request("GET", "/api/v1/notices", params={"period": period})
    titles = [n["title"] for n in body["notices"]]
    assert titles == [
        f"Thông báo kết quả giải quyết hồ sơ {number}",
        f"Thông báo tiếp nhận hồ sơ {number}",
    ]
    notice_id = body["notices"][0]["id"]
    assert body["notices"][0]["read_at"] is None
    status, body = await portal.request("GET", f"/api/v1/notices/{notice_id}")
    assert receipt in body["notice"]["body"]
    status, body = await portal.request("GET", "/api/v1/notices", params={"period": period})
    assert body["notices"][0]["read_at"] is not None
    status, body = await portal.request("GET", "/api/v1/notices", params={"period": "01/2001"})
    assert body["notices"] == []


async def test_office_rejects_rows_below_minimum_wage(portal: PortalDriver) -> None:
    await portal.register_and_login()
    low = [{**ROWS[0], "MucLuong": "3000000"}]
    signed = await portal.sign_dossier("org", await portal.prepare(rows=low))
    status, body = await portal.check(signed)
    assert status == 200, body
    status, body = await portal.request(
        "POST", "/api/v1/dossiers/submit", json={"upload_id": body["upload_id"]}
    )
    dossier_id = body["dossier"]["id"]
    await portal.request("POST", "/api/v1/debug/advance", json={})
    await portal.request("POST", "/api/v1/debug/advance", json={})
    status, body = await portal.request("GET", f"/api/v1/dossiers/{dossier_id}")
    assert body["dossier"]["status"] == "rejected"
    assert "lương tối thiểu vùng" in body["dossier"]["status_reason"]
    status, body = await portal.request("GET", "/api/v1/notices")
    assert body["notices"][0]["title"].startswith("Thông báo từ chối hồ sơ")


async def test_submit_needs_a_passed_check(portal: PortalDriver) -> None:
    await portal.register_and_login()
    status, body = await portal.request(
        "POST", "/api/v1/dossiers/submit", json={"upload_id": "khong-co"}
    )
    assert status == 400 and _code(body) == "E410"


async def test_tampered_dossier_is_refused(portal: PortalDriver) -> None:
    await portal.register_and_login()
    signed = await portal.sign_dossier("org", await portal.prepare())
    tampered = signed.replace("Trần Thị Mai".encode(), "Trần Thị Mại".encode())
    assert tampered != signed
    status, body = await portal.check(tampered)
    assert status == 400 and _code(body) == "E405", body


async def test_dossier_signed_with_wrong_certificates_is_refused(portal: PortalDriver) -> None:
    await portal.register_and_login()
    unsigned = await portal.prepare()
    expected = {
        "org_in_o": "E208",
        "personal": "E208",
        "branch": "E208",
        "expired": "E302",
        "revoked": "E304",
        "org_renewed": "E209",
    }
    for cert, code in expected.items():
        status, body = await portal.check(await portal.sign_dossier(cert, unsigned))
        assert status == 400 and _code(body) == code, (cert, body)


async def test_stopped_and_unregistered_types_are_refused(portal: PortalDriver) -> None:
    await portal.register_and_login()
    signed = await portal.sign_dossier("org", _dossier(procedure="602"))
    status, body = await portal.check(signed)
    assert status == 400 and _code(body) == "E407"

    status, body = await portal.signed(
        "/api/v1/account/types/stop", "stop-types", {"loai_ho_so": ["600"]}
    )
    assert status == 200, body
    status, body = await portal.check(await portal.sign_dossier("org", await portal.prepare()))
    assert status == 400 and _code(body) == "E408"


async def test_dossier_of_another_unit_is_refused(portal: PortalDriver) -> None:
    await portal.register_and_login()
    status, body = await portal.check(await portal.sign_dossier("org", _dossier(mst="0109876543")))
    assert (
        status == 400
        and _code(body) == "E406"
        and body["error"]["details"]["value"] == "0109876543"
    )
    status, body = await portal.check(
        await portal.sign_dossier("org", _dossier(unit_code="TB9999999"))
    )
    assert status == 400 and _code(body) == "E406"


async def test_schema_and_xml_problems_are_explained(portal: PortalDriver) -> None:
    await portal.register_and_login()
    status, body = await portal.check(b"<Hoso><NoiDung/></Hoso>")
    assert status == 400 and _code(body) == "E403" and "dòng" in body["error"]["message_vi"]
    status, body = await portal.check(b"<Hoso><NoiDung>")
    assert status == 400 and _code(body) == "E402"
    status, body = await portal.check(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><Hoso/>')
    assert status == 400 and _code(body) == "E402"
    bad_period = _dossier().replace(
        b"<KyKeKhai>11/2026</KyKeKhai>", b"<KyKeKhai>13/2026</KyKeKhai>", 1
    )
    status, body = await portal.check(await portal.sign_dossier("org", bad_period))
    assert status == 400 and _code(body) == "E403"


async def test_catalogues(portal: PortalDriver) -> None:
    status, body = await portal.request("GET", "/api/v1/catalogues/offices")
    names = [o["name"] for o in body["offices"]]
    assert "BHXH quận Ba Đình" in names and len(names) >= 12
    status, body = await portal.request("GET", "/api/v1/catalogues/dossier-types")
    d600 = next(t for t in body["dossier_types"] if t["procedure"] == "600")
    assert d600["forms"] == ["D02-TS", "TK1-TS", "D01-TS"]
    status, body = await portal.request("GET", "/api/v1/catalogues/errors")
    assert status == 200
    codes = {e["code"]: e for e in body["errors"]}
    assert codes["E404"]["key"] == "NOT_SIGNED" and codes["E404"]["action_vi"]


async def test_oversized_upload_is_refused_with_the_limit(portal: PortalDriver) -> None:
    await portal.register_and_login()
    portal.config.max_upload_bytes = 1024 * 1024
    status, body = await portal.check(b"<Hoso>" + b" " * (1024 * 1024) + b"</Hoso>")
    assert status == 413 and _code(body) == "E401" and body["error"]["details"]["limit_mb"] == 1


async def test_ecdsa_unit_registers_and_files(portal: PortalDriver) -> None:
    household = {
        "ma_so_thue": "8012345678",
        "ma_don_vi": "HK8012345",
        "email": "binh@kyso-demo.vn",
        "ten_don_vi": "Hộ kinh doanh Trần Văn Bình",
    }
    status, body = await portal.signed("/api/v1/register", "register", {**UNIT, **household}, "ec")
    assert status == 200, body
    await portal.login("8012345678", await portal.mailed_password("binh@kyso-demo.vn") or "")
    # The signer refuses ECDSA for bhxh by default (the real portal runs .NET, which cannot
    # verify it); the stub verifies it, and a unit that insists gets its dossier through.
    signed = await portal.sign_dossier("ec", await portal.prepare(), allow_ecdsa=True)
    status, body = await portal.check(signed)
    assert status == 200, body
    assert body["result"]["signer_mst"] == "8012345678"


async def test_large_dossier_with_inline_rows_is_counted_once(portal: PortalDriver) -> None:
    await portal.register_and_login()
    many = [
        {**ROWS[i % 2], "MaSoBHXH": f"{1000000000 + i}", "HoTen": f"Người lao động {i}"}
        for i in range(300)
    ]
    many[7]["MucLuong"] = "4000000"
    signed = await portal.sign_dossier("org", _dossier(rows=many, inline_rows=True))
    status, body = await portal.check(signed)
    assert status == 200, body
    assert body["result"]["employees"] == 300
    assert "8 (Người lao động 7)" in body["result"]["review"]
