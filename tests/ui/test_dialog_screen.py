"""What the real dialogs leave on the screen (Xvfb): nothing once answered; the PIN retry and
the certificate picker as a user sees them (screenshots under test-artifacts/ui/)."""

from __future__ import annotations

import os

import pytest
from PIL import ImageGrab

from agent.errors import KysoError
from agent.tokens.pin import PinState
from agent.ui.dialog_view import DialogView
from agent.ui.dialogs import DialogPrompter
from tests.browser.xscreen import Screen
from tests.ui import samples
from tests.ui.conftest import ARTIFACTS
from tests.ui.test_dialogs import act


@pytest.fixture(scope="module")
def prompter(xvfb: str):
    """One dialog prompter (one UI thread) for the module."""
    p = DialogPrompter(arm_delay_ms=0, timeout_seconds=30, language=lambda: "vi")
    yield p
    p.close()


def kyso_windows_on_screen() -> list[str]:
    """Titles of the Kyso windows the X server shows now, asked over a connection of our own
    (what another program, or the user's eyes, would see)."""
    return Screen(os.environ["DISPLAY"]).titles()


async def test_an_answered_pin_dialog_is_gone_from_the_screen(prompter: DialogPrompter) -> None:
    on_screen: list[list[str]] = []
    box: list[tuple[int, int, int, int]] = []

    def type_and_ok(view: DialogView) -> None:
        view.root.update()
        x, y = view.root.winfo_rootx(), view.root.winfo_rooty()
        box.append((x, y, x + view.root.winfo_width(), y + view.root.winfo_height()))
        on_screen.append(kyso_windows_on_screen())
        view.type_pin("975318")
        view.press("ok")

    act(prompter, type_and_ok)
    assert await prompter.get_pin(samples.pin()) == "975318"
    # While asking, the X server showed it (so the check below can see a window at all)...
    assert on_screen == [["Kyso — Nhập mã PIN"]]
    # ... and once the answer is taken, nothing of it is left: no mapped window, no pixels.
    assert kyso_windows_on_screen() == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screen = ImageGrab.grab(xdisplay=os.environ["DISPLAY"])
    screen.save(ARTIFACTS / "screen-after-pin.png")
    where = screen.crop(box[0])
    assert where.getextrema() == screen.crop((0, 0, 8, 8)).getextrema()  # plain background


async def test_a_wrong_pin_asks_again_in_red(prompter: DialogPrompter) -> None:
    wrong = KysoError("PIN_INCORRECT", {"pin_state": "count_low"})
    seen = act(prompter, lambda v: v.press("cancel"), shot="pin-retry")
    request = samples.pin(PinState(count_low=True))
    retry = type(request)(**{**request.__dict__, "previous_error": wrong, "attempt": 2})
    assert await prompter.get_pin(retry) is None  # Cancel always works
    shown = seen[0]
    assert shown["title"] == "Kyso — Nhập lại mã PIN"
    assert "⚠ Mã PIN vừa nhập không đúng. Hãy nhập lại." in shown["labels"]
    assert shown["entry_show"] == "•"

    final = type(request)(
        **{**request.__dict__, "state": PinState(True, True), "previous_error": wrong}
    )
    seen = act(prompter, lambda v: v.press("cancel"), shot="pin-retry-final-try")
    assert await prompter.get_pin(final) is None
    assert "⚠ Chỉ còn MỘT lần thử: nhập sai lần nữa, token sẽ bị khóa." in seen[0]["labels"]

    locked = type(request)(
        **{
            **request.__dict__,
            "state": PinState(locked=True),
            "previous_error": KysoError("PIN_LOCKED"),
        }
    )
    seen = act(prompter, lambda v: v.press("cancel"), shot="pin-just-locked")
    assert await prompter.get_pin(locked) is None
    assert "Mã PIN vừa nhập không đúng và USB token đã bị khóa" in seen[0]["labels"]
    assert seen[0]["buttons"] == {"cancel": "Đóng"} and seen[0]["entry_show"] is None


def demo_like_picker():
    """What the issue showed: the same unit's certificates on two tokens, one expired."""
    from agent.server.certificate_choice import Candidate, CertificateFilter, plan_choice

    unit = "CÔNG TY TNHH GIẢI PHÁP KYSO VIỆT NAM"
    current = samples.make_cert(unit)
    renewed = samples.make_cert(unit)
    expired = samples.make_cert(unit, expired=True)
    person = samples.make_cert("NGUYỄN THỊ HỒNG NHUNG", "CCCD:001190012345")
    plan = plan_choice(
        samples.ORIGIN,
        [
            Candidate(renewed, "KYSO DEMO 2", "5b2e0c41a7d3", True),
            Candidate(expired, "KYSO DEMO 1", "1f9a3d77c2e8", True),
            Candidate(current, "KYSO DEMO 1", "1f9a3d77c2e8", True),
            Candidate(person, "KYSO DEMO 1", "1f9a3d77c2e8", True),
        ],
        CertificateFilter(mst="0101234567"),
    )
    return plan, current, renewed, expired


async def test_the_picker_groups_by_token_and_greys_what_cannot_sign(
    prompter: DialogPrompter,
) -> None:
    plan, current, renewed, expired = demo_like_picker()
    assert plan.chosen is None  # two of the unit's certificates can sign: the user picks
    assert [o.token_label for o in plan.choice.rows() if o.certificate is renewed] == [
        "KYSO DEMO 2"
    ]
    picked: list[str] = []

    def look_then_choose(view: DialogView) -> None:
        picked.append(view.cert_var.get())
        view.press("choose")

    seen = act(prompter, look_then_choose, shot="certificate-by-token")
    assert (await prompter.choose_certificate(plan.choice)).certificate is current
    assert picked == [current.thumbprint]  # the unit's certificate on the first token
    labels = seen[0]["labels"]
    headings = [t for t in labels if t.startswith("USB token:")]
    assert headings == [
        "USB token: KYSO DEMO 1 · số sê-ri 1f9a3d77c2e8",
        "USB token: KYSO DEMO 2 · số sê-ri 5b2e0c41a7d3",
    ]
    assert "⚠ đã hết hạn" in labels

    def choose_the_expired(view: DialogView) -> None:
        view.cert_var.set(expired.thumbprint)  # a greyed row cannot be selected by clicking;
        view.press("choose")  # even forced, it is never returned

    act(prompter, choose_the_expired)
    assert await prompter.choose_certificate(plan.choice) is None


async def test_consent_for_another_units_dossier_is_red(prompter: DialogPrompter) -> None:
    import dataclasses

    request = samples.consent()
    item = request.items[0]
    other = dataclasses.replace(
        item, lines=tuple((k, "0109999999" if k == "MST" else v) for k, v in item.lines)
    )
    seen = act(prompter, lambda v: v.press("deny"), shot="consent-mst-mismatch")
    assert await prompter.consent(dataclasses.replace(request, items=(other,))) is False
    assert any(
        t.startswith("⚠ Mã số thuế trong tài liệu (0109999999) KHÁC") for t in seen[0]["labels"]
    )
