"""Reading a dossier's fields where a portal reads them, and showing page text on one line:
the pieces the consent summary (:mod:`agent.signing.xml.summary`) is built from. Pure logic.

A field is read at its exact path, every step in the document's namespace; a field that is
there twice, or holds anything but text, is XML_FIELD_AMBIGUOUS, never guessed: what the
dialog shows must be what the signature covers and what the portal acts on."""

from __future__ import annotations

import re

from lxml import etree

from agent.errors import KysoError
from agent.shown import shown_width

# XML's own whitespace: the only characters trimmed from a value. Anything else (a no-break or
# ideographic space, U+2060, U+200B, U+202E...) stays, so the UI tags it <U+XXXX> and the MST
# and portal comparisons see the value the signed bytes hold.
XML_SPACE = " \t\r\n"
XML_SPACE_RUN = re.compile(r"[ \t\r\n]+")
# What the dialog shows as one space: Unicode whitespace (str.isspace, which covers every Zs
# space, NEL and the line/paragraph separators).
SHOWN_SPACE_RUN = re.compile(r"\s+")


def ambiguous(detail_vi: str, detail_en: str) -> KysoError:
    """A field the summary cannot show as the signature (and the portal) will read it."""
    return KysoError("XML_FIELD_AMBIGUOUS", {"detail_vi": detail_vi, "detail_en": detail_en})


def _namespace(element: etree._Element) -> str | None:
    """The namespace of the document ``element`` belongs to (its root's; None: no namespace)."""
    return etree.QName(element.getroottree().getroot()).namespace


def elements_at(base: etree._Element, path: str) -> list[etree._Element]:
    """The elements at ``path`` under ``base``, every step in the document's namespace.

    An element named like a step but in another namespace is XML_FIELD_AMBIGUOUS: it is not the
    field, yet a reader that matches names only (``local-name()``, ``GetElementsByTagName``)
    would take it, so what the summary shows and what a portal reads could differ."""
    namespace = _namespace(base)
    found = [base]
    for step in path.split("/"):
        below = []
        for parent in found:
            for child in parent.iterchildren(etree.Element):
                name = etree.QName(child)
                if name.localname != step:
                    continue
                if name.namespace != namespace:
                    raise ambiguous(
                        f"<{step}> thuộc namespace lạ {name.namespace or '(không có)'}",
                        f"<{step}> in a foreign namespace {name.namespace or '(none)'}",
                    )
                below.append(child)
        found = below
    return found


def string_value(element: etree._Element, path: str) -> str:
    """The element's full text, as canonical XML has it; XML_FIELD_AMBIGUOUS when it holds
    anything but text (a comment or PI splits ``.text``, and C14N drops it and joins the pieces;
    a child element adds its own text), since no reader would then see what the dialog shows."""
    for node in element:  # comments and PIs too, not only elements
        if isinstance(node, etree._Comment):
            what = ("chú thích <!-- -->", "a comment")
        elif isinstance(node, etree._ProcessingInstruction):
            what = ("chỉ thị xử lý <? ?>", "a processing instruction")
        else:
            child = etree.QName(node).localname
            what = (f"phần tử con <{child}>", f"a child element <{child}>")
        raise ambiguous(f"{what[0]} trong <{path}>", f"{what[1]} inside <{path}>")
    return "".join(element.itertext())


def field_value(base: etree._Element | None, paths: tuple[str, ...]) -> str | None:
    """The one element at one of ``paths`` under ``base``, as text (None when absent or blank).
    Two or more of them is XML_FIELD_AMBIGUOUS: the dialog would have to pick one, and a portal
    might read the other."""
    if base is None or not paths:
        return None
    found = [(path, el) for path in paths for el in elements_at(base, path)]
    if not found:
        return None
    if len(found) > 1:
        where = ", ".join(sorted({f"<{path}>" for path, _ in found}))
        raise ambiguous(
            f"{len(found)} phần tử cho cùng một trường ({where})",
            f"{len(found)} elements for one field ({where})",
        )
    path, element = found[0]
    return string_value(element, path).strip(XML_SPACE) or None


def rows_at(base: etree._Element | None, paths: tuple[str, ...]) -> list[etree._Element]:
    return [] if base is None else [row for path in paths for row in elements_at(base, path)]


# Values are page-supplied text: one line each, and never long enough to push the rest of the
# dialog out of sight.
MAX_VALUE = 160


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` on one line, cut to ``limit`` characters as shown (:data:`MAX_VALUE`). Every run of
    spaces of any kind (XML whitespace, no-break, ideographic, line separators) counts as the
    one space the dialog shows (agent.ui.untrusted), so padding cannot use up the length and
    push the end of a value out of sight. Every other character stays, invisible ones
    included (bidi overrides, zero-width, word joiner): the UI's render_untrusted shows each
    as <U+XXXX>. Dropped here, they would be missing from the dialog while the signed bytes,
    and the portal, keep them."""
    limit = MAX_VALUE if limit is None else limit
    flat = SHOWN_SPACE_RUN.sub(" ", text).strip(" ")
    # Measured as shown: a zero-width or bidi character is an 8-character tag on screen, so
    # 47 of them after a name would otherwise push the salary out of the dialog's line.
    widths = [shown_width(char) for char in flat]
    if sum(widths) <= limit:
        return flat
    used = 0
    for index, width in enumerate(widths):
        if used + width > limit - 1:  # room is left for the "…"
            return flat[:index].rstrip(" ") + "…"
        used += width
    return flat  # not reached: the sum is over the limit


def raw_values(root: etree._Element, path: str) -> str:
    """Every element at ``path`` (in the document's namespace, see :func:`elements_at`), each its full
    text (:func:`string_value`) trimmed of XML whitespace, joined with "; " (names hold
    commas): what is compared (the MST, the portal), never cut or cleaned."""
    found = [string_value(e, path).strip(XML_SPACE) for e in elements_at(root, path)]
    return "; ".join(v for v in found if v)


def values_at(root: etree._Element, path: str) -> str:
    """:func:`raw_values` as the dialog shows it: one line (:func:`one_line`)."""
    return one_line(raw_values(root, path))


def quoted(value: str, limit: int) -> str:
    """Page text set apart: «value» on one line, at most ``limit`` characters shown, its own
    guillemets turned into single ones so it cannot close the quote and go on in Kyso's name."""
    return "«" + one_line(value.replace("«", "‹").replace("»", "›"), limit) + "»"
