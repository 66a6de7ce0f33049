"""Page text cannot fake a prompt: the same hostile labels through every prompter.

For each hostile string (tests/ui/hostile.py) put in an item's title, a summary line's label
and value, a certificate's subject and a token label, the terminal output, the scripted
prompter's log and record, and the dialog (its text model, and the real Tk window under Xvfb)
must show no control/bidi/invisible character, the agent's own origin exactly once and before
any page text, no page text outside the place reserved for it, and Vietnamese intact.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import unicodedata

import pytest

from agent.tokens.pin import PinRequest, PinState
from agent.ui.api import CertificateChoice, ConsentItem, ConsentRequest, PairingAnswer
from agent.ui.dialog_view import DialogView
from agent.ui.dialogs import DialogPrompter
from agent.ui.scripted import ScriptedPrompter, shown_details
from agent.ui.terminal import TerminalPrompter
from agent.ui.text import ORIGIN_HEADING, PAGE_PREFIX, consent_text
from agent.ui.untrusted import VALUE_LIMIT
from tests.ui import samples
from tests.ui.hostile import (
    EVIL_ORIGIN,
    HOSTILE,
    REAL_ORIGIN,
    VIETNAMESE,
    bad_characters,
    max_marks_in_a_row,
)
from tests.ui.test_dialogs import act

IDS = [name for name, _ in HOSTILE]
BENIGN = "Hồ sơ 600 — Báo tăng lao động"
ORIGIN_LINE = f">>> {EVIL_ORIGIN} <<<"


def certificate(text: str):
    """A certificate whose subject (as parsed from a DN) and issuer carry ``text``."""
    return dataclasses.replace(samples.ORG, subject_display=text, issuer_cn=text)


def consent(text: str) -> ConsentRequest:
    """A batch from a hostile page: ``text`` everywhere the page or a certificate can put it."""
    items = (
        ConsentItem(
            title=text,
            lines=(
                (text, text),
                ("Đơn vị", VIETNAMESE),
                ("Tên đơn vị", unicodedata.normalize("NFD", VIETNAMESE)),
            ),
            sha256="ab" * 32,
        ),
        ConsentItem(title=BENIGN, lines=(("Tệp", text),), sha256="cd" * 32),
    )
    return ConsentRequest(
        origin=EVIL_ORIGIN,
        action="sign.batch",
        summary_vi=f"Ký 2 tài liệu cho {EVIL_ORIGIN}",
        summary_en=f"Sign 2 documents for {EVIL_ORIGIN}",
        certificate=certificate(text),
        items=items,
    )


def choice(text: str) -> CertificateChoice:
    return CertificateChoice(EVIL_ORIGIN, (certificate(text), samples.PERSON))


def pin(text: str) -> PinRequest:
    return PinRequest(text, text, certificate(text), PinState(), 4, 16)


# --- terminal -------------------------------------------------------------------------------


async def _terminal_output(text: str) -> str:
    answers = iter(["n", "1", "1234"])
    out = io.StringIO()
    prompter = TerminalPrompter(
        input_func=lambda _q: next(answers), pin_func=lambda _q: next(answers), output=out
    )
    assert await prompter.consent(consent(text)) is False
    await prompter.choose_certificate(choice(text))
    assert await prompter.get_pin(pin(text)) == "1234"
    return out.getvalue()


def _agent_lines(output: str) -> list[str]:
    """The lines the agent writes itself: every line not marked as page text."""
    return [line for line in output.split("\n") if not line.startswith(PAGE_PREFIX)]


@pytest.mark.parametrize("name,text", HOSTILE, ids=IDS)
async def test_terminal(name: str, text: str) -> None:
    output = await _terminal_output(text)
    lines = output.split("\n")
    for line in lines:
        assert bad_characters(line) == [], line
        assert max_marks_in_a_row(line) <= 2 and len(line) < 700
    # Page text changes no line of the agent's own: compare with an honest page's prompt.
    assert _agent_lines(output) == _agent_lines(await _terminal_output(BENIGN))
    # The real origin: once per prompt that names one (consent, certificate choice), right
    # under its heading, before any page text of that prompt.
    assert lines.count(ORIGIN_LINE) == 2 and lines.count(ORIGIN_HEADING) == 2
    assert [i for i, line in enumerate(lines) if line.startswith(">>>")] == [
        i + 1 for i, line in enumerate(lines) if line == ORIGIN_HEADING
    ]
    first_page_line = next(i for i, line in enumerate(lines) if line.startswith(PAGE_PREFIX))
    assert lines.index(ORIGIN_LINE) < first_page_line
    # What a page claims stays inside page lines.
    assert all(line.startswith(PAGE_PREFIX) for line in lines if REAL_ORIGIN in line)
    assert output.count(VIETNAMESE) == 2  # the NFC and the NFD spelling, both shown whole
    assert "A" * VALUE_LIMIT not in output  # every page string is cut short


# --- scripted -------------------------------------------------------------------------------


@pytest.mark.parametrize("name,text", HOSTILE, ids=IDS)
async def test_scripted_log_and_record(name: str, text: str, tmp_path, caplog) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"consent": "allow", "pin": "1234", "pair": "once"}))
    prompter = ScriptedPrompter(answers)
    caplog.set_level(logging.INFO, logger="agent.ui.scripted")
    assert await prompter.consent(consent(text)) is True
    assert await prompter.choose_certificate(choice(text)) is not None
    assert await prompter.get_pin(pin(text)) == "1234"
    assert await prompter.pair(samples.PairingRequest(EVIL_ORIGIN)) is PairingAnswer.ONCE

    lines = [r.getMessage() for r in caplog.records if "prompter answered" in r.getMessage()]
    assert len(lines) == 4
    for line, record in zip(lines, prompter.prompts, strict=True):
        assert "\n" not in line and "\r" not in line and bad_characters(line) == []
        # Everything after the answer is one JSON object: page text cannot end it early.
        logged = json.loads(line[line.index("{") :])
        assert logged == {"summary": record.summary, "shown": json.loads(json.dumps(record.shown))}
        if record.kind != "pin":  # a PIN prompt's summary is the token's label, not a site
            assert REAL_ORIGIN not in record.summary
    assert [p.summary.split(" ")[0] for p in prompter.prompts[:2]] == [EVIL_ORIGIN] * 2
    assert prompter.prompts[3].summary == EVIL_ORIGIN
    # The record holds what the terminal and the dialog show: the same rendering.
    assert prompter.prompts[0].shown == shown_details(consent_text(consent(text)))
    assert VIETNAMESE in json.dumps(prompter.prompts[0].shown, ensure_ascii=False)


# --- dialog: the text model -----------------------------------------------------------------


def _all_strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value):
        return [s for f in dataclasses.fields(value) for s in _all_strings(getattr(value, f.name))]
    if isinstance(value, tuple | list):
        return [s for v in value for s in _all_strings(v)]
    return []


@pytest.mark.parametrize("name,text", HOSTILE, ids=IDS)
def test_dialog_text_model(name: str, text: str) -> None:
    model = consent_text(consent(text))
    for string in _all_strings(model):
        assert bad_characters(string) == [] and "\n" not in string, string
    assert model.origin == EVIL_ORIGIN
    # Outside the sections (the details box), every string is the agent's, as for an honest page.
    honest = consent_text(consent(BENIGN))
    assert dataclasses.replace(model, sections=()) == dataclasses.replace(honest, sections=())


# --- dialog: the real window ----------------------------------------------------------------


def _all_hostile_consent() -> ConsentRequest:
    """One batch carrying every hostile string, each as an item title and a summary line."""
    items = tuple(
        ConsentItem(title=text, lines=((text, text), ("Đơn vị", VIETNAMESE)), sha256="ab" * 32)
        for _, text in HOSTILE
    )
    return dataclasses.replace(consent(HOSTILE[0][1]), items=items)


async def test_dialog_window(xvfb: str) -> None:
    prompter = DialogPrompter(arm_delay_ms=0, timeout_seconds=30, language=lambda: "vi")
    try:
        seen = act(prompter, lambda v: v.press("deny"), shot="consent-hostile")
        assert await prompter.consent(_all_hostile_consent()) is False
        shown = seen[0]
        assert "error" not in shown, shown
        # The origin's own widget shows the agent's origin, whatever the page wrote.
        assert shown["origin"] == EVIL_ORIGIN
        # Page text reaches only the details box: no label in the window carries any of it.
        assert not any(REAL_ORIGIN in label or "<U+001B>" in label for label in shown["labels"])
        for line in shown["details"].split("\n"):
            assert bad_characters(line.replace("\t", " ")) == [], line
            assert line != EVIL_ORIGIN
        assert VIETNAMESE in shown["details"] and "<U+001B>[2J<U+001B>[H" in shown["details"]

        def take_first(view: DialogView) -> None:
            radios.extend(label for label in seen2[0]["labels"] if "<U+202E>" in label)
            view.press("cancel")

        radios: list[str] = []
        seen2 = act(prompter, take_first)
        assert await prompter.choose_certificate(choice(HOSTILE[4][1])) is None
        assert radios and all(bad_characters(label) == [] for label in seen2[0]["labels"])
        assert seen2[0]["origin"] == EVIL_ORIGIN
    finally:
        prompter.close()


async def test_a_malformed_origin_is_shown_tagged_everywhere(tmp_path) -> None:
    """The server only asks about normalised origins; should one slip through, it still cannot
    carry an escape sequence or a lookalike letter into any prompter."""
    origin = "https://dịchvucong.example\x1b[2J\u202e"
    expected = "https://d<U+1ECB>chvucong.example<U+001B>[2J<U+202E>"
    request = dataclasses.replace(consent(BENIGN), origin=origin)
    assert consent_text(request).origin == expected
    out = io.StringIO()
    terminal = TerminalPrompter(input_func=lambda _q: "n", output=out)
    assert await terminal.consent(request) is False
    assert f">>> {expected} <<<" in out.getvalue().split("\n")
    answers = tmp_path / "answers.json"
    answers.write_text("{}")
    scripted = ScriptedPrompter(answers)
    assert await scripted.pair(samples.PairingRequest(origin)) is PairingAnswer.DENY
    assert scripted.prompts[0].summary == expected
