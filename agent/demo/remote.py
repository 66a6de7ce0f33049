"""A local remote-signing service for the demo and the tests: certomancer-csc-dummy (a real CSC
server) serving keys issued by the demo PKI's issuing CA, on 127.0.0.1 only.

The dummy server speaks CSC v1 and deliberately leaves out what a provider must do: sign-in,
PIN/OTP checks, revocation, expiry. :class:`KysoCscServer` adds exactly those, at the seam
where the dummy stops, and keeps the dummy's own v1 routes, credential store, SAD tokens
(HMAC over the pinned hashes) and signing code:

- ``/csc/v2/...`` with v2 field names, an explicit PIN and an online OTP per credential, a
  credential that is revoked, SAD lifetimes, and hooks tests use to stop answering or to
  expire the session between authorisation and signing;
- ``/oauth2/authorize`` (authorization code + PKCE, loopback redirect only) and
  ``/oauth2/token`` (authorization_code, client_credentials, refresh_token).

Test material only: the keys are unencrypted files, the "user" approves every consent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from asn1crypto import algos
from certomancer.registry import CertomancerConfig
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from csc_dummy.csc_dummy_server import (
    ALGO_SUPPORT,
    CSCAuthorization,
    CSCWithCertomancer,
    DummyServiceParams,
    GeneralServiceInfo,
    b64_der,
    generic_sign_prehashed,
)

from agent.demo.pki import PkiUrls, Profile, TestCA, pki_port

ARCH = "kyso"
DEMO_PIN = "246810"
CLIENT_ID = "kyso-agent"
MULTISIGN = 10


@dataclass(frozen=True)
class RemoteProfile:
    """One remote credential of the demo service."""

    label: str
    subject: x509.Name
    key_kind: str = "RSA"
    otp: bool = False
    revoked: bool = False


def _subject(cn: str, uid: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Hà Nội"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.USER_ID, uid),
        ]
    )


REMOTE_PROFILES: tuple[RemoteProfile, ...] = (
    RemoteProfile(
        "org", _subject("Công ty TNHH Giải pháp Kyso Việt Nam (ký từ xa)", "MST:0101234567")
    ),
    RemoteProfile("personal_otp", _subject("Lê Minh Châu", "CCCD:001190054321"), otp=True),
    RemoteProfile("ec", _subject("Hộ kinh doanh Phạm Văn Đức", "MST:8098765432"), key_kind="EC"),
    RemoteProfile(
        "revoked", _subject("Công ty TNHH Giải pháp Kyso Việt Nam", "MST:0101234567"), revoked=True
    ),
)


def _pem_key(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_new(path: Path, data: bytes, mode: int = 0o644) -> None:
    # Material is made once and reused; never overwritten.
    path.write_bytes(data)
    path.chmod(mode)


def make_remote_pki(directory: Path, ca: TestCA, urls: PkiUrls | None = None) -> dict[str, Any]:
    """Issue the remote credentials from the demo issuing CA into ``directory`` (made once:
    existing material is reused) and return the certomancer configuration serving them.

    The material goes in a subdirectory named after the issuing CA, so a demo PKI made anew
    gets new credentials instead of stale ones, and nothing is overwritten."""
    fingerprint = ca.issuing_cert.fingerprint(hashes.SHA256()).hex()[:16]
    directory = directory / f"ca-{fingerprint}"
    directory.mkdir(parents=True, exist_ok=True)
    urls = urls or PkiUrls(pki_port())
    pub = serialization.Encoding.PEM
    for name, cert in (("root", ca.root_cert), ("issuing", ca.issuing_cert)):
        if not (directory / f"{name}.cert.pem").exists():
            _write_new(directory / f"{name}.cert.pem", cert.public_bytes(pub))
            spki = cert.public_key().public_bytes(
                pub, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            _write_new(directory / f"{name}.pub.pem", spki)
    keys: dict[str, Any] = {
        "root": {"path": "root.pub.pem", "public-only": True},
        "issuing": {"path": "issuing.pub.pem", "public-only": True},
    }
    entities: dict[str, Any] = {
        "root": {"common-name": "Kyso Test Root CA"},
        "issuing": {"common-name": "Kyso Test Issuing CA"},
    }
    certs: dict[str, Any] = {
        "root": {"subject": "root", "issuer": "root", "certificate-file": "root.cert.pem"},
        "issuing": {"subject": "issuing", "issuer": "root", "certificate-file": "issuing.cert.pem"},
    }
    for profile in REMOTE_PROFILES:
        key_path = directory / f"{profile.label}.key.pem"
        cert_path = directory / f"{profile.label}.cert.pem"
        if not key_path.exists() or not cert_path.exists():
            key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
                ec.generate_private_key(ec.SECP256R1())
                if profile.key_kind == "EC"
                else rsa.generate_private_key(65537, 2048)
            )
            cert = ca.issue(
                Profile(profile.label, 0, 0, profile.subject, key_kind=profile.key_kind),
                key.public_key(),
                x509.random_serial_number(),
                urls,
            )
            _write_new(key_path, _pem_key(key), 0o600)
            _write_new(cert_path, cert.public_bytes(pub))
        keys[profile.label] = {"path": key_path.name}
        entities[profile.label] = {"common-name": profile.label}
        certs[profile.label] = {
            "subject": profile.label,
            "issuer": "issuing",
            "certificate-file": cert_path.name,
        }
    for spec in certs.values():
        # certomancer wants the validity written out even for a pre-issued certificate.
        cert = x509.load_pem_x509_certificate((directory / spec["certificate-file"]).read_bytes())
        spec["validity"] = {
            "valid-from": cert.not_valid_before_utc.isoformat(),
            "valid-to": cert.not_valid_after_utc.isoformat(),
        }
    return {
        "keysets": {ARCH: {"path-prefix": str(directory), "keys": keys}},
        "pki-architectures": {
            ARCH: {"keyset": ARCH, "entities": entities, "certs": certs},
        },
    }


def load_config(directory: Path, ca: TestCA, urls: PkiUrls | None = None) -> CertomancerConfig:
    """The certomancer configuration over :func:`make_remote_pki`'s material."""
    raw = make_remote_pki(directory, ca, urls)
    where = raw["keysets"][ARCH]["path-prefix"]
    return CertomancerConfig(raw, key_search_dir=where, config_search_dir=where)


