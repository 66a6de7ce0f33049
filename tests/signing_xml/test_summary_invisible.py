"""Invisible characters in a summary's values are kept, shown tagged, and compared as they are.

Red-team finding: an account request's values went through a cleaner that dropped format
characters (U+2060, U+200B, U+202E...) before the UI could tag them, so the consent showed MST
``0101234567`` and the MST check passed while the signed bytes held ``0101234567`` + U+2060.
"""

from __future__ import annotations

import pytest

from agent.demo.pki import UNIT_MST
from agent.errors import KysoError
from agent.signing.consent import mst_mismatch
from agent.signing.xml import summarize_xml
from agent.ui.untrusted import render_untrusted
from tests.server.conftest import ORIGIN
from tests.server.test_consent_labels import stop_service_request
from tests.server.test_methods import dossier, form_file

REQUEST = stop_service_request().decode()
UNIT = "Công ty TNHH Giải pháp Kyso Việt Nam"


def request(old: str, new: str) -> bytes:
    assert old in REQUEST
    return REQUEST.replace(old, new).encode()


@pytest.mark.parametrize("hidden", ["\u2060", "\u200b", "\u202e", "\u00ad", "\u00a0", "\u3000"])
def test_a_request_mst_with_a_hidden_character_is_not_the_unit(hidden: str) -> None:
    mst = UNIT_MST + hidden
    item = summarize_xml(request(f"<MaSoThue>{UNIT_MST}", f"<MaSoThue>{mst}"), origin=ORIGIN)
    # The line shows what the dialog would show of the raw value (a format character tagged,
    # a space of any kind as a space), and the comparison is of the raw value.
    assert render_untrusted(dict(item.lines)["Mã số thuế"]) == render_untrusted(mst)
    assert item.mst == mst
    assert mst_mismatch(UNIT_MST, (item,)) == mst


@pytest.mark.parametrize("hidden", ["\u2060", "\u200b", "\u202e", "\u2066", "\ufeff"])
def test_hidden_characters_reach_the_dialog_tagged(hidden: str) -> None:
    item = summarize_xml(request(f"<TenDonVi>{UNIT}", f"<TenDonVi>{hidden}{UNIT}"))
    shown = render_untrusted(dict(item.lines)["Đơn vị"])
    assert shown == f"<U+{ord(hidden):04X}>{UNIT}"
    assert f"<U+{ord(hidden):04X}>" in render_untrusted(item.title)


def test_xml_whitespace_around_a_value_is_not_a_difference() -> None:
    item = summarize_xml(request(f"<MaSoThue>{UNIT_MST}", f"<MaSoThue>\n\t {UNIT_MST}\r\n"))
    assert item.mst == UNIT_MST and mst_mismatch(UNIT_MST, (item,)) is None
    assert dict(item.lines)["Mã số thuế"] == UNIT_MST


def test_the_portal_named_with_a_hidden_character_is_another_portal() -> None:
    with pytest.raises(KysoError) as err:
        summarize_xml(request(f">{ORIGIN}<", f">{ORIGIN}\u200b<"), origin=ORIGIN)
    assert err.value.code == "XML_REQUEST_ORIGIN_MISMATCH"
    # Compared whole, never cut to the dialog's width: a long origin that matches, matches.
    long_origin = "https://" + "a" * 60 + "." + "b" * 60 + "." + "c" * 60 + ".kyso.test"
    item = summarize_xml(request(f">{ORIGIN}<", f">{long_origin}<"), origin=long_origin)
    assert item.mst == UNIT_MST


def test_a_dossier_mst_with_a_hidden_character_is_not_the_unit() -> None:
    for hidden in ("\u00a0", "\u2060"):
        document = dossier().replace(
            f"<MaSoThue>{UNIT_MST}</MaSoThue><Co".encode(),
            f"<MaSoThue>{UNIT_MST}{hidden}</MaSoThue><Co".encode(),
        )
        assert document != dossier()
        # The embedded form names the unit without it: that is a second, different MST.
        with pytest.raises(KysoError) as err:
            summarize_xml(document)
        assert err.value.code == "XML_FIELD_AMBIGUOUS"
    # A form file alone: its MST is compared as written.
    item = summarize_xml(form_file(UNIT_MST + "\u00a0"))
    assert mst_mismatch(UNIT_MST, (item,)) == UNIT_MST + "\u00a0"
    assert mst_mismatch(UNIT_MST, (summarize_xml(form_file(UNIT_MST)),)) is None
