"""Issue 13: "Tài khoản" shows the registered certificate in words (holder, MST, issuer, serial,
validity in Vietnam time, the device Kyso reported), never a raw DN; the device the page posts
is escaped, bounded and kept only for the certificate that signed."""

from __future__ import annotations

import datetime as dt
import html as htmlmod
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.x509.oid import NameOID

from portal_stub.certwords import grouped_serial, parse_device
from tests.portal.helpers import UNIT, PortalDriver
from tests.portal.test_pages import _csrf, _form_items, _get, _sign_form

HOSTILE_LABEL = '<script>alert("x")</script>\u202eKYSO'


async def _token_of(portal: PortalDriver, cert: str) -> tuple[str, str]:
    """The token label and serial the agent lists for ``cert`` (what certificates.list sends)."""
    for listed in await portal.tokens.list_certificates():
        if listed.thumbprint == portal.thumb(cert):
            return listed.token.label, listed.token.serial
    raise AssertionError(f"{cert} is not on any demo token")


async def _register_and_open_account(portal: PortalDriver, device: str, cert: str = "org") -> str:
    """Register through the page with ``thiet_bi`` as portal-sign.js posts it, log in with the
    mailed password, and return the "Tài khoản" page."""
    page = await _get(portal, "/dang-ky")
    csrf = _csrf(page)
    signed = await _sign_form(portal, "register", {**UNIT, "csrf_token": csrf}, csrf, cert)
    resp = await portal.client.post("/dang-ky", data=_form_items({**signed, "thiet_bi": device}))
    assert resp.status == 200, await resp.text()
    password = await portal.mailed_password()
    assert password
    page = await _get(portal, "/dang-nhap")
    resp = await portal.client.post(
        "/dang-nhap",
        data={
            "csrf_token": _csrf(page),
            "ten_dang_nhap": UNIT["ma_so_thue"],
            "mat_khau": password,
            "tiep": "/tai-khoan",
        },
    )
    assert resp.status == 200
    return await resp.text()


def _dd(page: str, name: str) -> str:
    """The text of ``<dd data-cert=name>`` (entities decoded, as a person reads it)."""
    match = re.search(rf'<dd[^>]*data-cert="{name}"[^>]*>(.*?)</dd>', page, re.DOTALL)
    assert match, name
    return htmlmod.unescape(match.group(1))


def _vn(when: dt.datetime) -> str:
    return when.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%d/%m/%Y %H:%M")


async def test_account_page_names_the_registered_certificate_in_words(
    portal: PortalDriver, demo: dict[str, Any]
) -> None:
    label, serial = await _token_of(portal, "org")
    device = json.dumps(
        {"kind": "token", "thumbprint": portal.thumb("org"), "label": label, "serial": serial}
    )
    page = await _register_and_open_account(portal, device)
    cert = x509.load_pem_x509_certificate(Path(demo["certificates"]["org"]["path"]).read_bytes())
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    issuer_cn = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert str(cn) in _dd(page, "holder")
    assert _dd(page, "mst") == UNIT["ma_so_thue"]
    assert _dd(page, "issuer") == issuer_cn
    serial_hex = format(cert.serial_number, "X")
    shown = _dd(page, "serial")
    assert shown.replace(" ", "").lstrip("0") == serial_hex.lstrip("0")
    assert re.fullmatch(r"([0-9A-F]{2} )*[0-9A-F]{2}", shown), shown  # grouped by byte
    valid = _dd(page, "valid")
    assert valid == (
        f"từ {_vn(cert.not_valid_before_utc)} đến {_vn(cert.not_valid_after_utc)} (giờ Việt Nam)"
    )
    assert _dd(page, "device") == f"USB token «{label}», số sê-ri {serial}"
    # Never the RFC 4514 DN as the text a person reads.
    assert cert.subject.rfc4514_string() not in htmlmod.unescape(page)
    assert cert.issuer.rfc4514_string() not in htmlmod.unescape(page)
    # The pages signed after registration ask Kyso to preselect the registered certificate.
    stop = await _get(portal, "/tai-khoan/dang-ky-ngung-ho-so")
    assert f'data-kyso-registered="{portal.thumb("org")}"' in stop
    change = await _get(portal, "/tai-khoan/thay-doi-thong-tin")
    assert f'data-kyso-mst="{UNIT["ma_so_thue"]}"' in change


async def test_hostile_token_label_is_escaped(portal: PortalDriver) -> None:
    device = json.dumps(
        {"kind": "token", "thumbprint": portal.thumb("org"), "label": HOSTILE_LABEL, "serial": "1"}
    )
    page = await _register_and_open_account(portal, device)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "\u202e" not in page  # a bidi override could reorder what the unit reads
    assert _dd(page, "device") == 'USB token «<script>alert("x")</script>KYSO», số sê-ri 1'


async def test_device_for_another_certificate_is_not_kept(portal: PortalDriver) -> None:
    """A listing that names a different certificate (stale, or a page's mistake) is dropped."""
    device = json.dumps({"kind": "token", "thumbprint": "ab" * 32, "label": "KHÁC", "serial": "9"})
    page = await _register_and_open_account(portal, device)
    assert _dd(page, "device").startswith("Chưa rõ")
    assert "KHÁC" not in page


def test_parse_device_bounds_and_shapes() -> None:
    thumb = "cd" * 32
    assert parse_device(None, thumb) is None
    assert parse_device("not json", thumb) is None
    assert parse_device(json.dumps(["a"]), thumb) is None
    assert parse_device("x" * 5000, thumb) is None
    remote = parse_device(
        json.dumps({"kind": "remote", "thumbprint": thumb.upper(), "provider": "VNPT SmartCA"}),
        thumb,
    )
    assert remote is not None and json.loads(remote) == {
        "kind": "remote",
        "provider": "VNPT SmartCA",
    }
    long = parse_device(
        json.dumps({"kind": "token", "thumbprint": thumb, "label": "L" * 500, "serial": "\x00s"}),
        thumb,
    )
    assert long is not None and json.loads(long) == {
        "kind": "token",
        "label": "L" * 64,
        "serial": "s",
    }


def test_grouped_serial() -> None:
    assert grouped_serial("1a2b3") == "01 A2 B3"
    assert grouped_serial("ff") == "FF"
