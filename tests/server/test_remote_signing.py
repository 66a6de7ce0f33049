"""Remote credentials (ký số từ xa) through the running agent: listed beside the tokens, chosen
in the picker, named in the consent, unlocked by a PIN asked in the agent's own prompt, signed
by the real CSC test service (certomancer-csc-dummy plus agent/demo/remote.py) and verified by
xmlsec1. Nothing secret reaches a log or the audit line."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import pytest

from agent.demo.remote import CLIENT_ID, DEMO_PIN, RunningService
from agent.server.app import CORE_KEY
from tests.remote.conftest import CLIENT_SECRET, csc, remote_pki, secret_file  # noqa: F401
from tests.remote.listing import list_certificates
from tests.server.conftest import Answers, Harness
from tests.server.test_methods import dossier, xmlsec_verify

PROVIDER_LABEL = "Dịch vụ ký số từ xa (thử nghiệm)"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def provider_table(url: str, secret: Path) -> dict[str, Any]:
    """The agent's [[remote_providers]] entry for the test service."""
    return {
        "name": "demo",
        "display_name": PROVIDER_LABEL,
        "base_url": url,
        "client_id": CLIENT_ID,
        "auth_flow": "client_credentials",
        "client_secret_file": str(secret),
    }


@pytest.fixture
async def remote_agent(
    harness: Harness,
    csc: RunningService,  # noqa: F811 - the fixture imported above
    secret_file: Path,  # noqa: F811
) -> Harness:
    """An agent configured with the test CSC service as provider "demo"."""
    await harness.start(remote_providers=[provider_table(csc.url, secret_file)])
    return harness


async def _remote(client: Any) -> dict[str, dict[str, Any]]:
    """certificates.list's remote rows, by credential label (org, personal_otp, ec, revoked)."""
    listed = await list_certificates(client)
    return {
        c["credential_id"].split("/", 1)[1]: c
        for c in listed
        if c.get("source", "").startswith("remote:")
    }


async def test_certificates_list_shows_remote_credentials_beside_tokens(
    remote_agent: Harness,
) -> None:
    client = await remote_agent.client()
    listed = await list_certificates(client)
    tokens = [c for c in listed if "token" in c]
    remote = await _remote(client)
    assert tokens, "the USB tokens are still listed"
    assert set(remote) == {"org", "personal_otp", "ec", "revoked"}
    assert {c["source"] for c in remote.values()} == {"remote:demo"}
    assert remote["org"]["usable"] is True and remote["org"]["needs_pin"] is True
    assert remote["personal_otp"]["needs_otp"] is True
    # Revoked at the provider: listed, but Kyso will not sign with it.
    assert remote["revoked"]["usable"] is False
    assert "REMOTE_DISABLED" in remote["revoked"]["problems"]


