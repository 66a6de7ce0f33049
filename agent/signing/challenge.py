"""Origin-bound challenge tokens in Web eID's authentication-token format 1.0.

The agent signs ``H(origin) ‖ H(nonce)`` where the origin is the one the agent saw on the
connection (never one the page claims) and H is the hash of the JOSE algorithm (SHA-256 for
RS256/PS256/ES256...). The token is the JSON object Web eID publishes::

    {"unverifiedCertificate": "<base64 DER>", "algorithm": "RS256",
     "signature": "<base64>", "format": "web-eid:1.0", "appVersion": "https://..."}

ECDSA signatures are raw ``r ‖ s`` (JOSE style), RSA signatures the PKCS#1 octet string.
Portals validate with :func:`validate_auth_token` (or any Web eID server-side validator);
nonce freshness and single use are the portal's job. See docs/challenge-tokens.md.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agent.errors import KysoError, invalid_input
from agent.signing.signer import Signer
from agent.tokens.algorithms import KeyKind, SignatureAlgorithm, ecdsa_der_to_raw
from agent.tokens.certinfo import CertificateInfo

if TYPE_CHECKING:  # validation is the portal's side; the agent only creates tokens
    from agent.signing.trust import TrustStore

TOKEN_FORMAT = "web-eid:1.0"
# Web eID's validators accept "web-eid:1" and "web-eid:1.N" (canonical numbers only).
_FORMAT_PATTERN = re.compile(r"^web-eid:1(?:\.(0|[1-9]\d{0,8}))?$")
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
# JOSE binds each ES algorithm to one curve (RFC 7518 §3.4).
_CURVE_FOR = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
_ES_FOR_CURVE = {curve: alg for alg, curve in _CURVE_FOR.items()}
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MIN_NONCE_LENGTH = 43  # base64url of 32 random bytes (Web eID issues 32-byte nonces)
MAX_NONCE_LENGTH = 1024


def check_origin(origin: str) -> str:
    """Refuse anything that is not a serialized web origin ``scheme://host[:port]``.

    HTTPS only, except plain HTTP on loopback hosts for local development. The string is
    returned unchanged: signer and validator must hash exactly the same characters.
    """
    try:
        parts = urlsplit(origin)
        host = parts.hostname
        parts.port  # noqa: B018 — raises ValueError on a malformed port
    except (ValueError, TypeError, AttributeError) as exc:
        raise invalid_input(
            f"origin {origin!r} is not a URL",
            f"địa chỉ trang (origin) {origin!r} không phải một URL",
        ) from exc
    plain_http_ok = parts.scheme == "http" and host in _LOOPBACK_HOSTS
    if (
        (parts.scheme != "https" and not plain_http_ok)
        or not host
        or parts.path
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
        or origin != origin.strip()
    ):
        raise invalid_input(
            f"{origin!r} is not a web origin (https://host[:port], no path)",
            f"{origin!r} không phải địa chỉ trang (origin) dạng https://host[:port], không kèm "
            "đường dẫn",
        )
    return origin


def signed_data(algorithm: str, origin: str, nonce: str) -> bytes:
    """The bytes a token signature covers: H(origin) ‖ H(nonce), both UTF-8, H per algorithm."""
    hash_name = "sha" + algorithm[2:]
    return (
        hashlib.new(hash_name, origin.encode("utf-8")).digest()
        + hashlib.new(hash_name, nonce.encode("utf-8")).digest()
    )


def _check_nonce_for_signing(nonce: str) -> None:
    if not isinstance(nonce, str) or not MIN_NONCE_LENGTH <= len(nonce) <= MAX_NONCE_LENGTH:
        raise invalid_input(
            f"the challenge nonce must be {MIN_NONCE_LENGTH}–{MAX_NONCE_LENGTH} "
            "characters (e.g. base64url of 32 random bytes)",
            f"mã thử thách (nonce) phải dài {MIN_NONCE_LENGTH}–{MAX_NONCE_LENGTH} ký tự (ví dụ "
            "base64url của 32 byte ngẫu nhiên)",
        )


def _default_jose(signer: Signer) -> str:
    info = signer.certificate
    if info.key_type == KeyKind.EC.value:
        if info.curve not in _ES_FOR_CURVE:
            raise invalid_input(
                f"curve {info.curve} has no JOSE name",
                f"đường cong {info.curve} không có tên thuật toán JOSE",
            )
        return _ES_FOR_CURVE[info.curve]
    return "RS256"


async def create_auth_token(
    signer: Signer, *, origin: str, nonce: str, app_version: str, algorithm: str | None = None
) -> dict[str, str]:
    """Sign a challenge for ``origin`` and return a Web eID 1.0 authentication token.

    ``origin`` must be the origin the agent itself saw (the connection's Origin header).
    ``algorithm`` is a JOSE name (RS256, PS256, ES256...); by default RS256 for RSA keys and
    the curve's ES algorithm for EC keys.
    """
    check_origin(origin)
    _check_nonce_for_signing(nonce)
    jose = algorithm or _default_jose(signer)
    if jose not in ALLOWED_ALGORITHMS:
        raise invalid_input(
            f"unsupported algorithm {jose!r}", f"thuật toán {jose!r} không được hỗ trợ"
        )
    sig_alg = SignatureAlgorithm.from_jose(jose)
    info = signer.certificate
    if sig_alg.key_kind.value != info.key_type or (
        info.key_type == "EC" and _CURVE_FOR[jose] != info.curve
    ):
        raise invalid_input(
            f"{jose} does not fit this certificate's key",
            f"thuật toán {jose} không phù hợp với khóa của chứng thư số này",
        )
    signature = await signer.sign(signed_data(jose, origin, nonce), sig_alg)
    if sig_alg.key_kind is KeyKind.EC:
        signature = ecdsa_der_to_raw(signature, info.key_size)
    return {
        "unverifiedCertificate": base64.b64encode(info.der).decode("ascii"),
        "algorithm": jose,
        "signature": base64.b64encode(signature).decode("ascii"),
        "format": TOKEN_FORMAT,
        "appVersion": app_version,
    }


def _field(token: Mapping[str, Any], name: str) -> str:
    value = token.get(name)
    if not isinstance(value, str) or not value:
        raise KysoError("AUTH_TOKEN_INVALID", {"detail": f"'{name}' is missing or empty"})
    return value


def _b64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KysoError("AUTH_TOKEN_INVALID", {"detail": f"'{name}' is not base64"}) from exc


def _verify_signature(cert_der: bytes, jose: str, signature: bytes, data: bytes) -> None:
    # Local imports: only the validator (the portal) needs cryptography's key objects.
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    public_key = x509.load_der_x509_certificate(cert_der).public_key()
    kinds: dict[str, type[hashes.HashAlgorithm]] = {
        "256": hashes.SHA256,
        "384": hashes.SHA384,
        "512": hashes.SHA512,
    }
    h = kinds[jose[2:]]()
    try:
        if jose.startswith("ES"):
            if not isinstance(public_key, ec.EllipticCurvePublicKey) or (
                public_key.curve.name != _CURVE_FOR[jose]
            ):
                raise InvalidSignature
            size = (public_key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                raise InvalidSignature
            der = encode_dss_signature(
                int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            )
            public_key.verify(der, data, ec.ECDSA(h))
        else:
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise InvalidSignature
            pad: padding.AsymmetricPadding = (
                padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
                if jose.startswith("PS")
                else padding.PKCS1v15()
            )
            public_key.verify(signature, data, pad, h)
    except InvalidSignature as exc:
        raise KysoError("AUTH_SIGNATURE_INVALID") from exc


def validate_auth_token(
    token: Mapping[str, Any],
    *,
    expected_origin: str,
    nonce: str,
    trust: TrustStore,
    at: dt.datetime | None = None,
) -> CertificateInfo:
    """Validate a Web eID 1.x authentication token for this site and this challenge.

    ``expected_origin`` is the portal's own origin (``https://host[:port]``) and ``nonce`` the
    challenge it issued and has just taken out of its store (freshness and single use are the
    caller's job). Checks the token's shape, the certificate (chain, validity at ``at``,
    revocation, key usage for authentication) and that the signature covers
    H(expected_origin) ‖ H(nonce). Returns the authenticated certificate (with MST/CCCD).
    Raises KysoError: AUTH_TOKEN_INVALID, AUTH_SIGNATURE_INVALID, CERT_*, CRL_*.
    """
    check_origin(expected_origin)
    if not isinstance(token, Mapping):
        raise KysoError("AUTH_TOKEN_INVALID", {"detail": "the token is not a JSON object"})
    if not isinstance(nonce, str) or not nonce:
        raise invalid_input(
            "the expected nonce is empty", "mã thử thách (nonce) cần đối chiếu đang trống"
        )
    token_format = _field(token, "format")
    if not _FORMAT_PATTERN.match(token_format):
        raise KysoError("AUTH_TOKEN_INVALID", {"detail": f"unsupported format {token_format!r}"})
    jose = _field(token, "algorithm")
    if jose not in ALLOWED_ALGORITHMS:
        raise KysoError("AUTH_TOKEN_INVALID", {"detail": f"unsupported algorithm {jose!r}"})
    cert_der = _b64(_field(token, "unverifiedCertificate"), "unverifiedCertificate")
    signature = _b64(_field(token, "signature"), "signature")
    from agent.signing.trust import validate_certificate  # pyhanko-certvalidator: at first use

    # As Web eID's validators do: the certificate first, then the signature with its key.
    info = validate_certificate(cert_der, trust, at=at, purpose="auth")
    _verify_signature(cert_der, jose, signature, signed_data(jose, expected_origin, nonce))
    return info


def parse_token(text: str | bytes) -> dict[str, Any]:
    """Parse a token posted as JSON text (bounded size), refusing anything but an object."""
    if len(text) > 64 * 1024:
        raise KysoError("AUTH_TOKEN_INVALID", {"detail": "the token is too large"})
    try:
        token = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KysoError("AUTH_TOKEN_INVALID", {"detail": "not JSON"}) from exc
    if not isinstance(token, dict):
        raise KysoError("AUTH_TOKEN_INVALID", {"detail": "the token is not a JSON object"})
    return token


# ---- binding a challenge to the action it authorises (for portals) -----------------------------


def new_nonce() -> str:
    """A fresh challenge nonce: base64url of 32 random bytes (43 characters, no padding)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def canonical_action(action: Mapping[str, Any]) -> bytes:
    """One byte string per action: JSON with sorted keys, no spaces, UTF-8 (Vietnamese kept)."""
    return json.dumps(action, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def action_nonce(action: Mapping[str, Any]) -> str:
    """A nonce that commits to ``action``: ``<random>.<base64url(SHA-256(canonical action))>``.

    The user's signature then covers the action itself, not only a random number: a token
    obtained for "register" cannot be replayed to approve "change certificate".
    """
    digest = hashlib.sha256(canonical_action(action)).digest()
    return new_nonce() + "." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def nonce_binds(nonce: str, action: Mapping[str, Any]) -> bool:
    """True when ``nonce`` (from :func:`action_nonce`) was made for exactly this action."""
    _, _, bound = nonce.partition(".")
    digest = hashlib.sha256(canonical_action(action)).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return secrets.compare_digest(bound, expected)
