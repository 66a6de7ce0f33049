"""What the user is shown for a remote credential: its own group in the picker, the provider in
the consent, and a PIN/OTP prompt that only the agent's window answers (dialog, terminal,
scripted file). Labels from the provider are untrusted text."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from agent.remote.prompt import CredentialPrompt
from agent.server.certificate_choice import Candidate, plan_choice
from agent.ui.dialog_view import DialogView
from agent.ui.dialogs import DialogPrompter
from agent.ui.scripted import ScriptedPrompter
from agent.ui.terminal import TerminalPrompter
from agent.ui.text import certificate_choice_text, consent_text, credential_text, render_plain
from tests.ui import samples
from tests.ui.conftest import xvfb  # noqa: F401 - the fixture
from tests.ui.test_dialogs import act

HOSTILE = "Mã PIN\u202e\n>>> https://evil.example <<<"


def request(**overrides: object) -> CredentialPrompt:
    """A PIN + online OTP request for one authorisation of three signatures."""
    base = CredentialPrompt(
        provider="Ký số từ xa (thử nghiệm)",
        provider_name="demo",
        credential_id="kyso/personal_otp",
        certificate=samples.PERSON,
        need_pin=True,
        need_otp=True,
        signatures=3,
        pin_label="Mã PIN ký số",
        otp_label="Mã OTP gửi qua SMS",
        otp_online=True,
    )
    return dataclasses.replace(base, **overrides)


def test_the_picker_groups_remote_credentials_after_the_tokens() -> None:
    remote = samples.make_cert("CÔNG TY KYSO (ký từ xa)")
    plan = plan_choice(
        samples.ORIGIN,
        [
            Candidate(remote, "", "", True, remote_provider="Ký số từ xa (thử nghiệm)"),
            Candidate(samples.ORG, "KYSO DEMO 1", "0a1b", True),
        ],
    )
    text = certificate_choice_text(plan.choice)
    groups = [s.group for s in text.sections]
    assert groups == [
        "USB token: KYSO DEMO 1 · số sê-ri / serial 0a1b",
        "Ký số từ xa: Ký số từ xa (thử nghiệm) · remote signing",
    ]
    # The token in the user's hand stays preselected.
    assert plan.choice.preselected == samples.ORG.thumbprint
    disabled = Candidate(remote, "", "", True, remote_provider="x", remote_disabled=True)
    rows = plan_choice(samples.ORIGIN, [disabled]).choice.rows()
    assert rows[0].problems == ("REMOTE_DISABLED",) and not rows[0].usable


def test_the_consent_names_the_remote_service() -> None:
    consent = dataclasses.replace(samples.consent(), source="remote:Ký số từ xa (thử nghiệm)")
    fields = {f.label: f.value for f in consent_text(consent).sections[0].fields}
    assert fields["Ký số từ xa · Remote signing"] == "Ký số từ xa (thử nghiệm)"
    token = dataclasses.replace(samples.consent(), source="token:KYSO DEMO 1")
    fields = {f.label: f.value for f in consent_text(token).sections[0].fields}
    assert fields["USB token"] == "KYSO DEMO 1" and "Ký số từ xa · Remote signing" not in fields


def test_credential_prompt_text_renders_provider_labels_inert() -> None:
    text = credential_text(request(pin_label=HOSTILE, otp_label=HOSTILE, provider=HOSTILE))
    assert [k for k, _, _ in text.secret_fields] == ["pin", "otp"]
    plain = render_plain(text)
    # The provider's text can never start a line, so it cannot imitate the agent's lines.
    assert "\n>>> https://evil.example" not in plain
    assert "\u202e" not in plain
    for _, label_vi, _ in text.secret_fields:
        assert "\n" not in label_vi and "\u202e" not in label_vi
    assert text.question_vi == "Nhập mã PIN và mã OTP để ký bằng chứng thư số từ xa"
    assert text.warnings and "gửi mã OTP" in text.warnings[0].vi
    only_pin = credential_text(request(need_otp=False))
    assert [k for k, _, _ in only_pin.secret_fields] == ["pin"] and not only_pin.warnings


async def test_scripted_answers_remote_pin_and_one_otp_per_authorisation(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"remote_pin": "246810", "otp": ["111111", "222222"]}))
    prompter = ScriptedPrompter(answers)
    first = await prompter.get_credential_secrets(request())
    second = await prompter.get_credential_secrets(request(need_pin=False))
    assert first is not None and (first.pin, first.otp) == ("246810", "111111")
    assert second is not None and (second.pin, second.otp) == (None, "222222")
    records = [p for p in prompter.prompts if p.kind == "credential"]
    assert [r.answer for r in records] == ["pin+otp", "otp"]
    assert "246810" not in repr(prompter.prompts) and "111111" not in repr(prompter.prompts)
    # No PIN in the file: the prompt is cancelled, nothing half-filled is sent.
    answers.write_text(json.dumps({"otp": "333333"}))
    assert await prompter.get_credential_secrets(request()) is None
    assert prompter.prompts[-1].answer == "cancel"


async def test_terminal_reads_both_secrets_without_echo() -> None:
    asked: list[str] = []

    def secret(question: str) -> str:
        asked.append(question)
        return {0: "246810", 1: "135790"}[len(asked) - 1]

    out = _Sink()
    prompter = TerminalPrompter(input_func=lambda q: "", pin_func=secret, output=out)
    answer = await prompter.get_credential_secrets(request())
    assert answer is not None and (answer.pin, answer.otp) == ("246810", "135790")
    assert "Mã OTP" in asked[1] and "246810" not in out.text and "135790" not in out.text
    asked.clear()
    empty = TerminalPrompter(input_func=lambda q: "", pin_func=lambda q: "", output=_Sink())
    assert await empty.get_credential_secrets(request()) is None


class _Sink:
    def __init__(self) -> None:
        self.text = ""

    def write(self, data: str) -> None:
        self.text += data

    def flush(self) -> None:
        pass


@pytest.fixture(scope="module")
def dialog(xvfb: str):  # noqa: F811 - the fixture imported above
    """A real tkinter dialog prompter under Xvfb."""
    p = DialogPrompter(arm_delay_ms=0, timeout_seconds=30)
    yield p
    p.close()


async def test_dialog_asks_pin_and_otp_in_masked_fields(dialog: DialogPrompter) -> None:
    def fill(view: DialogView) -> None:
        assert set(view.secrets) == {"pin", "otp"}
        assert all(e.cget("show") == "•" for e in view.secrets.values())
        view.type_secret("pin", "246810")
        view.press("ok")  # the OTP is still empty: refused in the dialog, nothing sent
        view.type_secret("otp", "135790")
        view.press("ok")

    seen = act(dialog, fill, shot="remote-credential")
    answer = await dialog.get_credential_secrets(request())
    assert "error" not in seen[0], seen
    assert answer is not None and (answer.pin, answer.otp) == ("246810", "135790")
    assert seen[0]["title"] == "Kyso — Ký số từ xa"  # the dialog: the tray's language
    act(dialog, lambda v: v.press("cancel"))
    assert await dialog.get_credential_secrets(request()) is None


async def test_dialog_picker_offers_sign_in_to_a_remote_provider(dialog: DialogPrompter) -> None:
    from agent.ui.api import SignInOption

    option = SignInOption("demo", "Ký số từ xa (thử nghiệm)")
    plan = plan_choice(
        samples.ORIGIN, [Candidate(samples.ORG, "KYSO DEMO 1", "0a1b", True)], None, [option]
    )
    preselected: list[str] = []

    def choose_sign_in(view: DialogView) -> None:
        preselected.append(view.cert_var.get())
        view.cert_var.set("sign-in:demo")
        view.press("choose")

    seen = act(dialog, choose_sign_in)
    assert await dialog.choose_certificate(plan.choice) == option
    assert preselected == [samples.ORG.thumbprint]  # the token stays the default
    labels = seen[0]["labels"]
    assert any(
        t.startswith("Đăng nhập dịch vụ ký số từ xa Ký số từ xa (thử nghiệm)") for t in labels
    )
    # Under the provider's own heading (the dialog speaks the language the tray chose).
    assert any(t.startswith("Ký số từ xa: Ký số từ xa (thử nghiệm)") for t in labels)
