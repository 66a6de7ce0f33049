"""A small PKI (EC keys) and a loopback HTTP server whose routes a test sets (from red team 42)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

NOW = dt.datetime.now(dt.UTC)


def der(cert: Any) -> bytes:
    """DER of a certificate."""
    return cert.public_bytes(serialization.Encoding.DER)


def cert(
    name: str,
    issuer: tuple[x509.Certificate, Any] | None,
    *,
    ca: bool,
    key: Any = None,
    crl: str | None = None,
    ca_issuers: list[str] | None = None,
    days: tuple[int, int] = (-10, 100),
    issuer_name: x509.Name | None = None,
    signer: Any = None,
) -> tuple[x509.Certificate, Any]:
    """A certificate and its key, issued by ``issuer`` (certificate, key), self-signed if None;
    ``signer`` signs instead of the issuer's key (forgeries)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or (issuer[0].subject if issuer else subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement"), False
    )
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=not ca,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    if crl:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if ca_issuers:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(u),
                    )
                    for u in ca_issuers
                ]
            ),
            critical=False,
        )
    signer = signer or (issuer[1] if issuer else key)
    return builder.sign(signer, hashes.SHA256()), key


def crl(issuer: tuple[x509.Certificate, Any], revoked_serials: Sequence[int] = ()) -> bytes:
    """A DER CRL of ``issuer`` listing ``revoked_serials`` (key compromise)."""
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=issuer[0].subject,
        last_update=NOW - dt.timedelta(hours=1),
        next_update=NOW + dt.timedelta(days=7),
        revoked_certificates=[
            x509.RevokedCertificateBuilder()
            .serial_number(s)
            .revocation_date(NOW - dt.timedelta(days=1))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
            for s in revoked_serials
        ],
    )
    return builder.sign(issuer[1], hashes.SHA256()).public_bytes(serialization.Encoding.DER)


class Server:
    """aiohttp on 127.0.0.1; ``routes`` maps a path to bytes or to an async handler."""

    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}
        self.hits: list[str] = []
        self.port = 0
        self._runner: Any = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404)
        if callable(route):
            return await route(request)
        return web.Response(body=route)

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)  # hung handlers end here
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self._runner.cleanup()


async def free_port() -> int:
    """A loopback port free a moment ago (certificates name it before the server starts)."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


class PublicKeyOf:
    """Stands for a key the attacker does not have: :func:`cert` reads only its public key."""

    def __init__(self, certificate: x509.Certificate) -> None:
        self._certificate = certificate

    def public_key(self) -> Any:
        return self._certificate.public_key()


def self_issued_copy(ca: tuple[x509.Certificate, Any]) -> bytes:
    """DER of a forgery of ``ca``: its name and public key (both public), self-issued, signed
    by a key of the attacker's own."""
    attacker = ec.generate_private_key(ec.SECP256R1())
    name = ca[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    copy, _ = cert(str(name), None, ca=True, key=PublicKeyOf(ca[0]), signer=attacker)
    return der(copy)


def three_level_chain(base: str) -> tuple[Any, Any, Any]:
    """Root CA -> Issuing CA -> leaf ("Cong ty A"), each (certificate, key), naming addresses
    under ``base``: the leaf /issuing.crl and caIssuers /i.cer, the issuing CA /root.crl and
    caIssuers /root.cer."""
    root = cert("Root CA", None, ca=True)
    issuing = cert(
        "Issuing CA", root, ca=True, crl=f"{base}/root.crl", ca_issuers=[f"{base}/root.cer"]
    )
    leaf = cert(
        "Cong ty A", issuing, ca=False, crl=f"{base}/issuing.crl", ca_issuers=[f"{base}/i.cer"]
    )
    return root, issuing, leaf
