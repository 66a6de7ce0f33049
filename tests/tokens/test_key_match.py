"""A certificate signs only with ITS key: the token's CKA_ID pairing is checked, not trusted.

Real tokens carry stale keys and certificates after a renewal (the new certificate written under
the old key's id, two keys under one id). Before this check the token layer took the first
private key under the certificate's CKA_ID: the CLI and the agent answered "signed" with a
signature no verifier accepts (red-team F4).

One extra SoftHSM2 token, "KYSO KEYMATCH", is built here with softhsm2-util and pkcs11-tool (its
own process, as a CA's renewal tool would) in the demo's token store, and removed afterwards:

- id 01: an RSA key pair generated on the token + the certificate of ANOTHER RSA key: the
  private key shows its modulus, so the mismatch is seen when the key is opened;
- id 02: the same with P-256: an EC private key shows its curve but not its point, so the
  first signature is verified against the certificate before it may leave the token layer;
- id 03: two RSA private keys under one id and a certificate for each;
- id 04: the same with two P-256 keys. Whichever key the token lists first, one of the two
  certificates has its key second, so taking the first key under the id fails for it.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from agent.cli.main import main
from agent.errors import ErrorGroup, KysoError
from agent.tokens import SignatureAlgorithm, StaticPinProvider
from agent.tokens.keymatch import (
    KeyFacts,
    Verdict,
    choose,
    judge,
    listing_mismatch,
    signature_verifies,
)
from agent.tokens.modules import ModuleCandidate
from agent.tokens.service import TokenService
from tests.conftest import cert_thumbprint
from tests.server.conftest import (  # noqa: F401  (fixtures, registered by being imported)
    ORIGIN,
    answers,
    client_ssl,
    harness,
    prompter,
    server_cert,
)
from tests.signing_xml.helpers import HOSO
from tests.tokens.conftest import TOKEN1, TOKEN2, pin_of

LABEL = "KYSO KEYMATCH"
PIN = "123456"  # the server harness's scripted PIN
SO_PIN = "12345678"
MST = "0101234567"  # HOSO's unit, so the bhxh profile's MST check passes
RSA256 = SignatureAlgorithm.RSA_PKCS1_SHA256
ES256 = SignatureAlgorithm.ECDSA_SHA256


@dataclass(frozen=True)
class Issued:
    """A certificate on the KYSO KEYMATCH token."""

    name: str
    thumbprint: str
    certificate: x509.Certificate


def _new_key(kind: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if kind == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _certificate(name: str, key: CertificateIssuerPrivateKeyTypes) -> x509.Certificate:
    """A self-signed signing certificate (its revocation status is unknown: signing goes on)."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"Cong ty {name}"),
            x509.NameAttribute(NameOID.USER_ID, f"MST:{MST}"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )


