"""Review 42: refuse_crowds (ab9d14f) counted the lists of the outer SignedData and the number of
attributes, but not what is inside them. Unsigned attributes are not covered by the signature,
so anyone can pad a genuine signature:

- one signature-time-stamp-token attribute holding N copies of a valid token: every value is
  checked in full (_timestamp_tokens / _check_timestamp), ~5 ms each here (a 6 MB file: ~4000
  tokens, ~20 s; more with a real chain and CRLs);
- a token (its own SignedData, parsed by timestamps.open_token) carrying N copies of its
  certificate: 1000 copies cost ~1 s, linear (the 20,000-copies bomb of red team 43 moved one
  level down).
Both verified; now CMS_INVALID (at most 4 tokens, each token's lists counted like the signature's)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from cryptography.x509.oid import ExtendedKeyUsageOID

from agent.errors import KysoError
from agent.signing.cms import verify_cms
from agent.signing.trust import TrustStore
from tests.hostile.test_cms_crowds import _signed
from tests.signing_cms.test_verify_timestamp import _tsa_like


def _stamped(tmp_path: Path, values: int, cert_copies: int) -> tuple[bytes, Any]:
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    info, ca, _ = _signed(tmp_path)
    tsa_cert, tsa_key = _tsa_like("TSA", ExtendedKeyUsageOID.TIME_STAMPING)
    signer = info["content"]["signer_infos"][0]
    imprint = hashlib.sha256(signer["signature"].native).digest()
    token = cms.ContentInfo.load(
        asyncio.run(DummyTimeStamper(tsa_cert, tsa_key).async_timestamp(imprint, "sha256")).dump()
    )
    certs = token["content"]["certificates"]
    token["content"]["certificates"] = cms.CertificateSet(contents=certs.contents * cert_copies)
    token = cms.ContentInfo.load(token.dump(force=False))
    signer["unsigned_attrs"] = cms.CMSAttributes(
        [{"type": "signature_time_stamp_token", "values": [token] * values}]
    )
    info["content"]["signer_infos"] = cms.SignerInfos(
        [cms.SignerInfo.load(signer.dump(force=True))]
    )
    der = cms.ContentInfo.load(info.dump(force=False)).dump()
    pem = tmp_path / "tsa.pem"
    pem.write_bytes(
        b"-----BEGIN CERTIFICATE-----\n"
        + base64.encodebytes(tsa_cert.dump())
        + b"-----END CERTIFICATE-----\n"
    )
    return der, TrustStore.from_files([ca, pem], revocation_mode="soft-fail")


def test_control_one_token_verifies(tmp_path: Path) -> None:
    der, trust = _stamped(tmp_path, 1, 1)
    assert len(verify_cms(der, trust, data=b"hello").timestamps) == 1


@pytest.mark.parametrize(("values", "copies"), [(200, 1), (1, 200)])
def test_a_padded_timestamp_attribute_is_refused(tmp_path: Path, values: int, copies: int) -> None:
    der, trust = _stamped(tmp_path, values, copies)
    with pytest.raises(KysoError) as refused:
        result = verify_cms(der, trust, data=b"hello")
        pytest.fail(
            f"verified, {len(result.timestamps)} timestamps checked one by one "
            f"({values} token values, {copies} certificates in each token)"
        )
    assert refused.value.code == "CMS_INVALID"
