"""The Tk picker with one certificate on two tokens (red-team T1): each copy is its own radio
button, under its own token's heading, and the button clicked is the row returned; a remote
provider still loading is said in the picker (red-team R2)."""

from __future__ import annotations

import tkinter as tk

import pytest

from agent.server.certificate_choice import Candidate, plan_choice
from agent.ui.api import ProviderNote
from agent.ui.dialog_view import DialogView
from agent.ui.dialogs import DialogPrompter
from tests.ui import samples
from tests.ui.test_dialogs import act

MODULE = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture(scope="module")
def prompter(xvfb: str):
    """One dialog prompter (one UI thread) for the module."""
    p = DialogPrompter(arm_delay_ms=0, timeout_seconds=30, language=lambda: "vi")
    yield p
    p.close()


def _radio_buttons(widget: tk.Misc) -> list[tk.Radiobutton]:
    found = [widget] if isinstance(widget, tk.Radiobutton) else []
    for child in widget.winfo_children():
        found += _radio_buttons(child)
    return found


def _copies() -> list[Candidate]:
    return [
        Candidate(samples.ORG, label, serial, True, source=("token", MODULE, serial, "01"))
        for label, serial in (("KYSO-CHINH", "1111aaaa"), ("KYSO-DUPHONG", "2222bbbb"))
    ]


async def test_the_radio_button_clicked_is_the_copy_returned(prompter: DialogPrompter) -> None:
    plan = plan_choice(
        samples.ORIGIN, _copies(), None, (), [ProviderNote("Nhà cung cấp X", "loading")]
    )
    first, second = plan.choice.rows()
    values: list[str] = []

    def click_second(view: DialogView) -> None:
        values.append(view.cert_var.get())
        _radio_buttons(view.root)[1].invoke()  # as a click on the second copy's button
        values.append(view.cert_var.get())
        view.press("choose")

    seen = act(prompter, click_second)
    picked = await prompter.choose_certificate(plan.choice)
    assert picked == second and picked.token_label == "KYSO-DUPHONG"
    # The first copy preselected (not both); the click selects the second one only.
    assert values == [first.key.text, second.key.text]
    labels = seen[0]["labels"]
    assert "USB token: KYSO-CHINH · số sê-ri 1111aaaa" in labels
    assert "USB token: KYSO-DUPHONG · số sê-ri 2222bbbb" in labels
    assert any("Nhà cung cấp X" in t and "chưa trả lời" in t for t in labels)

    act(prompter, lambda v: v.press("choose"))
    assert await prompter.choose_certificate(plan.choice) == first
