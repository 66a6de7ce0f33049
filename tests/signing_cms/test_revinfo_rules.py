"""What an OCSP answer or CRL may and may not prove (agent.signing.revinfo) and how long a cached
answer is believed (agent.signing.certstatus): a "good" needs an answer that is the CA's, about
this certificate, covers it and is fresh; anything else is unknown, and revoked stays revoked.

Every answer here is genuinely signed with the demo PKI's keys: the question is never "is it
forged" (test_certstatus.py) but "does it say what the agent takes it to say"."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from agent.demo import pki
from agent.files import atomic_write
from agent.signing.certstatus import GOOD_CACHE_MAX, CertStatus, StatusChecker, still_true
from agent.signing.revinfo import MAX_AGE_WITHOUT_NEXT_UPDATE, read_crl, read_ocsp_response
from tests.pki_responder import ReplayResponder, demo_der, issuing_der

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
GOOD, REVOKED = ocsp.OCSPCertStatus.GOOD, ocsp.OCSPCertStatus.REVOKED
Ext = tuple[x509.ExtensionType, bool]


@pytest.fixture
def ca(demo: dict[str, Any]) -> pki.TestCA:
    """The demo's CAs with their keys."""
    return pki.TestCA.load(Path(demo["ca"]["issuing"]).parent)


def _cert(demo: dict[str, Any], name: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(demo_der(demo, name))


def _answer(
    ca: pki.TestCA,
    cert: x509.Certificate,
    status: ocsp.OCSPCertStatus = GOOD,
    *,
    age: dt.timedelta = dt.timedelta(minutes=1),
    valid_for: dt.timedelta | None = None,
    reason: x509.ReasonFlags | None = None,
    extensions: Sequence[Ext] = (),
) -> bytes:
    """A DER OCSP answer signed by the issuing CA itself: thisUpdate ``age`` ago, nextUpdate
    ``valid_for`` after it (none when None)."""
    this_update = NOW - age
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert,
        issuer=ca.issuing_cert,
        algorithm=hashes.SHA1(),
        cert_status=status,
        this_update=this_update,
        next_update=this_update + valid_for if valid_for is not None else None,
        revocation_time=NOW - dt.timedelta(days=30) if status == REVOKED else None,
        revocation_reason=reason if status == REVOKED else None,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca.issuing_cert)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(ca.issuing_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _resigned(ca: pki.TestCA, der: bytes, edit: Callable[[Any], None]) -> bytes:
    """``der`` with its ResponseData edited (what cryptography's builder cannot make: several
    SingleResponses, extensions on one) and signed again by the issuing CA."""
    response = asn1_ocsp.OCSPResponse.load(der)
    basic = response.basic_ocsp_response
    data = basic["tbs_response_data"]
    edit(data)
    basic["signature"] = ca.issuing_key.sign(
        data.dump(force=True), padding.PKCS1v15(), hashes.SHA256()
    )
    rebuilt = asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    )
    return rebuilt.dump(force=True)


def _crl(
    ca: pki.TestCA,
    extensions: Sequence[Ext] = (),
    *,
    listed: Sequence[tuple[int, x509.ReasonFlags | None, Sequence[Ext]]] = (),
    root: bool = False,
    age: dt.timedelta = dt.timedelta(hours=1),
) -> bytes:
    """A CRL ``age`` old (current for a week from then) signed by the issuing CA (the root if
    ``root``), listing ``listed`` (serial, reason, entry extensions)."""
    name = (ca.root_cert if root else ca.issuing_cert).subject
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name)
        .last_update(NOW - age)
        .next_update(NOW - age + dt.timedelta(days=7))
        .add_extension(x509.CRLNumber(7), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    for serial, reason, entry_extensions in listed:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(NOW - dt.timedelta(days=2))
        )
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        for extension, critical in entry_extensions:
            entry = entry.add_extension(extension, critical)
        builder = builder.add_revoked_certificate(entry.build())
    key = ca.root_key if root else ca.issuing_key
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _idp(
    names: list[x509.GeneralName] | None = None,
    *,
    user: bool = False,
    ca_only: bool = False,
    reasons: frozenset[x509.ReasonFlags] | None = None,
    indirect: bool = False,
    attributes: bool = False,
) -> Ext:
    return (
        x509.IssuingDistributionPoint(names, None, user, ca_only, reasons, indirect, attributes),
        True,
    )