@dataclass
class _Grant:
    client_id: str
    expired: bool = False


@dataclass
class ServiceState:
    """What the tests steer and observe (they wait on the events, never on time)."""

    require_token: bool = True
    multisign: int = MULTISIGN  # signatures one authorisation may cover
    consent: str = "approve"  # what the "user" answers at /oauth2/authorize
    sad_seconds: int = 300
    stall_sign_hash_after: int | None = None  # answer this many signHash calls, then hang
    after_authorize: Callable[[], None] | None = None
    authorize_calls: int = 0
    sign_hash_calls: int = 0
    stalled: asyncio.Event = field(default_factory=asyncio.Event)
    current_otp: str | None = None  # the code "sent by SMS" for the next authorisation
    tamper: bool = False  # answer signatures that do not match the certificate
    issued: list[str] = field(default_factory=list)  # SADs, tokens, codes: tests hunt leaks
    tokens: dict[str, _Grant] = field(default_factory=dict)


def _err(status: int, error: str, description: str) -> web.HTTPException:
    cls = {400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 404: web.HTTPNotFound}[status]
    return cls(
        text=f'{{"error": "{error}", "error_description": "{description}"}}',
        content_type="application/json",
    )


class KysoCscServer(CSCWithCertomancer):
    """certomancer-csc-dummy plus the provider duties it leaves out (see module docstring)."""

    def __init__(self, config: CertomancerConfig, *, client_secret: str) -> None:
        super().__init__(
            config,
            svc_info=GeneralServiceInfo(
                name="Kyso demo remote signing", auth_type=["oauth2code", "oauth2client"]
            ),
            service_params=DummyServiceParams(
                multisign=MULTISIGN, sad_secret=secrets.token_bytes(32)
            ),
        )
        self.client_secret = client_secret
        self.state = ServiceState()
        self.base_url = ""
        self._codes: dict[str, tuple[str, str]] = {}  # code -> (redirect_uri, challenge)
        self._refresh: dict[str, str] = {}
        self.profiles = {f"{ARCH}/{p.label}": p for p in REMOTE_PROFILES}
        self.app.middlewares.append(self._bearer)

    def register_routes(self) -> None:
        """The dummy's v1 routes, then v2 and OAuth2."""
        super().register_routes()
        self.app.add_routes(
            [
                web.post("/csc/v2/info", self.info_v2),
                web.post("/csc/v2/credentials/list", self.list_v2),
                web.post("/csc/v2/credentials/info", self.info_credential_v2),
                web.post("/csc/v2/credentials/authorize", self.authorize_v2),
                web.post("/csc/v2/signatures/signHash", self.sign_hash_v2),
                web.get("/oauth2/authorize", self.oauth_authorize),
                web.post("/oauth2/token", self.oauth_token),
            ]
        )

    # ---- sign-in ----------------------------------------------------------------------

    @web.middleware
    async def _bearer(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        if self.state.require_token and path.startswith("/csc/") and not path.endswith("/info"):
            header = request.headers.get("Authorization", "")
            grant = self.state.tokens.get(header.removeprefix("Bearer "))
            if not header.startswith("Bearer ") or grant is None or grant.expired:
                raise _err(401, "invalid_token", "The access token is missing or expired")
        return await handler(request)

    def issue_token(self, client_id: str = CLIENT_ID) -> dict[str, Any]:
        """A new access token (and refresh token), as /oauth2/token answers."""
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.state.tokens[access] = _Grant(client_id)
        self.state.issued += [access, refresh]
        self._refresh[refresh] = client_id
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": refresh,
        }

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (refresh tokens too)."""
        for grant in self.state.tokens.values():
            grant.expired = True
        self._refresh.clear()

    async def oauth_authorize(self, request: web.Request) -> web.Response:
        q = request.query
        redirect = q.get("redirect_uri", "")
        host = urlsplit(redirect).hostname
        if q.get("client_id") != CLIENT_ID or host != "127.0.0.1":
            raise _err(400, "invalid_request", "Unknown client or redirect")
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
            raise _err(400, "invalid_request", "PKCE S256 is required")
        if self.state.consent != "approve":
            answer = {"error": "access_denied", "state": q.get("state", "")}
        else:
            code = secrets.token_urlsafe(16)
            self._codes[code] = (redirect, q.get("code_challenge", ""))
            self.state.issued.append(code)
            answer = {"code": code, "state": q.get("state", "")}
        raise web.HTTPFound(f"{redirect}?{urlencode(answer)}")

    async def oauth_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = form.get("grant_type")
        if form.get("client_id") != CLIENT_ID:
            raise _err(401, "invalid_client", "Unknown client")
        if grant == "client_credentials":
            if not secrets.compare_digest(str(form.get("client_secret", "")), self.client_secret):
                raise _err(401, "invalid_client", "Wrong client secret")
        elif grant == "authorization_code":
            redirect, challenge = self._codes.pop(str(form.get("code", "")), ("", ""))
            verifier = str(form.get("code_verifier", ""))
            made = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if (
                not redirect
                or redirect != form.get("redirect_uri")
                or made.rstrip(b"=").decode() != challenge
            ):
                raise _err(400, "invalid_grant", "Bad code or verifier")
        elif grant == "refresh_token":
            if self._refresh.pop(str(form.get("refresh_token", "")), None) is None:
                raise _err(400, "invalid_grant", "Unknown refresh token")
        else:
            raise _err(400, "unsupported_grant_type", "Unsupported grant")
        return web.json_response(self.issue_token())

    # ---- CSC v2 -------------------------------------------------------------------------

    async def info_v2(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "specs": "2.0.0.2",
                "name": self.svc_info.name,
                "region": "VN",
                "lang": "vi",
                "authType": list(self.svc_info.auth_type),
                "oauth2": self.base_url,
                "methods": [
                    "credentials/list",
                    "credentials/info",
                    "credentials/authorize",
                    "signatures/signHash",
                ],
            }
        )

    async def list_v2(self, request: web.Request) -> web.Response:
        return web.json_response({"credentialIDs": list(self.profiles)})

    def _credential(self, params: dict[str, Any]) -> tuple[str, Any, Any, RemoteProfile]:
        cid = params.get("credentialID")
        if not isinstance(cid, str) or cid not in self.profiles:
            raise _err(400, "invalid_request", "Invalid parameter credentialID")
        pki_arch, spec = self._parse_credential_id(cid)
        return cid, pki_arch, spec, self.profiles[cid]

    async def info_credential_v2(self, request: web.Request) -> web.Response:
        _cid, pki_arch, spec, profile = self._credential(await request.json())
        cert = pki_arch.get_cert(spec.label)
        key = cert.public_key
        objects = [{"type": "Password", "id": "PIN", "format": "N", "label": "Mã PIN ký số"}]
        if profile.otp:
            objects.append(
                {
                    "type": "Password",
                    "id": "OTP",
                    "format": "N",
                    "generator": "online",
                    "label": "Mã OTP gửi qua SMS",
                }
            )
        chain = [b64_der(cert)] + [
            b64_der(pki_arch.get_cert(c)) for c in pki_arch.get_chain(spec.label)
        ]
        return web.json_response(
            {
                "key": {
                    "status": "disabled" if profile.revoked else "enabled",
                    "algo": [
                        algos.SignedDigestAlgorithmId(a).dotted
                        for a in sorted(ALGO_SUPPORT.get(key.algorithm, ()))
                    ],
                    "len": key.bit_size,
                },
                "cert": {
                    "status": "revoked" if profile.revoked else "valid",
                    "certificates": chain,
                },
                "auth": {"mode": "explicit", "objects": objects},
                "SCAL": "2",
                "multisign": self.state.multisign,
                "lang": "vi",
            }
        )

    def send_otp(self) -> str:
        """The provider "sends an SMS": a fresh single-use code for the next authorisation."""
        self.state.current_otp = f"{secrets.randbelow(10**6):06d}"
        return self.state.current_otp

    async def authorize_v2(self, request: web.Request) -> web.Response:
        params = await request.json()
        cid, _arch, _spec, profile = self._credential(params)
        self.state.authorize_calls += 1
        if profile.revoked:
            raise _err(400, "invalid_request", "The credential is revoked")
        if not secrets.compare_digest(str(params.get("PIN", "")), DEMO_PIN):
            raise _err(400, "invalid_pin", "The PIN is invalid")
        if profile.otp:
            otp, self.state.current_otp = self.state.current_otp, None  # single use
            if otp is None or not secrets.compare_digest(str(params.get("OTP", "")), otp):
                raise _err(400, "invalid_otp", "The OTP is invalid")
        hashes = params.get("hashes")
        try:
            count = int(params["numSignatures"])
            pinned = [base64.b64decode(h) for h in hashes]
        except (KeyError, TypeError, ValueError):
            raise _err(400, "invalid_request", "Invalid numSignatures or hashes") from None
        if len(pinned) != count or not 0 < count <= self.state.multisign:
            raise _err(400, "invalid_request", "numSignatures does not match hashes")
        auth = CSCAuthorization(credential_id=cid, num_signatures=count, hashes=pinned)
        sad = auth.derive_sad(self.service_params.sad_secret)
        self.state.issued.append(sad)
        if self.state.after_authorize is not None:
            self.state.after_authorize()
        return web.json_response({"SAD": sad, "expiresIn": self.state.sad_seconds})

    async def sign_hash_v2(self, request: web.Request) -> web.Response:
        params = await request.json()
        cid, pki_arch, spec, _profile = self._credential(params)
        self.state.sign_hash_calls += 1
        stall = self.state.stall_sign_hash_after
        if stall is not None and self.state.sign_hash_calls > stall:
            self.state.stalled.set()
            await asyncio.Event().wait()  # the service stops answering
        sad = params.get("SAD")
        if not isinstance(sad, str):
            raise _err(400, "invalid_request", "Missing SAD")
        auth = CSCAuthorization.verify_sad(sad, self.service_params.sad_secret, cid)
        try:
            hashes = [base64.b64decode(h) for h in params["hashes"]]
            sign_algo = algos.SignedDigestAlgorithm(
                {
                    "algorithm": algos.SignedDigestAlgorithmId(params["signAlgo"]),
                    "parameters": algos.RSASSAPSSParams.load(
                        base64.b64decode(params["signAlgoParams"])
                    )
                    if params.get("signAlgoParams")
                    else None,
                }
            )
            hash_algo = algos.DigestAlgorithmId(params["hashAlgorithmOID"]).native
        except (KeyError, TypeError, ValueError):
            raise _err(400, "invalid_request", "Invalid hashes or algorithm") from None
        if auth.hashes is None or not set(hashes) <= set(auth.hashes):
            raise _err(400, "invalid_request", "Hashes not authorised by this SAD")
        key = pki_arch.key_set.get_private_key(spec.subject_key)
        sigs = [
            base64.b64encode(generic_sign_prehashed(key, h, sign_algo, hash_algo)).decode()
            for h in hashes
        ]
        if self.state.tamper:
            sigs = [base64.b64encode(bytes(len(base64.b64decode(s)))).decode() for s in sigs]
        return web.json_response({"signatures": sigs})


@dataclass
class RunningService:
    """A started service: its base URL, the server object (state, hooks) and how to stop it."""

    url: str
    server: KysoCscServer
    runner: web.AppRunner

    async def close(self) -> None:
        """Stop listening and cancel whatever is still running (a stalled request too)."""
        await self.runner.cleanup()


async def start_service(
    directory: Path,
    ca: TestCA,
    *,
    port: int = 0,
    client_secret: str | None = None,
    urls: PkiUrls | None = None,
) -> RunningService:
    """Start the service on 127.0.0.1 (``port`` 0: a free one) in the running event loop."""
    config = load_config(directory, ca, urls)
    with warnings.catch_warnings():
        # the dummy keys its app with plain strings (aiohttp prefers AppKey): not ours to fix
        warnings.simplefilter("ignore")
        server = KysoCscServer(config, client_secret=client_secret or secrets.token_urlsafe(16))
    server.register_routes()
    runner = web.AppRunner(server.app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    server.base_url = f"http://127.0.0.1:{bound}"
    return RunningService(server.base_url, server, runner)


DEFAULT_PORT = 8690  # beside the portal (8600), its mail sink (8625) and the PKI (8680)


async def serve_demo(port: int = DEFAULT_PORT) -> None:
    """Run the demo's remote signing service until cancelled, with keys from the demo PKI
    (``kyso-agent demo-token init`` first). The lead's ``kyso-agent demo`` can call this."""
    from agent.demo.tokens import paths

    pki = paths()["pki"]
    running = await start_service(pki.parent / "remote", TestCA.load(pki), port=port)
    print(f"CSC demo service: {running.url} (PIN {DEMO_PIN}; client_id {CLIENT_ID})", flush=True)
    print(
        "config.toml:\n[[remote_providers]]\n"
        f'name = "demo"\nbase_url = "{running.url}"\n'
        f'client_id = "{CLIENT_ID}"\nauth_flow = "authorization_code"',
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await running.close()


if __name__ == "__main__":
    import contextlib

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_demo())
