"""The desktop "Ký tệp" consent cuts long file names and folders in the middle, never at the
end: the end is what tells two files apart (red team round 8: ``…/thang10`` and ``…/thang11``
both showed as ``…/Ba…``, a long name lost its ``.pdf``, "saved as" lost ``_signed.pdf``)."""

from __future__ import annotations

from pathlib import Path

from agent.ui.filesign import FilePlan, consent_item
from agent.ui.untrusted import render_untrusted_middle

FOLDER = "Ho so BHXH nam 2024 cua Cong ty TNHH Thuong mai Dich vu ABC/Bao tang"


def shown(tmp_path: Path, month: str) -> dict[str, str]:
    folder = tmp_path / FOLDER / month
    folder.mkdir(parents=True)
    source = folder / ("hop-dong-lao-dong-nguyen-van-a-" + "x" * 40 + f"-{month}.pdf")
    source.write_bytes(b"%PDF-1.4\n%%EOF\n")
    item = consent_item(
        FilePlan(source, "pdf", "pades", source.with_name(source.stem + "_signed.pdf"))
    )
    return {"title": item.title, **dict(item.lines)}


def test_two_months_files_stay_apart_in_the_consent(tmp_path: Path) -> None:
    october, november = shown(tmp_path, "thang10"), shown(tmp_path, "thang11")
    assert october["Thư mục / folder"].endswith("thang10")
    assert november["Thư mục / folder"].endswith("thang11")
    assert october["Lưu thành / saved as"].endswith("-thang10_signed.pdf")
    assert october["title"].endswith("-thang10.pdf")
    for value in (*october.values(), *november.values()):
        assert len(value) <= 200


def test_the_middle_goes_and_the_text_stays_inert() -> None:
    name = "hopdong" + "x" * 100 + "\u202ecod.exe"
    cut = render_untrusted_middle(name, 40)
    assert len(cut) <= 40 and cut.startswith("hopdong") and cut.endswith("cod.exe")
    assert "\u202e" not in cut and "…" in cut
    assert render_untrusted_middle("ngắn.pdf", 40) == "ngắn.pdf"
