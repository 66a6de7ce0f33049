"""Red team 22, F3 and F6, through the real agent: a token holding a certificate with a
critical extension verifiers refuse, and one whose subject names two different MSTs.

F3: Kyso signed with the first and every verifier refused the signature; now it is refused
before any prompt (CERT_CRITICAL_EXTENSION). F6: Kyso took the first MST of the second and
`mst_mismatch = "refuse"` let a document of the other unit through; now the certificate has
no MST, the consent says so, and "refuse" refuses any document naming a unit.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from agent.cli.doctor_cmd import PROBLEM_TEXT, WARNING_TEXT
from agent.demo.pki import UNIT_MST, Profile
from agent.demo.pki import TestCA as DemoCA  # not a test class
from agent.errors import KysoError
from agent.signing.certstatus import evaluate
from agent.signing.consent import ConsentItem, check_mst
from agent.tokens.modules import ModuleCandidate
from agent.tokens.service import TokenService
from tests.server.conftest import Answers, Harness
from tests.server.test_methods import dossier
from tests.tokens import crafted_certs as crafted

LABEL, PIN, SO_PIN = "KYSO ODD", "246810", "12345678"


@dataclass(frozen=True)
class Odd:
    """Thumbprints of the two certificates on KYSO ODD."""

    critical: str  # a critical private extension (1.3.6.1.4.1.99999.1)
    two_msts: str  # UID=MST:0109999999 then UID=MST:<the demo unit's MST>


def _profile(name: str, key_id: int, *uids: str) -> Profile:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, name)]
    attrs += [x509.NameAttribute(NameOID.USER_ID, uid) for uid in uids]
    return Profile(name, token=0, key_id=key_id, subject=x509.Name(attrs), valid_days=60)


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


def _store(module: str, work: Path, key_id: str, key: rsa.RSAPrivateKey, der: bytes) -> None:
    files = {
        "privkey": key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "pubkey": key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "cert": der,
    }
    for kind, data in files.items():
        path = work / f"{key_id}.{kind}"
        path.write_bytes(data)
        _run(
            "pkcs11-tool", "--module", module, "--token-label", LABEL, "--login", "--pin", PIN,
            "--write-object", str(path), "--type", kind, "--id", key_id, "--label", key_id,
            *(["--usage-sign"] if kind == "privkey" else []),
        )  # fmt: skip


def _issue(ca: DemoCA, profile: Profile, extra: list[tuple[x509.ExtensionType, bool]]) -> Any:
    """The demo CA's certificate for ``profile`` (CRL DP, AIA: its revocation is known), plus
    ``extra``; and its software key."""
    key = rsa.generate_private_key(65537, 2048)
    issued = ca.issue(profile, key.public_key(), x509.random_serial_number())
    builder = (
        x509.CertificateBuilder()
        .subject_name(issued.subject)
        .issuer_name(issued.issuer)
        .public_key(key.public_key())
        .serial_number(issued.serial_number)
        .not_valid_before(issued.not_valid_before_utc)
        .not_valid_after(issued.not_valid_after_utc)
    )
    for ext in [*((e.value, e.critical) for e in issued.extensions), *extra]:
        builder = builder.add_extension(*ext)
    return key, builder.sign(ca.issuing_key, hashes.SHA256())


def _delete() -> None:
    subprocess.run(
        ["softhsm2-util", "--delete-token", "--token", LABEL], check=False, capture_output=True
    )


async def _rescan(module: str) -> None:
    service = TokenService([ModuleCandidate(module, "SoftHSM2 (demo)", "demo", True)])
    await service.start(monitor=False)
    try:
        await service.rescan()
    finally:
        await service.close()


@pytest.fixture(scope="module")
def odd(demo: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Odd]:
    """KYSO ODD in the demo's token store, removed after the module."""
    _delete()
    try:
        ca = DemoCA.load(Path(demo["ca"]["issuing"]).parent)
        work = tmp_path_factory.mktemp("odd")
        _run(
            "softhsm2-util", "--init-token", "--free", "--label", LABEL,
            "--pin", PIN, "--so-pin", SO_PIN,
        )  # fmt: skip
        prints = []
        for key_id, profile, extra in (
            (
                "01",
                _profile("CONG TY CRIT EXT", 1, f"MST:{UNIT_MST}"),
                [crafted.private_critical()],
            ),
            ("02", _profile("CONG TY HAI UID", 2, "MST:0109999999", f"MST:{UNIT_MST}"), []),
        ):
            key, cert = _issue(ca, profile, extra)
            der = cert.public_bytes(serialization.Encoding.DER)
            _store(demo["module"], work, key_id, key, der)
            prints.append(hashlib.sha256(der).hexdigest())
        asyncio.run(_rescan(demo["module"]))
        yield Odd(*prints)
    finally:
        _delete()
        asyncio.run(_rescan(demo["module"]))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_a_critical_extension_is_refused_before_any_prompt(
    odd: Odd, agent: Harness, answers: Answers
) -> None:
    answers.set(pin=PIN)
    client = await agent.client()
    listed = await client.call("certificates.list", {})
    (row,) = [c for c in listed["certificates"] if c["thumbprint"] == odd.critical]
    assert not row["usable"] and row["problems"] == ["UNSUPPORTED_CRITICAL_EXTENSION"]
    digest = hashlib.sha256(b"to khai").digest()
    response = await client.request(
        "sign.hash", {"digest": b64(digest), "certificate": odd.critical}
    )
    error = response["error"]["data"]
    assert error["code"] == "CERT_CRITICAL_EXTENSION"
    assert "1.3.6.1.4.1.99999.1" in error["message_en"]
    assert agent.prompter.prompts == []  # no consent, no PIN


