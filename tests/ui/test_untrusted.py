"""render_untrusted / render_origin: page text becomes one inert, visible, bounded line."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agent.ui.untrusted import (
    ELLIPSIS,
    LINE_LIMIT,
    MAX_MARKS,
    ORIGIN_LIMIT,
    render_origin,
    render_untrusted,
)
from tests.ui.hostile import (
    HOSTILE,
    REAL_ORIGIN,
    VIETNAMESE,
    bad_characters,
    max_marks_in_a_row,
)


@pytest.mark.parametrize("name,text", HOSTILE, ids=[n for n, _ in HOSTILE])
def test_every_hostile_string_becomes_one_inert_bounded_line(name: str, text: str) -> None:
    shown = render_untrusted(text)
    assert bad_characters(shown) == []
    assert "\n" not in shown and "\r" not in shown
    assert len(shown) <= LINE_LIMIT
    assert max_marks_in_a_row(shown) <= MAX_MARKS
    shown.encode("utf-8")  # a lone surrogate would make the terminal or log writer raise
    assert shown == shown.strip() and "  " not in shown
    assert render_untrusted(shown) == shown  # rendering twice changes nothing


def test_what_the_user_sees_of_each_trick() -> None:
    shown = dict((name, render_untrusted(text)) for name, text in HOSTILE)
    # Escape sequences lose their introducer and show what was there: visibly tampered.
    assert shown["ansi-clear"] == f"<U+001B>[2J<U+001B>[HTrang web / Origin: {REAL_ORIGIN}"
    assert shown["c1-csi"] == "<U+009B>2J<U+009B>H<U+009D>0;Kyso<U+009C>"
    assert shown["osc-title"] == f"<U+001B>]0;Kyso — {REAL_ORIGIN}<U+0007>label"
    assert shown["cr-overwrite"] == f"x Trang web / Origin: {REAL_ORIGIN}"
    assert shown["backspaces"].startswith("evil.example<U+0008><U+0008>")
    # A fake origin line is folded into the label's own line.
    assert shown["newline-fake-origin"] == (
        f"Hồ sơ 600 Trang web yêu cầu · Requesting website: >>> {REAL_ORIGIN} <<<"
    )
    assert shown["rlo"] == "Hồ sơ <U+202E>lmx.006-20D<U+202C>"
    assert shown["zero-width"] == "Công<U+200B>ty<U+200C><U+200D><U+2060><U+FEFF>Hoa Sen"
    assert shown["long"] == "A" * (LINE_LIMIT - 1) + ELLIPSIS
    assert shown["combining-flood"] == unicodedata.normalize("NFC", "Z\u0301\u0302") + ELLIPSIS
    assert shown["orphan-marks"] == "start"  # they would stack on the agent's own prefix
    assert shown["lone-surrogate"] == "bad<U+D800>text"
    assert shown["del-nul"] == "a<U+007F>b<U+0000>c"
    assert shown["odd-spaces"] == "a b"
    assert shown["line-separators"] == f"a {REAL_ORIGIN} b c d e"


def test_vietnamese_is_kept_whole_in_either_normal_form() -> None:
    assert render_untrusted(VIETNAMESE) == VIETNAMESE
    assert render_untrusted(unicodedata.normalize("NFD", VIETNAMESE)) == VIETNAMESE
    # Two marks on one letter (ệ, ở...) survive even when no precomposed form would be used.
    nfd = "Vie\u0323\u0302t  Nam\n"
    assert render_untrusted(nfd) == "Việt Nam"
    assert render_untrusted("Nguyễn Thị Lan — Hà Nội") == "Nguyễn Thị Lan — Hà Nội"


def test_the_limit_is_a_whole_number_of_characters_and_tags() -> None:
    # A <U+XXXX> tag is never split: the line ends before it.
    assert render_untrusted("abc\u202edef", 8) == "abc…"
    assert render_untrusted("abcdef", 6) == "abcdef"
    assert render_untrusted("abcdefg", 6) == "abcde…"
    assert render_untrusted("ab   cdefg", 4) == "ab…"  # no space left before the ellipsis
    assert render_untrusted(None) == "" and render_untrusted(42) == "42"
    with pytest.raises(ValueError):
        render_untrusted("x", 1)


def test_origin_is_ascii_and_never_loses_its_end() -> None:
    assert render_origin(REAL_ORIGIN) == REAL_ORIGIN
    assert render_origin("https://[::1]:8443") == "https://[::1]:8443"
    assert render_origin("https://dịch\x1b\u202e.vn") == "https://d<U+1ECB>ch<U+001B><U+202E>.vn"
    long = "https://dichvucong.baohiemxahoi.gov.vn." + "a" * 500 + ".evil.example"
    shown = render_origin(long)
    assert len(shown) <= ORIGIN_LIMIT and shown.endswith(".evil.example") and ELLIPSIS in shown


# Text biased towards what attacks use, mixed with anything Unicode has (surrogates included).
_SPECIALS = [
    *"\x00\x07\x08\t\n\r\x1b\x7f\x85\x9b\x9d\u00a0\u00ad\u034f\u061c\u115f",
    *"\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u202a\u202e\u2060\u2066\u2069",
    *"\u3000\ufe0f\ufeff\ud800\udfff\U000e0041\U000e0100\u0301\u0302\u0323\u20dd",
]
_hostile_text = st.text(st.one_of(st.characters(), st.sampled_from(_SPECIALS)), max_size=400)


@settings(max_examples=400, deadline=None)
@given(_hostile_text, st.integers(min_value=2, max_value=300))
def test_any_text_renders_inert_within_the_limit(text: str, limit: int) -> None:
    shown = render_untrusted(text, limit)
    assert bad_characters(shown) == []
    assert len(shown) <= limit
    assert max_marks_in_a_row(shown) <= MAX_MARKS
    shown.encode("utf-8")
    assert render_untrusted(shown, limit) == shown


_VIETNAMESE_LETTERS = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂBCDĐEÊGHIKLMNOÔƠPQRSTUƯVXY"
    "áàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
    "0123456789.,;:/()-–—·%"
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(st.sampled_from(_VIETNAMESE_LETTERS), min_size=1, max_size=12), max_size=12)
)
def test_ordinary_vietnamese_text_is_shown_as_is(words: list[str]) -> None:
    text = " ".join(words)
    assert render_untrusted(text, 400) == text
    assert render_untrusted(unicodedata.normalize("NFD", text), 400) == text


def _careful(text: str, limit: int) -> str:
    """The character-by-character rendering, without any shortcut: what the user must see."""
    from agent.ui.untrusted import _clusters, _fit

    bound = limit * 4 + 16
    head = unicodedata.normalize("NFC", text[:bound])
    return _fit(_clusters(head), limit, more=len(text) > bound)


@given(st.text(max_size=80))
@example("á\u0301\u0301\u0301 ngà\u0323y")  # NFC, yet with marks to trim
@example("Việt\u200bNam")  # zero-width: printable, NFC, must be tagged
@example("Việt\u3164Nam \u2800 Hồ\ufe0f")  # invisible letters and a variation selector
@example("Nguye\u0302\u0303n")  # NFD Vietnamese
@example("Hồ sơ ")  # a trailing space is trimmed
def test_the_fast_path_says_exactly_what_the_careful_path_says(text: str) -> None:
    """Plain text skips the character-by-character walk; the shortcut must never change what
    the user is shown (Vietnamese in both normal forms, marks, invisible characters), within
    the limit or cut at it."""
    for sample in (text, unicodedata.normalize("NFC", text), "Nguyễn Thị Hồng " + text):
        for limit in (120, 40, 12, 2):
            assert render_untrusted(sample, limit) == _careful(sample, limit)


# Plain text, mostly: Vietnamese words, single spaces, now and then something the rules change
# (a mark, a double space, a zero-width space) right where the cut falls.
_word = st.text(st.sampled_from(_VIETNAMESE_LETTERS), min_size=1, max_size=14)
_plain_text = st.lists(
    st.tuples(_word, st.sampled_from([" ", " ", " ", "  ", "\u0301", "\u200b", "\n", ""])),
    max_size=60,
).map(lambda parts: "".join(w + sep for w, sep in parts))


@settings(max_examples=300, deadline=None)
@given(_plain_text, st.integers(min_value=2, max_value=300), st.integers(0, 3))
@example("a" * 2000, 40, 0)  # far past the bound: only its head is looked at
@example("Cảnh báo " * 200 + "\u200b", 60, 0)  # a tag past the bound cannot show
@example("x" * 38 + "\u0301\u0302\u0303", 40, 0)  # marks right at the cut
@example("x" * 38 + "  y", 40, 0)  # a double space right at the cut
def test_text_cut_at_the_limit_is_cut_as_the_careful_path_cuts_it(
    text: str, limit: int, repeat: int
) -> None:
    """Long plain text (the hash warning in every sign.hash consent is past its limit) is cut
    without the walk: same characters, same ellipsis, no space before it."""
    sample = text * (repeat + 1)
    assert render_untrusted(sample, limit) == _careful(sample, limit)
