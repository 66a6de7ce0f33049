"""A CSC API client (Cloud Signature Consortium, v2; v1 field names too): ``info``,
``credentials/list``, ``credentials/info``, ``credentials/authorize`` and
``signatures/signHash``. The answers are parsed into typed objects; nothing secret is kept
beyond the object that needs it (the SAD lives in an :class:`Authorization` until used).
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from asn1crypto import algos
from cryptography.exceptions import UnsupportedAlgorithm

from agent.errors import KysoError, invalid_input
from agent.remote.http import ByteBudget, answer_cap, post
from agent.remote.oauth import OAuthClient, ServiceAuth
from agent.remote.providers import RemoteProvider, lifetime_seconds
from agent.tokens.algorithms import KeyKind, SignatureAlgorithm
from agent.tokens.certinfo import CertificateInfo, parse_certificate

_HASH_OID = {
    "sha1": "1.3.14.3.2.26",
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}
# A person or a unit holds a handful of credentials; more is a broken or hostile service (each
# one costs a credentials/info call).
MAX_CREDENTIALS = 100
# The most hashes one credentials/authorize or signatures/signHash carries, whatever the
# credential's ``multisign`` claims (a provider's word, up to any integer): a sign.batch of 1000
# items is then 10 authorisations, not one request of 1000 hashes whose answer would be allowed
# 4 MB (answer_cap grows by 4 KB per signature, and a parsed answer weighs up to ~30 times its
# bytes). With 100: the request stays near 10 KB (an oauth2code URL near 5 KB), the answer
# under 64 KB + 400 KB.
MAX_HASHES_PER_CALL = 100
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSASSA_PSS = "1.2.840.113549.1.1.10"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"


@dataclass(frozen=True)
class SignAlgo:
    """What ``signatures/signHash`` needs to name an algorithm."""

    sign_oid: str
    hash_oid: str
    params_b64: str | None = None


def sign_algo_for(algorithm: SignatureAlgorithm, offered: frozenset[str]) -> SignAlgo:
    """The CSC OIDs for ``algorithm`` among those a credential offers. A combined OID
    (sha256WithRSAEncryption, ecdsa-with-SHA256) is used when offered, else the bare key OID
    with the hash named apart (CSC allows both). MECHANISM_UNSUPPORTED when neither is."""
    hash_oid = _HASH_OID[algorithm.hash_name]
    h = algorithm.hash_name
    if algorithm.is_pss:
        if RSASSA_PSS not in offered:
            raise KysoError("MECHANISM_UNSUPPORTED", {"algorithm": algorithm.value})
        params = algos.RSASSAPSSParams(
            {
                "hash_algorithm": {"algorithm": h},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": h}},
                "salt_length": algorithm.digest_size,
            }
        )
        return SignAlgo(RSASSA_PSS, hash_oid, base64.b64encode(params.dump()).decode())
    kind = "ecdsa" if algorithm.key_kind is KeyKind.EC else "rsa"
    combined = algos.SignedDigestAlgorithmId(f"{h}_{kind}").dotted
    if combined in offered:
        return SignAlgo(combined, hash_oid)
    bare = EC_PUBLIC_KEY if kind == "ecdsa" else RSA_ENCRYPTION
    bare_alias = algos.SignedDigestAlgorithmId("ecdsa" if kind == "ecdsa" else "rsassa_pkcs1v15")
    if bare in offered or bare_alias.dotted in offered:
        return SignAlgo(bare if bare in offered else bare_alias.dotted, hash_oid)
    raise KysoError("MECHANISM_UNSUPPORTED", {"algorithm": algorithm.value})


@dataclass(frozen=True)
class CredentialDetails:
    """A credential as ``credentials/info`` describes it."""

    credential_id: str
    certificate: CertificateInfo
    chain: tuple[bytes, ...]  # DER, issuers after the signer's own certificate
    key_status: str  # "enabled" or "disabled"
    cert_status: (
        str  # "valid", "revoked", "suspended", "expired", "invalid" (any other), "" (not said)
    )
    algorithms: frozenset[str]  # dotted OIDs
    auth_mode: str  # "implicit", "explicit" or "oauth2code"
    need_pin: bool
    need_otp: bool
    otp_online: bool
    pin_label: str
    otp_label: str
    scal: int  # 2: every authorisation names the hashes it allows
    multisign: int  # signatures one authorisation may cover

    @property
    def problem(self) -> str | None:
        """Why this credential cannot sign now, or None."""
        if self.key_status != "enabled":
            return self.key_status or "disabled"
        if self.cert_status and self.cert_status != "valid":
            return self.cert_status
        return None


@dataclass(frozen=True)
class Authorization:
    """The SAD of one ``credentials/authorize`` (never shown in a repr or a log), or, for an
    ``oauth2code`` credential, the access token with scope ``credential`` that takes its place
    (sent as the bearer token of ``signHash``, with no SAD)."""

    sad: str = field(repr=False)
    count: int
    expires_at: float | None  # monotonic seconds, from expiresIn
    bearer: bool = False  # True: ``sad`` is a credential-scope access token

    @property
    def expired(self) -> bool:
        """True when the service's stated lifetime has passed."""
        return self.expires_at is not None and time.monotonic() >= self.expires_at


