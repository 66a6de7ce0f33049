"""The agent checks the chosen certificate before any prompt: revoked, expired, not yet valid or
not for signing is refused with its code; revocation status unknown is a line in the consent.
Revocation answers come from the demo's real ``openssl ocsp`` responder on loopback."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.demo.pki import UNIT_MST
from agent.demo.responder import DemoResponder
from agent.signing.certstatus import UNKNOWN_LINE
from agent.ui.api import ConsentRequest
from agent.ui.scripted import ScriptedPrompter
from tests.conftest import cert_thumbprint
from tests.pki_responder import clear_status_cache
from tests.server.conftest import Answers, preselected
from tests.server.test_methods import NONCE, dossier

DIGEST = base64.b64encode(hashlib.sha256(b"x").digest()).decode()


class CapturingPrompter(ScriptedPrompter):
    """The real scripted prompter, keeping each consent request to look at what was shown."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.consents: list[ConsentRequest] = []

    async def consent(self, request: ConsentRequest) -> bool:
        """Record the request, then answer as the scripted prompter does."""
        self.consents.append(request)
        return await super().consent(request)


@pytest.fixture
def prompter(answers: Answers) -> CapturingPrompter:
    """Overrides tests/server/conftest.py's prompter for this module."""
    return CapturingPrompter(answers.path)


@pytest.fixture(autouse=True)
def fresh_cache(demo: dict[str, Any]) -> Iterator[None]:
    """Each test starts as a machine that never asked (the cache lives under the state root),
    and leaves none: a revocation is cached for good, and one made for a test must not
    outlive it. Also used by the other revocation modules here."""
    clear_status_cache()
    yield
    clear_status_cache()


@pytest.fixture
def responder(demo: dict[str, Any]) -> Iterator[DemoResponder]:
    """The demo's OCSP + CRL responder on the loopback port its certificates name."""
    with DemoResponder(demo) as running:
        yield running


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _request(method: str, thumbprint: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "sign.xml": {"profile": "bhxh", "document": _b64(dossier())},
        "sign.cms": {"data": _b64(b"phu luc")},
        "sign.hash": {"digest": DIGEST},
        "sign.batch": {"items": [{"kind": "hash", "digest": DIGEST}]},
        "auth.challenge": {"nonce": NONCE},
    }[method]
    return {**params, "certificate": thumbprint}


METHODS = ["sign.xml", "sign.cms", "sign.hash", "sign.batch", "auth.challenge"]


@pytest.mark.parametrize("method", METHODS)
async def test_revoked_certificate_is_refused_before_any_prompt(
    demo: dict[str, Any], agent: Any, responder: DemoResponder, method: str
) -> None:
    client = await agent.client()
    response = await client.request(method, _request(method, cert_thumbprint(demo, "revoked")))
    error = response["error"]["data"]
    assert error["code"] == "CERT_REVOKED", response
    assert "thu hồi" in error["message_vi"] and "revoked" in error["message_en"]
    assert responder.requests >= 1  # the answer came from the responder
    assert agent.prompter.prompts == []  # no consent, no PIN
    assert all(line["result"] != "OK" for line in agent.audit_lines())


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("expired", "CERT_EXPIRED"),
        ("not_yet_valid", "CERT_NOT_YET_VALID"),
        ("no_key_usage", "CERT_KEY_USAGE"),
    ],
)
async def test_invalid_certificates_are_refused_for_login_too(
    demo: dict[str, Any], agent: Any, name: str, code: str
) -> None:
    client = await agent.client()
    response = await client.request(
        "auth.challenge", _request("auth.challenge", cert_thumbprint(demo, name))
    )
    assert response["error"]["data"]["code"] == code
    assert agent.prompter.prompts == []


async def test_good_status_signs_with_a_plain_consent(
    demo: dict[str, Any], agent: Any, responder: DemoResponder
) -> None:
    client = await agent.client()
    result = await client.call("sign.xml", _request("sign.xml", cert_thumbprint(demo, "org")))
    assert result["thumbprint"] == cert_thumbprint(demo, "org")
    (consent,) = agent.prompter.consents
    assert all(UNKNOWN_LINE not in item.lines for item in consent.items)


@pytest.mark.parametrize("method", METHODS)
async def test_unknown_status_is_a_consent_line_and_signing_goes_on(
    demo: dict[str, Any], agent: Any, method: str
) -> None:
    # No responder: OCSP and CRL are unreachable. Even the revoked certificate cannot be known
    # to be revoked, so it signs -- with the warning in front of the user.
    client = await agent.client()
    result = await client.call(method, _request(method, cert_thumbprint(demo, "revoked")))
    assert result
    (consent,) = agent.prompter.consents
    assert consent.items and all(item.lines[0] == UNKNOWN_LINE for item in consent.items)
    assert [p.kind for p in agent.prompter.prompts] == ["consent", "pin"]


async def test_an_unknown_status_is_shown_every_time_and_logged_once(
    demo: dict[str, Any], agent: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    client = await agent.client()
    thumbprint = cert_thumbprint(demo, "org")
    for _ in range(3):
        assert await client.call("sign.hash", _request("sign.hash", thumbprint))
    # The user sees the warning at every signature; the log says it once, not per signature.
    assert [c.items[0].lines[0] for c in agent.prompter.consents] == [UNKNOWN_LINE] * 3
    said = [r for r in caplog.records if "revocation status of" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert thumbprint[:16] in said[0].getMessage()


async def test_a_cached_answer_outlives_the_responder(demo: dict[str, Any], agent: Any) -> None:
    client = await agent.client()
    thumbprint = cert_thumbprint(demo, "revoked")
    with DemoResponder(demo) as responder:
        first = await client.request("sign.hash", _request("sign.hash", thumbprint))
        assert responder.requests == 1
    assert first["error"]["data"]["code"] == "CERT_REVOKED"
    # The responder is gone; the answer is valid until its nextUpdate and is kept on disk.
    again = await client.request("sign.hash", _request("sign.hash", thumbprint))
    assert again["error"]["data"]["code"] == "CERT_REVOKED"
    assert agent.prompter.prompts == []


async def test_the_picker_greys_a_revoked_certificate_and_never_preselects_it(
    demo: dict[str, Any], agent: Any, answers: Any, responder: DemoResponder
) -> None:
    """KYSO DEMO 1 holds the unit's good and revoked certificates, alike but for the serial:
    the picker must not preselect the one that would be refused after the user chose it."""
    _name, pin = preselected(demo, ("org", "org_renewed"))  # the revoked one is greyed
    answers.set(pin=pin)
    client = await agent.client()
    nonce = base64.urlsafe_b64encode(b"n" * 32).decode().rstrip("=")
    await client.call("auth.challenge", {"nonce": nonce, "certificate_filter": {"mst": UNIT_MST}})
    picker = agent.prompter.prompts[0]
    assert picker.kind == "certificate"
    revoked = cert_thumbprint(demo, "revoked")
    assert picker.answer != revoked
    assert picker.answer in {cert_thumbprint(demo, n) for n in ("org", "org_renewed")}
    assert responder.requests >= 1  # the status came from the CA's responder
    assert agent.audit_lines()[-1]["result"] == "OK"
