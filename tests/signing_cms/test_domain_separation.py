"""No signing method but sign.hash can produce the signature an authentication token carries.

``auth.challenge`` signs ``H(origin) ‖ H(nonce)``: exactly 64, 96 or 128 bytes of hash output
(docs/security.md, "Origin binding"). Every other format hands the key bytes that Kyso builds
itself: the DER SET of CMS signed attributes (first byte 0x31) or a canonical XML SignedInfo
(first byte ``<``), always longer than 128 bytes. A signature over one can never be a signature
over the other, whatever the page puts in the document. These tests record what each format
gives the key, with the page trying its best (the challenge bytes, or their hash, as content).
"""

from __future__ import annotations

import hashlib

import pytest

from agent.signing.challenge import signed_data
from agent.signing.cms import sign_cms
from agent.signing.signer import Signer
from agent.signing.xml import sign_xml
from agent.tokens.algorithms import SignatureAlgorithm
from agent.tokens.certinfo import CertificateInfo
from tests.signing_cms.conftest import token_signer
from tests.signing_xml.helpers import GENERIC, HOSO

REAL_ORIGIN = "https://dichvucong.baohiemxahoi.gov.vn"
NONCE = "Qm9uam91ciwgdm9pY2kgdW4gbm9uY2UgZGUgdGVzdCBwb3VyIEt5c28h"
LONGEST_AUTH_INPUT = 2 * 64  # H(origin) ‖ H(nonce) with SHA-512


class RecordingSigner(Signer):
    """Passes every call to a real token signer and records what the key was given."""

    def __init__(self, inner: Signer) -> None:
        self._inner = inner
        self.signed: list[bytes] = []
        self.digests: list[bytes] = []

    @property
    def certificate(self) -> CertificateInfo:
        return self._inner.certificate

    async def sign(self, data: bytes, algorithm: SignatureAlgorithm) -> bytes:
        self.signed.append(data)
        return await self._inner.sign(data, algorithm)

    async def sign_digest(self, digest: bytes, algorithm: SignatureAlgorithm) -> bytes:
        self.digests.append(digest)
        return await self._inner.sign_digest(digest, algorithm)


def _auth_inputs() -> list[bytes]:
    return [signed_data(alg, REAL_ORIGIN, NONCE) for alg in ("RS256", "ES384", "RS512")]


def _assert_never_an_auth_input(recorder: RecordingSigner, first_byte: int) -> None:
    assert recorder.signed, "the format signed nothing"
    assert recorder.digests == [], "only sign.hash may hand the key a page-chosen digest"
    forbidden = set(_auth_inputs())
    for data in recorder.signed:
        assert data not in forbidden
        assert len(data) > LONGEST_AUTH_INPUT
        assert data[0] == first_byte


@pytest.mark.parametrize("name", ["org", "ec"])
async def test_cms_never_signs_the_bytes_of_an_auth_token(demo, token_service, name) -> None:
    async with token_signer(token_service, demo, name) as real:
        recorder = RecordingSigner(real)
        for auth_input in _auth_inputs():
            hash_name = {64: "sha256", 96: "sha384", 128: "sha512"}[len(auth_input)]
            await sign_cms(recorder, data=auth_input, detached=True, hash_name=hash_name)
            await sign_cms(recorder, data=auth_input, detached=False, hash_name=hash_name)
            await sign_cms(
                recorder,
                digest=hashlib.new(hash_name, auth_input).digest(),
                hash_name=hash_name,
            )
    _assert_never_an_auth_input(recorder, first_byte=0x31)  # DER SET OF signed attributes


@pytest.mark.parametrize("name", ["org", "ec"])
async def test_xml_never_signs_the_bytes_of_an_auth_token(demo, token_service, name) -> None:
    hostile = GENERIC.replace(
        b"</NoiDung>", b"</NoiDung><X>" + _auth_inputs()[0].hex().encode() + b"</X>"
    )
    async with token_signer(token_service, demo, name) as real:
        recorder = RecordingSigner(real)
        await sign_xml(hostile, recorder, "generic")
        if name == "org":  # BHXH portals verify with .NET: RSA only
            await sign_xml(HOSO, recorder, "bhxh")
    _assert_never_an_auth_input(recorder, first_byte=ord("<"))  # canonical ds:SignedInfo
