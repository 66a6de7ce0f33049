"""What the prompts say: Vietnamese first, English below, and the facts a user decides on."""

from __future__ import annotations

import datetime as dt

from agent.tokens.pin import PinState
from agent.ui.api import ConsentItem, ConsentRequest
from agent.ui.text import (
    certificate_choice_text,
    consent_text,
    group_hex,
    pairing_text,
    pin_text,
    pin_too_short,
    render_plain,
    split_label,
)
from tests.ui import samples


def test_pairing_names_the_origin_and_offers_once_always_deny() -> None:
    text = pairing_text(samples.pairing())
    assert text.origin == samples.ORIGIN
    assert text.question_vi == "Cho phép trang web này sử dụng USB token ký số của bạn?"
    assert [(c.key, c.label_vi) for c in text.choices] == [
        ("once", "Một lần"),
        ("always", "Luôn cho phép"),
        ("deny", "Từ chối"),
    ]
    assert [c.key for c in text.choices if c.role == "cancel"] == ["deny"]


def test_consent_shows_certificate_identifiers_items_and_hash() -> None:
    text = consent_text(samples.consent())
    plain = render_plain(text)
    assert text.origin == samples.ORIGIN and text.summary_vi.startswith("Ký hồ sơ điện tử")
    cert = dict((f.label_vi, f.value) for f in text.sections[0].fields)
    assert cert["Người sở hữu"] == "CÔNG TY TNHH PHẦN MỀM HOA SEN, Hà Nội"
    assert cert["Mã số thuế"] == "0101234567"
    assert cert["Nhà cung cấp"] == "Kyso Demo Issuing CA"
    # Validity in Vietnam time (UTC+7), labelled as such: dd/mm/yyyy HH:MM – dd/mm/yyyy HH:MM.
    assert cert["Hiệu lực"].endswith(" (giờ Việt Nam / Vietnam time)")
    start, end = cert["Hiệu lực"].removesuffix(" (giờ Việt Nam / Vietnam time)").split(" – ")
    for shown, utc in ((start, samples.ORG.not_before), (end, samples.ORG.not_after)):
        vietnam = dt.datetime.fromisoformat(utc) + dt.timedelta(hours=7)
        assert shown == vietnam.strftime("%d/%m/%Y %H:%M")
    assert cert["Khóa"] == "EC P-256"
    item = text.sections[1]
    assert item.title.startswith("Hồ sơ 600")
    labels = [(f.label_vi, f.label_en) for f in item.fields]
    assert ("Kỳ kê khai", "Period") in labels and ("Số lao động", "Employees") in labels
    assert item.fields[-1].value == group_hex("9f2c1e7a" * 8)
    assert [c.label for c in text.choices] == ["Ký / Sign", "Hủy / Cancel"]
    assert "0101234567" in plain and "9f2c1e7a 9f2c1e7a" in plain and samples.ORIGIN in plain


def test_batch_consent_lists_every_item_numbered() -> None:
    text = consent_text(samples.consent(3))
    assert text.question_vi == "Ký 3 tài liệu cho trang web này?"
    overview = text.sections[1]
    assert overview.title == "Danh sách 3 tài liệu · 3 documents"
    assert [(f.label_vi, f.value[-8:]) for f in overview.fields] == [
        ("1.", "(D02-TS)"),
        ("2.", "(TK1-TS)"),
        ("3.", "(D01-TS)"),
    ]
    assert [s.title[:4] for s in text.sections[2:]] == ["1/3.", "2/3.", "3/3."]


def test_login_consent_says_confirm_not_sign() -> None:
    request = ConsentRequest(
        samples.ORIGIN,
        "auth.challenge",
        "Đăng nhập / xác nhận thay đổi tài khoản trên " + samples.ORIGIN,
        "Sign in / confirm an account change on " + samples.ORIGIN,
        samples.PERSON,
        (ConsentItem("Đăng nhập", (("English", "Sign in"),)),),
    )
    text = consent_text(request)
    assert text.choices[0].label == "Xác nhận / Confirm"
    assert any(
        f.label_vi == "Số CCCD" and f.value == "001190012345" for f in text.sections[0].fields
    )


def test_expired_certificate_is_flagged() -> None:
    expired = samples.make_cert(expired=True)
    text = consent_text(ConsentRequest(samples.ORIGIN, "sign.xml", "vi", "en", expired))
    assert [w.vi for w in text.warnings] == ["Chứng thư số đã hết hạn."]
    validity = next(f for f in text.sections[0].fields if f.label_vi.startswith("Hiệu lực"))
    assert validity.style == "danger"
    choice = certificate_choice_text(samples.CertificateChoice(samples.ORIGIN, (expired,)))
    assert "hết hạn" in choice.sections[0].subtitle


def test_a_certificate_shown_before_turns_red_once_it_expires(monkeypatch) -> None:
    """The consent shows the same certificate every time; what it says about it still follows
    the clock, not the first time it was shown."""
    import types

    from agent.tokens import certinfo

    cert = samples.make_cert("CÔNG TY CỔ PHẦN SEN VÀNG", "MST:0109876543")

    def validity() -> tuple[str, list[str]]:
        text = consent_text(ConsentRequest(samples.ORIGIN, "sign.xml", "vi", "en", cert))
        field = next(f for f in text.sections[0].fields if f.label_vi == "Hiệu lực")
        return field.style, [w.vi for w in text.warnings]

    assert validity() == ("normal", [])
    later = dt.datetime.fromisoformat(cert.not_after) + dt.timedelta(days=1)

    class After(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return later

    monkeypatch.setattr(certinfo, "dt", types.SimpleNamespace(datetime=After, UTC=dt.UTC))
    assert validity() == ("danger", ["Chứng thư số đã hết hạn."])


def test_pin_states() -> None:
    plain = pin_text(samples.pin())
    assert plain.warnings == () and [c.key for c in plain.choices] == ["ok", "cancel"]
    assert pin_text(samples.pin(PinState(count_low=True))).warnings[0].severity == "danger"
    final = pin_text(samples.pin(PinState(count_low=True, final_try=True)))
    assert "MỘT lần thử" in final.warnings[0].vi and "ONE try left" in final.warnings[0].en
    locked = pin_text(samples.pin(PinState(locked=True)))
    assert "bị khóa" in locked.question_vi
    assert [c.key for c in locked.choices] == ["cancel"]  # no way to type a PIN into a locked token
    fields = dict((f.label_vi, f.value) for f in plain.sections[0].fields)
    assert fields["USB token"] == "KYSO DEMO 1 (số sê-ri / serial 0a1b2c3d)"
    assert fields["Độ dài mã PIN"].startswith("4–16")


def test_bilingual_labels_from_the_server_are_split() -> None:
    assert split_label("Kích thước / size") == ("Kích thước", "size")
    assert split_label("Kỳ kê khai") == ("Kỳ kê khai", "Period")
    assert split_label("Ghi chú riêng") == ("Ghi chú riêng", "")


def test_pin_length_hint() -> None:
    text = pin_text(samples.pin())
    assert text.pin_length == (4, 16)
    assert pin_too_short("123", text) == (
        "Mã PIN cần ít nhất 4 ký tự · The PIN needs at least 4 characters"
    )
    assert pin_too_short("1234", text) is None
