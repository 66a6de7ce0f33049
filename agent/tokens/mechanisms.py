"""How a signature algorithm maps onto what a token offers. Pure logic, no I/O.

Some tokens only list ``CKM_RSA_PKCS``: the caller then hashes and wraps the digest in a
DigestInfo. Others offer combined mechanisms (``CKM_SHA256_RSA_PKCS``) that take the data. The
plan chosen here is what the token layer executes on the module's thread. Only
:mod:`agent.tokens.module.signing` imports this file (it names python-pkcs11's mechanisms).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from asn1crypto import algos, core
from pkcs11 import MGF, Mechanism

from agent.errors import KysoError
from agent.tokens.algorithms import KeyKind, SignatureAlgorithm

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
