"""Review 40: the chain walk found CAs fetched from caIssuers only while the *leaf* was fetched.

When no token holds the issuing CA (the token holds only the root here) the issuing CA was known only from what
``_fetch`` downloaded. A new process (every CLI run, an agent restart) whose leaf "good" was
still in the on-disk cache never fetched the leaf, so a revoked issuing CA was never asked
about. Issuers fetched are now kept on disk, and each missing level is fetched before the
statuses are asked (IssuerStore.walk). Network seams patched: chain_walk.download_issuer,
certstatus._ask_ocsp, _ask_crl (the real responders are in tests/server/test_chain_revocation.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from agent.errors import KysoError
from agent.signing import certstatus, chain_walk
from agent.signing.certstatus import StatusChecker, check_before_signing
from agent.signing.revinfo import CertStatus

NOW = dt.datetime.now(dt.UTC)


def _cert(name: str, issuer: Any, *, ca: bool, aia_issuer: str | None = None) -> Any:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=10))
        .not_valid_after(NOW + dt.timedelta(days=100))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        b = b.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
    point = x509.DistributionPoint(
        [x509.UniformResourceIdentifier(f"http://127.0.0.1:9/{name}.crl")], None, None, None
    )
    b = b.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if aia_issuer:
        b = b.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(aia_issuer),
                    )
                ]
            ),
            critical=False,
        )
    return b.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def _der(c: x509.Certificate) -> bytes:
    return c.public_bytes(serialization.Encoding.DER)


def _chain_with_revoked_ca(
    monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...], revoked: str
) -> dict[str, Any]:
    """leaf -> names[-1] -> ... -> names[0] (the root), only the root on the token (what
    confirms the CAs fetched below it), each naming its issuer's caIssuers; the CA called
    ``revoked`` listed on its issuer's CRL."""
    root = _cert(names[0], None, ca=True)
    cas = [root]
    for name in names[1:]:
        aia = f"http://127.0.0.1:9/{cas[-1][0].subject.rfc4514_string()}.cer"
        cas.append(_cert(name, cas[-1], ca=True, aia_issuer=aia))
    leaf = _cert("Leaf", cas[-1], ca=False, aia_issuer="http://127.0.0.1:9/issuing.cer")
    by_subject = {c[0].subject: c[0] for c in cas}
    asked: list[str] = []

    async def download(session: Any, cert: x509.Certificate, urls: Any) -> Any:
        return by_subject.get(cert.issuer) if list(urls) else None

    async def no_ocsp(*a: Any, **k: Any) -> None:
        return None

    async def crl(session: Any, cert: x509.Certificate, issuer: Any, urls: Any, now: Any, r: Any):
        name = cert.subject.rfc4514_string()
        asked.append(name)
        if name == f"CN={revoked}":
            return CertStatus("revoked", "CRL: revoked", "crl", now, revoked_at=now)
        return CertStatus("good", "CRL: good", "crl", now, next_update=now + dt.timedelta(hours=12))

    monkeypatch.setattr(chain_walk, "download_issuer", download)
    monkeypatch.setattr(certstatus, "_ask_ocsp", no_ocsp)
    monkeypatch.setattr(certstatus, "_ask_crl", crl)
    return {"leaf": _der(leaf[0]), "asked": asked, "token": [_der(root[0])]}


@pytest.fixture
def pki(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """leaf -> Issuing -> Root; the root revoked Issuing."""
    return _chain_with_revoked_ca(monkeypatch, ("Root", "Issuing"), revoked="Issuing")


async def test_first_process_refuses_the_revoked_issuing_ca(pki: dict[str, Any], tmp_path: Any):
    with pytest.raises(KysoError) as refused:
        await check_before_signing(StatusChecker(tmp_path), pki["leaf"], issuers=pki["token"])
    assert refused.value.code == "CERT_REVOKED"


async def test_next_process_with_the_leaf_cached_still_refuses(
    pki: dict[str, Any], tmp_path: Any
) -> None:
    """The second StatusChecker (next CLI run / restarted agent) reads the leaf's "good" from
    disk; it signed with a revoked issuing CA."""
    with pytest.raises(KysoError):
        await check_before_signing(StatusChecker(tmp_path), pki["leaf"], issuers=pki["token"])
    pki["asked"].clear()
    with pytest.raises(KysoError) as refused:
        await check_before_signing(StatusChecker(tmp_path), pki["leaf"], issuers=pki["token"])
    assert refused.value.code == "CERT_REVOKED", pki["asked"]


@pytest.fixture
def deep(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """leaf -> I2 -> I1 -> root; the root revoked I1."""
    return _chain_with_revoked_ca(monkeypatch, ("Root", "I1", "I2"), revoked="I1")


async def test_three_level_chain_first_signature_checks_every_ca(
    deep: dict[str, Any], tmp_path: Any
) -> None:
    """The walk was redone once after the leaf's fetch, not after each CA's: I1 (found only
    while I2 was fetched) was not asked about, and the revoked I1 signed."""
    with pytest.raises(KysoError) as refused:
        await check_before_signing(StatusChecker(tmp_path), deep["leaf"], issuers=deep["token"])
    assert refused.value.code == "CERT_REVOKED", deep["asked"]


def test_expired_ca_without_a_status_address_is_still_refused(tmp_path: Any) -> None:
    """The expiry test ran only over *checkable* CAs, though a CA's dates need no network: an
    expired issuing CA that names no CRL/OCSP (or whose issuer is unknown) let it sign."""
    import asyncio

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=900))
        .not_valid_after(NOW + dt.timedelta(days=900))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Expired CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(root_name)
        .public_key(ca_key.public_key())
        .serial_number(2)
        .not_valid_before(NOW - dt.timedelta(days=400))
        .not_valid_after(NOW - dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    leaf = _cert("Leaf", (ca, ca_key), ca=False)[0]

    class Stub(StatusChecker):
        async def status(self, cert_der: bytes, issuers: Any = (), now: Any = None) -> CertStatus:
            return CertStatus(
                "good", "OCSP: good", "ocsp", NOW, next_update=NOW + dt.timedelta(hours=1)
            )

    with pytest.raises(KysoError) as refused:
        asyncio.run(
            check_before_signing(Stub(tmp_path), _der(leaf), issuers=[_der(ca), _der(root)])
        )
    assert refused.value.code == "CERT_EXPIRED"