def _leaf(ca: pki.TestCA, points: list[x509.DistributionPoint] | None) -> x509.Certificate:
    """An end-entity certificate of the issuing CA with these CRL distribution points."""
    key = rsa.generate_private_key(65537, 2048)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Partitioned")]))
        .issuer_name(ca.issuing_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
    )
    if points is not None:
        builder = builder.add_extension(x509.CRLDistributionPoints(points), critical=False)
    return builder.sign(ca.issuing_key, hashes.SHA256())


def _own_url(cert: x509.Certificate) -> x509.UniformResourceIdentifier:
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    (name,) = points[0].full_name or []
    assert isinstance(name, x509.UniformResourceIdentifier)
    return name


# --- OCSP --------------------------------------------------------------------------------------


def test_an_answer_without_next_update_counts_for_a_day_only(
    demo: dict[str, Any], ca: pki.TestCA
) -> None:
    """F2: the CA's genuine "good" from before the revocation, no nextUpdate, replayed."""
    revoked, issuer = _cert(demo, "revoked"), ca.issuing_cert
    replayed = read_ocsp_response(_answer(ca, revoked, age=dt.timedelta(days=300)), revoked, issuer)
    assert replayed.status == "unknown" and "nextUpdate" in replayed.reason
    just_over = MAX_AGE_WITHOUT_NEXT_UPDATE + dt.timedelta(minutes=1)
    assert read_ocsp_response(_answer(ca, revoked, age=just_over), revoked, issuer).status == (
        "unknown"
    )
    # A live answer without nextUpdate (what such responders give) is believed, and not kept.
    live = read_ocsp_response(_answer(ca, revoked, age=dt.timedelta(hours=2)), revoked, issuer)
    assert (live.status, live.next_update) == ("good", None)
    assert not still_true(live, NOW)


def test_a_revocation_stays_revoked_however_old_the_answer(
    demo: dict[str, Any], ca: pki.TestCA
) -> None:
    revoked, issuer = _cert(demo, "revoked"), ca.issuing_cert
    old = _answer(ca, revoked, REVOKED, age=dt.timedelta(days=300), valid_for=dt.timedelta(days=1))
    result = read_ocsp_response(old, revoked, issuer)
    assert (result.status, result.revocation_reason) == ("revoked", None)
    assert still_true(result, NOW + dt.timedelta(days=3650))  # and the cache keeps it
    # A hold can be lifted: an old one proves nothing now, a current one still refuses.
    hold = x509.ReasonFlags.certificate_hold
    stale_hold = _answer(
        ca, revoked, REVOKED, age=dt.timedelta(days=3), valid_for=dt.timedelta(days=1), reason=hold
    )
    assert read_ocsp_response(stale_hold, revoked, issuer).status == "unknown"
    fresh_hold = _answer(ca, revoked, REVOKED, valid_for=dt.timedelta(hours=1), reason=hold)
    on_hold = read_ocsp_response(fresh_hold, revoked, issuer)
    assert (on_hold.status, on_hold.revocation_reason) == ("revoked", "certificate_hold")
    assert not still_true(on_hold, NOW + dt.timedelta(hours=2))
    # The same for a CRL long past its nextUpdate.
    month = dt.timedelta(days=30)
    for reason, status in ((x509.ReasonFlags.key_compromise, "revoked"), (hold, "unknown")):
        old_crl = _crl(ca, listed=[(revoked.serial_number, reason, ())], age=month)
        assert read_crl(old_crl, revoked, issuer).status == status


def test_an_answer_with_a_critical_extension_kyso_does_not_know_is_not_used(
    demo: dict[str, Any], ca: pki.TestCA
) -> None:
    org, issuer = _cert(demo, "org"), ca.issuing_cert
    strange = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    hour = dt.timedelta(hours=1)
    plain = _answer(ca, org, valid_for=hour)
    assert read_ocsp_response(plain, org, issuer).status == "good"
    critical = _answer(ca, org, valid_for=hour, extensions=[(strange, True)])
    result = read_ocsp_response(critical, org, issuer)
    assert result.status == "unknown" and "critical" in result.reason
    assert read_ocsp_response(
        _answer(ca, org, valid_for=hour, extensions=[(strange, False)]), org, issuer
    ).status == ("good")  # RFC 6960 §4.4: a non-critical one is ignored

    def on_the_single_response(data: Any) -> None:
        data["responses"][0]["single_extensions"] = [
            {"extn_id": "1.3.6.1.4.1.99999.2", "critical": True, "extn_value": b"\x05\x00"}
        ]

    single = read_ocsp_response(_resigned(ca, plain, on_the_single_response), org, issuer)
    assert single.status == "unknown" and "critical" in single.reason