def _label(value: Any) -> str:
    # Provider text shown in our window: plain, short, no control characters.
    if not isinstance(value, str):
        return ""
    return "".join(c for c in value if c.isprintable())[:80]


# The statuses CSC API v2 defines (11.5 credentials/info). The service's value is reduced to
# one of them: it reaches Kyso's own message (REMOTE_CREDENTIAL_INVALID) and the page's
# listing, and free text there would read as Kyso's words ("disabled. Call 1900-...").
_CERT_STATUSES = ("valid", "expired", "revoked", "suspended")


def _key_status(value: Any) -> str:
    return "enabled" if isinstance(value, str) and value.lower() == "enabled" else "disabled"


def _cert_status(value: Any) -> str:
    if value is None or value == "":
        return ""  # not said
    status = value.lower() if isinstance(value, str) else ""
    return status if status in _CERT_STATUSES else "invalid"


def _presence(value: Any) -> bool:
    return value in (True, "true")


def parse_credential_info(
    provider: RemoteProvider, credential_id: str, body: dict[str, Any]
) -> CredentialDetails:
    """Parse a ``credentials/info`` answer (v2 ``auth.objects``, or v1 ``PIN``/``OTP``);
    REMOTE_PROTOCOL_ERROR for anything malformed."""
    try:
        return _parse_credential_info(provider, credential_id, body)
    except (AttributeError, TypeError, ValueError, RecursionError):
        # The right outline with wrong types inside (a number where a list belongs): the
        # service's fault, reported as such, never a crash.
        raise KysoError(
            "REMOTE_PROTOCOL_ERROR",
            {"provider": provider.label, "detail": "credentials/info: malformed"},
        ) from None


def _parse_credential_info(
    provider: RemoteProvider, credential_id: str, body: dict[str, Any]
) -> CredentialDetails:

    def bad(detail: str) -> KysoError:
        return KysoError(
            "REMOTE_PROTOCOL_ERROR",
            {"provider": provider.label, "detail": f"credentials/info: {detail}"},
        )

    key = body.get("key")
    cert = body.get("cert")
    if not isinstance(key, dict) or not isinstance(cert, dict):
        raise bad("no key or cert")
    try:
        ders = [base64.b64decode(c, validate=True) for c in cert.get("certificates") or []]
        info = parse_certificate(ders[0])
    except (IndexError, TypeError, ValueError, binascii.Error, UnsupportedAlgorithm):
        raise bad("no readable certificate") from None
    algorithms = frozenset(a for a in key.get("algo") or [] if isinstance(a, str))
    auth_value = body.get("auth")
    auth: dict[str, Any] = auth_value if isinstance(auth_value, dict) else {}
    mode = auth.get("mode") or body.get("authMode") or "implicit"
    need_pin = need_otp = otp_online = False
    pin_label = otp_label = ""
    for obj in auth.get("objects") or []:
        if not isinstance(obj, dict):
            continue
        # v2 lists both as {"type": "Password", "id": "PIN" | "OTP", ...}
        if obj.get("id") == "OTP" or obj.get("type") == "OTP":
            need_otp, otp_label = True, _label(obj.get("label"))
            otp_online = obj.get("generator") == "online" or obj.get("otpType") == "online"
        elif obj.get("id") == "PIN" or obj.get("type") == "Password":
            need_pin, pin_label = True, _label(obj.get("label"))
    pin_v1, otp_v1 = body.get("PIN"), body.get("OTP")
    if isinstance(pin_v1, dict) and _presence(pin_v1.get("presence")):
        need_pin, pin_label = True, _label(pin_v1.get("label"))
    if isinstance(otp_v1, dict) and _presence(otp_v1.get("presence")):
        need_otp, otp_label = True, _label(otp_v1.get("label"))
        otp_online = otp_v1.get("type") == "online"
    try:
        scal = int(body.get("SCAL", 1))
        # What Kyso sends in one authorisation: the service's limit, within ours.
        multisign = min(MAX_HASHES_PER_CALL, max(1, int(body.get("multisign", 1))))
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e999 reads as infinity
        raise bad("SCAL or multisign is not a number") from None
    return CredentialDetails(
        credential_id=credential_id,
        certificate=info,
        chain=tuple(ders[1:]),
        key_status=_key_status(key.get("status", "enabled")),
        cert_status=_cert_status(cert.get("status")),
        algorithms=algorithms,
        auth_mode=str(mode),
        need_pin=need_pin,
        need_otp=need_otp,
        otp_online=otp_online,
        pin_label=pin_label,
        otp_label=otp_label,
        scal=scal,
        multisign=multisign,
    )


