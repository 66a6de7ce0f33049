"""A bare signature over a precomputed hash, for portals that build their own containers."""

from __future__ import annotations

from agent.errors import invalid_input
from agent.signing.signer import Signer
from agent.tokens.algorithms import SignatureAlgorithm, check_digest, hash_for_length


def algorithm_for_digest(signer: Signer, digest: bytes) -> SignatureAlgorithm:
    """The key's usual algorithm for a digest of this length (SHA-256/384/512, or SHA-1)."""
    return signer.default_algorithm(hash_for_length(len(digest)))


async def sign_hash(
    signer: Signer, digest: bytes, algorithm: SignatureAlgorithm | None = None
) -> tuple[bytes, SignatureAlgorithm]:
    """Sign a precomputed ``digest``; return the raw signature and the algorithm used.

    RSA signatures are the PKCS#1 (v1.5 or PSS) octet string; ECDSA signatures are DER
    (``SEQUENCE {r, s}``), as X.509 and CMS carry them. Without ``algorithm`` the key's usual
    one is chosen from the digest's length. The digest length must match the algorithm's hash.
    """
    chosen = algorithm or algorithm_for_digest(signer, digest)
    if chosen.key_kind.value != signer.certificate.key_type:
        key_type = signer.certificate.key_type
        raise invalid_input(
            f"{chosen.value} does not fit a {key_type} key",
            f"thuật toán {chosen.value} không phù hợp với khóa {key_type}",
        )
    check_digest(chosen, digest)
    return await signer.sign_digest(digest, chosen), chosen