class KeymixToken:
    """Builds the KYSO KEYMATCH token with the command-line tools, in their own processes."""

    def __init__(self, module: str, work: Path) -> None:
        self.module = module
        self.work = work
        self.issued: dict[str, Issued] = {}

    def _run(self, *argv: str) -> None:
        subprocess.run(argv, check=True, capture_output=True)

    def _tool(self, *args: str) -> None:
        self._run(
            "pkcs11-tool", "--module", self.module, "--token-label", LABEL, "--login",
            "--pin", PIN, *args,
        )  # fmt: skip

    def create(self) -> None:
        """The token and its four key ids (see the module's docstring)."""
        self._run(
            "softhsm2-util", "--init-token", "--free", "--label", LABEL,
            "--pin", PIN, "--so-pin", SO_PIN,
        )  # fmt: skip
        for key_id, kind, key_type in (("01", "RSA", "rsa:2048"), ("02", "EC", "EC:prime256v1")):
            # A key pair ON the token (private + public object), and the certificate of a key
            # that is nowhere on it, under the same id.
            self._tool("--keypairgen", "--key-type", key_type, "--id", key_id, "--label", "old")
            self._store_certificate(f"stale-{kind.lower()}", key_id, _new_key(kind))
        for key_id, kind in (("03", "RSA"), ("04", "EC")):
            for which in ("1", "2"):
                key = _new_key(kind)
                self._import_key(key, key_id, f"key{which}")
                self._store_certificate(f"two-{kind.lower()}-{which}", key_id, key)

    def _import_key(self, key: Any, key_id: str, label: str) -> None:
        """A software key written to the token: the private key, and its public key (which
        is what shows a key under this id before login)."""
        private = self.work / f"{key_id}-{label}.der"
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        public = self.work / f"{key_id}-{label}.pub.der"
        public.write_bytes(_spki(key.public_key()))
        for path, kind in ((private, "privkey"), (public, "pubkey")):
            self._tool(
                "--write-object", str(path), "--type", kind, "--id", key_id, "--label", label,
                "--usage-sign",
            )  # fmt: skip

    def _store_certificate(self, name: str, key_id: str, key: Any) -> None:
        cert = _certificate(name, key)
        der = cert.public_bytes(serialization.Encoding.DER)
        path = self.work / f"{name}.der"
        path.write_bytes(der)
        self._tool("--write-object", str(path), "--type", "cert", "--id", key_id, "--label", name)
        self.issued[name] = Issued(name, hashlib.sha256(der).hexdigest(), cert)

    def delete(self) -> None:
        """Remove the token from the demo's store (if it was made at all)."""
        subprocess.run(
            ["softhsm2-util", "--delete-token", "--token", LABEL], check=False, capture_output=True
        )


async def _rescan(module: str) -> None:
    """Make this process's SoftHSM2 see the token store as it is now (re-initialised when idle,
    which is how the token layer notices a token inserted or removed)."""
    service = TokenService([ModuleCandidate(module, "SoftHSM2 (demo)", "demo", True)])
    await service.start(monitor=False)
    try:
        await service.rescan()
    finally:
        await service.close()


@pytest.fixture(scope="module")
def keymix(
    demo: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Issued]]:
    """The KYSO KEYMATCH token's certificates by name; the token is deleted afterwards."""
    token = KeymixToken(demo["module"], tmp_path_factory.mktemp("keymix"))
    try:
        token.create()
        asyncio.run(_rescan(demo["module"]))
        yield token.issued
    finally:
        token.delete()
        asyncio.run(_rescan(demo["module"]))


def _verifies(cert: x509.Certificate, signature: bytes, data: bytes, *, digest: bool) -> bool:
    """An independent check (cryptography, not the code under test) that ``cert``'s key made
    ``signature`` over ``data`` (a SHA-256 digest when ``digest``)."""
    from cryptography.exceptions import InvalidSignature

    chosen: Any = Prehashed(hashes.SHA256()) if digest else hashes.SHA256()
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), chosen)
        else:
            assert isinstance(key, ec.EllipticCurvePublicKey)
            key.verify(signature, data, ec.ECDSA(chosen))
    except InvalidSignature:
        return False
    return True


def _algorithm(cert: x509.Certificate) -> SignatureAlgorithm:
    return RSA256 if isinstance(cert.public_key(), rsa.RSAPublicKey) else ES256


# ---- the token layer --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["stale-rsa", "stale-ec"])
async def test_a_key_that_is_not_the_certificates_is_refused(keymix, token_service, name):
    issued = keymix[name]
    await token_service.rescan()
    signatures: list[bytes] = []
    opened = False
    with pytest.raises(KysoError) as err:
        async with token_service.open_key(issued.thumbprint, StaticPinProvider(PIN)) as key:
            opened = True
            signatures.append(await key.sign(b"<Hoso/>", _algorithm(issued.certificate)))
    assert signatures == []  # nothing signed left the token layer
    # An RSA private key shows its modulus: refused at login, before the token signs anything.
    # An EC one shows only its curve: refused when its first signature does not verify.
    assert opened is (name == "stale-ec")
    assert err.value.code == "KEY_CERT_MISMATCH"
    assert err.value.is_(ErrorGroup.TOKEN_FAULT)  # the CLI's batch stops, no login is kept
    assert err.value.details["key_id"] == {"stale-rsa": "01", "stale-ec": "02"}[name]
    wire = err.value.to_dict()
    assert f"Cong ty {name}" in wire["message_en"] and f"Cong ty {name}" in wire["message_vi"]
    assert "does not belong" in wire["message_en"] and "không thuộc về" in wire["message_vi"]
    assert "certificate provider" in wire["action_en"] and "Nothing was signed" in wire["action_en"]


