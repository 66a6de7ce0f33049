"""Nothing secret reaches a log or the audit trail: not the PIN, the OTP, an access or refresh
token, an authorization code, nor a SAD. A whole flow runs with every logger at DEBUG."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent.audit import AuditLog, AuditRecord
from agent.demo.remote import CLIENT_ID, DEMO_PIN
from agent.errors import KysoError
from agent.remote.csc import Authorization
from agent.remote.directory import RemoteDirectory, RemoteService
from agent.remote.prompt import CredentialSecrets
from agent.remote.providers import parse_provider
from agent.signing.xml import sign_xml
from agent.tokens.algorithms import SignatureAlgorithm
from tests.remote.conftest import SmsPrompter, remote_signer
from tests.signing_xml.helpers import HOSO


async def _browser(url: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        await response.read()


def _record_text(record: logging.LogRecord) -> str:
    text = record.getMessage() + repr(record.args) + repr(record.__dict__.get("extra", ""))
    if record.exc_info:
        text += logging.Formatter().formatException(record.exc_info)
    return text


async def test_no_secret_in_logs_or_audit(
    csc: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = parse_provider(
        {
            "name": "demo",
            "base_url": csc.url,
            "client_id": CLIENT_ID,
            "auth_flow": "authorization_code",
        }
    )
    service = RemoteService(provider, browser=_browser)
    audit = AuditLog(tmp_path / "audit.jsonl")
    prompter = SmsPrompter(csc.server)
    errors: list[KysoError] = []
    try:
        found = await RemoteDirectory([service]).list_credentials(interactive=True)
        by_label = {c.credential_id.split("/")[1]: c for c in found}
        # A batch of three dossiers with PIN + OTP.
        signer = remote_signer(service, by_label["personal_otp"], prompter)
        async with signer.collect(3) as batch:
            docs = await asyncio.gather(*(batch.run(sign_xml(HOSO, signer)) for _ in range(3)))
        for doc in docs:
            audit.write(
                AuditRecord(
                    origin="https://dichvucong.baohiemxahoi.gov.vn",
                    method="sign.xml",
                    result="OK",
                    kind="xml",
                    thumbprint=signer.certificate.thumbprint,
                    subject_cn=signer.certificate.subject_cn,
                    cert_serial=signer.certificate.serial,
                    token=signer.credential.source,
                    sha256=hashlib.sha256(doc).hexdigest(),
                )
            )
        # Failures log and are audited too: a wrong PIN, a wrong OTP, an expired session.
        for wrong in (
            SmsPrompter(csc.server, pin="111111"),
            SmsPrompter(csc.server, otp="000000"),
        ):
            with pytest.raises(KysoError) as err:
                await remote_signer(service, by_label["personal_otp"], wrong).sign(
                    b"x", SignatureAlgorithm.RSA_PKCS1_SHA256
                )
            errors.append(err.value)
            prompter.otps_given += wrong.otps_given
        csc.server.state.after_authorize = csc.server.expire_tokens
        with pytest.raises(KysoError) as err:
            await remote_signer(service, by_label["org"]).sign(
                b"x", SignatureAlgorithm.RSA_PKCS1_SHA256
            )
        errors.append(err.value)
        for error in errors:
            audit.write(
                AuditRecord(
                    origin="https://dichvucong.baohiemxahoi.gov.vn",
                    method="sign.xml",
                    result=error.code,
                    token=provider.source,
                )
            )
    finally:
        await service.close()

    assert [e.code for e in errors] == [
        "REMOTE_AUTH_REFUSED",
        "REMOTE_AUTH_REFUSED",
        "REMOTE_TOKEN_EXPIRED",
    ]
    secrets = [DEMO_PIN, "111111", *prompter.otps_given, *csc.server.state.issued]
    assert len(csc.server.state.issued) >= 5  # code, access + refresh tokens, two SADs
    assert len(prompter.otps_given) >= 2
    logged = "\n".join(_record_text(r) for r in caplog.records)
    assert "credentials/authorize" in logged  # the flow was logged at DEBUG
    audit_text = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    wire = repr([e.to_dict() for e in errors]) + repr(errors)
    for secret in secrets:
        assert secret not in logged, "a secret reached the log"
        assert secret not in audit_text, "a secret reached the audit file"
        assert secret not in wire, "a secret reached an error sent to the page"


def test_secret_holders_never_show_their_values() -> None:
    assert "246810" not in repr(CredentialSecrets(pin="246810", otp="135790"))
    assert "135790" not in repr(CredentialSecrets(pin="246810", otp="135790"))
    assert "SADVALUE" not in repr(Authorization("SADVALUE", 1, None))
