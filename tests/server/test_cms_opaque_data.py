"""Data signed as CMS that is neither XML nor PDF (red team 36): plain text is shown line by
line, so a person reads the statement they sign; anything else says that Kyso cannot show it,
and what it looks like (a .docx contract is a ZIP). Both were "data to sign" and a size."""

from __future__ import annotations

from agent.server.consent import TEXT_LINES_SHOWN, data_item

STATEMENT = (
    "Tôi, Nguyễn Văn An, đồng ý chuyển nhượng toàn bộ phần vốn góp\n"
    "cho ông Trần Văn Kẻ với giá 1.000 đồng.\n"
).encode()


def test_text_is_shown_as_it_reads() -> None:
    item = data_item(STATEMENT, detached=True)
    assert "văn bản" in item.title
    lines = dict(item.lines)
    assert lines["Dòng 1 / line 1"].startswith("Tôi, Nguyễn Văn An")
    assert lines["Dòng 2 / line 2"] == "cho ông Trần Văn Kẻ với giá 1.000 đồng."
    other = data_item(STATEMENT.replace(b"1.000", b"1.000.000.000"), detached=True)
    assert other.lines != item.lines


def test_long_text_says_how_much_is_not_shown() -> None:
    text = "\n".join(f"Điều {i}." for i in range(1, TEXT_LINES_SHOWN + 11)).encode()
    lines = data_item(text, detached=True).lines
    assert sum(label.startswith("Dòng ") for label, _ in lines) == TEXT_LINES_SHOWN
    assert any("khoảng 10 dòng" in value for label, value in lines if label.startswith("Cảnh báo"))


def test_data_kyso_cannot_show_says_so_and_what_it_looks_like() -> None:
    docx = b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40 + b"word/document.xml"
    for data in (docx, b"\x00\x01\x02binary", "Phụ lục".encode("utf-16"), b"a\x1bb"):
        item = data_item(data, detached=True)
        assert "không hiển thị được" in item.title, data
        warning = dict(item.lines)["Cảnh báo / warning"]
        assert "chỉ ký khi bạn biết rõ" in warning
    assert "ZIP" in dict(data_item(docx, detached=False).lines)["Dạng dữ liệu / looks like"]


def test_a_long_line_is_shown_whole_over_several_lines() -> None:
    """A line longer than a consent line shows was cut with a bare "…" (review 38)."""
    from agent.shown import shown_width
    from agent.ui.untrusted import VALUE_LIMIT

    clause = "Điều 9. " + "Bên B chịu phạt 1.000.000.000 đồng nếu chậm giao hàng; " * 20
    lines = data_item(clause.encode(), detached=True).lines
    parts = [value for label, value in lines if label.startswith("Dòng 1")]
    assert len(parts) > 2 and "".join(parts) == clause
    assert all(sum(shown_width(c) for c in part) <= VALUE_LIMIT for part in parts)
    assert not any(label.startswith("Cảnh báo") for label, _ in lines)


def test_what_is_not_shown_is_counted_in_characters_and_lines() -> None:
    text = ("x" * 150 + "\r") * 200  # old Mac line ends count as lines too
    lines = data_item(text.encode(), detached=True).lines
    shown = [label for label, _ in lines if label.startswith("Dòng ")]
    assert len(shown) == TEXT_LINES_SHOWN
    (warning,) = [value for label, value in lines if label.startswith("Cảnh báo")]
    assert "còn 24.160 ký tự (khoảng 160 dòng)" in warning, warning
    # Megabytes of text: counted, not split into a list of millions of lines.
    big = data_item(b"abc\n" * 2_000_000, detached=True)
    assert "khoảng 1.999.960 dòng" in dict(big.lines)["Cảnh báo / warning"]
