"""What a timestamp authority sends back is checked before anything is written (red team 24:
any token was embedded and the file called CAdES-T or PAdES-B-T/B-LT, a refusal was
INTERNAL_ERROR or "your PDF is damaged", a redirect re-sent the query elsewhere, an endless
answer took gigabytes).

The authority is the demo's real ``openssl ts``, behind a loopback proxy that spoils one thing
per mode: the query it forwards (another imprint, another nonce, none), the answer it returns
(a refusal, no token, a broken token signature, HTML, a redirect, 2 MB), or, where openssl
cannot be made to lie (a time years back, a certificate without the critical timestamping
purpose), a token pyHanko's test authority makes with the demo CA's certificates."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.errors import KysoError
from agent.signing.cms import sign_cms
from agent.signing.signer import SoftwareSigner
from tests.recording_server import elsewhere  # noqa: F401 - the fixture
from tests.tokens.crafted_certs import self_signed_signer

NOW = dt.datetime.now(dt.UTC)


def _signer() -> SoftwareSigner:
    return self_signed_signer("Cong ty Dau Thoi Gian")


def _lying_authority(demo: dict[str, Any], mode: str) -> Any:
    """pyHanko's test authority with a certificate from the demo issuing CA: without the
    timestamping purpose, with it not critical, or honest but stamping a time of 2001."""
    from asn1crypto import keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    ca = demo["ca"]
    issuer_key = serialization.load_pem_private_key(Path(ca["issuing_key"]).read_bytes(), None)
    issuer = x509.load_pem_x509_certificate(Path(ca["issuing"]).read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"TSA {mode}")]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
    )
    if mode != "no_purpose":
        purposes = [ExtendedKeyUsageOID.TIME_STAMPING]
        if mode == "another_purpose_too":  # OpenSSL's ts -verify refuses any other beside it
            purposes.append(ExtendedKeyUsageOID.SERVER_AUTH)
        usage = x509.ExtendedKeyUsage(purposes)
        builder = builder.add_extension(usage, critical=mode != "purpose_not_critical")
    cert = builder.sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    der_key = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return DummyTimeStamper(
        asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        keys.PrivateKeyInfo.load(der_key),
        fixed_dt={
            "years_ago": dt.datetime(2001, 1, 1, tzinfo=dt.UTC),
            "clock_drift": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10),
        }.get(mode),
    )


def _spoiled_query(mode: str, query: bytes) -> bytes:
    request = tsp.TimeStampReq.load(query)
    imprint = request["message_imprint"]
    if mode == "other_imprint":
        other = os.urandom(len(imprint["hashed_message"].native))
        request["message_imprint"] = tsp.MessageImprint(
            {"hash_algorithm": imprint["hash_algorithm"], "hashed_message": other}
        )
    elif mode == "other_nonce":
        request["nonce"] = request["nonce"].native + 1
    elif mode == "no_nonce":
        request = tsp.TimeStampReq({k: request[k] for k in ("version", "message_imprint")})
    return bytes(request.dump(force=True))


def _broken_signature(answer: bytes) -> bytes:
    response = tsp.TimeStampResp.load(answer)
    token = response["time_stamp_token"]
    signer_info = token["content"]["signer_infos"][0]
    value = bytearray(signer_info["signature"].native)
    value[10] ^= 0xFF
    signer_info["signature"] = bytes(value)
    rebuilt = cms.ContentInfo.load(token.dump(force=True))
    return bytes(
        tsp.TimeStampResp({"status": response["status"], "time_stamp_token": rebuilt}).dump()
    )


def _with_more_certificates(answer: bytes) -> bytes:
    """The same token with its certificates listed eight times over: still valid (they are
    not signed), several KB larger."""
    response = tsp.TimeStampResp.load(answer)
    token = response["time_stamp_token"]
    signed = token["content"]
    signed["certificates"] = list(signed["certificates"]) * 8
    rebuilt = cms.ContentInfo.load(token.dump(force=True))
    return bytes(
        tsp.TimeStampResp({"status": response["status"], "time_stamp_token": rebuilt}).dump()
    )


# A status-only answer: rejection (2), and "granted" (0) with no token.
_REJECTION = bytes([0x30, 5, 0x30, 3, 2, 1, 2])
_NO_TOKEN = bytes([0x30, 5, 0x30, 3, 2, 1, 0])
REPLY = "application/timestamp-reply"
# "granted", with a SignedData that holds no content and no signer.
_EMPTY_TOKEN = tsp.TimeStampResp(
    {
        "status": {"status": "granted"},
        "time_stamp_token": cms.ContentInfo(
            {
                "content_type": "signed_data",
                "content": cms.SignedData(
                    {
                        "version": "v3",
                        "digest_algorithms": [],
                        "encap_content_info": {"content_type": "tst_info", "content": None},
                        "signer_infos": [],
                    }
                ),
            }
        ),
    }
).dump()


@pytest.fixture
async def authority(
    aiohttp_server: Any,
    tsa: Any,
    demo: dict[str, Any],
    elsewhere: Any,  # noqa: F811
) -> Callable[[str], str]:
    """The URL of the proxy in front of the real authority, for one mode."""

    async def answer(request: web.Request) -> web.StreamResponse:
        mode = request.match_info["mode"]
        query = await request.read()
        if mode == "redirect":
            raise web.HTTPTemporaryRedirect(elsewhere.url + "/loot")
        if mode == "html":
            return web.Response(body=b"<html>captive portal</html>", content_type="text/html")
        if mode == "huge":
            return web.Response(body=b"\x30" * (2 << 20), content_type=REPLY)
        if mode == "refused":
            return web.Response(body=_REJECTION, content_type=REPLY)
        if mode == "no_token":
            return web.Response(body=_NO_TOKEN, content_type=REPLY)
        if mode == "empty_token":
            return web.Response(body=_EMPTY_TOKEN, content_type=REPLY)
        if mode == "unreadable_token":  # granted, and a token that is no token at all
            return web.Response(body=bytes([0x30, 7, 0x30, 3, 2, 1, 0, 5, 0]), content_type=REPLY)
        if mode in (
            "no_purpose",
            "purpose_not_critical",
            "another_purpose_too",
            "years_ago",
            "clock_drift",
        ):
            stamper = _lying_authority(demo, mode)
            body = stamper.request_tsa_response(tsp.TimeStampReq.load(query)).dump()
            return web.Response(body=body, content_type=REPLY)
        async with aiohttp.ClientSession() as session:
            headers = {"Content-Type": "application/timestamp-query"}
            forwarded = _spoiled_query(mode, query)
            async with session.post(tsa.url, data=forwarded, headers=headers) as upstream:
                body = await upstream.read()
        if mode == "broken_signature":
            body = _broken_signature(body)
        calls[mode] = calls.get(mode, 0) + 1
        if mode == "larger_later" and calls[mode] > 1:  # honest test token, then a larger one
            body = _with_more_certificates(body)
        return web.Response(body=body, content_type=REPLY)

    calls: dict[str, int] = {}
    app = web.Application()
    app.router.add_post("/{mode}", answer)
    server = await aiohttp_server(app)
    return lambda mode: str(server.make_url(f"/{mode}"))


async def test_an_honest_answer_through_the_proxy_is_embedded(authority: Any) -> None:
    signed = await sign_cms(_signer(), data=b"HOSO", timestamp_url=authority("honest"))
    assert (
        b"\x06\x0b\x2a\x86\x48\x86\xf7\x0d\x01\x09\x10\x02\x0e" in signed
    )  # a signature timestamp


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("other_imprint", "stamps something else"),
        ("other_nonce", "nonce"),
        ("no_nonce", "nonce"),
        ("broken_signature", "own signature"),
        ("refused", "refused (rejection"),
        ("no_token", "no token"),
        ("html", "content type text/html"),
        ("redirect", "redirects are not followed"),
        ("huge", "over 256 KB"),
        ("no_purpose", "critical EKU"),
        ("purpose_not_critical", "critical EKU"),
        ("another_purpose_too", "critical EKU"),
        ("years_ago", "is not now"),
        ("empty_token", "not an RFC 3161 token"),
        ("unreadable_token", "not an RFC 3161 token"),
    ],
)
async def test_an_answer_kyso_cannot_use_is_refused_with_what_was_wrong(
    authority: Any,
    elsewhere: Any,  # noqa: F811
    mode: str,
    said: str,
) -> None:
    with pytest.raises(KysoError) as refused:
        await sign_cms(_signer(), data=b"HOSO", timestamp_url=authority(mode))
    assert refused.value.code == "TIMESTAMP_ANSWER_INVALID", refused.value
    assert said in refused.value.details["detail"]
    assert elsewhere.requests == []  # a redirect's target never got the query


async def test_a_pdf_and_an_xml_timestamp_go_through_the_same_checks(authority: Any) -> None:
    from agent.signing.pdf import PdfSignOptions, sign_pdf
    from agent.signing.xml.xades import request_token
    from tests.signing_pdf.conftest import make_pdf

    options = PdfSignOptions(timestamp_url=authority("other_imprint"))
    with pytest.raises(KysoError) as refused:
        await sign_pdf(make_pdf(1), _signer(), options)
    assert refused.value.code == "TIMESTAMP_ANSWER_INVALID"
    with pytest.raises(KysoError) as refused:  # was an AttributeError inside pyHanko
        await request_token(authority("other_nonce"), b"\x01" * 32, "sha256")
    assert refused.value.code == "TIMESTAMP_ANSWER_INVALID"


async def test_a_pdf_whose_real_token_outgrows_the_test_token_blames_the_authority(
    authority: Any,
) -> None:
    """pyHanko sizes the signature's room from the authority's test token; a real one much
    larger does not fit. That was PDF_SIGN_FAILED ("send the file to support"), after the PIN."""
    from agent.signing.pdf import PdfSignOptions, sign_pdf
    from tests.signing_pdf.conftest import make_pdf

    with pytest.raises(KysoError) as refused:
        await sign_pdf(
            make_pdf(1), _signer(), PdfSignOptions(timestamp_url=authority("larger_later"))
        )
    assert refused.value.code == "TIMESTAMP_ANSWER_INVALID", refused.value
    assert "larger" in refused.value.details["detail"]


async def test_an_authority_whose_clock_drifts_by_minutes_is_still_used(authority: Any) -> None:
    """Ten minutes apart (this PC's clock or the authority's): drift, not a lie; refusing it
    would fail every timestamped signature after the PIN."""
    signed = await sign_cms(_signer(), data=b"HOSO", timestamp_url=authority("clock_drift"))
    assert signed


async def test_an_authority_nobody_answers_at_stays_unavailable() -> None:
    with pytest.raises(KysoError) as refused:
        await sign_cms(_signer(), data=b"HOSO", timestamp_url="http://127.0.0.1:9/tsa")
    assert refused.value.code == "TIMESTAMP_UNAVAILABLE"


@pytest.mark.parametrize("mode", ["purpose_not_critical", "no_purpose"])
def test_the_verifiers_want_the_timestamping_purpose_critical_too(
    demo: dict[str, Any], trust: Any, mode: str
) -> None:
    """RFC 3161 §2.3 (and openssl ts -verify): verify-cms and verify-xml judge an authority's
    certificate by the same rule as the signing client."""
    from agent.signing.timestamps import validate_authority

    def certificate(kind: str) -> bytes:
        return bytes(_lying_authority(demo, kind).tsa_cert.dump())

    validate_authority(certificate("honest"), [], NOW, "TSA", trust)  # critical: accepted
    with pytest.raises(KysoError) as refused:
        validate_authority(certificate(mode), [], NOW, "TSA", trust)
    assert refused.value.code == "CERT_KEY_USAGE"
