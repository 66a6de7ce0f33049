"""The demo and test PKI: a root CA, an issuing CA and a CRL, with software keys on disk.

For demos and tests only. End-entity keys live on SoftHSM2 tokens; only the two CAs have
software keys here, so that certificates can be issued for keys generated on the tokens.
Subjects follow the Vietnamese conventions (FIELD-NOTES): ``UID=MST:...`` for organisations and
branches, ``UID=CCCD:...`` for persons, and one CA style that puts ``MST:`` in ``O=``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from agent.localtls.issue import CA_KEY_USAGE

UNIT_MST = "0101234567"
# The demo's revocation services (OCSP, CRLs, the issuing CA for AIA) answer on this loopback
# port, beside the portal (8600) and its mail sink (8625); $KYSO_DEMO_PKI_PORT moves it (the
# tests take a free port). The URLs are written into the certificates when the demo is made.
DEFAULT_PKI_PORT = 8680
PKI_PORT_ENV = "KYSO_DEMO_PKI_PORT"
OCSP_NEXT_UPDATE_MINUTES = 60  # how long an OCSP answer says it stays valid (cache lifetime)


def pki_port() -> int:
    """The loopback port the demo's OCSP/CRL responder uses for a new demo."""
    value = os.environ.get(PKI_PORT_ENV, "")
    return int(value) if value.isdigit() and 0 < int(value) < 65536 else DEFAULT_PKI_PORT


