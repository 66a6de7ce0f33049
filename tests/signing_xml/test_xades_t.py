"""XAdES-T: an XML signature with an RFC 3161 SignatureTimeStamp from the real demo TSA.

The token is checked by ``openssl ts -verify`` against the demo root over our own SHA-256 of
the canonical SignatureValue (lxml's exclusive C14N, not Kyso's code), the signature by
xmlsec1; Kyso's verify reports genTime and the authority, and refuses a token that does not
belong to the SignatureValue.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from agent.errors import ERRORS, KysoError
from agent.signing.trust import TrustStore
from agent.signing.xml import check_xml_signature, get_profile, verify_xml
from agent.signing.xml.xades import XADES_NS
from tests.conftest import cert_thumbprint
from tests.server.conftest import (  # noqa: F401  (the agent harness, for sign.xml)
    agent,
    answers,
    client_ssl,
    harness,
    prompter,
    server_cert,
)

from .helpers import GENERIC, HOSO, token_sign, xmlsec_verify

DS = "{http://www.w3.org/2000/09/xmldsig#}"
XA = f"{{{XADES_NS}}}"
STAMP = (
    f"{DS}Object/{XA}QualifyingProperties/{XA}UnsignedProperties/"
    f"{XA}UnsignedSignatureProperties/{XA}SignatureTimeStamp"
)


def _trust(demo: dict[str, Any]) -> TrustStore:
    return TrustStore.from_files(
        [demo["ca"]["root"], demo["ca"]["issuing"]], [demo["ca"]["crl"], demo["ca"]["root_crl"]]
    )


def _signature(signed: bytes) -> etree._Element:
    return etree.fromstring(signed).find(f".//{DS}Signature")


def _token(signature: etree._Element) -> bytes:
    stamps = signature.findall(STAMP)
    assert len(stamps) == 1
    return base64.b64decode(stamps[0].find(f"{XA}EncapsulatedTimeStamp").text)


def _openssl_ts_verify(
    openssl: str, demo: dict[str, Any], token: Path, digest: str
) -> subprocess.CompletedProcess[str]:
    """``openssl ts -verify`` of ``token`` over ``digest`` (hex SHA-256), trusting only the demo
    root; the TSA's certificate is given as untrusted, so the chain is openssl's to build."""
    ca_dir = Path(demo["ca"]["chain"]).parent
    return subprocess.run(
        [
            openssl,
            "ts",
            "-verify",
            "-token_in",
            "-in",
            str(token),
            "-digest",
            digest,
            "-CAfile",
            demo["ca"]["root"],
            "-untrusted",
            str(ca_dir / "tsa.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _silent_url() -> str:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/tsa"


@pytest.mark.parametrize(
    ("profile", "doc", "options", "references"),
    [
        ("generic", GENERIC, {}, 1),
        ("bhxh", HOSO, {"signature_timestamp": "required"}, 2),
    ],
    ids=["generic-optional", "bhxh-required"],
)
async def test_a_timestamped_signature_verifies_with_xmlsec1_openssl_and_kyso(
    token_service: Any,
    demo: dict[str, Any],
    tsa: Any,
    xmlsec1: str,
    openssl: str,
    tmp_path: Path,
    profile: str,
    doc: bytes,
    options: dict[str, Any],
    references: int,
) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=2)
    signed = await token_sign(
        token_service, demo, "org", doc, profile, timestamp_url=tsa.url, **options
    )
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    signature = _signature(signed)
    # SignedInfo is what it always was: the timestamp is an unsigned Object.
    assert len(signature.findall(f"{DS}SignedInfo/{DS}Reference")) == references
    props = signature.find(f"{DS}Object/{XA}QualifyingProperties")
    assert props.get("Target") == f"#{signature.get('Id')}"
    stamp = signature.find(STAMP)
    method = stamp.find(f"{DS}CanonicalizationMethod").get("Algorithm")
    assert method == "http://www.w3.org/2001/10/xml-exc-c14n#"

    path = tmp_path / "signed.xml"
    path.write_bytes(signed)
    ok = xmlsec_verify(xmlsec1, demo, path)
    assert ok.returncode == 0, ok.stderr

    # openssl: the token is the demo TSA's, over OUR digest of the canonical SignatureValue.
    value = signature.find(f"{DS}SignatureValue")
    digest = hashlib.sha256(etree.tostring(value, method="c14n", exclusive=True)).hexdigest()
    (tmp_path / "token.der").write_bytes(_token(signature))
    result = _openssl_ts_verify(openssl, demo, tmp_path / "token.der", digest)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr
    # The same token over any other bytes (here: the SignatureValue's text alone, not the
    # canonical element) is refused by openssl: the check above is not vacuous.
    plain = hashlib.sha256(value.text.encode()).hexdigest()
    assert plain != digest
    refused = _openssl_ts_verify(openssl, demo, tmp_path / "token.der", plain)
    assert refused.returncode != 0 and "OK" not in refused.stdout

    report = verify_xml(signed, _trust(demo))
    assert report.certificate_checked
    assert report.timestamp is not None
    assert before <= report.timestamp.gen_time <= after
    assert "Kyso Test Timestamp Authority" in report.timestamp.tsa_name
    shown = report.to_json()["timestamp"]
    assert shown["imprint_matches"] is True
    assert shown["gen_time"] == report.timestamp.gen_time.isoformat()


async def test_the_call_and_the_profile_decide_whether_to_timestamp(
    token_service: Any, demo: dict[str, Any], tsa: Any
) -> None:
    # bhxh's portals' shapes carry no timestamp: an authority alone adds none.
    plain = await token_sign(token_service, demo, "org", HOSO, "bhxh", timestamp_url=tsa.url)
    assert _signature(plain).find(STAMP) is None
    assert check_xml_signature(plain).timestamp is None
    # generic is "optional": the call can say no.
    declined = await token_sign(
        token_service, demo, "org", GENERIC, "generic", timestamp_url=tsa.url, timestamp=False
    )
    assert _signature(declined).find(STAMP) is None


def test_profile_timestamp_modes() -> None:
    url = "http://127.0.0.1:1/tsa"
    assert get_profile("bhxh").timestamp_url(url) is None
    assert get_profile("generic").timestamp_url(url) == url
    assert get_profile("generic").timestamp_url(url, False) is None
    assert get_profile("generic").timestamp_url(None) is None
    required = get_profile("generic", signature_timestamp="required")
    assert required.timestamp_url(url, False) == url  # the profile's demand wins
    with pytest.raises(KysoError) as err:
        required.timestamp_url("")
    assert err.value.code == "TIMESTAMP_NOT_CONFIGURED"
    with pytest.raises(KysoError) as err:
        get_profile("generic", signature_timestamp="sometimes")
    assert err.value.code == "INPUT_INVALID"


async def test_required_without_an_authority_is_a_clear_error_before_signing(
    token_service: Any, demo: dict[str, Any]
) -> None:
    with pytest.raises(KysoError) as err:
        await token_sign(token_service, demo, "org", HOSO, "bhxh", signature_timestamp="required")
    assert err.value.code == "TIMESTAMP_NOT_CONFIGURED"
    spec = ERRORS["TIMESTAMP_NOT_CONFIGURED"]
    assert "dấu thời gian" in spec.vi and "timestamp_url" in spec.action_en
    assert err.value.details["profile"] == "bhxh"


async def test_a_silent_authority_is_timestamp_unavailable(
    token_service: Any, demo: dict[str, Any]
) -> None:
    url = _silent_url()
    with pytest.raises(KysoError) as err:
        await token_sign(token_service, demo, "org", GENERIC, "generic", timestamp_url=url)
    assert err.value.code == "TIMESTAMP_UNAVAILABLE"
    assert err.value.details["url"] == url


async def test_a_token_from_another_signature_or_a_tampered_one_is_refused(
    token_service: Any, demo: dict[str, Any], tsa: Any, xmlsec1: str, tmp_path: Path
) -> None:
    first = await token_sign(token_service, demo, "org", GENERIC, "generic", timestamp_url=tsa.url)
    # Another document (the same one would give the same RSA SignatureValue, and its token
    # would rightly fit).
    other = GENERIC.replace("nhận".encode(), "trả".encode())
    second = await token_sign(token_service, demo, "org", other, "generic", timestamp_url=tsa.url)
    token_1 = base64.b64encode(_token(_signature(first)))
    token_2 = base64.b64encode(_token(_signature(second)))
    assert token_1 != token_2
    # The second signature's genuine token moved onto the first signature: XML-DSig itself
    # still holds (xmlsec1 accepts: the Object is unsigned), our check does not.
    moved = first.replace(token_1, token_2)
    path = tmp_path / "moved.xml"
    path.write_bytes(moved)
    assert xmlsec_verify(xmlsec1, demo, path).returncode == 0
    with pytest.raises(KysoError) as err:
        verify_xml(moved, _trust(demo))
    assert err.value.code == "SIGNATURE_INVALID"
    assert "timestamp" in err.value.details["detail"]

    # The token's own content edited (its genTime's year): the TSA's signature breaks.
    der = _token(_signature(first))
    year = str(dt.datetime.now(dt.UTC).year).encode()
    at = der.index(b"\x18\x0f" + year)  # GeneralizedTime, 15 bytes: YYYYMMDDhhmmssZ
    forged = der[:at] + b"\x18\x0f" + str(int(year) + 1).encode() + der[at + 6 :]
    edited = first.replace(token_1, base64.b64encode(forged))
    with pytest.raises(KysoError) as err:
        check_xml_signature(edited)
    assert err.value.code == "SIGNATURE_INVALID"
    assert "timestamp" in err.value.details["detail"]

    # The SignatureValue itself changed: refused (the signature no longer holds).
    root = etree.fromstring(first)
    value = root.find(f".//{DS}SignatureValue")
    raw = bytearray(base64.b64decode(value.text))
    raw[10] ^= 1
    value.text = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(KysoError) as err:
        verify_xml(etree.tostring(root), _trust(demo))
    assert err.value.code == "SIGNATURE_INVALID"


async def test_an_untrusted_authority_is_named(
    token_service: Any, demo: dict[str, Any], tsa: Any
) -> None:
    signed = await token_sign(token_service, demo, "org", GENERIC, "generic", timestamp_url=tsa.url)
    report = check_xml_signature(signed)
    assert report.timestamp is not None
    # A certificate of the trusted PKI that is not a timestamping one (the signer's own)
    # cannot stand for the authority; the error names the authority.
    from agent.signing.xml.xades import validate_authority

    fake = dataclasses.replace(report.timestamp, tsa_certificate=report.signer.der)
    with pytest.raises(KysoError) as err:
        validate_authority(fake, _trust(demo))
    assert err.value.code == "CERT_KEY_USAGE"
    assert "Kyso Test Timestamp Authority" in err.value.details["timestamp_authority"]


async def test_the_agent_timestamps_sign_xml_where_the_profile_asks(
    demo: dict[str, Any],
    harness: Any,  # noqa: F811 - the fixture imported above
    tsa: Any,
) -> None:
    await harness.start(timestamp_url=tsa.url)
    client = await harness.client()
    org = cert_thumbprint(demo, "org")
    generic = await client.call(
        "sign.xml",
        {
            "document": base64.b64encode(GENERIC).decode(),
            "profile": "generic",
            "certificate": org,
        },
    )
    assert _signature(base64.b64decode(generic["document"])).find(STAMP) is not None
    dossier = await client.call(
        "sign.xml", {"document": base64.b64encode(HOSO).decode(), "certificate": org}
    )
    assert _signature(base64.b64decode(dossier["document"])).find(STAMP) is None
