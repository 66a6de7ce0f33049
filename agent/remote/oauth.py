"""Service authorisation for a remote signing provider: the OAuth2 flows CSC names.

- ``none``: the service needs no access token (a service behind its own network gate; tests).
- ``client_credentials``: the agent's own client id and a secret read from a file only the
  user can read.
- ``authorization_code``: the user signs in and consents in the browser; Kyso is a public
  client (RFC 8252): PKCE (S256), a ``state`` check, and a one-shot redirect listener on
  127.0.0.1 with a random port. The access token and refresh token stay in memory; only with
  ``remember_tokens = true`` is the refresh token written to disk (0600, atomically).

Credential authorisation (PIN/OTP, SAD) is separate: see :mod:`agent.remote.csc`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import aiohttp
from aiohttp import web

from agent.config import paths
from agent.errors import ErrorGroup, KysoError
from agent.files import atomic_write
from agent.peercred import same_user
from agent.remote.http import auth_refused, post
from agent.remote.providers import RemoteProvider, check_url, lifetime_seconds

log = logging.getLogger(__name__)

BrowserOpener = Callable[[str], Awaitable[None]]
CONSENT_TIMEOUT_SECONDS = 300  # the user signs in at the provider; give them time
_EARLY_REFRESH_SECONDS = 30  # renew a little before the stated expiry


# What may go into an Authorization header: visible ASCII (RFC 6750's b64token is a subset;
# JWTs fit), a few KB at most. Checked when the token arrives, so a token that could never be
# sent is refused as the provider's error and never kept for its stated lifetime.
_TOKEN_TEXT = re.compile(r"[\x21-\x7e]{1,8192}")


def usable_access_token(provider: RemoteProvider, answer: dict[str, Any]) -> str:
    """The ``access_token`` of a token endpoint's answer, or REMOTE_PROTOCOL_ERROR when there
    is none or it could not be sent back as a bearer token (control characters, spaces,
    non-ASCII, over 8 KB)."""
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        detail = "oauth2/token: no access_token"
    elif not _TOKEN_TEXT.fullmatch(token):
        detail = "oauth2/token: unusable access_token"
    else:
        return token
    raise KysoError("REMOTE_PROTOCOL_ERROR", {"provider": provider.label, "detail": detail})


class ServiceAuth(Protocol):
    """Gives the bearer token for CSC calls (None when the service needs none)."""

    async def bearer(self, *, interactive: bool = True) -> str | None:
        """A valid access token; ``interactive=False`` never opens the browser (listing)."""
        ...

    def invalidate(self) -> None:
        """Forget the access token (the service said it expired)."""
        ...


class NoAuth:
    """For ``auth_flow = "none"``."""

    async def bearer(self, *, interactive: bool = True) -> str | None:
        """No token."""
        return None

    def invalidate(self) -> None:
        """Nothing to forget."""


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_file(provider: RemoteProvider) -> Path:
    """Where an opted-in refresh token is kept."""
    return paths.data_dir() / "remote-tokens" / f"{provider.name}.json"


class OAuthClient:
    """Access tokens for one provider, by its configured flow, refreshed when they run out."""

    def __init__(
        self,
        provider: RemoteProvider,
        session: aiohttp.ClientSession,
        *,
        browser: BrowserOpener | None = None,
        oauth_base: str = "",
    ) -> None:
        self.provider = provider
        self.session = session
        self.browser = browser
        # Configured (or given): used as is. Otherwise the service's ``info`` names it (its
        # ``oauth2`` field), asked once at the first sign-in; base_url when it names none.
        configured = (oauth_base or provider.oauth_url).rstrip("/")
        self.oauth_base = check_url(configured) if configured else ""
        self._access: str | None = None
        self._expires_at = 0.0
        self._refresh: str | None = self._load_refresh()
        self._lock = asyncio.Lock()  # one sign-in at a time, however many callers wait

    async def oauth_url(self) -> str:
        """Where ``/oauth2/authorize`` and ``/oauth2/token`` live: the configured address, else
        the ``oauth2`` address the service's CSC ``info`` announces (https, or http on
        loopback: REMOTE_INSECURE_URL otherwise), else the base URL."""
        if not self.oauth_base:
            try:
                answer = await post(
                    self.session,
                    self.provider,
                    self.provider.endpoint("info"),
                    method="info",
                    json_body={},
                )
            except KysoError as exc:
                if exc.group is not ErrorGroup.REMOTE_SERVICE:
                    raise  # unreachable or silent: the sign-in would fail the same way
                answer = {}  # a service without a usable info: its base URL, as before
            announced = answer.get("oauth2")
            base = announced if isinstance(announced, str) and announced else ""
            base = check_url((base or self.provider.base_url).rstrip("/"))
            if _origin(base) != _origin(self.provider.base_url):
                # The service's own word, unauthenticated: another origin could be another
                # provider's sign-in server, whose tokens this service would then receive
                # (and use there). Only an administrator's oauth_url names another address.
                raise KysoError(
                    "REMOTE_PROTOCOL_ERROR",
                    {
                        "provider": self.provider.label,
                        "detail": f"info names a sign-in server at another address "
                        f"({_origin_text(base)}); an administrator must set oauth_url for "
                        "this provider to use it",
                    },
                )
            self.oauth_base = base
        return self.oauth_base

    # ---- token storage: memory, unless the user opted in -------------------------------

    def _load_refresh(self) -> str | None:
        if not self.provider.remember_tokens:
            return None
        try:
            data = json.loads(token_file(self.provider).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        value = data.get("refresh_token") if isinstance(data, dict) else None
        return value if isinstance(value, str) and value else None

    def _store(self, answer: dict[str, Any]) -> str:
        access = usable_access_token(self.provider, answer)
        lifetime = lifetime_seconds(answer.get("expires_in")) or 3600
        self._access = access
        self._expires_at = time.monotonic() + max(1, lifetime - _EARLY_REFRESH_SECONDS)
        refresh = answer.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            self._refresh = refresh
            if self.provider.remember_tokens:
                path = token_file(self.provider)
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                body = json.dumps({"refresh_token": refresh}).encode()
                atomic_write(path, body, overwrite=True, mode=0o600)
        return access

    def invalidate(self) -> None:
        """Forget the access token; a refresh token (if any) is tried next time."""
        self._access = None
        self._expires_at = 0.0

    def forget(self) -> None:
        """Sign out: drop every token, the remembered one included."""
        self.invalidate()
        self._refresh = None
        token_file(self.provider).unlink(missing_ok=True)

    # ---- flows ------------------------------------------------------------------------

    async def bearer(self, *, interactive: bool = True) -> str | None:
        """A valid access token: cached, refreshed, or from the configured flow."""
        async with self._lock:
            if self._access and time.monotonic() < self._expires_at:
                return self._access
            if self._refresh:
                try:
                    return await self._token({"grant_type": "refresh_token"}, self._refresh)
                except KysoError as exc:
                    if not exc.is_(ErrorGroup.REMOTE_AUTH):
                        raise
                    log.info(
                        "remote %s: refresh token refused; signing in again", self.provider.name
                    )
                    self._refresh = None
            if self.provider.auth_flow == "client_credentials":
                return await self._client_credentials()
            if not interactive:
                raise auth_refused(self.provider, "login_required")
            return await self._authorization_code()

    async def _token(self, form: dict[str, str], refresh: str | None = None) -> str:
        form = {**form, "client_id": self.provider.client_id}
        if refresh is not None:
            form["refresh_token"] = refresh
        answer = await post(
            self.session,
            self.provider,
            f"{await self.oauth_url()}/oauth2/token",
            method="oauth2/token",
            form=form,
        )
        return self._store(answer)

    async def _client_credentials(self) -> str:
        try:
            path = Path(self.provider.client_secret_file)
            secret = (await asyncio.to_thread(path.read_text, encoding="utf-8")).strip()
        except OSError:
            raise auth_refused(self.provider, "login_required") from None
        return await self._token({"grant_type": "client_credentials", "client_secret": secret})

    async def _authorization_code(self) -> str:
        answer = await self._browser_grant({"scope": self.provider.scope})
        return self._store(answer)

    async def credential_token(
        self, credential_id: str, hashes: list[bytes], hash_oid: str, description: str = ""
    ) -> tuple[str, int | None]:
        """CSC ``oauth2code`` credential authorisation (SCAL 2): the user approves exactly
        these hashes at the provider's page (scope ``credential``, ``credentialID``,
        ``numSignatures``, ``hashes`` as base64url joined by commas, ``hashAlgorithmOID``),
        and the access token that comes back takes the place of the SAD in ``signHash``.
        Returns the token and its lifetime in seconds (None when not said). The token is
        single-purpose: never cached, never refreshed, never written anywhere."""
        params = {
            "scope": "credential",
            "credentialID": credential_id,
            "numSignatures": str(len(hashes)),
            "hashes": ",".join(base64.urlsafe_b64encode(h).rstrip(b"=").decode() for h in hashes),
            "hashAlgorithmOID": hash_oid,
        }
        if description:
            params["description"] = description[:500]
        answer = await self._browser_grant(params)
        token = usable_access_token(self.provider, answer)
        return token, lifetime_seconds(answer.get("expires_in"))

    async def _browser_grant(self, params: dict[str, str]) -> dict[str, Any]:
        """The browser part of the authorization code flow, then the code exchange: the
        token endpoint's answer (not stored here)."""
        if self.browser is None:
            raise auth_refused(self.provider, "login_required")
        oauth_base = await self.oauth_url()  # before the listener opens
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(24)
        got: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

        async def callback(request: web.Request) -> web.Response:
            # The state and this port sit in the browser's command line, which other OS users
            # can read (/proc): only this user's browser may hand in the code.
            transport = request.transport
            if transport is None or not same_user(
                transport.get_extra_info("peername"), transport.get_extra_info("sockname")
            ):
                log.warning("oauth redirect from another OS user refused")
                return web.Response(status=403, text="Kyso: not this user's browser")
            query = dict(request.query)
            if query.get("state") != state:  # a stray or forged redirect: ignore it
                return web.Response(status=400, text="Kyso: state mismatch")
            if not got.done():
                got.set_result(query)
            return web.Response(
                text="Kyso: đã nhận xác nhận, bạn có thể đóng trang này. / "
                "Kyso received the approval; you can close this page.",
                content_type="text/plain",
                charset="utf-8",
            )

        app = web.Application()
        app.router.add_get("/callback", callback)
        runner = web.AppRunner(app, access_log=None)  # the query holds the one-time code
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            redirect = f"http://127.0.0.1:{port}/callback"
            url = f"{oauth_base}/oauth2/authorize?" + urlencode(
                {
                    "response_type": "code",
                    "client_id": self.provider.client_id,
                    "redirect_uri": redirect,
                    **params,
                    "state": state,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                }
            )
            await self.browser(url)
            try:
                async with asyncio.timeout(CONSENT_TIMEOUT_SECONDS):
                    query = await got
            except TimeoutError:
                raise KysoError(
                    "REMOTE_TIMEOUT",
                    {"provider": self.provider.label, "seconds": CONSENT_TIMEOUT_SECONDS},
                ) from None
        finally:
            await runner.cleanup()
        issuer = query.get("iss")
        if issuer is not None and issuer.rstrip("/") not in _issuer_names(oauth_base):
            # RFC 9207: the answer names another authorization server than the one asked (a
            # mix-up: a hostile provider sent the user on to another's sign-in). Its code and
            # this verifier go to nobody.
            log.warning("oauth answer from another issuer refused for %s", self.provider.name)
            raise auth_refused(self.provider, "wrong_issuer")
        if "code" not in query:
            reason = "access_denied" if query.get("error") == "access_denied" else "cancelled"
            raise auth_refused(self.provider, reason)
        return await post(
            self.session,
            self.provider,
            f"{await self.oauth_url()}/oauth2/token",
            method="oauth2/token",
            form={
                "grant_type": "authorization_code",
                "code": query["code"],
                "redirect_uri": redirect,
                "code_verifier": verifier,
                "client_id": self.provider.client_id,
            },
        )


def _issuer_names(oauth_base: str) -> tuple[str, str]:
    """The issuer identifiers an answer from ``oauth_base`` may carry: the CSC base URI of the
    authorization server, or that URI's ``/oauth2`` (where its endpoints live)."""
    base = oauth_base.rstrip("/")
    return base, base + "/oauth2"


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of ``url`` (the default port for the scheme filled in)."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    try:
        port = parts.port or default
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def _origin_text(url: str) -> str:
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}:{port}"[:120]