async def test_a_refused_key_stays_refused_for_the_whole_session(keymix, token_service):
    # The EC case is only found by the first signature: a second one must not try the key again.
    issued = keymix["stale-ec"]
    await token_service.rescan()
    cert = await token_service.find_certificate(issued.thumbprint)
    async with token_service.reserve(cert) as turn, turn.key(StaticPinProvider(PIN)) as key:
        for data in (b"first", b"second"):
            with pytest.raises(KysoError) as err:
                await key.sign(data, ES256)
            assert err.value.code == "KEY_CERT_MISMATCH"


@pytest.mark.parametrize("kind", ["rsa", "ec"])
async def test_two_keys_under_one_id_each_certificate_signs_with_its_own(
    keymix, token_service, kind
):
    await token_service.rescan()
    for which in ("1", "2"):
        issued = keymix[f"two-{kind}-{which}"]
        alg = _algorithm(issued.certificate)
        async with token_service.open_key(issued.thumbprint, StaticPinProvider(PIN)) as key:
            # The first signature settles the key; later ones in the session use it.
            for data in (b"one", b"two", b"three"):
                signature = await key.sign(data, alg)
                assert _verifies(issued.certificate, signature, data, digest=False), issued.name
            digest = hashlib.sha256(b"four").digest()
            signature = await key.sign_digest(digest, alg)
            assert _verifies(issued.certificate, signature, digest, digest=True), issued.name


async def test_a_token_that_hides_its_keys_public_half_is_checked_by_the_signature(
    keymix, token_service, monkeypatch
):
    # Some tokens show neither the modulus nor CKA_PUBLIC_KEY_INFO on a private key. SoftHSM2
    # shows them for RSA, so fake only that read (the narrowest seam): the first signature must
    # then prove the key, as it does for every EC key.
    import agent.tokens.module.keys as keys

    monkeypatch.setattr(keys, "key_facts", lambda key: KeyFacts())
    await token_service.rescan()
    with pytest.raises(KysoError) as err:
        async with token_service.open_key(
            keymix["stale-rsa"].thumbprint, StaticPinProvider(PIN)
        ) as key:
            await key.sign(b"data", RSA256)
    assert err.value.code == "KEY_CERT_MISMATCH"
    for name in ("two-rsa-1", "two-rsa-2"):
        issued = keymix[name]
        async with token_service.open_key(issued.thumbprint, StaticPinProvider(PIN)) as key:
            digest = hashlib.sha256(name.encode()).digest()
            signature = await key.sign_digest(digest, RSA256)
            assert _verifies(issued.certificate, signature, digest, digest=True), name


async def test_a_key_whose_attributes_claim_the_certificate_is_still_checked(
    keymix, token_service, monkeypatch
):
    # A token whose private key reports the certificate's modulus but signs with another key
    # (a buggy or doctored token): what the attributes say chooses the key, the first signature
    # proves it. Faked at the one read of those attributes.
    import agent.tokens.module.keys as keys

    issued = keymix["stale-rsa"]
    numbers = issued.certificate.public_key().public_numbers()
    modulus = numbers.n.to_bytes(256, "big")
    monkeypatch.setattr(keys, "key_facts", lambda key: KeyFacts("RSA", modulus, b"\x01\x00\x01"))
    await token_service.rescan()
    with pytest.raises(KysoError) as err:
        async with token_service.open_key(issued.thumbprint, StaticPinProvider(PIN)) as key:
            await key.sign(b"data", RSA256)
    assert err.value.code == "KEY_CERT_MISMATCH"


