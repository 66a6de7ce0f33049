"""Revocation and validity before signing (agent.signing.certstatus) against the demo's real
OCSP responder (``openssl ocsp``) and CRLs on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.demo import pki
from agent.demo.responder import DemoResponder
from agent.errors import KysoError
from agent.files import atomic_write
from agent.signing.certstatus import (
    CACHE_RULES,
    UNKNOWN_LINE,
    CertStatus,
    StatusChecker,
    check_before_signing,
    consent_items,
    evaluate,
    read_crl,
    read_ocsp_response,
    revocation_urls,
)
from agent.signing.consent import ConsentItem
from tests.pki_responder import demo_der, issuing_der, status_cache_dir


@pytest.fixture
def responder(demo: dict[str, Any]) -> Iterator[DemoResponder]:
    """The demo's OCSP + CRL responder, listening on the port its certificates name."""
    with DemoResponder(demo) as running:
        yield running


@pytest.fixture
def checker(tmp_path: Path) -> StatusChecker:
    """A checker with its own empty cache."""
    return StatusChecker(tmp_path / "cache")


def _cert(demo: dict[str, Any], name: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(demo_der(demo, name))


def _issuer(demo: dict[str, Any]) -> x509.Certificate:
    return x509.load_der_x509_certificate(issuing_der(demo))


def test_demo_certificates_name_loopback_ocsp_and_crl(demo: dict[str, Any]) -> None:
    ocsp_urls, crl_urls, issuer_urls = revocation_urls(_cert(demo, "org"))
    port = demo["responder"]["port"]
    assert ocsp_urls == [f"http://127.0.0.1:{port}/ocsp"]
    assert crl_urls == [f"http://127.0.0.1:{port}/issuing.crl"]
    assert issuer_urls == [f"http://127.0.0.1:{port}/issuing-ca.crt"]
    responder = x509.load_pem_x509_certificate(Path(demo["responder"]["ocsp_cert"]).read_bytes())
    eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    responder.verify_directly_issued_by(_issuer(demo))


def test_responder_serves_only_its_files_on_loopback(
    demo: dict[str, Any], responder: DemoResponder
) -> None:
    assert responder.address == ("127.0.0.1", demo["responder"]["port"])
    with urllib.request.urlopen(f"{responder.url}/issuing.crl", timeout=10) as got:
        crl = x509.load_der_x509_crl(got.read())
    assert crl.issuer == _issuer(demo).subject
    for path in ("/demo.json", "/../pki/issuing-ca.key", "/ocsp"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{responder.url}{path}", timeout=10)
        assert refused.value.code == 404


def test_a_demo_made_before_the_responder_has_none(demo: dict[str, Any]) -> None:
    older = {k: v for k, v in demo.items() if k != "responder"}
    with pytest.raises(KysoError) as refused:
        DemoResponder(older)
    assert refused.value.code == "INPUT_INVALID"


async def test_good_and_revoked_from_the_real_responder(
    demo: dict[str, Any], responder: DemoResponder, checker: StatusChecker
) -> None:
    issuers = [issuing_der(demo)]
    good = await checker.status(demo_der(demo, "org"), issuers)
    assert (good.status, good.source, good.cached) == ("good", "ocsp", False)
    assert good.next_update is not None and good.next_update > good.checked_at
    revoked = await checker.status(demo_der(demo, "revoked"), issuers)
    assert (revoked.status, revoked.source) == ("revoked", "ocsp")
    assert revoked.revocation_reason == "key_compromise"
    assert revoked.revoked_at is not None and revoked.revoked_at < dt.datetime.now(dt.UTC)
    with pytest.raises(KysoError) as refused:
        await check_before_signing(checker, demo_der(demo, "revoked"), "sign", issuers)
    assert refused.value.code == "CERT_REVOKED"
    assert refused.value.details["revoked_at"] == revoked.revoked_at.isoformat()
    with pytest.raises(KysoError) as refused_auth:
        await check_before_signing(checker, demo_der(demo, "revoked"), "auth", issuers)
    assert refused_auth.value.code == "CERT_REVOKED"
    assert (await check_before_signing(checker, demo_der(demo, "org"), "sign", issuers)).status == (
        "good"
    )


async def test_issuer_found_through_aia_when_no_token_carries_it(
    demo: dict[str, Any], responder: DemoResponder, checker: StatusChecker
) -> None:
    status = await checker.status(demo_der(demo, "revoked"), issuers=[])
    assert status.status == "revoked"


async def test_crl_answers_when_the_ocsp_responder_is_down(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    with DemoResponder(demo, ocsp=False) as crl_only:
        checker = StatusChecker(tmp_path / "cache")
        good = await checker.status(demo_der(demo, "org"), [issuing_der(demo)])
        revoked = await checker.status(demo_der(demo, "revoked"), [issuing_der(demo)])
    assert crl_only.requests == 0
    assert (good.status, good.source) == ("good", "crl")
    assert (revoked.status, revoked.source, revoked.revocation_reason) == (
        "revoked",
        "crl",
        "key_compromise",
    )


async def test_a_crl_is_read_off_the_event_loop(
    demo: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red team 39: a 20 MB CRL (anyone on its plain-http path can send one) was parsed on the
    event loop, 0.84 s in which the agent answered no page."""
    import threading

    from agent.signing import certstatus

    threads: list[str] = []
    real = certstatus.read_crl

    def spy(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(certstatus, "read_crl", spy)
    with DemoResponder(demo, ocsp=False):
        status = await StatusChecker(tmp_path / "cache").status(
            demo_der(demo, "org"), [issuing_der(demo)]
        )
    assert status.source == "crl" and threads
    assert threading.main_thread().name not in threads


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("expired", "CERT_EXPIRED"),
        ("not_yet_valid", "CERT_NOT_YET_VALID"),
        ("no_key_usage", "CERT_KEY_USAGE"),
    ],
)
@pytest.mark.parametrize("purpose", ["sign", "auth"])
async def test_invalid_certificates_are_refused_without_any_network(
    demo: dict[str, Any], checker: StatusChecker, name: str, code: str, purpose: Any
) -> None:
    with pytest.raises(KysoError) as refused:
        evaluate(demo_der(demo, name), purpose)
    assert refused.value.code == code
    with pytest.raises(KysoError) as again:
        await check_before_signing(checker, demo_der(demo, name), purpose, [issuing_der(demo)])
    assert again.value.code == code
    assert not (checker.cache_dir).exists()  # refused before any fetch


def test_ca_certificate_is_not_for_signing(demo: dict[str, Any]) -> None:
    with pytest.raises(KysoError) as refused:
        evaluate(issuing_der(demo), "sign")
    assert refused.value.code == "CERT_KEY_USAGE"
    evaluate(demo_der(demo, "org"), "sign")  # and a good one passes


async def test_responder_down_is_unknown_and_does_not_block(
    demo: dict[str, Any], checker: StatusChecker
) -> None:
    # Nothing listens on the demo's port: OCSP and CRL both unreachable.
    status = await check_before_signing(
        checker, demo_der(demo, "revoked"), "sign", [issuing_der(demo)]
    )
    assert status.status == "unknown"
    assert "unreachable" in status.reason
    assert not checker.cache_dir.exists() or not any(checker.cache_dir.iterdir())
    item = ConsentItem("Hồ sơ 600", (("MST", "0101234567"),), "ab" * 32)
    shown = consent_items((item,), status)
    assert shown[0].lines == (UNKNOWN_LINE, ("MST", "0101234567"))
    assert shown[0].sha256 == item.sha256
    assert consent_items((item,), await _good(demo)) == (item,)


async def _good(demo: dict[str, Any]) -> Any:
    from agent.signing.certstatus import CertStatus

    return CertStatus("good", "OCSP: good", "ocsp", dt.datetime.now(dt.UTC))


async def test_a_responder_that_never_answers_gives_unknown_not_a_hang(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_server(hold, "127.0.0.1", demo["responder"]["port"])
    try:
        checker = StatusChecker(tmp_path / "cache", timeout=0.5)
        status = await checker.status(demo_der(demo, "org"), [issuing_der(demo)])
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert status.status == "unknown"
    assert accepted  # it did try the stalled responder
    assert "in time" in status.reason or "within" in status.reason


async def test_answers_are_cached_under_the_state_root_until_next_update(
    demo: dict[str, Any], kyso_home: Path
) -> None:
    cache = status_cache_dir()
    for old in cache.glob("*.json"):
        old.unlink()
    der = demo_der(demo, "org")
    with DemoResponder(demo) as responder:
        first = await StatusChecker().status(der, [issuing_der(demo)])
        assert responder.requests == 1
    assert first.status == "good"
    files = list(cache.glob("*.json"))
    assert len(files) == 1 and cache.is_relative_to(kyso_home)
    assert json.loads(files[0].read_text())["status"] == "good"
    # The responder is gone: a new checker (a new agent or CLI run) still knows, from disk...
    again = await StatusChecker().status(der, [issuing_der(demo)])
    assert (again.status, again.cached) == ("good", True)
    # ...until the answer's nextUpdate has passed: then it asks again (and finds nobody).
    assert first.next_update is not None
    later = first.next_update + dt.timedelta(seconds=1)
    stale = await StatusChecker().status(der, [issuing_der(demo)], now=later)
    assert stale.status == "unknown"


def test_a_running_checker_follows_its_cache_file(
    demo: dict[str, Any], checker: StatusChecker
) -> None:
    """The cache file stays the source while the agent runs: an answer another process wrote
    (a CLI check that found the certificate revoked) is seen at the next signature, and a
    cleared cache is forgotten, however often the checker read the file before."""
    der = demo_der(demo, "org")
    path = checker.cache_dir / f"{hashlib.sha256(der).hexdigest()}.json"
    now = dt.datetime.now(dt.UTC)

    def written(status: str) -> None:  # as any writer does: a new file renamed into place
        answer = CertStatus(status, f"OCSP: {status}", "ocsp", now, now + dt.timedelta(hours=1))
        checker.cache_dir.mkdir(parents=True, exist_ok=True)
        body = {**answer.to_json(), "rules": CACHE_RULES}  # as StatusChecker writes it
        atomic_write(path, json.dumps(body).encode(), overwrite=True)

    written("good")
    for _ in range(3):
        hit = checker.cached(der)
        assert hit is not None and (hit.status, hit.cached) == ("good", True)
    written("revoked")
    hit = checker.cached(der)
    assert hit is not None and hit.status == "revoked"
    path.unlink()
    assert checker.cached(der) is None
    # Past its nextUpdate an answer is not used, whether read now or read before.
    written("good")
    assert checker.cached(der) is not None
    assert checker.cached(der, now + dt.timedelta(hours=2)) is None


# --- answers that must not be believed --------------------------------------------------------


def _response(
    demo: dict[str, Any],
    name: str,
    signer_cert: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    this_update: dt.datetime | None = None,
) -> bytes:
    now = dt.datetime.now(dt.UTC)
    this_update = this_update or now - dt.timedelta(minutes=1)
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=_cert(demo, name),
            issuer=_issuer(demo),
            algorithm=hashes.SHA1(),
            cert_status=status,
            this_update=this_update,
            next_update=this_update + dt.timedelta(hours=1),
            revocation_time=now if status == ocsp.OCSPCertStatus.REVOKED else None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, signer_cert)
        .certificates([signer_cert])
    )
    return builder.sign(signer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _leaf_signer(
    issuer_cert: x509.Certificate, issuer_key: rsa.RSAPrivateKey, *, ocsp_signing: bool
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(65537, 2048)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Responder")]))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if ocsp_signing:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256()), key


def test_the_real_delegated_responder_is_believed(demo: dict[str, Any]) -> None:
    ca = pki.TestCA.load(Path(demo["ca"]["issuing"]).parent)
    assert ca.ocsp_cert is not None and ca.ocsp_key is not None
    answer = _response(demo, "revoked", ca.ocsp_cert, ca.ocsp_key, ocsp.OCSPCertStatus.REVOKED)
    assert read_ocsp_response(answer, _cert(demo, "revoked"), _issuer(demo)).status == "revoked"
    # The CA itself may sign too.
    direct = _response(demo, "org", ca.issuing_cert, ca.issuing_key)
    assert read_ocsp_response(direct, _cert(demo, "org"), _issuer(demo)).status == "good"


def test_a_good_answer_from_someone_else_is_not_believed(demo: dict[str, Any]) -> None:
    ca = pki.TestCA.load(Path(demo["ca"]["issuing"]).parent)
    revoked, issuer = _cert(demo, "revoked"), _issuer(demo)
    # A stranger's self-made "responder" (same name as the CA's, not issued by it).
    stranger, stranger_key = _leaf_signer(
        ca.issuing_cert, rsa.generate_private_key(65537, 2048), ocsp_signing=True
    )
    forged = _response(demo, "revoked", stranger, stranger_key)
    result = read_ocsp_response(forged, revoked, issuer)
    assert result.status == "unknown" and "not signed by the CA" in result.reason
    # Issued by the CA, but not for OCSP signing.
    plain, plain_key = _leaf_signer(ca.issuing_cert, ca.issuing_key, ocsp_signing=False)
    result = read_ocsp_response(_response(demo, "revoked", plain, plain_key), revoked, issuer)
    assert result.status == "unknown"
    # The right responder, but the signature does not cover the answer.
    assert ca.ocsp_cert is not None and ca.ocsp_key is not None
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    signed = _response(demo, "revoked", ca.ocsp_cert, ca.ocsp_key, this_update=when)
    assert read_ocsp_response(signed, revoked, issuer).status == "good"
    stamp = when.strftime("%Y%m%d%H%M%SZ").encode()  # thisUpdate, inside the signed data
    moved = stamp[:-2] + (b"1" if stamp[-2:-1] == b"0" else b"0") + b"Z"
    assert signed.count(stamp) == 1
    tampered = signed.replace(stamp, moved)
    result = read_ocsp_response(tampered, revoked, issuer)
    assert result.status == "unknown" and "bad signature" in result.reason
    # An answer about another certificate says nothing about this one.
    other = _response(demo, "org", ca.ocsp_cert, ca.ocsp_key)
    result = read_ocsp_response(other, revoked, issuer)
    assert result.status == "unknown" and "another certificate" in result.reason


def test_stale_and_future_answers_are_not_believed(demo: dict[str, Any]) -> None:
    ca = pki.TestCA.load(Path(demo["ca"]["issuing"]).parent)
    assert ca.ocsp_cert is not None and ca.ocsp_key is not None
    org, issuer = _cert(demo, "org"), _issuer(demo)
    answer = _response(demo, "org", ca.ocsp_cert, ca.ocsp_key)
    assert read_ocsp_response(answer, org, issuer).status == "good"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert read_ocsp_response(answer, org, issuer, now=later).status == "unknown"
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    ahead = _response(demo, "org", ca.ocsp_cert, ca.ocsp_key, this_update=future)
    assert read_ocsp_response(ahead, org, issuer).status == "unknown"


def test_crl_checks_signature_issuer_and_freshness(demo: dict[str, Any]) -> None:
    ca = pki.TestCA.load(Path(demo["ca"]["issuing"]).parent)
    crl = Path(demo["ca"]["crl"]).read_bytes()
    revoked, org, issuer = _cert(demo, "revoked"), _cert(demo, "org"), _issuer(demo)
    assert read_crl(crl, revoked, issuer).status == "revoked"
    assert read_crl(crl, org, issuer).status == "good"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    assert read_crl(crl, org, issuer, now=later).status == "unknown"  # past nextUpdate
    # The root's CRL is not the issuing CA's: it cannot clear a leaf.
    root_crl = Path(demo["ca"]["root_crl"]).read_bytes()
    assert read_crl(root_crl, revoked, issuer).status == "unknown"
    # An empty CRL with the issuing CA's name but signed by another key.
    now = dt.datetime.now(dt.UTC)
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.issuing_cert.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=1))
        .sign(rsa.generate_private_key(65537, 2048), hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    assert read_crl(forged, revoked, issuer).status == "unknown"
    assert read_crl(b"not a crl", revoked, issuer).status == "unknown"
