"""The tray's remote-signing lines (ký số từ xa), without a display: one submenu per configured
provider with its credentials' names, or the provider's state in words; in both languages, and
with provider labels and names (configuration and provider answers) shown inert.
The real provider end to end: tests/remote/test_tray_remote.py."""

from __future__ import annotations

from typing import Any

from agent.ui.tray_model import (
    TEXT,
    RemoteLine,
    TokenLine,
    TrayState,
    actions,
    menu_model,
    remote_failure,
)

LABEL = "VNPT SmartCA"
STATE = TrayState(
    port=27443,
    tokens=(TokenLine("VNPT-CA token", ("CÔNG TY TNHH AN BÌNH",)),),
    remote=(
        RemoteLine(LABEL, ("Nguyễn Văn An", "CÔNG TY TNHH AN BÌNH"), ("Trần Thị Bình",)),
        RemoteLine("Viettel MySign", failure="REMOTE_UNREACHABLE"),
        RemoteLine("FPT CA", failure="SIGN_IN"),
        RemoteLine("EFY", ()),
    ),
)


def tree(entries: Any) -> list[tuple[str, list[str]]]:
    """Top-level labels with their children's labels."""
    return [(e.label, [c.label for c in e.children]) for e in entries]


def test_each_provider_is_a_line_with_its_credentials_or_its_state_in_vietnamese() -> None:
    menu = tree(menu_model(STATE))
    start = [label for label, _ in menu].index("USB token (1)")
    assert menu[start + 1 : start + 5] == [
        (
            f"Ký số từ xa: {LABEL}",
            ["Nguyễn Văn An", "CÔNG TY TNHH AN BÌNH", "Trần Thị Bình (không dùng được để ký)"],
        ),
        ("Ký số từ xa: Viettel MySign", ["⚠ Không kết nối được"]),
        (
            "Ký số từ xa: FPT CA",
            ["⚠ Cần đăng nhập: chọn «Đăng nhập» khi trang web hỏi chọn chứng thư số"],
        ),
        ("Ký số từ xa: EFY", ["(không có chứng thư số)"]),
    ]
    assert menu[start + 5][0] == "-"
    # Status lines only: nothing here is a click that could start a sign-in or a signature.
    assert actions(menu_model(STATE)) == actions(menu_model(TrayState(port=27443)))


def test_the_same_lines_in_english() -> None:
    menu = dict(tree(menu_model(TrayState(port=1, language="en", remote=STATE.remote))))
    assert menu[f"Remote signing: {LABEL}"][-1] == "Trần Thị Bình (cannot sign)"
    assert menu["Remote signing: Viettel MySign"] == ["⚠ Cannot be reached"]
    assert menu["Remote signing: FPT CA"][0].startswith("⚠ Sign-in needed")
    assert menu["Remote signing: EFY"] == ["(no certificate)"]


def test_no_provider_configured_means_no_remote_line() -> None:
    labels = [e.label for e in menu_model(TrayState(port=1))]
    assert not [label for label in labels if label.startswith("Ký số từ xa")]


def test_every_failure_code_of_a_listing_has_words_in_both_languages() -> None:
    for code in (
        "REMOTE_UNREACHABLE",
        "REMOTE_TIMEOUT",
        "REMOTE_AUTH_REFUSED",
        "REMOTE_TOKEN_EXPIRED",
        "REMOTE_PROTOCOL_ERROR",
        "REMOTE_INSECURE_URL",
        "SIGN_IN",
    ):
        vi, en = TEXT[f"remote_{code}"]
        assert remote_failure(code, "vi") == vi and remote_failure(code, "en") == en
        assert code not in vi and code not in en  # words, not the code
    # A code without words of its own still says what happened, with the code to report.
    assert remote_failure("REMOTE_SOMETHING_NEW", "vi") == (
        "⚠ Không liệt kê được chứng thư số (REMOTE_SOMETHING_NEW)"
    )
    assert remote_failure("X", "en") == "⚠ Could not list the certificates (X)"


def test_a_hostile_provider_label_or_credential_name_is_shown_inert() -> None:
    evil = RemoteLine("Bank\u202e\nmoc.live", ("An\u200b\r\nBình\u001b[2J",), ("x\u2066y",))
    menu = menu_model(TrayState(port=1, remote=(evil,)))
    shown = [e.label for e in menu] + [c.label for e in menu for c in e.children]
    for label in shown:
        for bad in ("\u202e", "\n", "\r", "\u200b", "\u001b", "\u2066"):
            assert bad not in label
    assert "Ký số từ xa: Bank<U+202E> moc.live" in shown
    # Long names are cut to one menu line.
    long = menu_model(TrayState(port=1, remote=(RemoteLine("P" * 300, ("N" * 300,)),)))
    line = next(e for e in long if e.label.startswith("Ký số từ xa"))
    assert len(line.label) < 60 and len(line.children[0].label) <= 60
