"""The scripted prompter: answers from a file re-read at each prompt, deny by default."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import types
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import KysoError
from agent.ui.api import PairingAnswer
from agent.ui.scripted import ScriptAnswers, ScriptedPrompter
from tests.ui import samples


def _write(path: Path, answers: dict) -> None:
    path.write_text(json.dumps(answers), encoding="utf-8")


async def test_answers_follow_the_file_and_are_recorded(tmp_path: Path, caplog) -> None:
    answers = tmp_path / "answers.json"
    _write(answers, {"pair": "always", "consent": "allow", "pin": "864297"})
    caplog.set_level(logging.INFO)  # the per-prompt lines too: the PIN must not be in them
    prompter = ScriptedPrompter(answers)
    assert "SCRIPTED PROMPTER ACTIVE" in caplog.text
    assert prompter.prompts == [] and prompter.name == "scripted"

    assert await prompter.pair(samples.pairing()) is PairingAnswer.ALWAYS
    assert await prompter.consent(samples.consent()) is True
    assert await prompter.get_pin(samples.pin()) == "864297"
    # The file is read again at each prompt: a test can change its mind between steps.
    _write(answers, {"pair": "once", "consent": "deny", "pin": None})
    assert await prompter.pair(samples.pairing()) is PairingAnswer.ONCE
    assert await prompter.consent(samples.consent()) is False
    assert await prompter.get_pin(samples.pin()) is None

    assert [(p.kind, p.answer) for p in prompter.prompts] == [
        ("pair", "always"),
        ("consent", "allow"),
        ("pin", "pin"),
        ("pair", "once"),
        ("consent", "deny"),
        ("pin", "cancel"),
    ]
    assert prompter.prompts[0][:2] == ("pair", samples.ORIGIN)
    assert "864297" not in caplog.text and all("864297" not in str(p) for p in prompter.prompts)


async def test_a_same_size_change_is_seen_at_the_very_next_prompt(tmp_path: Path) -> None:
    # Answers are reused only for the same bytes, or for a file left alone since it was read.
    answers = tmp_path / "answers.json"
    prompter = ScriptedPrompter(answers)
    for pin in ("123456", "654321", "123456"):
        _write(answers, {"consent": "allow", "pin": pin})
        assert await prompter.get_pin(samples.pin()) == pin
    answers.write_text("{broken")
    assert await prompter.get_pin(samples.pin()) is None
    _write(answers, {"consent": "allow", "pin": "123456"})
    assert await prompter.get_pin(samples.pin()) == "123456"


async def test_a_change_within_one_tick_of_a_coarse_file_clock_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some file systems keep times in whole seconds (this one may not): rewrites within one
    second then look alike to stat (same size, same times, same file). The prompter still
    answers from what the file says now, not from what it said at the last prompt."""
    answers = tmp_path / "answers.json"
    real_stat = os.stat

    def coarse_stat(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        st = real_stat(path, *args, **kwargs)
        if not (isinstance(path, Path) and path == answers):
            return st
        whole = 1_000_000_000
        return types.SimpleNamespace(
            st_dev=st.st_dev,
            st_ino=st.st_ino,
            st_size=st.st_size,
            st_mtime_ns=st.st_mtime_ns - st.st_mtime_ns % whole,
            st_ctime_ns=st.st_ctime_ns - st.st_ctime_ns % whole,
        )

    monkeypatch.setattr(os, "stat", coarse_stat)
    prompter = ScriptedPrompter(answers)
    for pair in ("once", "deny", "once", "deny", "once"):  # the same size every time
        answers.write_text(json.dumps({"pair": pair}))
        assert (await prompter.pair(samples.pairing())).value == pair


@pytest.mark.parametrize("content", [None, "{not json", "[1, 2]", '{"pair": "yes please"}'])
async def test_missing_or_broken_file_denies_everything(tmp_path: Path, content) -> None:
    answers = tmp_path / "answers.json"
    if content is not None:
        answers.write_text(content)
    prompter = ScriptedPrompter(answers)
    assert await prompter.pair(samples.pairing()) is PairingAnswer.DENY
    assert await prompter.consent(samples.consent()) is False
    assert await prompter.get_pin(samples.pin()) is None
    assert (
        await prompter.choose_certificate(samples.choice())
    ).certificate is samples.ORG  # default: first usable
    assert prompter.count() == 4


async def test_certificate_choice_by_thumbprint(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    _write(answers, {"certificate": samples.PERSON.thumbprint.upper()})
    prompter = ScriptedPrompter(answers)
    assert (await prompter.choose_certificate(samples.choice())).certificate is samples.PERSON
    _write(answers, {"certificate": "00" * 32})
    assert await prompter.choose_certificate(samples.choice()) is None
    expired = samples.make_cert(expired=True)
    _write(answers, {})
    choice = samples.choice().__class__(samples.ORIGIN, (expired, samples.PERSON))
    assert (await prompter.choose_certificate(choice)).certificate is samples.PERSON


async def test_delay_simulates_a_slow_user_and_times_out(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    _write(answers, {"consent": "allow", "delay_seconds": {"consent": 0.2}})
    prompter = ScriptedPrompter(answers, timeout_seconds=0.05)
    assert await prompter.pair(samples.pairing()) is PairingAnswer.DENY  # no delay for pair
    with pytest.raises(KysoError) as info:
        await prompter.consent(samples.consent())
    assert info.value.code == "USER_TIMEOUT"
    # Without a timeout the slow answer arrives; meanwhile the event loop keeps running.
    slow = ScriptedPrompter(answers)
    task = asyncio.create_task(slow.consent(samples.consent()))
    await asyncio.sleep(0)
    assert not task.done()
    assert await task is True


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(["pair", "consent", "pin", "certificate", "delay_seconds", "x"]),
                children,
                max_size=5,
            )
        ),
        max_leaves=12,
    )
)
def test_any_json_parses_and_only_exact_words_grant_anything(data) -> None:
    answers = ScriptAnswers.from_mapping(data)
    raw = data if isinstance(data, dict) else {}
    if answers.pair is not PairingAnswer.DENY:
        assert str(raw.get("pair")).lower() in {"always", "once", "allow"}
    if answers.consent:
        assert str(raw.get("consent")).lower() in {"allow", "yes"}
    assert all(delay >= 0 for _, delay in answers.delays) and answers.default_delay >= 0


