"""What a refused placement says: the reason a person can act on, in both languages."""

from __future__ import annotations

import pytest

from .conftest import make_pdf


def test_a_box_with_its_corners_the_other_way_says_so() -> None:
    """CLI QA 38 F13: ``--box 100,100,10,10`` was called "outside the visible page"."""
    from agent.errors import KysoError
    from agent.signing.pdf.inspect import inspect_pdf
    from agent.signing.pdf.sign import Placement, check_placement

    facts = inspect_pdf(make_pdf(1))
    with pytest.raises(KysoError) as refused:
        check_placement(facts, Placement(1, (100.0, 100.0, 10.0, 10.0)))
    assert refused.value.code == "PDF_PLACEMENT_INVALID"
    assert "X1 < X2 and Y1 < Y2" in refused.value.message_en
    assert "góc dưới bên trái" in refused.value.message_vi
    check_placement(facts, Placement(1, (10.0, 10.0, 100.0, 100.0)))
