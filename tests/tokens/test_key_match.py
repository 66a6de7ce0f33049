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
import hashlib
import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from agent.cli.main import main
from agent.errors import ErrorGroup, KysoError
from agent.tokens import StaticPinProvider
from agent.tokens.keymatch import KeyFacts
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
from tests.tokens.keymix import (
    ES256,
    PIN,
    RSA256,
    Issued,
    algorithm_of,
    keymix_token,
    rescan_for_cli,
    verifies,
)


@pytest.fixture(scope="module")
def keymix(
    demo: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Issued]]:
    """The KYSO KEYMATCH token's certificates by name, once for this module's tests."""
    with keymix_token(demo["module"], tmp_path_factory.mktemp("keymix")) as issued:
        yield issued


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
            signatures.append(await key.sign(b"<Hoso/>", algorithm_of(issued.certificate)))
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
        alg = algorithm_of(issued.certificate)
        async with token_service.open_key(issued.thumbprint, StaticPinProvider(PIN)) as key:
            # The first signature settles the key; later ones in the session use it.
            for data in (b"one", b"two", b"three"):
                signature = await key.sign(data, alg)
                assert verifies(issued.certificate, signature, data, digest=False), issued.name
            digest = hashlib.sha256(b"four").digest()
            signature = await key.sign_digest(digest, alg)
            assert verifies(issued.certificate, signature, digest, digest=True), issued.name


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
            assert verifies(issued.certificate, signature, digest, digest=True), name


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
        alg = algorithm_of(cert)
        for data in (b"a", b"b"):
            assert verifies(cert, await key.sign(data, alg), data, digest=False)


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


async def test_the_page_is_told_a_mismatched_key_is_not_usable(
    keymix: dict[str, Issued],
    harness: Any,  # noqa: F811 - the fixture imported above
) -> None:
    # certificates.list said usable: true for stale-rsa/stale-ec, so a page offered a
    # certificate whose every signature is then refused; now it says why it is not usable.
    await harness.tokens.rescan()
    await harness.start()
    client = await harness.client()
    listed = await client.call("certificates.list", {})
    by_thumb = {c["thumbprint"]: c for c in listed["certificates"]}
    for name, issued in keymix.items():
        entry = by_thumb[issued.thumbprint]
        stale = name.startswith("stale-")
        assert entry["usable"] is not stale, (name, entry)
        assert ("KEY_CERT_MISMATCH" in entry["problems"]) is stale, (name, entry)


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
        assert verifies(keymix[name].certificate, signature, digest, digest=True), name


# ---- the CLI ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "document", "profile"),
    [("stale-rsa", HOSO, "bhxh"), ("stale-ec", b"<Doc><a>1</a></Doc>", "generic")],
)
def test_sign_xml_refuses_and_writes_nothing(keymix, tmp_path, capsys, name, document, profile):
    asyncio.run(rescan_for_cli())
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
    asyncio.run(rescan_for_cli())
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
    asyncio.run(rescan_for_cli())
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