async def test_an_unattended_agent_keeps_only_the_recent_prompts(tmp_path, monkeypatch):
    """The scripted prompter serves unattended machines for months: its record is bounded."""
    import agent.ui.scripted as scripted
    from agent.ui.api import PairingRequest

    monkeypatch.setattr(scripted, "MAX_RECORDED_PROMPTS", 5)
    answers = tmp_path / "answers.json"
    answers.write_text('{"pair": "once"}')
    prompter = scripted.ScriptedPrompter(answers)
    for i in range(12):
        await prompter.pair(PairingRequest(f"https://s{i}.example"))
    assert [p.summary for p in prompter.prompts] == [f"https://s{i}.example" for i in range(7, 12)]


async def test_a_huge_batch_is_recorded_and_logged_in_bounded_size(tmp_path, caplog) -> None:
    """1000 remembered prompts of 1000-document batches must not fill memory or the log."""
    from agent.ui.scripted import SHOWN_ITEMS

    answers = tmp_path / "answers.json"
    _write(answers, {"consent": "allow"})
    prompter = ScriptedPrompter(answers)
    caplog.set_level(logging.INFO, logger="agent.ui.scripted")
    assert await prompter.consent(samples.consent(1000)) is True
    shown = prompter.prompts[0].shown
    titles = [title for title, _ in shown]
    # The certificate, the overview, the first documents in detail, then how many were left out.
    assert len(shown) == 2 + SHOWN_ITEMS + 1
    assert titles[-1] == f"… và {1000 - SHOWN_ITEMS} tài liệu khác / {1000 - SHOWN_ITEMS} more"
    assert titles[2].startswith(f"1/{SHOWN_ITEMS}. Hồ sơ 600")
    assert len(caplog.records[-1].getMessage()) < 50_000