def test_every_answer_about_the_certificate_must_agree(
    demo: dict[str, Any], ca: pki.TestCA
) -> None:
    """One signed answer may carry several SingleResponses for the same certificate: a good one
    listed first does not hide a revoked or a stale one after it."""
    revoked, issuer = _cert(demo, "revoked"), ca.issuing_cert
    good = _answer(ca, revoked, valid_for=dt.timedelta(hours=1))
    listed = _answer(ca, revoked, REVOKED, valid_for=dt.timedelta(hours=1))
    stale = _answer(ca, revoked, age=dt.timedelta(days=3), valid_for=dt.timedelta(days=1))

    def followed_by(other: bytes) -> Callable[[Any], None]:
        second = asn1_ocsp.OCSPResponse.load(other).basic_ocsp_response["tbs_response_data"]

        def edit(data: Any) -> None:
            first = data["responses"][0]
            data["responses"] = [first.copy(), second["responses"][0].copy()]

        return edit

    assert read_ocsp_response(_resigned(ca, good, followed_by(good)), revoked, issuer).status == (
        "good"
    )
    both = read_ocsp_response(_resigned(ca, good, followed_by(listed)), revoked, issuer)
    assert both.status == "revoked"
    assert read_ocsp_response(_resigned(ca, good, followed_by(stale)), revoked, issuer).status == (
        "unknown"
    )


# --- CRLs --------------------------------------------------------------------------------------


def test_a_delta_crl_alone_proves_nothing(demo: dict[str, Any], ca: pki.TestCA) -> None:
    """F3: the CA's fresh, empty delta CRL served at the CRL address."""
    revoked, issuer = _cert(demo, "revoked"), ca.issuing_cert
    delta = [(x509.DeltaCRLIndicator(6), True)]
    result = read_crl(_crl(ca, delta), revoked, issuer)
    assert result.status == "unknown" and "delta" in result.reason
    # What a delta lists is revoked all the same; removeFromCRL is only a delta's business.
    key = x509.ReasonFlags.key_compromise
    listed = _crl(ca, delta, listed=[(revoked.serial_number, key, ())])
    assert read_crl(listed, revoked, issuer).status == "revoked"
    removed = x509.ReasonFlags.remove_from_crl
    released = _crl(ca, delta, listed=[(revoked.serial_number, removed, ())])
    assert read_crl(released, revoked, issuer).status == "unknown"


def test_a_crl_for_another_distribution_point_proves_nothing(
    demo: dict[str, Any], ca: pki.TestCA
) -> None:
    """F4: a partitioned CRL (IDP naming another distribution point) does not clear this
    certificate; one naming the certificate's own distribution point does."""
    org, issuer = _cert(demo, "org"), ca.issuing_cert
    elsewhere = [x509.UniformResourceIdentifier("http://127.0.0.1:1/part9.crl")]
    other = read_crl(_crl(ca, [_idp(elsewhere)]), org, issuer)
    assert other.status == "unknown" and "another distribution point" in other.reason
    relative = x509.IssuingDistributionPoint(
        None,
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "part9")]),
        False,
        False,
        None,
        False,
        False,
    )
    assert read_crl(_crl(ca, [(relative, True)]), org, issuer).status == "unknown"
    own = read_crl(_crl(ca, [_idp([_own_url(org)], user=True)]), org, issuer)
    assert own.status == "good"
    # Its own partition lists it: revoked (and so would any of its CA's CRLs).
    revoked = _cert(demo, "revoked")
    listed = [(revoked.serial_number, x509.ReasonFlags.key_compromise, ())]
    assert read_crl(_crl(ca, [_idp(elsewhere)], listed=listed), revoked, issuer).status == (
        "revoked"
    )


def test_a_certificate_without_distribution_points_is_covered_by_the_ca_name_only(
    ca: pki.TestCA,
) -> None:
    bare, issuer = _leaf(ca, None), ca.issuing_cert
    by_name = _idp([x509.DirectoryName(issuer.subject)])
    assert read_crl(_crl(ca, [by_name]), bare, issuer).status == "good"
    url = _idp([x509.UniformResourceIdentifier("http://127.0.0.1:1/part1.crl")])
    assert read_crl(_crl(ca, [url]), bare, issuer).status == "unknown"


def test_crls_split_by_reason_cannot_clear_a_certificate(ca: pki.TestCA) -> None:
    url = x509.UniformResourceIdentifier("http://127.0.0.1:1/kc.crl")
    key_compromise = frozenset({x509.ReasonFlags.key_compromise})
    split = _leaf(ca, [x509.DistributionPoint([url], None, key_compromise, None)])
    issuer = ca.issuing_cert
    result = read_crl(_crl(ca), split, issuer)
    assert result.status == "unknown" and "split by reason" in result.reason
    whole = _leaf(ca, [x509.DistributionPoint([url], None, None, None)])
    assert read_crl(_crl(ca), whole, issuer).status == "good"
    some = read_crl(_crl(ca, [_idp(reasons=key_compromise)]), whole, issuer)
    assert some.status == "unknown" and "some reasons" in some.reason