def check_hash_count(hashes: list[bytes], method: str) -> None:
    """INPUT_INVALID unless ``hashes`` holds 1 to :data:`MAX_HASHES_PER_CALL` hashes: checked
    before anything is sent (the remote signer splits a batch by the credential's
    ``multisign``, which is never above that)."""
    if not 1 <= len(hashes) <= MAX_HASHES_PER_CALL:
        raise invalid_input(
            f"{method}: {len(hashes)} hashes in one request, 1 to {MAX_HASHES_PER_CALL} allowed",
            f"{method}: {len(hashes)} mã băm trong một yêu cầu, chỉ được từ 1 đến "
            f"{MAX_HASHES_PER_CALL}",
        )


class CscClient:
    """Calls one provider's CSC API. The aiohttp session is shared by everything that talks to
    that provider (one connection pool); the bearer token comes from ``auth``."""

    def __init__(
        self, provider: RemoteProvider, session: aiohttp.ClientSession, auth: ServiceAuth
    ) -> None:
        self.provider = provider
        self.session = session
        self.auth = auth

    @property
    def v1(self) -> bool:
        """True for a service that only speaks CSC v1 field names."""
        return self.provider.api_version == "v1"

    async def _call(
        self,
        method: str,
        body: dict[str, Any],
        *,
        credential: str = "",
        interactive: bool = True,
        token: str | None = None,
        max_bytes: int | None = None,
        budget: ByteBudget | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        own_token = token is not None  # a credential-scope token: not the service's
        if token is None:
            token = await self.auth.bearer(interactive=interactive)
        try:
            return await post(
                self.session,
                self.provider,
                self.provider.endpoint(method),
                method=method,
                json_body=body,
                token=token,
                credential=credential,
                max_bytes=max_bytes,
                budget=budget,
                timeout=timeout,
            )
        except KysoError as exc:
            if exc.code == "REMOTE_TOKEN_EXPIRED" and not own_token:
                self.auth.invalidate()  # the next operation signs in again
            raise

    async def info(self) -> dict[str, Any]:
        """The service's ``info`` (name, methods, oauth2 URL)."""
        return await self._call("info", {})

    async def list_credentials(
        self, *, interactive: bool = True, budget: ByteBudget | None = None
    ) -> list[str]:
        """The credential IDs of the signed-in user (``budget``: the listing's answer bytes)."""
        body = await self._call("credentials/list", {}, interactive=interactive, budget=budget)
        ids = body.get("credentialIDs")
        if (
            not isinstance(ids, list)
            or not all(isinstance(i, str) and 0 < len(i) <= 200 for i in ids)
            or len(ids) > MAX_CREDENTIALS
        ):
            raise KysoError(
                "REMOTE_PROTOCOL_ERROR",
                {"provider": self.provider.label, "detail": "credentials/list: bad credentialIDs"},
            )
        # One credential is one picker row: an id listed again would be asked for again and
        # shown as copies nobody can tell apart (their row key is the same).
        return list(dict.fromkeys(ids))

    async def credential_info(
        self, credential_id: str, *, interactive: bool = True, budget: ByteBudget | None = None
    ) -> CredentialDetails:
        """One credential's certificate chain, key state and authorisation needs."""
        body = await self._call(
            "credentials/info",
            {"credentialID": credential_id, "certificates": "chain", "certInfo": False},
            credential=credential_id,
            interactive=interactive,
            budget=budget,
        )
        return parse_credential_info(self.provider, credential_id, body)

    async def authorize(
        self,
        credential_id: str,
        hashes: list[bytes],
        hash_oid: str,
        *,
        pin: str | None = None,
        otp: str | None = None,
        description: str = "",
        timeout: float | None = None,
    ) -> Authorization:
        """``credentials/authorize`` for exactly these hashes (hash pinning works for SCAL 1
        and is required for SCAL 2). ``timeout``: how long the service may take to answer
        (default: the provider's ``timeout_seconds``)."""
        check_hash_count(hashes, "credentials/authorize")
        b64 = [base64.b64encode(h).decode() for h in hashes]
        body: dict[str, Any] = {"credentialID": credential_id, "numSignatures": len(hashes)}
        if self.v1:
            body["hash"] = b64
        else:
            body["hashes"] = b64
            body["hashAlgorithmOID"] = hash_oid
        if pin is not None:
            body["PIN"] = pin
        if otp is not None:
            body["OTP"] = otp
        if description:
            body["description"] = description[:500]
        answer = await self._call(
            "credentials/authorize", body, credential=credential_id, timeout=timeout
        )
        sad = answer.get("SAD")
        if not isinstance(sad, str) or not sad:
            raise KysoError(
                "REMOTE_PROTOCOL_ERROR",
                {"provider": self.provider.label, "detail": "credentials/authorize: no SAD"},
            )
        expires = lifetime_seconds(answer.get("expiresIn"))
        expires_at = time.monotonic() + expires if expires is not None else None
        return Authorization(sad, len(hashes), expires_at)

    async def authorize_oauth(
        self, credential_id: str, hashes: list[bytes], hash_oid: str, *, description: str = ""
    ) -> Authorization:
        """Authorise an ``oauth2code`` credential (CSC v2 ``oauth2/authorize`` with scope
        ``credential``): the user approves these hashes at the provider's page in the browser,
        and the access token returned stands for the SAD. Needs the provider's OAuth2 client
        (any configured ``auth_flow`` but ``none``)."""
        check_hash_count(hashes, "oauth2/authorize")
        if not isinstance(self.auth, OAuthClient):
            raise KysoError(
                "REMOTE_PROTOCOL_ERROR",
                {
                    "provider": self.provider.label,
                    "detail": "the credential needs oauth2code, the provider has no client_id",
                },
            )
        token, lifetime = await self.auth.credential_token(
            credential_id, hashes, hash_oid, description
        )
        expires_at = time.monotonic() + lifetime if lifetime else None
        return Authorization(token, len(hashes), expires_at, bearer=True)

    async def sign_hash(
        self,
        credential_id: str,
        authorization: Authorization,
        hashes: list[bytes],
        algo: SignAlgo,
    ) -> list[bytes]:
        """``signatures/signHash``: one raw signature per hash, in order; the answer is
        read within :func:`answer_cap` for that many signatures, and must hold exactly that
        many."""
        check_hash_count(hashes, "signatures/signHash")
        if authorization.expired:
            raise KysoError("REMOTE_TOKEN_EXPIRED", {"provider": self.provider.label})
        b64 = [base64.b64encode(h).decode() for h in hashes]
        body: dict[str, Any] = {"credentialID": credential_id, "signAlgo": algo.sign_oid}
        if not authorization.bearer:
            body["SAD"] = authorization.sad
        if self.v1:
            body.update({"hash": b64, "hashAlgo": algo.hash_oid})
        else:
            body.update({"hashes": b64, "hashAlgorithmOID": algo.hash_oid})
        if algo.params_b64:
            body["signAlgoParams"] = algo.params_b64
        answer = await self._call(
            "signatures/signHash",
            body,
            credential=credential_id,
            token=authorization.sad if authorization.bearer else None,
            max_bytes=answer_cap("signatures/signHash", len(hashes)),
        )
        sigs = answer.get("signatures")
        try:
            if not isinstance(sigs, list) or len(sigs) != len(hashes):
                raise ValueError
            return [base64.b64decode(s, validate=True) for s in sigs]
        except (TypeError, ValueError, binascii.Error):
            raise KysoError(
                "REMOTE_PROTOCOL_ERROR",
                {
                    "provider": self.provider.label,
                    "detail": f"signatures/signHash: expected {len(hashes)} signatures",
                },
            ) from None
