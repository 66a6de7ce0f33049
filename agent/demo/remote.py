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
  ``/oauth2/token`` (authorization_code, client_credentials, refresh_token), also under
  ``/sso`` for a test that has ``info`` announce that address (``state.oauth2_url``);
- credential authorisation by OAuth2 (CSC v2 ``oauth2code``) for the credentials a test names
  in ``state.oauth2code``: ``credentials/info`` says so, ``/oauth2/authorize`` takes
  ``scope=credential`` with ``credentialID``, ``numSignatures``, the base64url ``hashes``
  (comma-separated) and ``hashAlgorithmOID``, and the access token it leads to signs exactly
  those hashes, that many times, with no SAD (the dummy has none of this).

Test material only: the keys are unencrypted files, the "user" approves every consent.
The keys and their certomancer configuration are made in :mod:`agent.demo.remote_pki`.
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
from csc_dummy.csc_dummy_server import (
    ALGO_SUPPORT,
    CSCAuthorization,
    CSCWithCertomancer,
    DummyServiceParams,
    GeneralServiceInfo,
    b64_der,
    generic_sign_prehashed,
)

from agent.demo.pki import PkiUrls, TestCA
from agent.demo.remote_pki import (  # noqa: F401 - make_remote_pki: re-exported for callers
    ARCH,
    REMOTE_PROFILES,
    RemoteProfile,
    load_config,
    make_remote_pki,
)

DEMO_PIN = "246810"
CLIENT_ID = "kyso-agent"
MULTISIGN = 10


@dataclass
class _Grant:
    client_id: str
    expired: bool = False
    # scope "credential" (CSC oauth2code): good for this credential and these hashes only
    credential: str = ""
    hashes: tuple[bytes, ...] = ()
    remaining: int = 0


