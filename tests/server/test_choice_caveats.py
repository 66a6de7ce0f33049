"""The picker preselects a clean certificate before an odd one that expires later (red team 22,
F4).

The picker preselected the usable certificate that expires last, so a token that also held a
long-lived odd certificate (a test one, a foreign CA's, a 1024-bit key, one naming two MSTs, one
whose CA could not be asked) made Enter sign with it. Pure: plan_choice over certificates built
in memory.
"""

from __future__ import annotations

import datetime as dt

from agent.server.certificate_choice import Candidate, CertificateFilter, caveats, plan_choice
from agent.server.commands.base import candidate
from agent.tokens.certinfo import CertificateInfo
from agent.tokens.model import TokenCertificate, TokenInfo
from agent.tokens.pin import PinState
from agent.ui.certtext import certificate_choice_text
from tests.tokens import crafted_certs as crafted

ORIGIN = "https://dichvucong.baohiemxahoi.gov.vn"
UNIT = (("CN", "CONG TY A"), ("UID", "MST:0101234567"))
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def on(cert: CertificateInfo, token: str = "VNPT-CA TOKEN", **kwargs: bool) -> Candidate:
    return Candidate(cert, token, "serial-1", True, **kwargs)


def test_a_clean_certificate_is_preselected_before_longer_lived_ones_with_caveats() -> None:
    clean = crafted.info(UNIT, days=700)
    short_rsa = crafted.info(UNIT, rsa_bits=1024, until=FAR)
    two_msts = crafted.info(
        (("CN", "CONG TY A"), ("UID", "MST:0101234567"), ("UID", "MST:0109999999")), until=FAR
    )
    unknown = crafted.info(UNIT, until=FAR - dt.timedelta(days=1))
    rows = [
        on(short_rsa),
        on(two_msts),
        on(unknown, revocation_unknown=True),
        on(clean),
    ]
    assert [caveats(r) for r in rows] == [
        ("SHORT_RSA_KEY",),
        ("AMBIGUOUS_IDENTIFIER",),
        ("REVOCATION_UNKNOWN",),
        (),
    ]
    plan = plan_choice(ORIGIN, rows)
    assert plan.choice.preselected == clean.thumbprint
    assert plan.choice.default_row() is not None
    assert plan.choice.default_row().certificate is clean  # type: ignore[union-attr]
    # Every one of them can still be chosen: a caveat ranks, it does not grey.
    assert all(o.usable for o in plan.choice.rows())
    # The page's filter still comes first: among its matches (both with a caveat), the one
    # that expires last, not the clean certificate it did not ask for.
    wanted = CertificateFilter(thumbprints=frozenset({short_rsa.thumbprint, unknown.thumbprint}))
    assert plan_choice(ORIGIN, rows, wanted).choice.preselected == short_rsa.thumbprint


def test_among_certificates_with_caveats_the_renewal_still_wins() -> None:
    """No clean certificate: the old rule (the one that expires last) decides, as it does
    among clean ones (tests/ui/test_picker.py, the renewal on a new token)."""
    old = crafted.info(UNIT, days=300)
    renewed = crafted.info(UNIT, days=1100)
    rows = [on(old, "EPASS2003 CU"), on(renewed, "FT-2025-MOI")]
    assert plan_choice(ORIGIN, rows).choice.preselected == renewed.thumbprint
    unknown = [on(old, "EPASS2003 CU", revocation_unknown=True),
               on(renewed, "FT-2025-MOI", revocation_unknown=True)]  # fmt: skip
    assert plan_choice(ORIGIN, unknown).choice.preselected == renewed.thumbprint
    # A 2048-bit RSA key is no caveat.
    assert caveats(on(crafted.info(UNIT, rsa_bits=2048))) == ()


def test_the_red_teams_critical_extension_certificate_is_greyed_with_the_reason() -> None:
    """CONG TY CRIT EXT (valid to 2100) was preselected over the ordinary certificates; now it
    cannot be chosen at all, and its row says why."""
    crit = crafted.info(
        (("CN", "CONG TY CRIT EXT"), ("UID", "MST:0101234567")),
        extensions=[crafted.private_critical()],
        until=FAR,
    )
    ordinary = crafted.info(UNIT, days=365)
    plan = plan_choice(ORIGIN, [on(crit), on(ordinary)], CertificateFilter(mst="0101234567"))
    assert plan.chosen is ordinary  # the one usable match: no picker
    rows = {o.certificate.thumbprint: o for o in plan.choice.rows()}
    assert rows[crit.thumbprint].problems == ("UNSUPPORTED_CRITICAL_EXTENSION",)
    subtitles = [s.subtitle for s in certificate_choice_text(plan.choice, "en").sections]
    assert "an unsupported critical extension: its signatures would be refused" in subtitles


def _on_token(cert: CertificateInfo, key_id: bytes, **flags: bool) -> TokenCertificate:
    token = TokenInfo(
        "/usr/lib/softhsm/libsofthsm2.so",
        0,
        "VNPT-CA TOKEN",
        "serial-1",
        "SoftHSM",
        "SoftHSM v2",
        PinState(),
        protected_path=False,
        login_required=True,
        mechanisms=frozenset(),
    )
    return TokenCertificate(token, cert, "", key_id, has_private_key=True, **flags)


def test_the_picker_hears_the_revocation_status_and_a_key_that_is_anothers() -> None:
    """The agent's picker (and the desktop signer's) builds its rows with ``candidate``: a
    certificate whose CA could not be asked goes after one known good, even one that expires
    sooner; one whose key on the token is another's is greyed with the reason, not offered and
    then refused with KEY_CERT_MISMATCH after the consent and the PIN."""
    good = _on_token(crafted.info(UNIT, days=400), b"\x01")
    unknown = _on_token(crafted.info(UNIT, days=900), b"\x02")
    mismatch = _on_token(crafted.info(UNIT, until=FAR), b"\x03", key_mismatch=True)
    rows = [
        candidate(unknown, "unknown"),
        candidate(good, "good"),
        candidate(mismatch, "good"),
    ]
    assert caveats(rows[0]) == ("REVOCATION_UNKNOWN",) and caveats(rows[1]) == ()
    plan = plan_choice(ORIGIN, rows)
    assert plan.choice.default_row().certificate is good.info  # type: ignore[union-attr]
    greyed = [o for o in plan.choice.rows() if not o.usable]
    assert [o.certificate.thumbprint for o in greyed] == [mismatch.thumbprint]
    assert greyed[0].problems == ("KEY_CERT_MISMATCH",)
    text = certificate_choice_text(plan.choice)
    assert "không khớp với chứng thư này" in repr(text)
    assert candidate(good, "revoked").revoked and not candidate(good).revocation_unknown