@pytest.mark.parametrize(
    ("scope", "why"),
    [
        (_idp(attributes=True), "attribute certificates"),
        (_idp(ca_only=True), "CA certificates only"),
        (_idp(indirect=True), "indirect"),
        (
            (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), b"\x05\x00"), True),
            "critical extension",
        ),
    ],
)
def test_a_crl_that_is_not_about_this_kind_of_certificate_is_not_used(
    demo: dict[str, Any], ca: pki.TestCA, scope: Ext, why: str
) -> None:
    """F4: RFC 5280 §6.3.3 (b)(2) and §5.2: such a CRL is neither good nor revoked."""
    org, revoked, issuer = _cert(demo, "org"), _cert(demo, "revoked"), ca.issuing_cert
    result = read_crl(_crl(ca, [scope]), org, issuer)
    assert result.status == "unknown" and why in result.reason
    listed = [(revoked.serial_number, x509.ReasonFlags.key_compromise, ())]
    assert read_crl(_crl(ca, [scope], listed=listed), revoked, issuer).status == "unknown"


def test_a_crl_of_end_entities_does_not_clear_a_ca(demo: dict[str, Any], ca: pki.TestCA) -> None:
    issuing, root = ca.issuing_cert, ca.root_cert
    assert read_crl(_crl(ca, root=True), issuing, root).status == "good"
    users = read_crl(_crl(ca, [_idp(user=True)], root=True), issuing, root)
    assert users.status == "unknown" and "end-entity" in users.reason


def test_an_entry_with_a_critical_extension_kyso_does_not_know_is_not_used(
    demo: dict[str, Any], ca: pki.TestCA
) -> None:
    revoked, issuer = _cert(demo, "revoked"), ca.issuing_cert
    strange = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.6"), b"\x05\x00")
    other_issuer = x509.CertificateIssuer([x509.DirectoryName(ca.root_cert.subject)])
    for entry_extension in (strange, other_issuer):
        listed = [(revoked.serial_number, None, [(entry_extension, True)])]
        assert read_crl(_crl(ca, listed=listed), revoked, issuer).status == "unknown"


def test_a_ca_certificate_without_crl_sign_vouches_for_no_crl(
    demo: dict[str, Any], ca: pki.TestCA
) -> None:
    """RFC 5280 §6.3.3 (f): the same CA name and key, but a certificate that may not sign CRLs."""
    no_crl_sign = x509.KeyUsage(True, False, False, False, False, True, False, False, False)
    builder = (
        x509.CertificateBuilder()
        .subject_name(ca.issuing_cert.subject)
        .issuer_name(ca.root_cert.subject)
        .public_key(ca.issuing_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(no_crl_sign, critical=True)
    )
    issuer = builder.sign(ca.root_key, hashes.SHA256())
    org = _cert(demo, "org")
    assert read_crl(_crl(ca), org, ca.issuing_cert).status == "good"
    result = read_crl(_crl(ca), org, issuer)
    assert result.status == "unknown" and "not for signing CRLs" in result.reason


# --- the cache ---------------------------------------------------------------------------------


def _written(checker: StatusChecker, der: bytes, data: dict[str, Any]) -> None:
    path = checker.cache_dir / f"{hashlib.sha256(der).hexdigest()}.json"
    checker.cache_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data).encode(), overwrite=True)


def test_a_cached_good_is_believed_for_a_day_at_most(demo: dict[str, Any], tmp_path: Path) -> None:
    """F7: a CRL's "good" may promise 30 days; the cache believes it for a day."""
    checker = StatusChecker(tmp_path / "cache")
    der = demo_der(demo, "org")
    month = NOW + dt.timedelta(days=30)
    good = CertStatus("good", "CRL: not listed", "crl", NOW, month)
    checker._store(der, good, NOW)
    assert checker.cached(der, NOW + dt.timedelta(hours=23)) is not None
    assert checker.cached(der, NOW + GOOD_CACHE_MAX) is None
    # Not stretched by a clock that went back either.
    assert checker.cached(der, NOW - dt.timedelta(hours=2)) is None
    # A file written under the old rules (which took a delta CRL for "good") is asked again.
    _written(checker, der, good.to_json())
    assert checker.cached(der, NOW + dt.timedelta(minutes=1)) is None