@pytest.mark.parametrize(
    ("name", "label"), [("org", TOKEN1), ("ec", TOKEN1), ("org_renewed", TOKEN2)]
)
async def test_normal_tokens_sign_as_before(demo, token_service, name, label):
    thumb = cert_thumbprint(demo, name)
    async with token_service.open_key(thumb, StaticPinProvider(pin_of(demo, label))) as key:
        cert = key.certificate.info.certificate
        alg = _algorithm(cert)
        for data in (b"a", b"b"):
            assert _verifies(cert, await key.sign(data, alg), data, digest=False)


# ---- the agent's server method --------------------------------------------------------------
def _signed_digest(i: int) -> tuple[bytes, str]:
    digest = hashlib.sha256(f"document {i}".encode()).digest()
    return digest, base64.b64encode(digest).decode()


async def test_the_agent_refuses_before_any_signature_leaves(
    keymix: dict[str, Issued],
    harness: Any,  # noqa: F811 - the fixture imported above
) -> None:
    await harness.tokens.rescan()
    await harness.start()
    client = await harness.client()
    for i, name in enumerate(("stale-rsa", "stale-ec")):
        _digest, b64 = _signed_digest(i)
        reply = await client.request(
            "sign.hash", {"digest": b64, "certificate": keymix[name].thumbprint}
        )
        assert "result" not in reply, name
        assert reply["error"]["data"]["code"] == "KEY_CERT_MISMATCH", reply
    outcomes = [(r.get("outcome"), r.get("result")) for r in harness.audit_lines()]
    assert outcomes == [("refused", "KEY_CERT_MISMATCH")] * 2, outcomes


async def test_the_agent_signs_with_the_matching_key_of_two(
    keymix: dict[str, Issued],
    harness: Any,  # noqa: F811 - the fixture imported above
) -> None:
    await harness.tokens.rescan()
    await harness.start()
    client = await harness.client()
    for i, name in enumerate(("two-rsa-1", "two-rsa-2", "two-ec-1", "two-ec-2")):
        digest, b64 = _signed_digest(i)
        result = await client.call(
            "sign.hash", {"digest": b64, "certificate": keymix[name].thumbprint}
        )
        signature = base64.b64decode(result["signature"])
        assert _verifies(keymix[name].certificate, signature, digest, digest=True), name