@dataclass(frozen=True)
class CredentialRequest:
    """What an ``oauth2/authorize`` with scope ``credential`` asked the user to approve."""

    credential_id: str
    hashes: tuple[bytes, ...]
    hash_oid: str


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
    # Credentials unlocked only by OAuth2 with scope "credential" (credentials/info says
    # authMode "oauth2code"); and what each such sign-in asked the user to approve.
    oauth2code: set[str] = field(default_factory=set)
    credential_requests: list[CredentialRequest] = field(default_factory=list)
    # The OAuth2 address ``info`` announces (None: the base URL); OAuth2 is served both at the
    # root and under /sso, and the paths the OAuth2 requests came to are recorded.
    oauth2_url: str | None = None
    expired: set[str] = field(default_factory=set)  # credentials whose certificate ran out
    oauth_paths: list[str] = field(default_factory=list)


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
        # code -> (redirect_uri, challenge, what a scope "credential" sign-in approved)
        self._codes: dict[str, tuple[str, str, CredentialRequest | None]] = {}
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
                web.get("/sso/oauth2/authorize", self.oauth_authorize),
                web.post("/sso/oauth2/token", self.oauth_token),
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
            if grant.credential and not path.endswith("/signatures/signHash"):
                raise _err(401, "invalid_token", "A credential token only signs")
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

    def _credential_token(self, binding: CredentialRequest) -> dict[str, Any]:
        # No refresh token: a credential authorisation is used up by its signatures.
        access = secrets.token_urlsafe(24)
        self.state.tokens[access] = _Grant(
            CLIENT_ID,
            credential=binding.credential_id,
            hashes=binding.hashes,
            remaining=len(binding.hashes),
        )
        self.state.issued.append(access)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.state.sad_seconds,
        }

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (refresh tokens too)."""
        for grant in self.state.tokens.values():
            grant.expired = True
        self._refresh.clear()

    async def oauth_authorize(self, request: web.Request) -> web.Response:
        self.state.oauth_paths.append(request.path)
        q = request.query
        redirect = q.get("redirect_uri", "")
        host = urlsplit(redirect).hostname
        if q.get("client_id") != CLIENT_ID or host != "127.0.0.1":
            raise _err(400, "invalid_request", "Unknown client or redirect")
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
            raise _err(400, "invalid_request", "PKCE S256 is required")
        binding = self._credential_scope(q) if q.get("scope") == "credential" else None
        if self.state.consent != "approve":
            answer = {"error": "access_denied", "state": q.get("state", "")}
        else:
            code = secrets.token_urlsafe(16)
            self._codes[code] = (redirect, q.get("code_challenge", ""), binding)
            self.state.issued.append(code)
            answer = {"code": code, "state": q.get("state", "")}
        raise web.HTTPFound(f"{redirect}?{urlencode(answer)}")

    def _credential_scope(self, q: Any) -> CredentialRequest:
        """CSC v2 oauth2/authorize with scope "credential": the credential, numSignatures and
        (SCAL 2) the base64url hashes, comma-separated, with their hashAlgorithmOID."""
        cid = q.get("credentialID", "")
        if cid not in self.state.oauth2code:
            raise _err(400, "invalid_request", "Invalid parameter credentialID")
        try:
            count = int(q.get("numSignatures", ""))
            hashes = tuple(
                base64.urlsafe_b64decode(h + "=" * (-len(h) % 4))
                for h in q.get("hashes", "").split(",")
            )
            oid = algos.DigestAlgorithmId(q.get("hashAlgorithmOID", "")).dotted
        except ValueError:
            raise _err(400, "invalid_request", "Invalid numSignatures, hashes or OID") from None
        if len(hashes) != count or not 0 < count <= self.state.multisign:
            raise _err(400, "invalid_request", "numSignatures does not match hashes")
        request = CredentialRequest(cid, hashes, oid)
        self.state.credential_requests.append(request)
        return request

    async def oauth_token(self, request: web.Request) -> web.Response:
        self.state.oauth_paths.append(request.path)
        form = await request.post()
        grant = form.get("grant_type")
        if form.get("client_id") != CLIENT_ID:
            raise _err(401, "invalid_client", "Unknown client")
        if grant == "client_credentials":
            if not secrets.compare_digest(str(form.get("client_secret", "")), self.client_secret):
                raise _err(401, "invalid_client", "Wrong client secret")
        elif grant == "authorization_code":
            redirect, challenge, binding = self._codes.pop(
                str(form.get("code", "")), ("", "", None)
            )
            verifier = str(form.get("code_verifier", ""))
            made = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if (
                not redirect
                or redirect != form.get("redirect_uri")
                or made.rstrip(b"=").decode() != challenge
            ):
                raise _err(400, "invalid_grant", "Bad code or verifier")
            if binding is not None:
                return web.json_response(self._credential_token(binding))
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
                "oauth2": self.state.oauth2_url or self.base_url,
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
        cid, pki_arch, spec, profile = self._credential(await request.json())
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
                    "status": (
                        "revoked"
                        if profile.revoked
                        else "expired"
                        if cid in self.state.expired
                        else "valid"
                    ),
                    "certificates": chain,
                },
                "auth": (
                    {"mode": "oauth2code"}
                    if cid in self.state.oauth2code
                    else {"mode": "explicit", "objects": objects}
                ),
                "SCAL": "2",
                "multisign": self.state.multisign,
                "lang": "vi",
            }
        )

    def _credential_grant(self, request: web.Request, cid: str) -> _Grant | None:
        header = request.headers.get("Authorization", "")
        grant = self.state.tokens.get(header.removeprefix("Bearer "))
        if grant is None or not grant.credential or grant.expired:
            return None
        if grant.credential != cid:
            raise _err(400, "invalid_request", "The token is for another credential")
        return grant

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
        if cid in self.state.expired:
            raise _err(400, "invalid_request", "The credential's certificate has expired")
        if cid in self.state.oauth2code:
            raise _err(400, "invalid_request", "This credential is authorised by oauth2code")
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
        # No SAD: the bearer token must be a scope "credential" token for this credential.
        grant = self._credential_grant(request, cid) if sad is None else None
        if grant is None and not isinstance(sad, str):
            raise _err(400, "invalid_request", "Missing SAD")
        allowed = (
            grant.hashes
            if grant is not None
            else CSCAuthorization.verify_sad(str(sad), self.service_params.sad_secret, cid).hashes
        )
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
        if allowed is None or not set(hashes) <= set(allowed):
            raise _err(400, "invalid_request", "Hashes not authorised by this SAD")
        if grant is not None:  # the token covers numSignatures signatures, then it is spent
            if len(hashes) > grant.remaining:
                raise _err(400, "invalid_request", "More signatures than authorised")
            grant.remaining -= len(hashes)
            grant.expired = grant.remaining == 0
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