@dataclass(frozen=True)
class PkiUrls:
    """Where the demo PKI publishes revocation data: always http://127.0.0.1:<port>/."""

    port: int

    @property
    def base(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ocsp(self) -> str:
        """The OCSP responder (POST, RFC 6960)."""
        return f"{self.base}/ocsp"

    @property
    def issuing_crl(self) -> str:
        """The issuing CA's CRL (DER)."""
        return f"{self.base}/issuing.crl"

    @property
    def root_crl(self) -> str:
        """The root CA's CRL (DER)."""
        return f"{self.base}/root.crl"

    @property
    def issuing_ca(self) -> str:
        """The issuing CA's certificate (DER), for AIA caIssuers."""
        return f"{self.base}/issuing-ca.crt"

    @property
    def root_ca(self) -> str:
        """The root CA's certificate (DER), for the issuing CA's AIA caIssuers."""
        return f"{self.base}/root-ca.crt"


def _name(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


@dataclass(frozen=True)
class Profile:
    """One demo end-entity certificate: who it names and how it is (deliberately) flawed."""

    name: str  # stable handle used by tests and `demo-token info`
    token: int  # 1 or 2
    key_id: int
    subject: x509.Name
    key_kind: str = "RSA"
    valid_from_days: int = -1  # relative to now
    valid_days: int = 730
    revoked: bool = False
    signing_key_usage: bool = True
    description: str = ""


def _unit(cn: str, uid: str, *, o: str | None = None) -> x509.Name:
    pairs = [(NameOID.COUNTRY_NAME, "VN"), (NameOID.STATE_OR_PROVINCE_NAME, "Hà Nội")]
    if o:
        pairs.append((NameOID.ORGANIZATION_NAME, o))
    pairs.append((NameOID.COMMON_NAME, cn))
    if uid:
        pairs.append((NameOID.USER_ID, uid))
    return _name(*pairs)


UNIT_NAME = "Công ty TNHH Giải pháp Kyso Việt Nam"

PROFILES: tuple[Profile, ...] = (
    Profile(
        "org",
        1,
        1,
        _unit(UNIT_NAME, f"MST:{UNIT_MST}"),
        description="the unit's organisation certificate (RSA-2048)",
    ),
    Profile(
        "branch",
        1,
        2,
        _unit("Chi nhánh Đà Nẵng - Công ty TNHH Kyso", f"MST:{UNIT_MST}-001"),
        description="a branch: MST with a -001 suffix",
    ),
    Profile(
        "personal",
        1,
        3,
        _unit("Nguyễn Thị Hồng Nhung", "CCCD:001190012345"),
        description="a person's certificate with a CCCD number",
    ),
    Profile(
        "org_in_o",
        1,
        4,
        _unit("Công ty Cổ phần Thương mại Hòa Bình", "", o="MST:0109876543"),
        description="a CA that puts MST: in O= instead of UID",
    ),
    Profile(
        "ec",
        1,
        5,
        _unit("Hộ kinh doanh Trần Văn Bình", "MST:8012345678"),
        key_kind="EC",
        description="an ECDSA P-256 key",
    ),
    Profile(
        "expired",
        1,
        6,
        _unit(UNIT_NAME, f"MST:{UNIT_MST}"),
        valid_from_days=-800,
        valid_days=400,
        description="expired a year ago",
    ),
    Profile(
        "not_yet_valid",
        1,
        7,
        _unit(UNIT_NAME, f"MST:{UNIT_MST}"),
        valid_from_days=30,
        description="valid only from 30 days from now",
    ),
    Profile(
        "revoked",
        1,
        8,
        _unit(UNIT_NAME, f"MST:{UNIT_MST}"),
        revoked=True,
        description="revoked: listed in the issuing CA's CRL",
    ),
    Profile(
        "no_key_usage",
        1,
        9,
        _unit(UNIT_NAME, f"MST:{UNIT_MST}"),
        signing_key_usage=False,
        description="key usage keyEncipherment only: not for signing",
    ),
    Profile(
        "org_renewed",
        2,
        1,
        _unit(UNIT_NAME, f"MST:{UNIT_MST}"),
        description="the unit's new certificate on token 2 (change-certificate flow)",
    ),
)


@dataclass
class TestCA:
    """The two CAs with their keys, loaded from or written to a directory, and the issuing
    CA's delegated OCSP responder (absent in demos made before it existed)."""

    root_cert: x509.Certificate
    root_key: rsa.RSAPrivateKey
    issuing_cert: x509.Certificate
    issuing_key: rsa.RSAPrivateKey
    ocsp_cert: x509.Certificate | None = None
    ocsp_key: rsa.RSAPrivateKey | None = None
    directory: Path | None = None  # where save/load keep it: its index and CRLs live there

    @classmethod
    def create(cls, urls: PkiUrls | None = None) -> TestCA:
        """Make a new root and issuing CA (RSA-2048, software keys) and an OCSP responder
        certificate; ``urls`` (default: :func:`pki_port`) go into the CRL DP extensions."""
        urls = urls or PkiUrls(pki_port())
        now = dt.datetime.now(dt.UTC)
        root_key = rsa.generate_private_key(65537, 2048)
        root_name = _name(
            (NameOID.COUNTRY_NAME, "VN"),
            (NameOID.ORGANIZATION_NAME, "Kyso Test PKI"),
            (NameOID.COMMON_NAME, "Kyso Test Root CA"),
        )
        root = _ca_builder(
            root_name, root_name, root_key.public_key(), root_key.public_key(), now, path_length=1
        ).sign(root_key, hashes.SHA256())
        issuing_key = rsa.generate_private_key(65537, 2048)
        issuing_name = _name(
            (NameOID.COUNTRY_NAME, "VN"),
            (NameOID.ORGANIZATION_NAME, "Kyso Test PKI"),
            (NameOID.COMMON_NAME, "Kyso Test Issuing CA"),
        )
        issuing = (
            _ca_builder(
                issuing_name,
                root_name,
                issuing_key.public_key(),
                root_key.public_key(),
                now,
                path_length=0,
            )
            .add_extension(_crl_dp(urls.root_crl), critical=False)
            .add_extension(_ca_issuers(urls.root_ca), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        ca = cls(root, root_key, issuing, issuing_key)
        ca.ocsp_key = rsa.generate_private_key(65537, 2048)
        ca.ocsp_cert = ca._ocsp_responder(ca.ocsp_key, now)
        return ca

    def _ocsp_responder(self, key: rsa.RSAPrivateKey, now: dt.datetime) -> x509.Certificate:
        # A delegated responder (RFC 6960 §4.2.2.2): issued by the issuing CA for
        # id-kp-OCSPSigning only, with id-pkix-ocsp-nocheck so clients do not ask about it.
        return (
            x509.CertificateBuilder()
            .subject_name(
                _name(
                    (NameOID.COUNTRY_NAME, "VN"),
                    (NameOID.ORGANIZATION_NAME, "Kyso Test PKI"),
                    (NameOID.COMMON_NAME, "Kyso Test OCSP Responder"),
                )
            )
            .issuer_name(self.issuing_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
            )
            .add_extension(x509.OCSPNoCheck(), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.issuing_key.public_key()),
                critical=False,
            )
            .sign(self.issuing_key, hashes.SHA256())
        )

    def save(self, directory: Path) -> None:
        """Write certificates (PEM) and keys (PEM, unencrypted: test material only)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        _write(directory / "root-ca.pem", self.root_cert.public_bytes(serialization.Encoding.PEM))
        _write(
            directory / "issuing-ca.pem", self.issuing_cert.public_bytes(serialization.Encoding.PEM)
        )
        _write(directory / "root-ca.key", _key_pem(self.root_key), private=True)
        _write(directory / "issuing-ca.key", _key_pem(self.issuing_key), private=True)
        _write(
            directory / "chain.pem",
            self.issuing_cert.public_bytes(serialization.Encoding.PEM)
            + self.root_cert.public_bytes(serialization.Encoding.PEM),
        )
        if self.ocsp_cert is not None and self.ocsp_key is not None:
            _write(
                directory / "ocsp-responder.pem",
                self.ocsp_cert.public_bytes(serialization.Encoding.PEM),
            )
            _write(directory / "ocsp-responder.key", _key_pem(self.ocsp_key), private=True)

    @classmethod
    def load(cls, directory: Path) -> TestCA:
        """Read a CA pair written by :meth:`save`."""

        def key(name: str) -> rsa.RSAPrivateKey:
            loaded = serialization.load_pem_private_key((directory / name).read_bytes(), None)
            assert isinstance(loaded, rsa.RSAPrivateKey)
            return loaded

        ca = cls(
            x509.load_pem_x509_certificate((directory / "root-ca.pem").read_bytes()),
            key("root-ca.key"),
            x509.load_pem_x509_certificate((directory / "issuing-ca.pem").read_bytes()),
            key("issuing-ca.key"),
            directory=directory,
        )
        if (directory / "ocsp-responder.pem").exists():  # older demos have no responder
            ca.ocsp_cert = x509.load_pem_x509_certificate(
                (directory / "ocsp-responder.pem").read_bytes()
            )
            ca.ocsp_key = key("ocsp-responder.key")
        return ca

    def issue(
        self,
        profile: Profile,
        public_key: CertificatePublicKeyTypes,
        serial: int,
        urls: PkiUrls | None = None,
    ) -> x509.Certificate:
        """Issue the end-entity certificate a profile describes for a key made on a token,
        with CRL DP and AIA (OCSP, caIssuers) pointing at ``urls`` (default: :func:`pki_port`)."""
        urls = urls or PkiUrls(pki_port())
        now = dt.datetime.now(dt.UTC)
        start = now + dt.timedelta(days=profile.valid_from_days)
        ku = x509.KeyUsage(
            digital_signature=profile.signing_key_usage,
            content_commitment=profile.signing_key_usage,
            key_encipherment=not profile.signing_key_usage or profile.key_kind == "RSA",
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(profile.subject)
            .issuer_name(self.issuing_cert.subject)
            .public_key(public_key)
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=profile.valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(ku, critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.issuing_key.public_key()),
                critical=False,
            )
        )
        return with_revocation_urls(builder, urls).sign(self.issuing_key, hashes.SHA256())

    def crls(
        self, revoked_serials: list[int], revoked_at: dt.datetime | None = None
    ) -> tuple[x509.CertificateRevocationList, x509.CertificateRevocationList]:
        """The issuing CA's CRL (listing ``revoked_serials``, revoked at ``revoked_at``,
        default a day ago) and the root's (empty)."""
        now = dt.datetime.now(dt.UTC)
        revoked_at = revoked_at or now - dt.timedelta(days=1)
        return (
            self.issuing_crl([(serial, revoked_at) for serial in revoked_serials]),
            _crl_builder(self.root_cert, now).sign(self.root_key, hashes.SHA256()),
        )

    def issuing_crl(
        self, revoked: list[tuple[int, dt.datetime]], number: int = 1
    ) -> x509.CertificateRevocationList:
        """The issuing CA's CRL number ``number`` listing ``revoked`` (serial, revoked at)."""
        issuing = _crl_builder(self.issuing_cert, dt.datetime.now(dt.UTC), number)
        for serial, revoked_at in revoked:
            issuing = issuing.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(revoked_at)
                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                .build()
            )
        return issuing.sign(self.issuing_key, hashes.SHA256())


def _ca_builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer_key: rsa.RSAPublicKey,
    now: dt.datetime,
    *,
    path_length: int,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=2))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            CA_KEY_USAGE,
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False
        )
    )


