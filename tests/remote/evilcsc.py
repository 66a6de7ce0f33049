"""A small hostile CSC v2 service on 127.0.0.1, with a token endpoint (red team 34).

Honest by default: it lists one credential with a self-signed RSA certificate whose key it
holds, authorises with :data:`PIN` and signs correctly; a test replaces one route with
``svc.routes[method] = handler``, or sets :attr:`EvilCsc.token`, the access token its
``/oauth2/token`` hands out. Everything stops with the fixture.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from agent.remote.directory import RemoteDirectory, RemoteService
from agent.remote.providers import RemoteProvider, parse_provider

PIN = "864209"
CRED = "cred-1"
SHA256_RSA = "1.2.840.113549.1.1.11"

Handler = Callable[[web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_cert(key: rsa.RSAPrivateKey = _KEY, cn: str = "Nguyen Van Remote") -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), True
        )
        .sign(key, hashes.SHA256())
    )


CERT = make_cert()


def sign_raw(digest: bytes, key: rsa.RSAPrivateKey = _KEY) -> bytes:
    return key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))


def info_body(cert: x509.Certificate = CERT, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": {"status": "enabled", "algo": [SHA256_RSA], "len": 2048},
        "cert": {
            "status": "valid",
            "certificates": [
                base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
            ],
        },
        "auth": {"mode": "explicit", "objects": [{"type": "Password", "id": "PIN"}]},
        "SCAL": 2,
        "multisign": 10,
    }
    body.update(extra)
    return body


@dataclass
class EvilCsc:
    url: str = ""
    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    token: str = "good-access-token"

    def provider(self, **extra: Any) -> RemoteProvider:
        table = {
            "name": "evil",
            "display_name": "Dịch vụ thù địch",
            "base_url": self.url,
            "auth_flow": "none",
            "timeout_seconds": 3,
            **extra,
        }
        return parse_provider(table)

    def client_credentials(self, secret_file: Path, **extra: Any) -> RemoteProvider:
        secret_file.write_text("s3cret")
        secret_file.chmod(0o600)
        return self.provider(
            auth_flow="client_credentials",
            client_id="kyso",
            client_secret_file=str(secret_file),
            **extra,
        )

    async def _default(self, method: str, body: dict[str, Any]) -> web.StreamResponse:
        if method == "credentials/list":
            return web.json_response({"credentialIDs": [CRED]})
        if method == "credentials/info":
            return web.json_response(info_body())
        if method == "credentials/authorize":
            if body.get("PIN") != PIN:
                return web.json_response({"error": "invalid_pin"}, status=400)
            return web.json_response({"SAD": "sad-xyz", "expiresIn": 300})
        if method == "signatures/signHash":
            sigs = [
                base64.b64encode(sign_raw(base64.b64decode(h))).decode() for h in body["hashes"]
            ]
            return web.json_response({"signatures": sigs})
        if method == "oauth2/token":
            return web.json_response({"access_token": self.token, "expires_in": 3600})
        if method == "info":
            return web.json_response({"name": "evil", "methods": []})
        return web.json_response({"error": "invalid_request"}, status=400)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info.get("method") or "oauth2/token"
        if method == "oauth2/token":
            body: dict[str, Any] = dict(await request.post())
        else:
            try:
                body = await request.json()
            except ValueError:
                body = {}
        self.seen.append((method, body, dict(request.headers)))
        handler = self.routes.get(method)
        if handler is not None:
            return await handler(request, body)
        return await self._default(method, body)


@pytest.fixture
async def evilcsc() -> AsyncIterator[EvilCsc]:
    svc = EvilCsc()
    app = web.Application()
    app.router.add_post("/csc/v2/{method:.*}", svc.handle)
    app.router.add_post("/oauth2/token", svc.handle)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    svc.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield svc
    finally:
        await runner.cleanup()


async def listed(service: RemoteService) -> list[Any]:
    return await RemoteDirectory([service]).list_credentials()
