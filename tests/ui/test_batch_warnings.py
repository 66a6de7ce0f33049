"""A batch's consent says at the top which items carry a warning of their own and which are
the same document twice (red team 38): a JavaScript warning or a certification lock sat only in
the 13th item's section, 120 lines down a 16-line box, and twelve harmless list lines above it
looked like the 13th; the same document twice was signed twice without a word."""

from __future__ import annotations

from agent.ui.api import ConsentItem, ConsentRequest
from agent.ui.text import consent_text, render_plain
from tests.ui import samples

PAYSLIP = "Tài liệu PDF / PDF document"


def _request(items: list[ConsentItem]) -> ConsentRequest:
    return ConsentRequest(
        origin=samples.ORIGIN,
        action="sign.batch",
        summary_vi=f"Ký {len(items)} tài liệu",
        summary_en=f"Sign {len(items)} documents",
        certificate=samples.ORG,
        items=tuple(items),
    )


def _payslips(n: int) -> list[ConsentItem]:
    return [
        ConsentItem(PAYSLIP, (("Số trang / pages", "1"),), f"{i:064x}", page_label=f"phieu-{i}.pdf")
        for i in range(1, n + 1)
    ]


def test_an_item_with_a_warning_is_named_at_the_top_and_marked_in_the_list() -> None:
    items = _payslips(13)
    items[12] = ConsentItem(
        PAYSLIP,
        (("Cảnh báo / warning", "tệp có JavaScript / the file contains JavaScript"),),
        "ff" * 32,
        page_label="phieu-13.pdf",
    )
    text = consent_text(_request(items))
    (warning,) = text.warnings
    assert warning.severity == "danger" and "Tài liệu 13 " in warning.vi
    overview = next(s for s in text.sections if s.title.startswith("Danh sách")).fields
    assert overview[12].value.startswith("⚠ ") and not overview[11].value.startswith("⚠")
    # In the text every prompter shows, before the list.
    plain = render_plain(text)
    assert plain.index("Tài liệu 13 có cảnh báo") < plain.index("phieu-1.pdf")


def test_a_certification_or_a_lock_counts_as_well() -> None:
    for label in ("Chữ ký chứng nhận / certification", "Khoá / lock"):
        items = _payslips(3)
        items[1] = ConsentItem(PAYSLIP, ((label, "khoá tài liệu"),), "ee" * 32)
        (warning,) = consent_text(_request(items)).warnings
        assert "Tài liệu 2 " in warning.vi


def test_the_same_document_twice_is_said() -> None:
    items = _payslips(13)
    items[12] = items[4]
    (warning,) = consent_text(_request(items)).warnings
    assert "5 = 13" in warning.vi and "5 = 13" in warning.en


def test_a_plain_batch_and_a_single_document_get_no_such_warning() -> None:
    assert consent_text(_request(_payslips(5))).warnings == ()
    alone = ConsentItem(PAYSLIP, (("Cảnh báo / warning", "JavaScript"),), "aa" * 32)
    assert consent_text(_request([alone])).warnings == ()  # its own section is the consent
