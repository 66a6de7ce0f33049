"""The authority of an RFC 3161 timestamp token, judged the same way wherever a signature
carries one: the CMS verifier (CAdES-T, :mod:`agent.signing.cms`) and the XML verifier (the
signature timestamp in XAdES unsigned properties, :mod:`agent.signing.xml.xades`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agent.errors import KysoError

if TYPE_CHECKING:
    from agent.signing.trust import TrustStore
    from agent.tokens.certinfo import CertificateInfo


def tsa_name(tst_info: Any, certificate: Any) -> str:
    """Who stamped: the TSTInfo's ``tsa`` when it is a directory name, else the subject of the
    certificate that signed the token (both asn1crypto objects)."""
    tsa = tst_info["tsa"]
    if tsa.native is not None and tsa.name == "directory_name":
        return str(tsa.chosen.human_friendly)
    return str(certificate.subject.human_friendly)


def validate_authority(
    certificate: bytes,
    other_certificates: Sequence[bytes],
    gen_time: dt.datetime,
    name: str,
    trust: TrustStore,
) -> CertificateInfo:
    """The authority's certificate (DER) must chain to ``trust`` at the token's ``gen_time``,
    with the CRLs it holds, and be a timestamping certificate (extended key usage
    id-kp-timeStamping, RFC 3161 §2.3). Raises the CERT_* / CRL_* codes with
    ``timestamp_authority`` (``name``) in their details; returns the parsed certificate."""
    from asn1crypto import x509 as asn1_x509

    from agent.signing.trust import validate_certificate

    try:
        info = validate_certificate(
            certificate, trust, at=gen_time, extra_certs=other_certificates, purpose="sign"
        )
        usage = asn1_x509.Certificate.load(certificate).extended_key_usage_value
        if usage is None or "time_stamping" not in usage.native:
            raise KysoError(
                "CERT_KEY_USAGE",
                {
                    "purpose": "timestamp",
                    "extended_key_usage": ",".join(usage.native if usage else []),
                },
            )
    except KysoError as exc:
        raise KysoError(exc.code, {**exc.details, "timestamp_authority": name}) from exc
    return info
