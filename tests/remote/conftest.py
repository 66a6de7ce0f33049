"""Fixtures for remote signing: the real CSC test server (certomancer-csc-dummy, with the
provider duties agent/demo/remote.py adds) on 127.0.0.1, serving keys issued by the session's
demo PKI, and Kyso's client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent.demo.pki import TestCA
from agent.demo.remote import CLIENT_ID, DEMO_PIN, KysoCscServer, RunningService, start_service
from agent.remote.directory import RemoteCredential, RemoteDirectory, RemoteService
from agent.remote.prompt import CredentialPrompt, CredentialSecrets, StaticCredentialPrompter
from agent.remote.providers import RemoteProvider, parse_provider
from agent.signing.remote import RemoteSigner
from tests.signing_cms.conftest import trust  # noqa: F401 - the demo PKI as a relying party

CLIENT_SECRET = "kyso-test-client-secret-4f1c"


@pytest.fixture(scope="session")
def remote_pki(demo: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the remote credentials' keys and certificates are made (once per session)."""
    return tmp_path_factory.mktemp("remote-pki")


@pytest.fixture
async def csc(demo: dict[str, Any], remote_pki: Path) -> AsyncIterator[RunningService]:
    """The CSC service on a free loopback port, for one test."""
    ca = TestCA.load(Path(demo["ca"]["issuing"]).parent)
    running = await start_service(remote_pki, ca, client_secret=CLIENT_SECRET)
    try:
        yield running
    finally:
        await running.close()


def make_provider(url: str, secret_file: Path, **extra: Any) -> RemoteProvider:
    """A client_credentials provider for the test service."""
    table = {
        "name": "demo",
        "display_name": "Dịch vụ ký số từ xa (thử nghiệm)",
        "base_url": url,
        "client_id": CLIENT_ID,
        "auth_flow": "client_credentials",
        "client_secret_file": str(secret_file),
        **extra,
    }
    return parse_provider(table)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """The client secret, in a file only the user can read."""
    path = tmp_path / "client-secret"
    path.write_text(CLIENT_SECRET)
    path.chmod(0o600)
    return path


@pytest.fixture
async def service(csc: RunningService, secret_file: Path) -> AsyncIterator[RemoteService]:
    """Kyso's connection to the test service."""
    svc = RemoteService(make_provider(csc.url, secret_file))
    try:
        yield svc
    finally:
        await svc.close()


@pytest.fixture
async def credentials(service: RemoteService) -> dict[str, RemoteCredential]:
    """The service's credentials by label (org, personal_otp, ec, revoked)."""
    found = await RemoteDirectory([service]).list_credentials()
    return {c.credential_id.split("/", 1)[1]: c for c in found}


class Browser:
    """Stands in for the user's browser: opens the provider's page, where the (test) user is
    already signed in and approves, and follows its redirect back to Kyso's loopback listener.
    ``then`` runs after the redirect, as the user's next step (e.g. new prompter answers)."""

    def __init__(self, then: Callable[[], None] | None = None) -> None:
        self.opened: list[str] = []
        self.then = then

    async def __call__(self, url: str) -> None:
        self.opened.append(url)
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            await response.read()
        if self.then is not None:
            self.then()


class SmsPrompter:
    """The user: types the PIN and reads the OTP the provider just "sent by SMS"."""

    def __init__(self, server: KysoCscServer, pin: str = DEMO_PIN, otp: str | None = None) -> None:
        self.server = server
        self.pin = pin
        self.otp = otp  # a fixed (wrong) code instead of the one sent
        self.requests: list[CredentialPrompt] = []
        self.otps_given: list[str] = []

    async def get_credential_secrets(self, request: CredentialPrompt) -> CredentialSecrets | None:
        """Answer like a person reading their phone."""
        self.requests.append(request)
        otp = None
        if request.need_otp:
            sent = self.server.send_otp()
            otp = self.otp if self.otp is not None else sent
            self.otps_given.append(otp)
        return CredentialSecrets(pin=self.pin if request.need_pin else None, otp=otp)


def remote_signer(
    service: RemoteService, credential: RemoteCredential, prompter: Any = None
) -> RemoteSigner:
    """A RemoteSigner with the demo PIN unless another prompter is given."""
    return RemoteSigner.open(credential, service, prompter or StaticCredentialPrompter(DEMO_PIN))
