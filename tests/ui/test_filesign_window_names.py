"""Red team 41: the desktop "Ký tệp" windows other than the consent (the options window that
lists the chosen files, the result window that says which were signed, failed, removed or kept)
cut long file names at their END, and cut each whole line at 200 (140) characters: files that
differ only near the end of their names (thang10 / thang11 / thang12) read the same, so the
user cannot tell which one failed or which original was deleted; and an error's "what to do"
and a kept original's reason are cut off. Red team 8 fixed this for the consent only
(``render_untrusted_middle``); now every window cuts names in the middle and wraps lines
whole. Also: the consent says where the copies go, and the desktop's advice is its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.errors import KysoError
from agent.ui import filesign_view as view
from agent.ui.filesign import FilePlan, consent_item, plan_files
from tests.signing_xml.helpers import HOSO

FOLDER = "/home/ke-toan/Ho so BHXH 2026/"
BASE = "hop-dong-lao-dong-cong-ty-tnhh-thuong-mai-dich-vu-abc-nguyen-van-a-"
KEPT = {
    "vi": "tệp đã thay đổi sau khi được đọc để ký nên được giữ nguyên (bản đã ký là của nội "
    "dung cũ; hãy ký lại nếu cần)",
    "en": "it changed after it was read for signing, so it was kept (the signed copy holds "
    "the earlier content; sign it again if needed)",
}


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the window's widgets were given, without a display."""
    texts: list[str] = []

    class Widget:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if "text" in kwargs:
                texts.append(kwargs["text"])

        def __getattr__(self, name: str) -> Any:
            return lambda *a, **k: None

    monkeypatch.setattr(view.tk, "Toplevel", Widget)
    monkeypatch.setattr(view.tk, "StringVar", Widget)
    monkeypatch.setattr(view.tk, "BooleanVar", Widget)
    for name in ("Frame", "Label", "Button", "Separator", "Radiobutton", "Checkbutton"):
        monkeypatch.setattr(view.ttk, name, Widget)
    monkeypatch.setattr(view, "_focus", lambda win: None)
    return texts


class Root:
    def wait_window(self, win: Any) -> None:
        pass


def results() -> list[dict[str, Any]]:
    exists = KysoError("OUTPUT_EXISTS", {"path": FOLDER + BASE + "thang11_signed.pdf"})
    return [
        {
            "file": FOLDER + BASE + "thang10.pdf",
            "ok": True,
            "output": FOLDER + BASE + "thang10_signed.pdf",
            "removed_unsigned": True,
        },
        {"file": FOLDER + BASE + "thang11.pdf", "ok": False, "error": exists.to_dict()},
        {
            "file": FOLDER + BASE + "thang12.pdf",
            "ok": True,
            "output": FOLDER + BASE + "thang12_signed.pdf",
            "removed_unsigned": False,
            "original_kept": KEPT,
        },
    ]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_result_window_tells_the_three_months_apart(shown: list[str], lang: str) -> None:
    view.show_result(Root(), lang, results(), None, lambda folder: None)
    lines = [s for s in shown if s.startswith(("✓", "✗"))]
    assert len(lines) == 3
    for line, month in zip(lines, ("thang10", "thang11", "thang12"), strict=True):
        # which file this line is about, and (for a signed one) the copy's name
        assert f"{month}.pdf" in line, line
    assert "thang10_signed.pdf" in lines[0] and "thang12_signed.pdf" in lines[2]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_result_window_keeps_what_to_do_and_why_an_original_was_kept(
    shown: list[str], lang: str
) -> None:
    view.show_result(Root(), lang, results(), None, lambda folder: None)
    lines = [s for s in shown if s.startswith(("✓", "✗"))]
    error = results()[1]["error"]
    action = error["action_en" if lang == "en" else "action_vi"]
    assert action in lines[1], lines[1]  # "what to do next" is part of the promise
    assert KEPT[lang] in lines[2], lines[2]  # the signed copy holds the earlier content


def test_the_options_window_tells_the_chosen_files_apart(shown: list[str]) -> None:
    plans = [
        FilePlan(Path(FOLDER + BASE + f"{m}.pdf"), "pdf", "pades", Path(FOLDER + BASE + m))
        for m in ("thang10", "thang11")
    ]
    view.ask_options(Root(), plans, "vi")
    lines = [s for s in shown if s.strip().startswith(("✓", "✗"))]
    assert len(lines) == 2
    assert "thang10.pdf" in lines[0] and "thang11.pdf" in lines[1], lines


def test_the_journal_window_tells_two_months_records_apart() -> None:
    """The journal ("Nhật ký ký số", the tray's window, and `kyso-agent audit`) shows a file's
    name cut at its end too (48 characters): which month's contract was signed, or refused,
    cannot be read there either."""
    from agent.cli.filesign_cmd import journal_rows
    from agent.ui.tray_journal import journal_cells

    records = [
        {
            "time": "2026-12-08T03:00:00+00:00",
            "channel": "cli",
            "method": "sign-files",
            "file": BASE + f"{month}.pdf",
            "result": result,
            "sha256": "ab" * 32,
        }
        for month, result in (("thang10", "OK"), ("thang11", "OUTPUT_EXISTS"))
    ]
    cells = journal_cells(journal_rows(records))
    shown_files = [row[2] for row in cells]
    assert "thang10" in shown_files[0] and "thang11" in shown_files[1], shown_files


def test_the_consent_says_where_the_signed_copy_goes(tmp_path: Path) -> None:
    source_dir, out_dir = tmp_path / "ho-so-goc", tmp_path / "nop-bhxh-thang-12"
    source_dir.mkdir()
    out_dir.mkdir()
    source = source_dir / "hoso.xml"
    source.write_bytes(HOSO)
    (plan,) = plan_files([source], out_dir)
    assert plan.problem is None and plan.target.parent == out_dir
    shown = " | ".join(value for _, value in consent_item(plan).lines)
    assert "nop-bhxh-thang-12" in shown, shown


def test_a_signed_copy_already_there_gets_advice_the_desktop_can_follow(tmp_path: Path) -> None:
    source = tmp_path / "hoso.xml"
    source.write_bytes(HOSO)
    (tmp_path / "hoso_signed.xml").write_bytes(b"earlier")
    (plan,) = plan_files([source])
    assert plan.problem is not None and plan.problem.code == "SIGNED_COPY_EXISTS"
    shown = plan.problem.to_dict()
    for action in (shown["action_vi"], shown["action_en"]):
        assert "--force" not in action and "--out-dir" not in action, action
