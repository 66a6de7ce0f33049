"""Signature algorithms and how each maps onto what a token offers. Pure logic, no I/O.

Some tokens only list ``CKM_RSA_PKCS``: the caller then hashes and wraps the digest in a
DigestInfo. Others offer combined mechanisms (``CKM_SHA256_RSA_PKCS``) that take the data. The
plan chosen here is what the token layer executes on the module's thread.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from asn1crypto import algos, core
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import MGF, Mechanism

from agent.errors import KysoError


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
        raise KysoError("INPUT_INVALID", {"detail": f"unknown algorithm {name!r}"})

    @classmethod
    def default_for(cls, kind: KeyKind, hash_name: str = "sha256") -> SignatureAlgorithm:
        """RSA PKCS#1 v1.5 or ECDSA with the given hash: the usual choice for a key kind."""
        prefix = "ECDSA" if kind is KeyKind.EC else "RSA_PKCS1"
        return cls(f"{prefix}_{hash_name.upper()}")


_HASH_MECH = {
    "sha1": Mechanism.SHA_1,
    "sha256": Mechanism.SHA256,
    "sha384": Mechanism.SHA384,
    "sha512": Mechanism.SHA512,
}
_MGF = {"sha1": MGF.SHA1, "sha256": MGF.SHA256, "sha384": MGF.SHA384, "sha512": MGF.SHA512}
_RSA_COMBINED = {
    "sha1": Mechanism.SHA1_RSA_PKCS,
    "sha256": Mechanism.SHA256_RSA_PKCS,
    "sha384": Mechanism.SHA384_RSA_PKCS,
    "sha512": Mechanism.SHA512_RSA_PKCS,
}
_PSS_COMBINED = {
    "sha1": Mechanism.SHA1_RSA_PKCS_PSS,
    "sha256": Mechanism.SHA256_RSA_PKCS_PSS,
    "sha384": Mechanism.SHA384_RSA_PKCS_PSS,
    "sha512": Mechanism.SHA512_RSA_PKCS_PSS,
}
_ECDSA_COMBINED = {
    "sha1": Mechanism.ECDSA_SHA1,
    "sha256": Mechanism.ECDSA_SHA256,
    "sha384": Mechanism.ECDSA_SHA384,
    "sha512": Mechanism.ECDSA_SHA512,
}


class Input(enum.Enum):
    """What the chosen mechanism consumes."""

    DATA = "data"  # the whole message; the token hashes
    DIGEST = "digest"  # the bare digest (PSS, ECDSA)
    DIGEST_INFO = "digest_info"  # DER DigestInfo around the digest (CKM_RSA_PKCS)


@dataclass(frozen=True)
class MechanismPlan:
    """How to produce one signature on a particular token."""

    mechanism: Mechanism
    input: Input
    param: tuple[Mechanism, MGF, int] | None = None
    ecdsa_raw_output: bool = False


def plan_signature(
    algorithm: SignatureAlgorithm, available: frozenset[Mechanism], have_data: bool
) -> MechanismPlan:
    """Choose the mechanism for ``algorithm`` among those the token lists.

    With only a digest in hand the raw mechanisms are required; with the data, a combined
    mechanism is used when the token has one. Raises MECHANISM_UNSUPPORTED otherwise.
    """
    h = algorithm.hash_name
    pss_param = (_HASH_MECH[h], _MGF[h], algorithm.digest_size) if algorithm.is_pss else None
    if algorithm.key_kind is KeyKind.EC:
        if Mechanism.ECDSA in available:
            return MechanismPlan(Mechanism.ECDSA, Input.DIGEST, ecdsa_raw_output=True)
        if have_data and _ECDSA_COMBINED[h] in available:
            return MechanismPlan(_ECDSA_COMBINED[h], Input.DATA, ecdsa_raw_output=True)
    elif algorithm.is_pss:
        if Mechanism.RSA_PKCS_PSS in available:
            return MechanismPlan(Mechanism.RSA_PKCS_PSS, Input.DIGEST, pss_param)
        if have_data and _PSS_COMBINED[h] in available:
            return MechanismPlan(_PSS_COMBINED[h], Input.DATA, pss_param)
    else:
        if have_data and _RSA_COMBINED[h] in available:
            return MechanismPlan(_RSA_COMBINED[h], Input.DATA)
        if Mechanism.RSA_PKCS in available:
            return MechanismPlan(Mechanism.RSA_PKCS, Input.DIGEST_INFO)
    raise KysoError("MECHANISM_UNSUPPORTED", {"algorithm": algorithm.value})


def digest(algorithm: SignatureAlgorithm, data: bytes) -> bytes:
    """Hash ``data`` with the algorithm's hash."""
    return hashlib.new(algorithm.hash_name, data).digest()


def digest_info(algorithm: SignatureAlgorithm, digest_value: bytes) -> bytes:
    """DER DigestInfo (RFC 8017 §9.2) around a digest, built with asn1crypto."""
    info = algos.DigestInfo(
        {
            "digest_algorithm": algos.DigestAlgorithm(
                {"algorithm": algorithm.hash_name, "parameters": core.Null()}
            ),
            "digest": digest_value,
        }
    )
    return info.dump()


def check_digest(algorithm: SignatureAlgorithm, digest_value: bytes) -> None:
    """Refuse a precomputed hash whose length does not match the algorithm."""
    if len(digest_value) != algorithm.digest_size:
        raise KysoError(
            "INPUT_INVALID",
            {
                "detail": f"a {algorithm.hash_name} digest is {algorithm.digest_size} bytes, "
                f"got {len(digest_value)}"
            },
        )


def ecdsa_raw_to_der(raw: bytes) -> bytes:
    """Convert a PKCS#11 ECDSA signature (r ‖ s) to the DER form X.509 and XML-DSig tools use."""
    half = len(raw) // 2
    return encode_dss_signature(
        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    )