async def test_sign_xml_with_a_remote_credential(
    remote_agent: Harness,
    answers: Answers,
    csc: RunningService,  # noqa: F811
    demo: dict[str, Any],
    xmlsec1: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await remote_agent.client()
    org = (await _remote(client))["org"]
    # The page names no certificate: the user picks the remote one in the agent's picker.
    answers.set(certificate=org["thumbprint"], remote_pin=DEMO_PIN)
    document = dossier("HS-REMOTE-1")
    result = await client.call("sign.xml", {"profile": "bhxh", "document": b64(document)})
    signed = base64.b64decode(result["document"])
    xmlsec_verify(xmlsec1, demo, signed, tmp_path)
    assert csc.server.state.authorize_calls == 1  # hash pinned, one authorisation

    prompts = remote_agent.prompter.prompts
    assert [p.kind for p in prompts] == ["certificate", "consent", "credential"]
    # The picker offered the remote credentials after the tokens' certificates.
    titles = [title for title, _ in prompts[0].shown]
    assert any("(ký từ xa)" in t for t in titles)
    # The consent says which remote service signs, before any PIN is asked.
    consent_fields = dict(prompts[1].shown[0][1])
    assert consent_fields["Ký số từ xa · Remote signing"] == PROVIDER_LABEL
    assert prompts[2].summary == PROVIDER_LABEL and prompts[2].answer == "pin"

    line = remote_agent.audit_lines()[-1]
    assert line["result"] == "OK" and line["outcome"] == "signed"
    assert line["token"] == "remote:demo" and line["thumbprint"] == org["thumbprint"]
    audit_text = remote_agent.audit.path.read_text(encoding="utf-8")
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    for secret in [DEMO_PIN, CLIENT_SECRET, *csc.server.state.issued]:
        assert secret not in audit_text
        assert secret not in logged
    assert all(DEMO_PIN not in repr(p) for p in prompts)


async def test_a_batch_is_authorised_once_with_one_pin(
    remote_agent: Harness,
    answers: Answers,
    csc: RunningService,  # noqa: F811
    demo: dict[str, Any],
    xmlsec1: str,
    tmp_path: Path,
) -> None:
    client = await remote_agent.client()
    org = (await _remote(client))["org"]
    answers.set(remote_pin=DEMO_PIN)
    items = [
        {"kind": "xml", "profile": "bhxh", "document": b64(dossier(f"HS-R{i}"))} for i in range(3)
    ]
    result = await client.call("sign.batch", {"items": items, "certificate": org["thumbprint"]})
    assert result["signed"] == 3 and result["failed"] == 0
    assert [r["index"] for r in result["results"]] == [0, 1, 2]
    for r in result["results"]:
        xmlsec_verify(xmlsec1, demo, base64.b64decode(r["result"]["document"]), tmp_path)
    # multisign 10: the three hashes went in one authorisation, one PIN prompt.
    assert csc.server.state.authorize_calls == 1
    assert remote_agent.prompter.count("credential") == 1
    lines = [x for x in remote_agent.audit_lines() if x.get("item") is not None]
    assert sorted(x["item"] for x in lines) == [0, 1, 2]
    assert {x["token"] for x in lines} == {"remote:demo"}


async def test_wrong_pin_cancel_and_revoked_credential(
    remote_agent: Harness,
    answers: Answers,
    csc: RunningService,  # noqa: F811
) -> None:
    client = await remote_agent.client()
    remote = await _remote(client)
    params = {"profile": "bhxh", "document": b64(dossier()), "certificate": ""}

    answers.set(remote_pin="000000")
    params["certificate"] = remote["org"]["thumbprint"]
    response = await client.request("sign.xml", params)
    assert response["error"]["data"]["code"] == "REMOTE_AUTH_REFUSED"

    answers.set()  # no remote_pin: the user closed the prompt
    response = await client.request("sign.xml", params)
    assert response["error"]["data"]["code"] == "USER_CANCELLED"
    assert csc.server.state.authorize_calls == 1  # nothing sent without a PIN

    # Revoked at the provider: refused before any prompt.
    before = len(remote_agent.prompter.prompts)
    params["certificate"] = remote["revoked"]["thumbprint"]
    response = await client.request("sign.xml", params)
    assert response["error"]["data"]["code"] == "REMOTE_CREDENTIAL_INVALID"
    assert len(remote_agent.prompter.prompts) == before
    results = [x["result"] for x in remote_agent.audit_lines()[-3:]]
    assert results == ["REMOTE_AUTH_REFUSED", "USER_CANCELLED", "REMOTE_CREDENTIAL_INVALID"]


async def test_otp_is_asked_once_per_authorisation_not_per_item(
    remote_agent: Harness,
    answers: Answers,
    csc: RunningService,  # noqa: F811
) -> None:
    client = await remote_agent.client()
    person = (await _remote(client))["personal_otp"]
    code = csc.server.send_otp()  # the provider "sends the SMS"; the user types it
    answers.set(remote_pin=DEMO_PIN, otp=code)
    items = [{"kind": "cms", "data": b64(f"phụ lục {i}".encode())} for i in range(4)]
    result = await client.call("sign.batch", {"items": items, "certificate": person["thumbprint"]})
    assert result["signed"] == 4, result
    assert csc.server.state.authorize_calls == 1
    records = [p for p in remote_agent.prompter.prompts if p.kind == "credential"]
    assert [r.answer for r in records] == ["pin+otp"]
    assert "4 (một lần xác nhận / one approval)" in dict(records[0].shown[0][1]).values()
    audit_text = remote_agent.audit.path.read_text(encoding="utf-8")
    assert code not in audit_text and DEMO_PIN not in audit_text


async def test_a_page_listing_in_a_loop_does_not_hammer_the_provider(
    remote_agent: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.remote.directory import RemoteDirectory

    calls: list[bool] = []
    real = RemoteDirectory.list_credentials

    async def counted(self: RemoteDirectory, *, interactive: bool = False) -> Any:
        calls.append(interactive)
        return await real(self, interactive=interactive)

    monkeypatch.setattr(RemoteDirectory, "list_credentials", counted)
    client = await remote_agent.client()
    for _ in range(5):
        assert len(await _remote(client)) == 4
    assert calls == [False]  # listed once, never interactively (no browser for a listing)
    assert remote_agent.agent is not None
    core = remote_agent.agent.runner.app[CORE_KEY]
    core.certs.invalidate()  # a token came or went: everything is read again
    assert len(await _remote(client)) == 4
    assert calls == [False, False]


async def test_a_refused_remote_pin_ends_the_batch_without_asking_or_sending_it_again(
    remote_agent: Harness,
    answers: Answers,
    csc: RunningService,  # noqa: F811
) -> None:
    """Eight items, two per authorisation: the provider refuses the PIN once; the other chunks
    neither ask the user again nor resend it (each refusal counts towards its lock-out)."""
    csc.server.state.multisign = 2
    client = await remote_agent.client()
    org = (await _remote(client))["org"]
    assert org["multisign"] == 2
    answers.set(remote_pin="000000")
    items = [{"kind": "cms", "data": b64(f"phụ lục {i}".encode())} for i in range(8)]
    result = await client.call("sign.batch", {"items": items, "certificate": org["thumbprint"]})
    assert result["signed"] == 0 and result["failed"] == 8
    codes = {r["error"]["data"]["code"] for r in result["results"]}
    assert codes == {"REMOTE_AUTH_REFUSED"}
    assert csc.server.state.authorize_calls == 1
    assert remote_agent.prompter.count("credential") == 1


async def test_a_remote_batch_whose_page_leaves_asks_and_signs_nothing_more(
    remote_agent: Harness,
    answers: Answers,
    csc: RunningService,  # noqa: F811
) -> None:
    """The page closes while the remote PIN prompt is open: the prompt's answer goes nowhere,
    nothing is authorised or signed at the provider for a request nobody waits for."""
    import asyncio
    import json

    client = await remote_agent.client()
    org = (await _remote(client))["org"]
    answers.set(remote_pin=DEMO_PIN, delay_seconds={"credential": 1.0})
    items = [{"kind": "cms", "data": b64(f"phụ lục {i}".encode())} for i in range(3)]
    request = {"items": items, "certificate": org["thumbprint"]}
    await client.ws.send_str(
        json.dumps({"jsonrpc": "2.0", "id": 7, "method": "sign.batch", "params": request})
    )
    for _ in range(200):  # the consent was answered and the PIN prompt is open
        if remote_agent.prompter.count("consent") and csc.server.state.authorize_calls == 0:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    await client.close()
    await asyncio.sleep(1.5)  # past the user's answer
    assert csc.server.state.authorize_calls == 0 and csc.server.state.sign_hash_calls == 0
    # The credential is free at once for the next page, which signs normally.
    answers.set(remote_pin=DEMO_PIN)
    again = await remote_agent.client()
    result = await again.call("sign.batch", request)
    assert result["signed"] == 3 and csc.server.state.authorize_calls == 1


async def test_a_page_naming_an_unknown_certificate_never_opens_the_providers_sign_in(
    harness: Harness,
    csc: RunningService,  # noqa: F811
) -> None:
    """A provider the user has not signed in to (authorization code): a thumbprint is the
    page's word, so naming one (real or made up) must not open the browser without the user
    choosing to, nor hold the remote listing while a sign-in waits."""
    from agent.server.context import Services
    from agent.server.runner import serve
    from tests.server.conftest import make_settings

    opened: list[str] = []

    async def browser(url: str) -> None:
        opened.append(url)

    services = Services(
        harness.tokens, harness.prompter, harness.approvals, harness.audit, browser=browser
    )
    provider = {
        "name": "demo",
        "display_name": PROVIDER_LABEL,
        "base_url": csc.url,
        "client_id": CLIENT_ID,
        "auth_flow": "authorization_code",
    }
    harness.agent = await serve(
        make_settings(remote_providers=[provider]), services=services, tls=harness.server_ssl
    )
    client = await harness.client()
    reply = await client.request("sign.cms", {"data": b64(b"x"), "certificate": "ab" * 32})
    assert reply["error"]["data"]["code"] == "CERT_NOT_FOUND"
    assert opened == [] and harness.prompter.prompts == []
    await client.call("certificates.list")  # nothing is left holding the listing
