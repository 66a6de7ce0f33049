"""The real tkinter dialogs under Xvfb: answers, Escape, timeout, cancellation, typing a PIN."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Callable

import pytest

from agent.errors import KysoError
from agent.tokens.pin import PinState
from agent.ui.api import PairingAnswer
from agent.ui.dialog_view import DialogView
from agent.ui.dialogs import DialogPrompter
from tests.ui import samples
from tests.ui.conftest import screenshot


@pytest.fixture(scope="module")
def prompter(xvfb: str):
    """One dialog prompter (one UI thread) for the module; each test sets its own hook."""
    p = DialogPrompter(arm_delay_ms=0, timeout_seconds=30, language=lambda: "vi")
    yield p
    p.close()


def snapshot(view: DialogView) -> dict:
    """Plain data about an open dialog, read on the UI thread (Tk objects must stay there)."""
    return {
        "title": view.root.title(),
        "origin": str(view.origin_label.cget("text")) if view.origin_label is not None else None,
        "labels": _label_texts(view.root),
        "details": view.details.get("1.0", "end") if view.details is not None else "",
        "buttons": {k: str(b.cget("text")) for k, b in view.buttons.items()},
        "entry_show": str(view.entry.cget("show")) if view.entry is not None else None,
        "has_cert_list": view.cert_var is not None,
    }


def _label_texts(widget) -> list[str]:
    """The text of every label and radio button in the window, top to bottom (creation order)."""
    out = []
    for child in widget.winfo_children():
        if child.winfo_class() in ("Label", "TLabel", "Radiobutton"):
            out.append(str(child.cget("text")))
        out += _label_texts(child)
    return out


def act(
    prompter: DialogPrompter, action: Callable[[DialogView], None], shot: str | None = None
) -> list[dict]:
    """On the next dialogs: snapshot, optionally screenshot, then do ``action`` (UI thread)."""
    seen: list[dict] = []

    def hook(view: DialogView) -> None:
        def run() -> None:
            if shot and not view.root.winfo_viewable():
                view.root.after(10, run)  # wait until it is on the display, not just built
                return
            try:
                seen.append(snapshot(view))
                if shot:
                    screenshot(view.root, shot)
                action(view)
            except Exception as exc:  # never leave a dialog open for the timeout: fail fast
                seen.append({"error": repr(exc)})
                view.root.event_generate("<Escape>")

        # Once the dialog's event loop runs (the hook is called while it is being built).
        view.root.after_idle(run)

    prompter.on_shown = hook
    return seen


async def test_pairing_answers(prompter: DialogPrompter) -> None:
    seen = act(prompter, lambda v: v.press("always"), shot="pairing")
    assert await prompter.pair(samples.pairing()) is PairingAnswer.ALWAYS
    assert seen[0]["title"] == "Kyso — Cho phép trang web?"
    act(prompter, lambda v: v.press("once"))
    assert await prompter.pair(samples.pairing()) is PairingAnswer.ONCE
    # Escape, and closing the window, both mean "deny".
    act(prompter, lambda v: v.root.event_generate("<Escape>"))
    assert await prompter.pair(samples.pairing()) is PairingAnswer.DENY
    act(prompter, lambda v: v.root.tk.call(v.root.protocol("WM_DELETE_WINDOW")))
    assert await prompter.pair(samples.pairing()) is PairingAnswer.DENY


async def test_consent_shows_the_details_and_signs_only_on_ky(prompter: DialogPrompter) -> None:
    seen = act(prompter, lambda v: v.press("allow"), shot="consent")
    assert await prompter.consent(samples.consent()) is True
    shown = seen[0]["details"]
    assert "0101234567" in shown and "9f2c1e7a 9f2c1e7a" in shown and "Kỳ kê khai" in shown
    assert seen[0]["buttons"]["allow"] == "Ký"
    act(prompter, lambda v: v.press("deny"), shot="consent-batch")
    assert await prompter.consent(samples.consent(6)) is False


async def test_certificate_choice(prompter: DialogPrompter) -> None:
    expired = samples.make_cert("CÔNG TY CŨ", expired=True)
    choice = samples.CertificateChoice(samples.ORIGIN, (expired, samples.ORG, samples.PERSON))
    seen = act(prompter, lambda v: v.press("choose"), shot="certificate")
    assert (await prompter.choose_certificate(choice)).certificate is samples.ORG  # preselected
    assert seen[0]["has_cert_list"]

    def pick_person(view: DialogView) -> None:
        view.cert_var.set(samples.PERSON.thumbprint)
        view.press("choose")

    act(prompter, pick_person)
    assert (await prompter.choose_certificate(choice)).certificate is samples.PERSON
    act(prompter, lambda v: v.press("cancel"))
    assert await prompter.choose_certificate(choice) is None


async def test_pin_dialog_states(prompter: DialogPrompter) -> None:
    def type_and_ok(view: DialogView) -> None:
        assert view.entry is not None and view.entry.cget("show") == "•"
        view.type_pin("975318")
        view.press("ok")

    act(prompter, type_and_ok, shot="pin")
    assert await prompter.get_pin(samples.pin()) == "975318"

    def too_short_then_too_long_then_right(view: DialogView) -> None:
        assert view.entry is not None and view.caps_label is not None
        view.type_pin("12")  # the token wants 4-16 characters
        view.press("ok")  # refused in the dialog: no try of the token is wasted
        hints.append(str(view.caps_label.cget("text")))
        view.type_pin("1" * 17)  # longer than 16 cannot even be typed
        hints.append(view.entry.get())
        view.type_pin("2468")
        view.press("ok")

    hints: list[str] = []
    act(prompter, too_short_then_too_long_then_right)
    assert await prompter.get_pin(samples.pin()) == "2468"
    assert hints == ["Mã PIN cần ít nhất 4 ký tự", ""]
    seen = act(prompter, lambda v: v.press("cancel"), shot="pin-final-try")
    assert await prompter.get_pin(samples.pin(PinState(count_low=True, final_try=True))) is None
    assert seen[0]["buttons"]["ok"] == "Đồng ý" and seen[0]["entry_show"] == "•"
    seen = act(prompter, lambda v: v.press("cancel"), shot="pin-locked")
    assert await prompter.get_pin(samples.pin(PinState(locked=True))) is None
    assert seen[0]["entry_show"] is None and seen[0]["buttons"] == {"cancel": "Đóng"}


async def test_timeout_and_cancellation_close_the_dialog(xvfb: str) -> None:
    quick = DialogPrompter(arm_delay_ms=0, timeout_seconds=0.3)
    try:
        with pytest.raises(KysoError) as info:
            await quick.consent(samples.consent())
        assert info.value.code == "USER_TIMEOUT"
        quick.timeout_seconds = 30
        shown = threading.Event()
        quick.on_shown = lambda view: shown.set()
        task = asyncio.create_task(quick.pair(samples.pairing()))
        await asyncio.to_thread(shown.wait, 10)
        task.cancel()  # e.g. the page went away
        with pytest.raises(asyncio.CancelledError):
            await task
        # The UI thread is free again: the next dialog shows and answers.
        act(quick, lambda v: v.press("once"))
        assert await quick.pair(samples.pairing()) is PairingAnswer.ONCE
    finally:
        quick.close()


async def test_approve_buttons_are_armed_after_a_delay(xvfb: str) -> None:
    # Long enough that the hook surely runs before arming, even on a loaded machine.
    careful = DialogPrompter(arm_delay_ms=1000, timeout_seconds=30)
    presses: list[str] = []
    shown, loop_served = threading.Event(), threading.Event()

    def early_then_late(view: DialogView) -> None:
        button = view.buttons["allow"]
        presses.append("early-disabled" if button.instate(["disabled"]) else "early-armed")
        view.press("allow")  # too early: ignored (a key typed for another window)
        shown.set()

        def when_armed() -> None:
            # Wait on the condition (armed, and the event loop served us meanwhile), polling.
            if button.instate(["disabled"]) or not loop_served.is_set():
                view.root.after(10, when_armed)
                return
            presses.append("late")
            view.press("allow")

        when_armed()

    act(careful, early_then_late)
    try:
        task = asyncio.create_task(careful.consent(samples.consent()))
        await asyncio.to_thread(shown.wait, 10)
        # The dialog is open and waiting; the event loop still runs other work. (If it did
        # not, nothing would set this and the dialog would time out instead of answering.)
        assert not task.done()
        loop_served.set()
        assert await task is True
    finally:
        careful.close()
    assert presses == ["early-disabled", "late"]


async def test_typing_the_pin_with_a_real_keyboard(prompter: DialogPrompter, xvfb: str) -> None:
    xdotool = shutil.which("xdotool")
    if xdotool is None:
        pytest.fail("xdotool is missing: install the Debian package xdotool (./run.sh test does)")
    focused = threading.Event()

    def wait_for_focus(view: DialogView) -> None:
        # Tk reports a focus window only once the application really has the X input focus:
        # then the keys xdotool sends go to the PIN field. Poll that condition, no fixed sleep.
        if view.root.focus_get() is view.entry:
            focused.set()
        else:
            view.root.after(10, wait_for_focus, view)

    prompter.on_shown = lambda view: view.root.after_idle(wait_for_focus, view)
    task = asyncio.create_task(prompter.get_pin(samples.pin()))
    assert await asyncio.to_thread(focused.wait, 20), "the PIN field never got the focus"
    proc = await asyncio.create_subprocess_exec(
        xdotool, "type", "--delay", "20", "24680", env={"DISPLAY": xvfb}
    )
    await proc.wait()
    proc = await asyncio.create_subprocess_exec(xdotool, "key", "Return", env={"DISPLAY": xvfb})
    await proc.wait()
    assert await asyncio.wait_for(task, 10) == "24680"


def test_no_display_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(KysoError) as info:
        DialogPrompter()
    assert info.value.code == "PROMPTER_UNAVAILABLE"