# ---- the CLI ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "document", "profile"),
    [("stale-rsa", HOSO, "bhxh"), ("stale-ec", b"<Doc><a>1</a></Doc>", "generic")],
)
def test_sign_xml_refuses_and_writes_nothing(keymix, tmp_path, capsys, name, document, profile):
    asyncio.run(_rescan_for_cli())
    source = tmp_path / "a.xml"
    source.write_bytes(document)
    pin = tmp_path / "pin"
    pin.write_text(PIN + "\n")
    argv = ["sign-xml", str(source), "--cert", keymix[name].thumbprint, "--pin-file", str(pin)]
    status = main([*argv, "--profile", profile, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status != 0 and out["ok"] is False, out
    errors = [out.get("error")] + [r.get("error") for r in out.get("results", [])]
    assert any(e and e["code"] == "KEY_CERT_MISMATCH" for e in errors), out
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith("_signed.xml")] == []


@pytest.mark.parametrize("name", ["two-rsa-1", "two-rsa-2"])
def test_sign_xml_with_one_of_two_keys_under_an_id_verifies_in_xmlsec1(
    keymix, tmp_path, capsys, xmlsec1, name
):
    asyncio.run(_rescan_for_cli())
    source = tmp_path / "a.xml"
    source.write_bytes(HOSO)
    pin = tmp_path / "pin"
    pin.write_text(PIN + "\n")
    argv = ["sign-xml", str(source), "--cert", keymix[name].thumbprint, "--pin-file", str(pin)]
    assert main([*argv, "--json"]) == 0, capsys.readouterr().out
    trusted = tmp_path / "cert.pem"
    trusted.write_bytes(keymix[name].certificate.public_bytes(serialization.Encoding.PEM))
    verify = subprocess.run(
        [xmlsec1, "--verify", "--enabled-key-data", "x509", "--trusted-pem", str(trusted),
         "--id-attr:Id", "Hoso", str(tmp_path / "a_signed.xml")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr


def test_certs_says_when_the_key_on_the_token_is_not_the_certificates(keymix, capsys):
    # A key object under each certificate's CKA_ID: the listing said "private key: yes" for
    # all six. What the token shows without login (the public key stored with the stale key
    # pair) is another key for stale-rsa and stale-ec: signing with those is refused.
    asyncio.run(_rescan_for_cli())
    capsys.readouterr()
    assert main(["certs", "--json"]) == 0
    listed = {entry["thumbprint"]: entry for entry in json.loads(capsys.readouterr().out)}
    for name, issued in keymix.items():
        entry = listed[issued.thumbprint]
        assert entry["has_private_key"] is True, name
        assert entry["key_mismatch"] is name.startswith("stale-"), name
    assert main(["certs"]) == 0
    rows = capsys.readouterr().out.splitlines()
    for name, issued in keymix.items():
        (row,) = [r for r in rows if issued.thumbprint[:16] in r]
        if name.startswith("stale-"):
            assert "does not match this certificate" in row and "không khớp" in row, row
            assert " yes " not in row, row
        else:
            assert " yes " in row and "does not match" not in row, row
    assert main(["doctor", "--json"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    problems = {c["thumbprint"]: c["problems"] for c in report["certificates"]}
    for name, issued in keymix.items():
        expected = ["KEY_CERT_MISMATCH"] if name.startswith("stale-") else []
        assert problems[issued.thumbprint] == expected, name


async def _rescan_for_cli() -> None:
    """The CLI builds its own token service over the demo module; a module another test left
    loaded must see the KEYMATCH token first."""
    from agent.demo.tokens import load_manifest

    manifest = load_manifest()
    assert manifest is not None
    await _rescan(manifest["module"])


# ---- the pure judgement -------------------------------------------------------------------------
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
EC_KEY = ec.generate_private_key(ec.SECP256R1()).public_key()


def _modulus(key: rsa.RSAPublicKey) -> bytes:
    n = key.public_numbers().n
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def _spki(key: Any) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _named(curve_oid: str) -> bytes:
    from asn1crypto import keys

    return keys.ECDomainParameters({"named": curve_oid}).dump()


@pytest.mark.parametrize(
    ("cert_key", "facts", "verdict"),
    [
        (RSA_KEY, KeyFacts("RSA", _modulus(RSA_KEY), b"\x01\x00\x01"), Verdict.MATCH),
        (RSA_KEY, KeyFacts("RSA", _modulus(OTHER_RSA), b"\x01\x00\x01"), Verdict.MISMATCH),
        (RSA_KEY, KeyFacts("RSA", _modulus(RSA_KEY), b"\x03"), Verdict.MISMATCH),
        (RSA_KEY, KeyFacts("RSA", _modulus(RSA_KEY), None), Verdict.MATCH),
        (RSA_KEY, KeyFacts("RSA"), Verdict.UNKNOWN),  # modulus hidden: prove by signature
        (RSA_KEY, KeyFacts("EC", ec_params=_named("secp256r1")), Verdict.MISMATCH),
        (RSA_KEY, KeyFacts(None, public_key_info=_spki(OTHER_RSA)), Verdict.MISMATCH),
        (RSA_KEY, KeyFacts(None, public_key_info=_spki(RSA_KEY)), Verdict.MATCH),
        (RSA_KEY, KeyFacts("RSA", _modulus(RSA_KEY), public_key_info=b"junk"), Verdict.MATCH),
        (EC_KEY, KeyFacts("EC", ec_params=_named("secp256r1")), Verdict.UNKNOWN),
        (EC_KEY, KeyFacts("EC", ec_params=_named("secp384r1")), Verdict.MISMATCH),
        (EC_KEY, KeyFacts("EC"), Verdict.UNKNOWN),
        (EC_KEY, KeyFacts("RSA", _modulus(RSA_KEY)), Verdict.MISMATCH),
        (EC_KEY, KeyFacts("EC", public_key_info=_spki(EC_KEY)), Verdict.MATCH),
        (EC_KEY, KeyFacts("EC", public_key_info=_spki(OTHER_RSA)), Verdict.MISMATCH),
    ],
)
def test_judge_reads_what_the_private_key_shows(cert_key, facts, verdict):
    assert judge(cert_key, facts) is verdict


def _point(key: Any, *, wrapped: bool = True) -> bytes:
    from asn1crypto.core import OctetString

    raw = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return OctetString(raw).dump() if wrapped else raw


OTHER_EC = ec.generate_private_key(ec.SECP256R1()).public_key()


@pytest.mark.parametrize(
    ("facts", "verdict"),
    [
        (KeyFacts("EC", ec_params=_named("secp256r1"), ec_point=_point(EC_KEY)), Verdict.MATCH),
        (KeyFacts("EC", ec_point=_point(EC_KEY, wrapped=False)), Verdict.MATCH),
        (
            KeyFacts("EC", ec_params=_named("secp256r1"), ec_point=_point(OTHER_EC)),
            Verdict.MISMATCH,
        ),
        (KeyFacts("EC", ec_point=_point(OTHER_EC, wrapped=False)), Verdict.MISMATCH),
        (KeyFacts("EC", ec_params=_named("secp384r1"), ec_point=_point(EC_KEY)), Verdict.MISMATCH),
        (KeyFacts("EC", ec_point=b"\x30\x00"), Verdict.UNKNOWN),  # not a point: say nothing
    ],
)
def test_judge_reads_the_point_a_public_key_object_shows(facts, verdict):
    assert judge(EC_KEY, facts) is verdict


def test_a_listing_forecasts_a_mismatch_only_when_every_key_shows_another():
    mine = KeyFacts("RSA", _modulus(RSA_KEY), b"\x01\x00\x01")
    other = KeyFacts("RSA", _modulus(OTHER_RSA), b"\x01\x00\x01")
    assert listing_mismatch(RSA_KEY, [other]) is True
    assert listing_mismatch(RSA_KEY, [other, other]) is True
    assert listing_mismatch(RSA_KEY, [other, mine]) is False  # two keys under one id
    assert listing_mismatch(RSA_KEY, [other, KeyFacts("RSA")]) is False  # one shows nothing
    assert listing_mismatch(RSA_KEY, []) is False  # no key at all is not a mismatch


def test_choose_tries_matching_keys_first_and_refuses_when_none_can_match():
    from agent.tokens.certinfo import parse_certificate
    from agent.tokens.model import TokenCertificate

    der = _certificate("X", _new_key("EC")).public_bytes(serialization.Encoding.DER)
    token: Any = None  # choose() reads only the certificate's own fields
    cert = TokenCertificate(token, parse_certificate(der), "", b"\x07", has_private_key=True)
    judged = [
        ("a", Verdict.UNKNOWN),
        ("b", Verdict.MISMATCH),
        ("c", Verdict.MATCH),
        ("d", Verdict.UNKNOWN),
    ]
    assert choose(cert, judged) == ["c", "a", "d"]
    with pytest.raises(KysoError) as err:
        choose(cert, [("a", Verdict.MISMATCH), ("b", Verdict.MISMATCH)])
    assert err.value.code == "KEY_CERT_MISMATCH" and err.value.details["key_id"] == "07"


@pytest.mark.parametrize(
    "algorithm",
    [
        SignatureAlgorithm.RSA_PKCS1_SHA256,
        SignatureAlgorithm.RSA_PKCS1_SHA1,
        SignatureAlgorithm.RSA_PSS_SHA384,
    ],
)
def test_signature_check_follows_the_algorithm(algorithm):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    h = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[
        algorithm.hash_name
    ]
    pad: Any = (
        padding.PSS(padding.MGF1(h), algorithm.digest_size)
        if algorithm.is_pss
        else padding.PKCS1v15()
    )
    data = b"payload"
    signature = key.sign(data, pad, h)
    assert signature_verifies(key.public_key(), algorithm, data, signature, is_digest=False)
    digest = hashlib.new(algorithm.hash_name, data).digest()
    assert signature_verifies(key.public_key(), algorithm, digest, signature, is_digest=True)
    assert not signature_verifies(OTHER_RSA, algorithm, data, signature, is_digest=False)
    assert not signature_verifies(EC_KEY, algorithm, data, signature, is_digest=False)
