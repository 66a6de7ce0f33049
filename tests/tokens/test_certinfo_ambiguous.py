"""A subject naming two different MSTs (or CCCDs...) has no MST (red team 22, F6).

"CONG TY HAI UID" carries UID=MST:0109999999 then UID=MST:0101234567: Kyso kept the first and
said nothing, while the RFC 4514 subject (and most viewers) show the other first. Now such an
identifier is None, named in ``ambiguous_ids``, and the consent says so in red.
"""

from __future__ import annotations

import pytest

from agent.server.certificate_choice import CertificateFilter
from agent.signing.consent import ConsentItem
from agent.tokens.certinfo import parse_identifiers
from agent.ui.api import ConsentRequest
from agent.ui.text import consent_text, render_plain
from tests.tokens import crafted_certs as crafted

TWO_UIDS = (("CN", "CONG TY HAI UID"), ("UID", "MST:0109999999"), ("UID", "MST:0101234567"))


@pytest.mark.parametrize(
    ("subject", "ambiguous"),
    [
        (TWO_UIDS, ("MST:0109999999", "MST:0101234567")),
        # An MST in UID and another in CN (or O): UID no longer wins silently.
        (
            (("CN", "Công ty A - MST:0109999999"), ("UID", "MST:0101234567")),
            ("MST:0101234567", "MST:0109999999"),  # reading order: UID, then O, then CN
        ),
        (
            (("O", "MST:0109999999"), ("CN", "Công ty A"), ("UID", "MST:0101234567")),
            ("MST:0101234567", "MST:0109999999"),
        ),
        (
            (("CN", "Trường X"), ("UID", "MNS:1234567"), ("UID", "MNS:7654321")),
            ("MNS:1234567", "MNS:7654321"),
        ),
        (
            (("CN", "Nguyễn Văn A"), ("UID", "CCCD:001190012345 CCCD:001190099999")),
            ("CCCD:001190012345", "CCCD:001190099999"),
        ),
        (
            (("CN", "Trần Thị B CMND:012345678"), ("UID", "CMND:087654321")),
            ("CMND:087654321", "CMND:012345678"),
        ),
    ],
)
def test_two_different_values_of_one_kind_make_it_ambiguous(subject, ambiguous) -> None:
    ids = parse_identifiers(crafted.name(*subject))
    assert tuple(f"{kind}:{value}" for kind, value in ids.ambiguous) == ambiguous
    assert getattr(ids, ambiguous[0].split(":")[0].lower()) is None


def test_the_same_value_twice_is_one_value_and_other_kinds_are_kept() -> None:
    same = parse_identifiers(
        crafted.name(("CN", "Công ty A MST:0101234567"), ("UID", "mst: 0101234567"))
    )
    assert (same.mst, same.ambiguous) == ("0101234567", ())
    mixed = parse_identifiers(
        crafted.name(
            ("CN", "Ông D CCCD:001190012345"), ("UID", "MST:0101234567"), ("UID", "MST:0109999999")
        )
    )
    assert (mixed.mst, mixed.cccd) == (None, "001190012345")
    assert mixed.ambiguous == (("MST", "0101234567"), ("MST", "0109999999"))
    # A person's certificate: the employer's MST in O/CN is not the certificate's at all, so
    # two of them are nothing ambiguous.
    person = parse_identifiers(
        crafted.name(("O", "MST:0101234567"), ("CN", "A MST:0109999999"), ("UID", "CCCD:0011"))
    )
    assert (person.mst, person.cccd, person.ambiguous) == (None, "0011", ())


def test_the_red_teams_certificate_signs_with_no_mst_and_a_red_warning() -> None:
    """It still signs (a personal use, a document naming no unit), but no MST can match it: a
    page's certificate_filter by MST passes it over, and the consent says why in red."""
    info = crafted.info(crafted.name(*TWO_UIDS))
    assert info.mst is None
    assert info.ambiguous_ids == (("MST", "0109999999"), ("MST", "0101234567"))
    assert info.problems() == [] and info.warnings() == ["AMBIGUOUS_IDENTIFIER"]
    assert info.to_json()["mst"] is None and "ambiguous_ids" not in info.to_json()
    for mst in ("0109999999", "0101234567"):
        assert not CertificateFilter(mst=mst).matches(info)
    request = ConsentRequest(
        "https://dichvucong.baohiemxahoi.gov.vn",
        "sign.xml",
        "Ký hồ sơ",
        "Sign a dossier",
        info,
        (ConsentItem("Hồ sơ 600", (), mst="0101234567"),),
    )
    text = consent_text(request)
    (warning,) = text.warnings
    assert warning.severity == "danger"
    assert "hai mã số thuế khác nhau (0109999999, 0101234567)" in warning.vi
    assert "two different tax codes (MST) (0109999999, 0101234567)" in warning.en
    # Neither is shown as the certificate's tax code.
    assert "Mã số thuế" not in {f.label_vi for f in text.sections[0].fields}
    assert render_plain(text).count("0109999999") == 2  # the warning, in vi and en


def test_a_certificate_with_one_mst_has_no_warning() -> None:
    info = crafted.info((("CN", "Công ty A"), ("UID", "MST:0101234567")))
    assert (info.mst, info.warnings()) == ("0101234567", [])


@pytest.mark.parametrize(
    "subject",
    [
        (("CN", "Chi nhánh Hà Nội"), ("UID", "MST:0101234567-001"), ("O", "MST:0101234567")),
        (("CN", "Chi nhánh - MST:0101234567"), ("UID", "MST:0101234567-001")),
    ],
)
def test_a_branch_certificate_naming_its_company_too_is_the_branchs(subject) -> None:
    """A branch's MST (-001) beside its company's is one unit, the branch: not two MSTs."""
    ids = parse_identifiers(crafted.name(*subject))
    assert ids.mst == "0101234567-001"
    assert ids.ambiguous == ()


@pytest.mark.parametrize(
    "subject",
    [
        # The branch number only in free text: it does not overrule the UID's MST.
        (("CN", "Công ty - MST:0101234567-999"), ("UID", "MST:0101234567")),
        # Not a branch number (three digits after the dash).
        (("CN", "Chi nhánh"), ("UID", "MST:0101234567-ABC"), ("O", "MST:0101234567")),
    ],
)
def test_only_a_branch_number_in_uid_makes_the_company_mst_the_same_unit(subject) -> None:
    ids = parse_identifiers(crafted.name(*subject))
    assert ids.mst is None and len(ids.ambiguous) == 2, ids