async def test_two_msts_are_warned_and_refused_under_refuse(
    odd: Odd, harness: Harness, answers: Answers
) -> None:
    answers.set(pin=PIN)
    params = {"document": b64(dossier(mst=UNIT_MST)), "certificate": odd.two_msts}
    await harness.start()
    client = await harness.client()
    await client.call("sign.xml", params)
    (consent,) = [p for p in harness.prompter.prompts if p.kind == "consent"]
    assert any("hai mã số thuế khác nhau" in w and "0109999999" in w for w in consent.warnings)
    await harness.agent.stop()
    harness.agent = None
    harness.prompter.prompts.clear()

    await harness.start(mst_mismatch="refuse")
    client = await harness.client()
    response = await client.request("sign.xml", params)
    error = response["error"]["data"]
    assert error["code"] == "MST_MISMATCH" and "0109999999" in error["message_en"]
    assert harness.prompter.prompts == []


def test_the_checks_before_the_pin_refuse_both_without_a_server() -> None:
    crit = crafted.certificate(extensions=[crafted.private_critical()])
    with pytest.raises(KysoError) as caught:
        evaluate(crit.public_bytes(serialization.Encoding.DER))  # CLI signing's check
    assert caught.value.code == "CERT_CRITICAL_EXTENSION"
    two = crafted.info((("CN", "A"), ("UID", "MST:0109999999"), ("UID", f"MST:{UNIT_MST}")))
    item = (ConsentItem("Hồ sơ 600", (), mst=UNIT_MST),)
    check_mst("warn", two, item)  # the consent warns
    with pytest.raises(KysoError) as caught:
        check_mst("refuse", two, item)
    assert caught.value.code == "MST_MISMATCH"
    check_mst("refuse", two, (ConsentItem("Tệp", ()),))  # a document naming no unit


def test_doctor_has_words_for_every_problem_and_warning_a_certificate_can_have() -> None:
    assert "UNSUPPORTED_CRITICAL_EXTENSION" in PROBLEM_TEXT
    assert "AMBIGUOUS_IDENTIFIER" in WARNING_TEXT
