"""Sign-in from the certificate picker: a remote signing provider whose user has not signed in
yet (OAuth2 authorization code) is offered as a row "Đăng nhập dịch vụ ký số từ xa <provider>"
/ "Sign in to <provider>". Choosing it opens the provider's page in the browser (PKCE, state,
loopback redirect), then the picker shows the provider's credentials. The model is pure
(agent/ui/api.py, agent/ui/certtext.py); the end-to-end case runs the real agent, the real
scripted prompter, the real CSC test service and xmlsec1."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from agent.demo.remote import CLIENT_ID, DEMO_PIN, RunningService
from agent.remote.directory import RemoteCredential, RemoteDirectory, RemoteService
from agent.remote.providers import parse_provider
from agent.server.certificate_choice import Candidate, plan_choice
from agent.server.context import Services
from agent.server.runner import serve
from agent.ui.api import SignInOption
from agent.ui.certtext import certificate_choice_text
from agent.ui.terminal import TerminalPrompter
from tests.remote.conftest import Browser
from tests.server.conftest import (  # noqa: F401 - fixtures
    Answers,
    Harness,
    answers,
    client_ssl,
    harness,
    make_settings,
    prompter,
    server_cert,
)
from tests.server.test_methods import dossier, xmlsec_verify
from tests.ui import samples

LABEL = "Dịch vụ ký số từ xa (thử nghiệm)"
SIGN_IN_TITLE = f"Đăng nhập dịch vụ ký số từ xa {LABEL} / Sign in to {LABEL}"


def _plan(*sign_ins: SignInOption) -> Any:
    token_rows = [Candidate(samples.ORG, "KYSO DEMO 1", "0a1b", True)]
    return plan_choice(samples.ORIGIN, token_rows, None, sign_ins)


def test_the_picker_model_offers_sign_in_after_the_certificates() -> None:
    option = SignInOption("demo", LABEL)
    choice = _plan(option).choice
    assert choice.keys() == (samples.ORG.thumbprint, "sign-in:demo")
    text = certificate_choice_text(choice)
    assert len(text.sections) == 2  # one section per key: the dialog zips them
    section = text.sections[1]
    assert section.title == SIGN_IN_TITLE
    assert section.group == f"Ký số từ xa: {LABEL} · remote signing"
    assert "trình duyệt" in section.fields[0].value and "browser" in section.fields[0].value
    english = certificate_choice_text(choice, "en").sections[1]
    assert english.title == f"Sign in to {LABEL}" and english.group == f"Remote signing: {LABEL}"
    assert choice.pick_row("sign-in:demo") == option
    assert choice.pick_row("sign-in:other") is None  # only rows offered can be chosen
    assert choice.pick_row(samples.ORG.thumbprint).certificate is samples.ORG
    assert choice.default() is samples.ORG  # a sign-in is never preselected
    # Without a provider waiting, no such row.
    assert _plan().choice.keys() == (samples.ORG.thumbprint,)


async def test_the_terminal_picker_chooses_sign_in_by_number() -> None:
    asked: list[str] = []

    def keyboard(question: str) -> str:
        asked.append(question)
        return "2"

    terminal = TerminalPrompter(input_func=keyboard, pin_func=lambda _q: "", output=io.StringIO())
    chosen = await terminal.choose_certificate(_plan(SignInOption("demo", LABEL)).choice)
    assert chosen == SignInOption("demo", LABEL)
    assert f"2. {SIGN_IN_TITLE}" in asked[0]


def _code_provider(url: str) -> dict[str, Any]:
    return {
        "name": "demo",
        "display_name": LABEL,
        "base_url": url,
        "client_id": CLIENT_ID,
        "auth_flow": "authorization_code",
    }


async def _start(h: Harness, csc: RunningService, browser: Browser) -> None:
    """The agent with the provider, as the CLI composes it (browser opener included)."""
    services = Services(h.tokens, h.prompter, h.approvals, h.audit, browser=browser)
    h.agent = await serve(
        make_settings(remote_providers=[_code_provider(csc.url)]),
        services=services,
        tls=h.server_ssl,
    )


async def test_sign_in_from_the_picker_then_sign_with_the_remote_credential(
    harness: Harness,  # noqa: F811
    answers: Answers,  # noqa: F811
    csc: RunningService,
    credentials: dict[str, RemoteCredential],
    demo: dict[str, Any],
    xmlsec1: str,
    tmp_path: Path,
) -> None:
    org = credentials["org"].thumbprint  # the same service, listed by the test beforehand
    # The user picks "Sign in", approves in the browser, then picks the remote certificate.
    browser = Browser(then=lambda: answers.set(certificate=org, remote_pin=DEMO_PIN))
    await _start(harness, csc, browser)
    answers.set(certificate="sign-in:demo", remote_pin=DEMO_PIN)
    client = await harness.client()
    # Listing for the page never opens the browser: no remote row yet.
    listed = (await client.call("certificates.list"))["certificates"]
    assert not [c for c in listed if c.get("source", "").startswith("remote:")]
    assert browser.opened == []

    result = await client.call(
        "sign.xml", {"profile": "bhxh", "document": base64.b64encode(dossier("HS-SI-1")).decode()}
    )
    xmlsec_verify(xmlsec1, demo, base64.b64decode(result["document"]), tmp_path)

    assert len(browser.opened) == 1
    query = parse_qs(urlsplit(browser.opened[0]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["scope"] == ["service"]
    assert urlsplit(query["redirect_uri"][0]).hostname == "127.0.0.1"
    prompts = harness.prompter.prompts
    assert [p.kind for p in prompts] == ["certificate", "certificate", "consent", "credential"]
    first = [title for title, _ in prompts[0].shown]
    second = [title for title, _ in prompts[1].shown]
    assert SIGN_IN_TITLE in first and prompts[0].answer == "sign-in:demo"
    assert SIGN_IN_TITLE not in second and any("(ký từ xa)" in t for t in second)
    assert prompts[1].answer == org
    line = harness.audit_lines()[-1]
    assert line["result"] == "OK" and line["token"] == "remote:demo"


async def test_a_sign_in_refused_in_the_browser_is_the_pages_error(
    harness: Harness,  # noqa: F811
    answers: Answers,  # noqa: F811
    csc: RunningService,
) -> None:
    csc.server.state.consent = "deny"
    browser = Browser()
    await _start(harness, csc, browser)
    answers.set(certificate="sign-in:demo")
    client = await harness.client()
    response = await client.request(
        "sign.xml", {"profile": "bhxh", "document": base64.b64encode(dossier()).decode()}
    )
    error = response["error"]["data"]
    assert error["code"] == "REMOTE_AUTH_REFUSED"
    assert error["details"]["reason"] == "access_denied"
    assert len(browser.opened) == 1
    assert [p.kind for p in harness.prompter.prompts] == ["certificate"]  # no consent, no PIN
    assert csc.server.state.sign_hash_calls == 0


async def test_once_signed_in_the_picker_offers_no_sign_in_row(
    harness: Harness,  # noqa: F811
    answers: Answers,  # noqa: F811
    credentials: dict[str, RemoteCredential],
    csc: RunningService,
) -> None:
    org = credentials["org"].thumbprint
    browser = Browser(then=lambda: answers.set(certificate=org, consent="deny"))
    await _start(harness, csc, browser)
    answers.set(certificate="sign-in:demo", consent="deny")
    client = await harness.client()
    document = {"profile": "bhxh", "document": base64.b64encode(dossier()).decode()}
    for _ in range(2):  # signed in during the first request; the user says no at the consent
        response = await client.request("sign.xml", document)
        assert response["error"]["data"]["code"] == "USER_CANCELLED"
    pickers = [p for p in harness.prompter.prompts if p.kind == "certificate"]
    assert len(pickers) == 3 and len(browser.opened) == 1
    last = [title for title, _ in pickers[-1].shown]
    assert SIGN_IN_TITLE not in last and any("(ký từ xa)" in t for t in last)


async def test_a_headless_agent_offers_no_sign_in_it_cannot_open(csc: RunningService) -> None:
    provider = parse_provider(_code_provider(csc.url))
    with_browser = RemoteDirectory([RemoteService(provider, browser=Browser())])
    headless = RemoteDirectory([RemoteService(provider)])
    try:
        for directory in (with_browser, headless):
            assert await directory.list_credentials() == []  # sign-in needed
        assert [p.name for p in with_browser.awaiting_sign_in()] == ["demo"]
        assert headless.awaiting_sign_in() == []
    finally:
        await with_browser.close()
        await headless.close()
