"""The certificate picker's logic and words: grouped by token, the page's filter preselects (or
skips the picker for the one match), problems shown with the reason; MST checks; Vietnam time."""

from __future__ import annotations

import datetime as dt

from agent.server.certificate_choice import Candidate, CertificateFilter, plan_choice
from agent.signing.consent import ConsentItem, document_msts, mst_mismatch
from agent.ui.api import ConsentRequest
from agent.ui.text import certificate_choice_text, consent_text, format_vn_time, render_plain
from tests.ui import samples

ORG = samples.ORG  # MST 0101234567
OTHER = samples.make_cert("CÔNG TY CỔ PHẦN HÒA BÌNH", "MST:0109876543")
OLD = samples.make_cert(expired=True)


def on(token: str, cert, key: bool = True) -> Candidate:
    return Candidate(cert, token, f"serial-{token[-1]}", key)


def test_rows_are_grouped_by_token_and_the_token_is_named() -> None:
    plan = plan_choice(
        samples.ORIGIN, [on("KYSO DEMO 2", ORG), on("KYSO DEMO 1", OTHER), on("KYSO DEMO 1", OLD)]
    )
    rows = plan.choice.rows()
    assert [(o.token_label, o.usable) for o in rows] == [
        ("KYSO DEMO 1", True),
        ("KYSO DEMO 1", False),  # an expired one is shown, greyed, after the usable ones
        ("KYSO DEMO 2", True),
    ]
    assert plan.chosen is None and plan.choice.preselected == OTHER.thumbprint
    text = certificate_choice_text(plan.choice)
    headings = [s.group for s in text.sections]
    assert headings == [
        "USB token: KYSO DEMO 1 · số sê-ri / serial serial-1",
        "USB token: KYSO DEMO 1 · số sê-ri / serial serial-1",
        "USB token: KYSO DEMO 2 · số sê-ri / serial serial-2",
    ]
    assert text.sections[1].subtitle == "đã hết hạn / expired"
    plain = render_plain(text)
    assert plain.count("== USB token: KYSO DEMO 1") == 1 and "== USB token: KYSO DEMO 2" in plain
    labels = {f.label_vi for f in text.sections[0].fields}
    assert {"Mã số thuế", "Nhà cung cấp", "Hiệu lực", "Khóa"} <= labels


def test_a_renewal_on_another_token_is_preselected_over_the_old_certificate() -> None:
    """The CA renewed the unit's certificate on a new token while the old one is still valid:
    Enter picks the renewal, whatever the tokens' labels sort to (a portal that registered
    the new certificate would refuse the old one)."""
    old = samples.make_cert(days=400)
    renewed = samples.make_cert(days=1100)
    rows = [on("EPASS2003 CU", old), on("FT-2025-MOI", renewed)]
    for wanted in (None, CertificateFilter(mst="0101234567")):
        plan = plan_choice(samples.ORIGIN, rows, wanted)
        assert plan.chosen is None and plan.choice.preselected == renewed.thumbprint


def test_a_certificate_without_its_key_is_shown_disabled_with_the_reason() -> None:
    plan = plan_choice(samples.ORIGIN, [on("KYSO DEMO 1", ORG, key=False)])
    (row,) = plan.choice.rows()
    assert not row.usable and row.problems == ("NO_PRIVATE_KEY",)
    assert plan.usable == () and plan.choice.default() is None
    assert "không có khóa bí mật" in certificate_choice_text(plan.choice).sections[0].subtitle


def test_a_revoked_certificate_is_greyed_and_never_preselected() -> None:
    renewed = samples.make_cert()  # the same unit, another serial
    revoked = Candidate(ORG, "KYSO DEMO 1", "serial-1", True, revoked=True)
    plan = plan_choice(
        samples.ORIGIN, [revoked, on("KYSO DEMO 1", renewed)], CertificateFilter(mst="0101234567")
    )
    assert plan.chosen is renewed  # the one usable match: no picker at all
    assert plan.choice.preselected == renewed.thumbprint
    rows = {o.certificate.thumbprint: o for o in plan.choice.rows()}
    assert not rows[ORG.thumbprint].usable and rows[ORG.thumbprint].problems == ("REVOKED",)
    subtitles = [s.subtitle for s in certificate_choice_text(plan.choice).sections]
    assert any("đã bị thu hồi" in s and "revoked" in s for s in subtitles)