def _crl_builder(
    issuer: x509.Certificate, now: dt.datetime, number: int = 1
) -> x509.CertificateRevocationListBuilder:
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=30))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(_ca_public_key(issuer)),
            critical=False,
        )
    )


def with_revocation_urls(
    builder: x509.CertificateBuilder, urls: PkiUrls
) -> x509.CertificateBuilder:
    """An end-entity certificate's pointers to the demo responder: CRL DP (the issuing CA's
    CRL) and AIA (OCSP, caIssuers)."""
    return builder.add_extension(_crl_dp(urls.issuing_crl), critical=False).add_extension(
        x509.AuthorityInformationAccess(
            [
                x509.AccessDescription(
                    AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp)
                ),
                x509.AccessDescription(
                    AuthorityInformationAccessOID.CA_ISSUERS,
                    x509.UniformResourceIdentifier(urls.issuing_ca),
                ),
            ]
        ),
        critical=False,
    )


def _ca_issuers(url: str) -> x509.AuthorityInformationAccess:
    # Where a client finds the root to check the issuing CA's own status on the root's CRL.
    return x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url)
            )
        ]
    )


def _crl_dp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)]
    )


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def urls_of(issuing: x509.Certificate) -> PkiUrls | None:
    """The responder a demo PKI was made for, read back from its issuing CA's CRL DP (which
    names the root's CRL on it); None for a demo made before the responder existed."""
    try:
        points = issuing.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return None
    for point in points:
        for name in point.full_name or ():
            url = urlsplit(str(name.value))
            if url.hostname == "127.0.0.1" and url.path == "/root.crl" and url.port:
                return PkiUrls(url.port)
    return None


def _ca_public_key(cert: x509.Certificate) -> rsa.RSAPublicKey:
    """The demo CAs' keys are RSA (TestCA.create makes them)."""
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key
