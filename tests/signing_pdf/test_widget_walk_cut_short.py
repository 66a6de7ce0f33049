"""Review 39: a page-tree walk stopped at its bounds (PageTreeUnusual: the CPU-time bound, which
large shared /Annots arrays can reach) returned the pages found so far as the whole answer. A
widget seen on page 1 and listed again past the stop then read as drawn on page 1 only, and the
rule against a field drawn on two pages (check_existing_field) let it be signed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agent.signing.pdf import fields


@pytest.mark.parametrize("stop", [fields.PageTreeUnusual("over 20 s"), fields.PageTreeTooLarge()])
def test_a_walk_cut_short_claims_no_page(monkeypatch: pytest.MonkeyPatch, stop: Exception) -> None:
    from pyhanko.pdf_utils.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

    widget = IndirectObject(7, 0, None)
    page = DictionaryObject({NameObject("/Annots"): ArrayObject([widget])})

    def nodes(reader: Any) -> Iterator[Any]:
        yield page
        raise stop  # the next page might list the widget as well

    monkeypatch.setattr(fields, "_page_nodes", nodes)
    assert fields.widget_pages(object(), {(7, 0)}) == {}


def test_a_whole_walk_names_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyhanko.pdf_utils.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

    widget = IndirectObject(7, 0, None)
    page = DictionaryObject({NameObject("/Annots"): ArrayObject([widget])})
    monkeypatch.setattr(fields, "_page_nodes", lambda reader: iter([page, page]))
    assert fields.widget_pages(object(), {(7, 0)}) == {(7, 0): (1, 2)}