def test_the_page_filter_preselects_and_one_match_skips_the_picker() -> None:
    everything = [on("KYSO DEMO 1", OTHER), on("KYSO DEMO 2", ORG), on("KYSO DEMO 1", OLD)]
    by_mst = plan_choice(samples.ORIGIN, everything, CertificateFilter(mst="0101234567"))
    # OLD has the same MST but is expired: only ORG matches and can sign.
    assert by_mst.chosen is ORG
    by_print = CertificateFilter.from_params({"thumbprints": [ORG.thumbprint.upper()]})
    assert plan_choice(samples.ORIGIN, everything, by_print).chosen is ORG
    # Two matches: the picker opens with the first one selected, matches first in each token.
    twin = samples.make_cert()
    plan = plan_choice(
        samples.ORIGIN, [*everything, on("KYSO DEMO 1", twin)], CertificateFilter(mst="0101234567")
    )
    assert plan.chosen is None and plan.choice.preselected == twin.thumbprint
    text = certificate_choice_text(plan.choice)
    other_row = next(s for s in text.sections if "HÒA BÌNH" in s.title)
    assert other_row.subtitle == "không khớp yêu cầu của trang web / not what the website asked for"
    # No match at all: the picker opens, the user still decides.
    none = plan_choice(samples.ORIGIN, everything, CertificateFilter(mst="0300000000"))
    assert none.chosen is None and none.choice.default() is not None


def test_issuer_and_valid_only_filters() -> None:
    wanted = CertificateFilter.from_params({"issuer": "kyso demo", "valid_only": True})
    plan = plan_choice(samples.ORIGIN, [on("KYSO DEMO 1", OLD), on("KYSO DEMO 1", ORG)], wanted)
    assert [o.certificate for o in plan.choice.rows()] == [ORG]  # the expired one is hidden
    assert plan.chosen is ORG
    assert not CertificateFilter(issuer="VNPT-CA").matches(ORG)
    assert not CertificateFilter(valid_only=True).active  # hides, but names nothing


def test_a_token_label_cannot_fake_the_agents_heading() -> None:
    label = "KYSO DEMO 1\n== USB token: FAKE ==\u202e"
    text = certificate_choice_text(plan_choice(samples.ORIGIN, [on(label, ORG)]).choice)
    heading = text.sections[0].group
    assert "\n" not in heading and "\u202e" not in heading
    assert render_plain(text).count("\n== ") == 1


def item(mst: str = "", line: str = "") -> ConsentItem:
    lines = (("Mã số thuế", line),) if line else ()
    return ConsentItem("Hồ sơ 600", lines, mst=mst)


def test_document_mst_compared_with_the_certificate() -> None:
    assert document_msts((item(line="0101234567"), item(mst="0101234567"))) == ("0101234567",)
    assert mst_mismatch("0101234567", (item(line="0101234567"),)) is None
    assert mst_mismatch("0101234567", (item(line="0109999999"),)) == "0109999999"
    assert mst_mismatch("0101234567", (item(line="0101234567-001"),)) == "0101234567-001"
    assert mst_mismatch(None, (item(line="0109999999"),)) is None  # a personal certificate
    assert mst_mismatch("0101234567", (ConsentItem("Tệp PDF"),)) is None  # no unit named


def test_consent_warns_in_red_when_the_msts_differ() -> None:
    request = samples.consent()
    same = consent_text(request)
    assert not [w for w in same.warnings if "Mã số thuế" in w.vi]
    other = ConsentRequest(
        request.origin, request.action, "vi", "en", ORG, (item(line="0109999999"),)
    )
    (warning,) = [w for w in consent_text(other).warnings if "Mã số thuế" in w.vi]
    assert warning.severity == "danger"
    assert "0109999999" in warning.vi and "0101234567" in warning.vi and "KHÁC" in warning.vi


def test_times_are_vietnam_time() -> None:
    assert format_vn_time("2026-12-31T17:30:00+00:00") == "01/01/2027 00:30"
    assert format_vn_time("not a time") == "not a time"
    start = dt.datetime.fromisoformat(ORG.not_before) + dt.timedelta(hours=7)
    fields = {f.label: f.value for f in consent_text(samples.consent()).sections[0].fields}
    validity = fields["Hiệu lực · Valid"]
    assert validity.startswith(start.strftime("%d/%m/%Y %H:%M"))
    assert validity.endswith("(giờ Việt Nam / Vietnam time)")
