"""``kyso-agent demo`` offers a remote credential next to the two USB tokens: the demo starts the
real CSC service with keys from the demo PKI, hands the agent a provider table pointing at it
(client credentials, the secret in a file only the user can read), and "sends the SMS" with the
OTP by printing it in the demo's terminal, where the user reads it."""

from __future__ import annotations

import asyncio
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

import agent.demo.remote as demo_remote
from agent.cli.demo_run import REMOTE_LABEL, _remote_banner, _start_remote
from agent.demo.remote import DEMO_PIN
from agent.remote.directory import RemoteDirectory, RemoteService
from agent.remote.prompt import CredentialPrompt, CredentialSecrets, StaticCredentialPrompter
from agent.remote.providers import parse_provider
from agent.signing.remote import RemoteSigner
from agent.tokens.algorithms import SignatureAlgorithm, digest

RSA = SignatureAlgorithm.RSA_PKCS1_SHA256


class ReadsTheTerminal:
    """The user: types the demo PIN and copies the OTP the demo printed as its "SMS"."""

    def __init__(self, capsys: pytest.CaptureFixture[str], server: Any) -> None:
        self.capsys = capsys
        self.server = server
        self.requests: list[CredentialPrompt] = []

    async def get_credential_secrets(self, request: CredentialPrompt) -> CredentialSecrets | None:
        """Answer from what the terminal shows."""
        self.requests.append(request)
        while self.server.state.current_otp is None:  # the "SMS" task has not run yet
            await asyncio.sleep(0)
        printed = re.findall(r"remote signing OTP: (\d{6})", self.capsys.readouterr().out)
        return CredentialSecrets(pin=DEMO_PIN, otp=printed[-1] if printed else None)


async def test_the_demo_offers_remote_credentials_beside_the_tokens(
    demo: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(demo_remote, "DEFAULT_PORT", 0)  # a free port, not the demo's 8690
    remote = await _start_remote()
    assert remote is not None
    provider = parse_provider(remote.provider)
    service = RemoteService(provider)
    try:
        secret = Path(remote.provider["client_secret_file"])
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        found = await RemoteDirectory([service]).list_credentials()
        by_label = {c.credential_id.split("/", 1)[1]: c for c in found}
        assert set(by_label) == {"org", "personal_otp", "ec", "revoked"}
        assert {c.source for c in found} == {f"remote:{provider.name}"}
        assert provider.label == REMOTE_LABEL
        # The demo's certificates chain to the demo PKI, like the tokens' certificates.
        issuers = {c.info.issuer for c in found}
        assert len(issuers) == 1

        org = by_label["org"]
        data = "Tờ khai 01/TK-BHXH".encode()
        pin_only = StaticCredentialPrompter(DEMO_PIN)
        signature = await RemoteSigner.open(org, service, pin_only).sign(data, RSA)
        org.info.certificate.public_key().verify(  # type: ignore[union-attr]
            signature, digest(RSA, data), padding.PKCS1v15(), Prehashed(hashes.SHA256())
        )

        user = ReadsTheTerminal(capsys, remote.running.server)
        otp_cred = by_label["personal_otp"]
        signature = await RemoteSigner.open(otp_cred, service, user).sign(data, RSA)
        otp_cred.info.certificate.public_key().verify(  # type: ignore[union-attr]
            signature, digest(RSA, data), padding.PKCS1v15(), Prehashed(hashes.SHA256())
        )
        [asked] = user.requests
        assert asked.need_pin and asked.need_otp and asked.otp_online
    finally:
        await service.close()
        await remote.close()
    banner = _remote_banner(remote.running.url)
    assert DEMO_PIN in banner and "Đổi chứng thư số" in banner
