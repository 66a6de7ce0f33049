"""The scripted prompter's transcript costs little on the event loop: a consent's text is
rendered once, before the token's turn when the agent prepares it, and a PIN prompt's text is
kept per request and refusal. What it records and logs stays exactly what a dialog shows."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from agent.errors import KysoError
from agent.tokens.certinfo import CertificateInfo
from agent.ui import scripted
from agent.ui.scripted import ScriptedPrompter, shown_details
from agent.ui.text import certificate_warnings, consent_text, mst_warnings, pin_text
from tests.ui import samples


@pytest.fixture
def prompter(tmp_path: Path) -> ScriptedPrompter:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"consent": "allow", "pin": ["000000", "123456"]}))
    return ScriptedPrompter(answers)


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every consent_text call the scripted prompter makes."""
    calls: list[Any] = []

    def counting(request: Any, lang: str = "") -> Any:
        calls.append(request)
        return consent_text(request, lang)

    monkeypatch.setattr(scripted, "consent_text", counting)
    return calls


async def test_a_prepared_consent_is_not_rendered_again_inside_the_turn(
    prompter: ScriptedPrompter, renders: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent.ui.scripted")
    request = samples.consent()
    prompter.prepare_consent(request)
    assert len(renders) == 1
    assert await prompter.consent(request) is True
    assert len(renders) == 1  # the prompt itself rendered nothing
    record = prompter.prompts[-1]
    text = consent_text(request)
    assert record.shown == shown_details(text)
    assert record.warnings == tuple(w.vi for w in text.warnings)
    assert record.summary == f"{text.origin} sign.xml: {text.summary_en}"
    assert json.dumps(record.summary, ensure_ascii=False)[1:-1] in caplog.records[-1].getMessage()


async def test_without_preparing_the_consent_is_rendered_once(
    prompter: ScriptedPrompter, renders: list[Any]
) -> None:
    assert await prompter.consent(samples.consent())
    assert len(renders) == 1


async def test_a_prepared_text_is_not_used_for_another_request_or_a_changed_certificate(
    prompter: ScriptedPrompter, renders: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, other = samples.consent(), samples.consent(2)
    prompter.prepare_consent(first)
    await prompter.consent(other)  # not the prepared one: rendered for itself
    assert renders[-1] is other
    assert prompter.prompts[-1].shown == scripted.consent_shown(other)
    # The certificate expired between the preparation and the prompt: the prompt says so.
    prompter.prepare_consent(first)
    before = len(renders)
    monkeypatch.setattr(CertificateInfo, "problems", lambda self, now=None: ["EXPIRED"])
    await prompter.consent(first)
    assert renders[-1] is first and len(renders) == before + 1
    expired = certificate_warnings(first.certificate)[0].vi
    assert expired in prompter.prompts[-1].warnings


async def test_a_big_batch_still_warns_about_every_document(prompter: ScriptedPrompter) -> None:
    # Only the first SHOWN_ITEMS documents are recorded, but the MST warning looks at all.
    request = samples.consent(scripted.SHOWN_ITEMS + 5)
    last = request.items[-1]
    lines = tuple(("MST", "0309999999") if k == "MST" else (k, v) for k, v in last.lines)
    request = dataclasses.replace(
        request, items=(*request.items[:-1], dataclasses.replace(last, lines=lines))
    )
    prompter.prepare_consent(request)
    await prompter.consent(request)
    expected = certificate_warnings(request.certificate) + mst_warnings(
        request.certificate, request.items
    )
    assert expected and prompter.prompts[-1].warnings == tuple(w.vi for w in expected)


async def test_a_refused_pin_is_said_although_an_equal_request_was_asked_before(
    prompter: ScriptedPrompter,
) -> None:
    first = samples.pin()
    assert await prompter.get_pin(first) == "000000"
    # Equal but for the refusal (PinRequest's equality leaves the error out): the kept text
    # of the first prompt must not be reused, the retry says the PIN was wrong.
    again = dataclasses.replace(first, previous_error=KysoError("PIN_INCORRECT"))
    assert again == first
    assert await prompter.get_pin(again) == "000000"  # the file's PIN for a first attempt
    wrong = pin_text(again).warnings
    assert wrong and prompter.prompts[-1].warnings == tuple(w.vi for w in wrong)
    assert prompter.prompts[-1].shown == shown_details(pin_text(again))
    assert prompter.prompts[0].warnings == ()


def test_a_request_refused_before_its_prompt_takes_its_prepared_text_with_it(
    prompter: ScriptedPrompter,
) -> None:
    # A page told BUSY after its consent was prepared: nothing of it stays in the prompter
    # (a PDF's consent carries its preview picture).
    request = samples.consent()
    prompter.prepare_consent(request)
    assert len(prompter._prepared) == 1
    del request
    assert prompter._prepared == {}
