"""The real dialogs (Xvfb) in the tray's language, the PIN-pad reader's window, and the PDF
consent's page preview. Screenshots under test-artifacts/ui/ (docs/screenshots/ copies them)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import struct
import zlib

import pytest
from PIL import Image, ImageDraw

from agent.errors import KysoError
from agent.tokens.pin import PinState
from agent.ui.api import ConsentItem
from agent.ui.dialog_view import DialogView
from agent.ui.dialogs import DialogPrompter
from agent.ui.tray_prefs import TrayPreferences, save_preferences
from tests.ui import samples
from tests.ui.test_dialog_screen import kyso_windows_on_screen
from tests.ui.test_dialogs import act


@pytest.fixture(scope="module")
def prompter(xvfb: str):
    """One dialog prompter for the module, in Vietnamese unless a test says otherwise."""
    p = DialogPrompter(arm_delay_ms=0, timeout_seconds=30, language=lambda: "vi")
    yield p
    p.close()


def previews_shown(view: DialogView) -> list[tuple[int, int, bool]]:
    """(width, height, inside the details box) of each page preview, read on the UI thread."""
    inline = set(view.details.window_names()) if view.details is not None else set()
    return [
        (p.winfo_reqwidth(), p.winfo_reqheight(), str(p.master) in inline) for p in view.previews
    ]


async def test_pin_pad_window_names_the_token_and_cancel_works(prompter: DialogPrompter) -> None:
    request = samples.pin()
    seen = act(prompter, lambda v: v.press("cancel"), shot="pin-pad")
    assert await prompter.show_pin_pad(request) is None  # the user's Cancel: it returns
    shown = seen[0]
    assert "error" not in shown, shown
    assert shown["title"] == "Kyso — Nhập mã PIN trên đầu đọc thẻ"
    assert "Nhập mã PIN trên bàn phím của đầu đọc thẻ" in shown["labels"]
    assert "Enter the PIN on the card reader's keypad" in shown["labels"]  # the helper's line
    assert "KYSO DEMO 1 (số sê-ri 0a1b2c3d)" in shown["details"]
    assert shown["buttons"] == {"cancel": "Hủy"} and shown["entry_show"] is None

    wrong = KysoError("PIN_INCORRECT", {"pin_state": "final_try"})
    retry = dataclasses.replace(
        request, state=PinState(count_low=True, final_try=True), previous_error=wrong, attempt=2
    )
    seen = act(prompter, lambda v: v.press("cancel"), shot="pin-pad-retry")
    await prompter.show_pin_pad(retry)
    assert "⚠ Mã PIN vừa nhập không đúng. Hãy nhập lại." in seen[0]["labels"]
    assert "⚠ Chỉ còn MỘT lần thử: nhập sai lần nữa, token sẽ bị khóa." in seen[0]["labels"]


async def test_the_pin_pad_window_closes_when_the_reader_answers(prompter: DialogPrompter) -> None:
    """The token layer cancels the window's call when C_Login returns: it leaves the screen."""
    shown = asyncio.Event()
    loop = asyncio.get_running_loop()
    prompter.on_shown = lambda _view: loop.call_soon_threadsafe(shown.set)
    window = asyncio.ensure_future(prompter.show_pin_pad(samples.pin()))
    await shown.wait()
    window.cancel()
    with pytest.raises(asyncio.CancelledError):
        await window
    for _ in range(500):  # the UI thread closes it at its next poll
        if not kyso_windows_on_screen():
            break
        await asyncio.sleep(0.02)
    assert kyso_windows_on_screen() == []


async def test_dialogs_follow_the_tray_language_at_each_prompt(
    xvfb: str, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("KYSO_HOME", str(tmp_path))
    save_preferences(TrayPreferences(language="en"))
    p = DialogPrompter(arm_delay_ms=0, timeout_seconds=30)  # the tray's saved setting
    try:
        seen = act(p, lambda v: v.press("deny"), shot="consent-en")
        assert await p.consent(samples.consent()) is False
        en = seen[0]
        assert en["title"] == "Kyso — Confirm signature"
        assert en["buttons"] == {"allow": "Sign", "deny": "Cancel"}
        assert en["labels"][1:3] == [  # after the icon
            "Sign the document below for this website?",
            "Ký số tài liệu dưới đây cho trang web này?",  # smaller, for whoever helps
        ]
        assert "Requesting website" in en["labels"]
        assert "Holder\tCÔNG TY TNHH PHẦN MỀM HOA SEN" in en["details"]
        # Page text is shown as the page wrote it, never translated.
        assert "Hồ sơ 600 — Báo cáo tình hình sử dụng lao động" in en["details"]

        save_preferences(TrayPreferences(language="vi"))  # changed in the tray: no restart
        seen = act(p, lambda v: v.press("deny"))
        assert await p.consent(samples.consent()) is False
        assert seen[0]["title"] == "Kyso — Xác nhận ký số"
        assert seen[0]["buttons"] == {"allow": "Ký", "deny": "Hủy"}
        assert "Người sở hữu\tCÔNG TY TNHH PHẦN MỀM HOA SEN" in seen[0]["details"]
    finally:
        p.close()


def page_png(width: int = 141, height: int = 200) -> bytes:
    """What the PDF renderer hands the consent: a small page, the stamp's box in red."""
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)
    for y in range(20, 120, 8):
        draw.line((14, y, width - 14, y), fill=(170, 170, 170))
    draw.rectangle((78, 150, 130, 182), outline=(200, 0, 0), fill=(255, 200, 200))
    out = io.BytesIO()
    page.save(out, "PNG")
    return out.getvalue()


def pdf_consent(preview: bytes | None, count: int = 1) -> object:
    items = tuple(
        ConsentItem(
            title=f"Quyết định {15 + i}/QĐ-HS.pdf",
            lines=(("Trang / page", "2"), ("Chữ ký hiển thị / visible", "trang 1, dưới bên phải")),
            sha256="3c" * 32,
            preview_png=preview,
        )
        for i in range(count)
    )
    return dataclasses.replace(samples.consent(), action="sign.pdf", items=items)


def huge_png_header() -> bytes:
    """A PNG that claims to be 60000 × 60000 pixels: refused before anything decodes it."""
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


async def test_pdf_consent_shows_where_the_visible_signature_goes(
    prompter: DialogPrompter,
) -> None:
    previews: list[list[tuple[int, int, bool]]] = []

    def look(view: DialogView) -> None:
        previews.append(previews_shown(view))
        view.press("deny")

    seen = act(prompter, look, shot="consent-pdf-preview")
    assert await prompter.consent(pdf_consent(page_png())) is False
    assert "error" not in seen[0], seen
    # One PDF: its page beside the details, scaled to 180 px high (+ its 1 px frame).
    assert previews == [[(129, 182, False)]]
    assert "Vị trí chữ ký hiển thị" in seen[0]["labels"]

    # A batch of PDFs: each page under its own item, in the scrolling details.
    previews.clear()
    seen = act(prompter, look, shot="consent-pdf-preview-batch")
    assert await prompter.consent(pdf_consent(page_png(), count=2)) is False
    assert previews == [[(129, 182, True), (129, 182, True)]]

    # Anything that is not a small PNG: no picture, and the consent works as ever.
    for bad in (b"GIF89a" + bytes(64), huge_png_header(), page_png()[:40], page_png(2400, 10)):
        previews.clear()
        seen = act(prompter, look)
        assert await prompter.consent(pdf_consent(bad)) is False
        assert "error" not in seen[0], seen
        assert previews == [[]] and "Vị trí chữ ký hiển thị" not in seen[0]["labels"]
