"""The signature algorithms Kyso speaks, by name. Pure logic, no I/O, no PKCS#11.

How each maps onto what a token offers is in :mod:`agent.tokens.mechanisms`, which only the
module layer imports: code that names an algorithm (the server, the signing formats) does not
load python-pkcs11 or cryptography.
"""

from __future__ import annotations

import enum
import hashlib
from typing import TYPE_CHECKING

from agent.errors import invalid_input

if TYPE_CHECKING:
    from cryptography.hazmat.primitives import hashes


class KeyKind(enum.StrEnum):
    """The families of keys the agent signs with."""

    RSA = "RSA"
    EC = "EC"


class SignatureAlgorithm(enum.StrEnum):
    """Every signature the token layer can produce. Values are the wire names."""

    RSA_PKCS1_SHA1 = "RSA_PKCS1_SHA1"
    RSA_PKCS1_SHA256 = "RSA_PKCS1_SHA256"
    RSA_PKCS1_SHA384 = "RSA_PKCS1_SHA384"
    RSA_PKCS1_SHA512 = "RSA_PKCS1_SHA512"
    RSA_PSS_SHA256 = "RSA_PSS_SHA256"
    RSA_PSS_SHA384 = "RSA_PSS_SHA384"
    RSA_PSS_SHA512 = "RSA_PSS_SHA512"
    ECDSA_SHA256 = "ECDSA_SHA256"
    ECDSA_SHA384 = "ECDSA_SHA384"
    ECDSA_SHA512 = "ECDSA_SHA512"

    @property
    def hash_name(self) -> str:
        """hashlib's name of the digest: sha1, sha256, sha384 or sha512."""
        return self.value.rsplit("_", 1)[1].lower()

    @property
    def digest_size(self) -> int:
        """Length in bytes of the digest this algorithm signs."""
        return hashlib.new(self.hash_name).digest_size

    @property
    def key_kind(self) -> KeyKind:
        """Which kind of key signs with this algorithm."""
        return KeyKind.EC if self.value.startswith("ECDSA") else KeyKind.RSA

    @property
    def is_pss(self) -> bool:
        """True for RSASSA-PSS."""
        return "_PSS_" in self.value

    @property
    def jose_name(self) -> str:
        """The JOSE name (RS256, PS256, ES256...) used by Web eID tokens."""
        prefix = {"RSA_PKCS1": "RS", "RSA_PSS": "PS", "ECDSA": "ES"}[self.value.rsplit("_", 1)[0]]
        return prefix + self.hash_name.removeprefix("sha")

    @classmethod
    def from_jose(cls, name: str) -> SignatureAlgorithm:
        """The algorithm for a JOSE name such as ``RS256``."""
        for alg in cls:
            if alg.jose_name == name:
                return alg
        raise invalid_input(f"unknown algorithm {name!r}", f"không có thuật toán {name!r}")

    @classmethod
    def default_for(cls, kind: KeyKind, hash_name: str = "sha256") -> SignatureAlgorithm:
        """RSA PKCS#1 v1.5 or ECDSA with the given hash: the usual choice for a key kind."""
        prefix = "ECDSA" if kind is KeyKind.EC else "RSA_PKCS1"
        return cls(f"{prefix}_{hash_name.upper()}")


def digest(algorithm: SignatureAlgorithm, data: bytes) -> bytes:
    """Hash ``data`` with the algorithm's hash."""
    return hashlib.new(algorithm.hash_name, data).digest()


def hash_algorithm(algorithm: SignatureAlgorithm) -> hashes.HashAlgorithm:
    """cryptography's hash for ``algorithm`` (to sign or verify with; imported here, when first
    asked: the agent starts without cryptography)."""
    from cryptography.hazmat.primitives import hashes

    kinds: dict[str, type[hashes.HashAlgorithm]] = {
        "sha1": hashes.SHA1,
        "sha256": hashes.SHA256,
        "sha384": hashes.SHA384,
        "sha512": hashes.SHA512,
    }
    return kinds[algorithm.hash_name]()


def check_digest(algorithm: SignatureAlgorithm, digest_value: bytes) -> None:
    """Refuse a precomputed hash whose length does not match the algorithm."""
    if len(digest_value) != algorithm.digest_size:
        raise invalid_input(
            f"a {algorithm.hash_name} digest is {algorithm.digest_size} bytes, "
            f"got {len(digest_value)}",
            f"mã băm {algorithm.hash_name} dài {algorithm.digest_size} byte, nhưng mã băm nhận "
            f"được dài {len(digest_value)} byte",
        )


_HASH_BY_LENGTH = {20: "sha1", 32: "sha256", 48: "sha384", 64: "sha512"}


def hash_for_length(length: int) -> str:
    """The hash a digest of ``length`` bytes was made with; INPUT_INVALID when none fits."""
    if length not in _HASH_BY_LENGTH:
        raise invalid_input(
            f"a digest of {length} bytes matches no supported hash",
            f"mã băm dài {length} byte không ứng với hàm băm nào được hỗ trợ",
        )
    return _HASH_BY_LENGTH[length]


def check_digest_length(digest: bytes, hash_name: str) -> None:
    """Refuse a page's digest that is not as long as ``hash_name``'s (INPUT_INVALID)."""
    expected = hashlib.new(hash_name).digest_size
    if len(digest) != expected:
        raise invalid_input(
            f"a {hash_name} digest is {expected} bytes, got {len(digest)}",
            f"mã băm {hash_name} dài {expected} byte, nhưng mã băm nhận được dài "
            f"{len(digest)} byte",
        )


def ecdsa_raw_to_der(raw: bytes) -> bytes:
    """Convert a PKCS#11 ECDSA signature (r ‖ s) to the DER form X.509 and XML-DSig tools use."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    half = len(raw) // 2
    return encode_dss_signature(
        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    )


def ecdsa_der_to_raw(der: bytes, curve_bits: int) -> bytes:
    """The DER form back to r ‖ s, each padded to the curve's size (XML-DSig 1.1 §6.4.3, RFC 4050;
    JOSE's ES256/384/512)."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(der)
    size = (curve_bits + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")
