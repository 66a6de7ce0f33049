"""One async signer interface that every signature format uses (modelled on pyHanko's Signer).

Formats never call the token layer directly: they get a :class:`Signer`, which knows its
certificate and produces raw signatures. :class:`TokenSigner` wraps a logged-in token key;
:class:`SoftwareSigner` wraps a key in memory (tests, and nothing else).
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

from agent.tokens.algorithms import KeyKind, SignatureAlgorithm, check_digest, hash_algorithm
from agent.tokens.certinfo import CertificateInfo, parse_certificate
from agent.tokens.service import KeySession

if TYPE_CHECKING:
    # Only SoftwareSigner (tests) needs cryptography: imported where it runs, not here.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed


class Signer(abc.ABC):
    """Produces raw signatures with one certificate's key."""

    @property
    @abc.abstractmethod
    def certificate(self) -> CertificateInfo:
        """The signer's certificate (``.der`` has the bytes, ``.certificate`` the object)."""

    @abc.abstractmethod
    async def sign(self, data: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Sign ``data``. ECDSA signatures are DER-encoded."""

    @abc.abstractmethod
    async def sign_digest(self, digest: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Sign a precomputed digest made with the algorithm's hash."""

    @property
    def chain(self) -> tuple[bytes, ...]:
        """The CA certificates (DER) from the signer's issuer towards its root, the root left
        out (:func:`agent.tokens.chain.issuer_chain`): what a CMS or PDF signature carries for
        a verifier that trusts only the root. Empty when none is at hand."""
        return ()

    @property
    def key_kind(self) -> KeyKind:
        """RSA or EC, from the certificate."""
        return KeyKind(self.certificate.key_type)

    def default_algorithm(self, hash_name: str = "sha256") -> SignatureAlgorithm:
        """PKCS#1 v1.5 for RSA keys, ECDSA for EC keys, with the given hash."""
        return SignatureAlgorithm.default_for(self.key_kind, hash_name)


class TokenSigner(Signer):
    """A signer backed by a logged-in key on a PKCS#11 token."""

    def __init__(self, key: KeySession) -> None:
        self._key = key

    @property
    def certificate(self) -> CertificateInfo:
        """The token certificate's parsed form."""
        return self._key.certificate.info

    @property
    def chain(self) -> tuple[bytes, ...]:
        """The issuing CAs stored on the token beside the certificate (found when listing)."""
        return self._key.certificate.chain

    async def sign(self, data: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Sign on the token."""
        return await self._key.sign(data, algorithm)

    async def sign_digest(self, digest: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Sign a digest on the token."""
        return await self._key.sign_digest(digest, algorithm)


class SoftwareSigner(Signer):
    """A signer over an in-memory key: for tests of formats without a token. Never in product
    paths (keys on disk are exactly what tokens exist to avoid)."""

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        certificate: x509.Certificate,
        chain: tuple[bytes, ...] = (),
    ) -> None:
        from cryptography.hazmat.primitives import serialization

        self._private_key = private_key
        self._certificate = parse_certificate(certificate.public_bytes(serialization.Encoding.DER))
        self._chain = chain

    @property
    def chain(self) -> tuple[bytes, ...]:
        """The CA certificates given at construction."""
        return self._chain

    @property
    def certificate(self) -> CertificateInfo:
        """The certificate given at construction."""
        return self._certificate

    async def sign(self, data: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Sign in software."""
        return self._sign(data, algorithm, hash_algorithm(algorithm))

    async def sign_digest(self, digest: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Sign a digest in software."""
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        check_digest(algorithm, digest)
        return self._sign(digest, algorithm, Prehashed(hash_algorithm(algorithm)))

    def _sign(
        self, payload: bytes, algorithm: SignatureAlgorithm, h: hashes.HashAlgorithm | Prehashed
    ) -> bytes:
        from cryptography.hazmat.primitives.asymmetric import ec, padding

        key = self._private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(payload, ec.ECDSA(h))
        if algorithm.is_pss:
            pss = padding.PSS(
                mgf=padding.MGF1(hash_algorithm(algorithm)), salt_length=algorithm.digest_size
            )
            return key.sign(payload, pss, h)
        return key.sign(payload, padding.PKCS1v15(), h)
