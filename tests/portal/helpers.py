"""A small driver for the portal's JSON API that signs like the Kyso agent would."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from agent.signing.challenge import create_auth_token
from agent.signing.signer import TokenSigner
from agent.signing.xml import sign_xml
from agent.tokens.pin import StaticPinProvider
from portal_stub.config import PortalConfig

UNIT = {
    "ma_so_thue": "0101234567",
    "ma_don_vi": "TA0101234",
    "ten_don_vi": "Công ty TNHH Giải pháp Kyso Việt Nam",
    "co_quan_bhxh": "01001",
    "dia_chi": "Số 1 Liễu Giai, Ba Đình, Hà Nội",
    "nguoi_lien_he": "Trần Thị Mai",
    "dien_thoai": "024 3999 1234",
    "email": "ketoan@kyso-demo.vn",
    "loai_ho_so": ["600"],
}

ROWS = [
    {
        "HoTen": "Nguyễn Văn An",
        "MaSoBHXH": "0123456789",
        "NgaySinh": "1990-01-15",
        "GioiTinh": "Nam",
        "ChucVu": "Nhân viên",
        "MucLuong": "8500000",
        "TuThang": "11/2026",
        "PhuongAn": "TM",
    },
    {
        "HoTen": "Lê Thị Bích Ngọc",
        "MaSoBHXH": "0198765432",
        "NgaySinh": "1995-07-02",
        "GioiTinh": "Nữ",
        "ChucVu": "Kế toán",
        "MucLuong": "12000000",
        "TuThang": "11/2026",
        "PhuongAn": "TM",
    },
]

PINS = {"KYSO DEMO 1": "123456", "KYSO DEMO 2": "654321"}


@dataclass
class PortalDriver:
    """The test client, the portal's config, the demo tokens, and the current log-in."""

    client: Any
    config: PortalConfig
    tokens: Any
    demo: dict[str, Any]
    bearer: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        """The portal's public origin."""
        return self.config.public_origin

    def thumb(self, cert: str) -> str:
        """Thumbprint of a demo certificate."""
        return self.demo["certificates"][cert]["thumbprint"]

    async def auth_token(
        self, cert: str, nonce: str, *, origin: str | None = None
    ) -> dict[str, Any]:
        """Sign a challenge on the SoftHSM2 token holding ``cert``."""
        pin = PINS[self.demo["certificates"][cert]["token"]]
        async with self.tokens.open_key(self.thumb(cert), StaticPinProvider(pin)) as key:
            return await create_auth_token(
                TokenSigner(key),
                origin=origin or self.origin,
                nonce=nonce,
                app_version="https://kyso.test/agent/0.1.0",
            )

    async def sign_dossier(self, cert: str, document: bytes, **options: Any) -> bytes:
        """Sign a dossier with the bhxh profile on the token holding ``cert`` (``options``
        go to sign_xml, e.g. ``allow_ecdsa=True``)."""
        pin = PINS[self.demo["certificates"][cert]["token"]]
        async with self.tokens.open_key(self.thumb(cert), StaticPinProvider(pin)) as key:
            return await sign_xml(document, TokenSigner(key), profile="bhxh", **options)

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Call the API; return (status, JSON or bytes)."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        resp = await self.client.request(method, path, headers=headers, **kwargs)
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.read()

    async def challenge(self, action: str, fields: dict[str, Any]) -> bytes:
        """POST /api/v1/challenge; returns the unsigned request document the portal wrote."""
        status, body = await self.request(
            "POST", "/api/v1/challenge", json={"action": action, "fields": fields}
        )
        assert status == 200, body
        assert body["origin"] == self.origin
        request = base64.b64decode(body["request"])
        assert hashlib.sha256(request).hexdigest() == body["request_sha256"]
        assert body["nonce"].encode() in request
        return request

    async def sign_request(self, cert: str, request: bytes) -> str:
        """Sign an account request as the agent's sign.xml does; base64, as the bridge returns.
        ECDSA is allowed, as the portal's challenge says (``allow_ecdsa``)."""
        signed = await self.sign_dossier(cert, request, allow_ecdsa=True)
        return base64.b64encode(signed).decode()

    async def signed(
        self,
        path: str,
        action: str,
        fields: dict[str, Any],
        cert: str = "org",
        *,
        request: bytes | None = None,
        signed_request: str | None = None,
    ) -> tuple[int, Any]:
        """Challenge, sign the request with ``cert``, post: the whole signed-action round trip."""
        if signed_request is None:
            request = request or await self.challenge(action, fields)
            signed_request = await self.sign_request(cert, request)
        return await self.request(
            "POST", path, json={"fields": fields, "signed_request": signed_request}
        )

    async def register(self, cert: str = "org", **overrides: Any) -> tuple[int, Any]:
        """Register the demo unit."""
        return await self.signed("/api/v1/register", "register", {**UNIT, **overrides}, cert)

    async def mailed_password(self, to: str = UNIT["email"]) -> str | None:
        """The password in the newest account mail to ``to`` (None if the mail has none)."""
        status, body = await self.request("GET", "/api/v1/mailbox")
        assert status == 200
        mails = [m for m in body["messages"] if to in m["rcpt_to"]]
        assert mails, "no mail arrived"
        match = re.search(r"^Mật khẩu: (\S+)", mails[0]["body"], re.MULTILINE)
        return match.group(1) if match and match.group(1) != "không" else None

    async def login(self, username: str, password: str) -> dict[str, Any]:
        """Log in with a bearer token; later requests carry it."""
        status, body = await self.request(
            "POST", "/api/v1/login", json={"username": username, "password": password}
        )
        assert status == 200, body
        self.bearer = body["token"]
        self.headers["Authorization"] = f"Bearer {self.bearer}"
        return body

    async def register_and_login(self, **overrides: Any) -> dict[str, Any]:
        """A registered, logged-in unit."""
        status, body = await self.register(**overrides)
        assert status == 200, body
        password = await self.mailed_password()
        assert password
        return await self.login(body["username"], password)

    async def prepare(
        self, period: str = "11/2026", rows: list[dict[str, str]] | None = None
    ) -> bytes:
        """Draft + number + export: the unsigned BHXH-VAN file."""
        status, body = await self.request(
            "POST",
            "/api/v1/drafts",
            json={"period": period, "rows": rows or ROWS, "take_number": True},
        )
        assert status == 200, body
        status, xml = await self.request("GET", f"/api/v1/drafts/{body['draft']['id']}/export")
        assert status == 200
        return xml

    async def check(self, document: bytes) -> tuple[int, Any]:
        """ "Kiểm tra hồ sơ"."""
        return await self.request(
            "POST",
            "/api/v1/dossiers/check",
            data=document,
            headers={"Content-Type": "application/xml"},
        )