def test_a_cached_revocation_is_kept_past_next_update(demo: dict[str, Any], tmp_path: Path) -> None:
    checker = StatusChecker(tmp_path / "cache")
    der = demo_der(demo, "revoked")
    hour = NOW + dt.timedelta(hours=1)
    revoked = CertStatus("revoked", "OCSP: revoked", "ocsp", NOW, hour, NOW, "key_compromise")
    checker._store(der, revoked, NOW)
    hit = checker.cached(der, NOW + dt.timedelta(days=400))
    assert hit is not None and hit.status == "revoked"
    held = CertStatus("revoked", "OCSP: revoked", "ocsp", NOW, hour, NOW, "certificate_hold")
    checker._store(der, held, NOW)
    assert checker.cached(der, NOW + dt.timedelta(minutes=30)) is not None
    assert checker.cached(der, NOW + dt.timedelta(hours=2)) is None


@pytest.mark.parametrize("attack", ["stale-ocsp", "delta-crl", "partition-crl"])
async def test_an_attacker_answer_is_unknown_and_never_cached(
    demo: dict[str, Any], ca: pki.TestCA, tmp_path: Path, attack: str
) -> None:
    """The whole check, fetching from an on-path attacker who holds only the CA's genuine
    answers: unknown (the consent warns), and nothing on disk to believe later."""
    revoked = _cert(demo, "revoked")
    elsewhere = [x509.UniformResourceIdentifier("http://127.0.0.1:1/part9.crl")]
    served: dict[str, tuple[bytes | None, bytes | None]] = {
        "stale-ocsp": (_answer(ca, revoked, age=dt.timedelta(days=300)), None),
        "delta-crl": (None, _crl(ca, [(x509.DeltaCRLIndicator(6), True)])),
        "partition-crl": (None, _crl(ca, [_idp(elsewhere)])),
    }
    ocsp_body, crl_body = served[attack]
    checker = StatusChecker(tmp_path / "cache")
    with ReplayResponder(demo, ocsp=ocsp_body, crl=crl_body) as attacker:
        status = await checker.status(demo_der(demo, "revoked"), [issuing_der(demo)])
    assert "POST /ocsp" in attacker.requests and "GET /issuing.crl" in attacker.requests
    assert status.status == "unknown"
    assert not checker.cache_dir.exists() or not any(checker.cache_dir.iterdir())
    # With the CA's real CRL behind the replayed OCSP answer, the check falls through to it.
    real_crl = x509.load_pem_x509_crl(Path(demo["ca"]["crl"]).read_bytes())
    crl_der = real_crl.public_bytes(serialization.Encoding.DER)
    with ReplayResponder(demo, ocsp=served["stale-ocsp"][0], crl=crl_der):
        fell_through = await StatusChecker(tmp_path / "cache2").status(
            demo_der(demo, "revoked"), [issuing_der(demo)]
        )
    assert (fell_through.status, fell_through.source) == ("revoked", "crl")


def test_a_certificate_whose_extensions_cannot_be_read_names_no_address() -> None:
    """A malformed AIA extension made cryptography raise ValueError out of the status check
    (INTERNAL_ERROR instead of "unknown"): no address is asked, the status is unknown."""
    from cryptography.x509.oid import ExtensionOID

    from agent.signing.revinfo import revocation_urls

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "malformed")])
    now = dt.datetime.now(dt.UTC)
    broken = x509.UnrecognizedExtension(ExtensionOID.AUTHORITY_INFORMATION_ACCESS, b"\x30\x03\x02")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(broken, critical=False)
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(ValueError):
        _ = cert.extensions  # what the status check met
    assert revocation_urls(cert) == ([], [], [])


def test_an_answer_with_an_algorithm_nobody_knows_is_no_answer(
    demo: dict[str, Any], ca: pki.TestCA
) -> None:
    """Red team round 7: anyone on the plain-http path sent an unsigned answer naming the CA
    and a signature algorithm OID cryptography does not know: UnsupportedAlgorithm came out of
    the check and the good certificate got INTERNAL_ERROR. It is no answer (unknown)."""
    org, issuer = _cert(demo, "org"), ca.issuing_cert
    response = asn1_ocsp.OCSPResponse.load(_answer(ca, org))
    basic = response.basic_ocsp_response
    basic["signature_algorithm"] = {"algorithm": "1.2.3.4.5"}
    basic["signature"] = b"\x00" * 256
    forged = asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    ).dump(force=True)
    read = read_ocsp_response(forged, org, issuer)
    assert read.status == "unknown" and "UnsupportedAlgorithm" in read.reason, read
