"""What the user is shown before a signature. Pure functions: bytes in, consent texts out."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import TYPE_CHECKING

from agent.ui.api import ConsentItem
from agent.ui.untrusted import TITLE_LIMIT, render_origin

if TYPE_CHECKING:
    from agent.signing.pdf import PdfFacts, Placement


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB ({n:,} byte)".replace(",", ".")
    if n >= 1024:
        return f"{n / 1024:.1f} KB ({n:,} byte)".replace(",", ".")
    return f"{n} byte"


def xml_item(document: bytes, label: str | None = None, origin: str | None = None) -> ConsentItem:
    """The dossier's human summary (procedure, forms, unit, MST, period, records, SHA-256), or
    an account request's action in words; ``origin`` is the requesting site, for requests that
    name the portal they are addressed to."""
    from agent.signing.xml.summary import summarize_xml

    item = summarize_xml(document, origin=origin)
    if label:
        # The page's name for it is a line of its own: put before (or into) the title, a long
        # label would push what Kyso read from the document out of the title's width.
        item = dataclasses.replace(item, lines=(*item.lines, _page_label(label)), page_label=label)
    return item


TITLE_LABEL = "Tệp tự ghi tiêu đề / the file's own title"
XMP_TITLE_LABEL = "Tiêu đề thứ hai (siêu dữ liệu XMP) / second title (XMP metadata)"


def _page_label(label: str) -> tuple[str, str]:
    """The page's own name for an item, shown as the page's words, never as a title."""
    return ("Trang web gọi là / the site calls it", label)


def data_item(
    data: bytes,
    *,
    detached: bool,
    label: str | None = None,
    origin: str | None = None,
    is_pdf: bool | None = None,
) -> ConsentItem:
    """Data to be signed as CMS: size, detached or not, and its SHA-256. Data that looks like
    XML (a dossier, an account request) is summarised as such, with the same checks (the
    request's portal, the unit's MST) as when it is signed as XML, or refused when Kyso cannot
    read it. ``is_pdf``: :func:`looks_like_pdf` when the caller has it already."""
    kind = "chữ ký tách rời / detached" if detached else "chữ ký đính kèm / attached"
    as_xml = _xml_summary(data, origin)
    if as_xml is not None:
        lines = [*as_xml.lines, ("Kích thước / size", _size(len(data))), ("Kiểu / kind", kind)]
        if label:
            lines.append(_page_label(label))
        return dataclasses.replace(
            as_xml,
            title=f"{as_xml.title} — ký dạng CMS/PKCS#7 / signed as CMS",
            lines=tuple(lines),
            sha256=hashlib.sha256(data).hexdigest(),
            page_label=label or "",
        )
    lines = [("Kích thước / size", _size(len(data))), ("Kiểu / kind", kind)]
    if label:
        lines.append(_page_label(label))
    if looks_like_pdf(data) if is_pdf is None else is_pdf:  # a site trusted with bare hashes
        title = "Tệp PDF ký dạng CMS, Kyso không hiển thị nội dung / a PDF signed as bare CMS"
        lines = [
            (
                "Cảnh báo / warning",
                "Kyso không hiển thị nội dung tệp PDF ký theo cách này: chỉ ký khi bạn biết rõ "
                "tệp / Kyso does not show a PDF signed this way: sign only if you know the file",
            ),
            *lines,
        ]
    elif (text := text_lines(data)) is not None:
        # Words are shown, not described: what a person approves is what they read.
        title = "Dữ liệu cần ký: văn bản (CMS/PKCS#7) / data to sign: text"
        lines = [*text, *lines]
    else:
        title = (
            "Dữ liệu cần ký, Kyso không hiển thị được nội dung (CMS/PKCS#7) / data to sign, "
            "content Kyso cannot show"
        )
        what = _known_container(data)
        lines = [
            (
                "Cảnh báo / warning",
                "Kyso không hiển thị được nội dung này: chỉ ký khi bạn biết rõ đây là tệp gì và "
                "trang web nào gửi / Kyso cannot show this content: sign only if you know what "
                "this file is and which site sent it",
            ),
            *([("Dạng dữ liệu / looks like", what)] if what else []),
            *lines,
        ]
    return ConsentItem(
        title,
        tuple(lines),
        hashlib.sha256(data).hexdigest(),
        page_label=label or "",
    )


# Text is shown line by line, at most TEXT_LINES_SHOWN consent lines (the details box
# scrolls); a long line goes on over several, each within what a consent line shows whole.
# Whatever is left is counted in a warning: nothing is cut without saying so.
TEXT_LINES_SHOWN = 40
_CHUNK_WIDTH = 200  # shown width of one consent line of text (VALUE_LIMIT is 240)
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE = re.compile(r"([^\r\n]*)(\r\n|\r|\n|$)")


def text_lines(data: bytes) -> list[tuple[str, str]] | None:
    """``data`` as lines to show when it is plain UTF-8 text (an optional BOM; tabs and line
    ends the only control characters), else None: ("Dòng N / line N", text) for the first
    lines, a long line over several, then a warning with how many characters and lines were not
    shown. A long line breaks after a space where it can; a break inside a word is labelled so
    ("1 2" and "12" must not read the same), and never falls before a combining mark."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if _CONTROL.search(body):
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.strip():
        return None
    lines: list[tuple[str, str]] = []
    shown_up_to = 0  # characters of ``text`` shown
    for number, match in enumerate(_LINE.finditer(text), 1):
        row = match.group(1)
        if not row and not match.group(2):
            break  # the empty match at the very end
        done = 0
        label = f"Dòng {number} / line {number}"
        while True:
            if len(lines) == TEXT_LINES_SHOWN:
                return _with_rest(lines, text[match.start(1) + done :])
            end, mid_word = _chunk_end(row, done)
            lines.append((label, row[done:end]))
            done = end
            if done >= len(row):
                break
            label = (
                f"Dòng {number} (tiếp, liền chữ trước) / (cont., same word)"
                if mid_word
                else f"Dòng {number} (tiếp) / (cont.)"
            )
        shown_up_to = match.end()
    return _with_rest(lines, text[shown_up_to:])


def _chunk_end(row: str, start: int) -> tuple[int, bool]:
    """Where the consent line that starts at ``start`` ends, and whether that is inside a
    word: as much as shows whole in one line (measured as rendered: normalising can lengthen a
    character), after its last space when there is one in its second half, never before a
    combining mark."""
    import unicodedata

    from agent.shown import shown_width
    from agent.ui.untrusted import ELLIPSIS, VALUE_LIMIT, render_untrusted

    end, width = start, 0
    while end < len(row) and width + shown_width(row[end]) <= _CHUNK_WIDTH:
        width += shown_width(row[end])
        end += 1
    mid_word = False
    if end >= len(row):
        end = len(row)
    elif row[end] == " ":
        end += 1  # the break falls on a space: the space ends this line
    elif (space := row.rfind(" ", start, end)) > start + (end - start) // 2:
        end = space + 1
    else:
        mid_word = True
    while end > start + 1 and end < len(row) and unicodedata.combining(row[end]):
        end -= 1  # a mark stays with its letter
        mid_word = True
    while end > start + 1 and render_untrusted(row[start:end], VALUE_LIMIT).endswith(ELLIPSIS):
        end -= max(1, (end - start) // 10)
        while end > start + 1 and unicodedata.combining(row[end]):
            end -= 1
        mid_word = True
    return end, mid_word


def _with_rest(lines: list[tuple[str, str]], rest: str) -> list[tuple[str, str]]:
    """``lines`` and, when something of the text is left, the warning that counts it."""
    if rest.strip():
        breaks = rest.count("\n") + rest.count("\r") - rest.count("\r\n")
        more = breaks + (not rest.endswith(("\n", "\r")))
        lines.append(
            (
                "Cảnh báo / warning",
                f"chỉ hiện phần đầu: còn {len(rest):,} ký tự (khoảng {more:,} dòng) không hiện ở "
                f"đây / only the start is shown: {len(rest):,} more characters (about {more:,} "
                "lines) are not".replace(",", "."),
            )
        )
    return lines


# Magic numbers of containers a person might take for a document (first bytes).
_CONTAINERS = (
    (b"PK\x03\x04", "tệp nén ZIP hoặc văn bản Office (docx, xlsx, odt…) / a ZIP or Office file"),
    (b"\xd0\xcf\x11\xe0", "văn bản Office cũ (doc, xls) / an old Office file"),
    (b"\x89PNG", "ảnh PNG / a PNG image"),
    (b"\xff\xd8\xff", "ảnh JPEG / a JPEG image"),
    (b"{\\rtf", "văn bản RTF / an RTF document"),
)


def _known_container(data: bytes) -> str | None:
    return next((words for magic, words in _CONTAINERS if data.startswith(magic)), None)


# Byte-order marks, longest first (UTF-32 before UTF-16, whose mark it starts with).
_BOMS = (
    b"\x00\x00\xfe\xff",
    b"\xff\xfe\x00\x00",
    b"\x00\x00\xff\xfe",
    b"\xfe\xff\x00\x00",
    b"\xef\xbb\xbf",
    b"\xfe\xff",
    b"\xff\xfe",
)


def _start_pattern(width: int, at: int) -> re.Pattern[bytes]:
    """XML whitespace (any amount) then "<", each character one code unit of ``width`` bytes
    with its ASCII byte at ``at`` and NULs around it (UTF-8, UTF-16 LE/BE, UCS-4 in all four
    byte orders: the layouts XML 1.0 appendix F autodetects)."""
    before, after = b"\x00" * at, b"\x00" * (width - at - 1)
    space = before + b"[ \t\r\n]" + after
    return re.compile(b"(?:" + space + b")*" + re.escape(before + b"<" + after))


_XML_STARTS = tuple(_start_pattern(width, at) for width in (1, 2, 4) for at in range(width))
_EBCDIC_DECLARATION = b"\x4c\x6f\xa7\x94"  # "<?xm" in EBCDIC, which Java and .NET detect


def looks_like_xml(data: bytes) -> bool:
    """Whether an XML reader (Java's, .NET's, libxml2's) would take ``data`` for an XML document:
    after an optional byte-order mark, "<" after any amount of whitespace in UTF-8, UTF-16 or
    UTF-32 (with or without a mark), or an XML declaration in EBCDIC."""
    start = next((len(bom) for bom in _BOMS if data.startswith(bom)), 0)
    if data.startswith(_EBCDIC_DECLARATION, start):
        return True
    return any(pattern.match(data, start) for pattern in _XML_STARTS)


# PDF readers find the header anywhere in the first 1024 bytes (ISO 32000-2 7.5.2 readers).
PDF_HEADER_WINDOW = 1024
# An indirect object's header, "12 0 obj", its tokens apart by PDF white space: every PDF has
# one in clear text (an xref stream is an object too), and a repairing reader (poppler) rebuilds
# a file from them alone, with no header, no startxref and no %%EOF. Searched in the reversed
# bytes, where the pattern starts with a literal (C-speed scan, linear); "obj" must end its
# token (a delimiter or the end follows it).
_OBJECT_HEADER_REVERSED = re.compile(rb"jbo[\x00\t\n\x0c\r ]+\d+[\x00\t\n\x0c\r ]+\d")
_ENDS_A_TOKEN = frozenset(b"\x00\t\n\x0c\r ()<>[]{}/%")
# Near misses ("1 0 objx") looked at one by one at most: past these the data is PDF-like enough.
_NEAR_MISSES = 1000


def looks_like_pdf(data: bytes) -> bool:
    """Whether a PDF reader may open ``data`` as a PDF: "%PDF-" within its first 1024 bytes,
    "startxref" anywhere, or an indirect object ("1 0 obj") anywhere, which is all a repairing
    reader needs. The bytes a PDF signature covers (the file minus its /Contents hole) pass this
    too, so a CMS over them is a valid signature of that PDF. Reads the whole data (about 70 ms
    for 50 MB): run it on a thread for big data, as the other summaries."""
    if data.find(b"%PDF-", 0, PDF_HEADER_WINDOW + 5) >= 0 or b"startxref" in data:
        return True
    backwards = data[::-1]
    for count, found in enumerate(_OBJECT_HEADER_REVERSED.finditer(backwards)):
        at = found.start()
        if at == 0 or backwards[at - 1] in _ENDS_A_TOKEN or count >= _NEAR_MISSES:
            return True
    return False


def _xml_summary(data: bytes, origin: str | None) -> ConsentItem | None:
    """The XML summary of CMS data that looks like XML (:func:`looks_like_xml`); None for other
    data. XML Kyso cannot summarise is refused with its error (XML_ENCODING_UNSUPPORTED,
    XML_UNSAFE, XML_MALFORMED...), never shown as bare data: a portal reading it as XML would
    act on a unit, a request or a procedure the consent never showed, past the MST and portal
    checks."""
    if not looks_like_xml(data):
        return None
    from agent.signing.xml.summary import summarize_xml

    return summarize_xml(data, origin=origin)


def digest_item(digest: bytes, hash_name: str, label: str | None = None) -> ConsentItem:
    """A hash computed by the page. Nobody can show what it stands for, so the title says so in
    both languages; the page's own label is only a line under it, never the title."""
    lines: list[tuple[str, str]] = [
        (
            "Cảnh báo / warning",
            "Trang web yêu cầu ký một giá trị băm. Không ai, kể cả Kyso, hiển thị được nội dung "
            "mà giá trị này đại diện: chữ ký có thể dùng cho bất cứ việc gì. / The site asks you "
            "to sign a hash. Nobody, Kyso included, can show what it stands for: the signature "
            "could be used for anything.",
        ),
        ("Giá trị băm / hash", f"{hash_name.upper()} {digest.hex()}"),
    ]
    if label:
        lines.append(_page_label(label))
    lines.append(
        (
            "Chỉ đồng ý khi / agree only if",
            "bạn đã biết chính xác trang này ký gì và tin trang này. / you know exactly what "
            "this site is signing and you trust it.",
        )
    )
    return ConsentItem(
        "Ký một giá trị băm không hiển thị được / sign a hash nobody can display",
        tuple(lines),
        digest.hex() if hash_name == "sha256" else "",
        page_label=label or "",
    )


def pdf_item(
    facts: PdfFacts,
    label: str | None,
    placement: Placement | None,
    existing_field: str | None = None,
    *,
    reason: str | None = None,
    location: str | None = None,
    certify: bool = False,
) -> ConsentItem:
    """A PDF: name, title, pages, where the visible signature goes, what the signature itself
    will say (reason, location, certification), who signed it already, risky content, and the
    SHA-256 of the file as it is now (before this signature)."""
    lines: list[tuple[str, str]] = []
    if label:
        lines.append(_page_label(label))  # the page says so: never shown as a fact
    lines.extend(_title_lines(facts))
    lines.append(("Số trang / pages", str(facts.pages)))
    lines.append(("Kích thước / size", _size(facts.size)))
    if existing_field is not None:
        where = _field_where(facts, existing_field)
    elif placement is not None:
        where = f"trang {placement.page} / page {placement.page}, {_corner(facts, placement)}"
    else:
        where = "không hiển thị / invisible"
    lines.append(("Chữ ký hiển thị / visible signature", where))
    # Everything the page writes into the signature is shown: a reader of the signed file sees it.
    if reason:
        lines.append(("Lý do ghi trong chữ ký / reason in the signature", reason))
    if location:
        lines.append(("Nơi ký ghi trong chữ ký / location in the signature", location))
    if certify:
        lines.append(
            (
                "Chữ ký chứng nhận / certification",
                "chữ ký này khoá tài liệu: mọi thay đổi sau đó, kể cả chữ ký khác, làm mất hiệu "
                "lực chứng nhận / this signature locks the document: any later change, another "
                "signature included, breaks the certification",
            )
        )
    if facts.signatures:
        signers = ", ".join(s.signer for s in facts.signatures)
        # The names come from certificates inside the file, not checked here: anyone can make
        # a certificate naming "Giám đốc". Said so, rather than shown as a verified fact.
        lines.append(
            (
                "Đã có chữ ký của / already signed by",
                f"{signers} (tên ghi trong chứng thư số, Kyso chưa kiểm tra / as named in their "
                "certificates, not checked by Kyso)",
            )
        )
        from agent.signing.pdf.inspect import changed_after_lines  # pyHanko: at first use

        lines.extend(changed_after_lines(facts.signatures))
    # What the file can do by itself (script, a program, the network...), each named. Imported
    # here, not with the module: agent.signing.pdf loads pyHanko, which an idle agent must not
    # (tests/test_footprint.py).
    from agent.signing.pdf.active import warning_lines
    from agent.signing.pdf.fields import lock_lines

    if existing_field is not None:  # what signing that field locks (its /Lock, its /SV)
        lines.extend(lock_lines(facts.empty_field(existing_field), certify=certify))
    lines.extend(warning_lines(facts.active_content))
    return ConsentItem(
        "Tài liệu PDF / PDF document",
        tuple(lines),
        facts.sha256,
        sha256_label="SHA-256 của tệp trước khi ký / of the file before signing",
        page_label=label or "",
    )


def _title_lines(facts: PdfFacts) -> list[tuple[str, str]]:
    """The file's own words (its /Info title, or its XMP title), like the page's label:
    "checked by Kyso, safe to sign" in a title is the file speaking, not a fact Kyso found.
    Two titles that differ are both shown, with a warning: viewers pick different ones."""
    from agent.signing.pdf.active import WARNING_LABEL
    from agent.signing.pdf.metadata import same_title

    info, xmp = facts.title.strip(), facts.xmp_title.strip()
    if not xmp or same_title(info, xmp):
        return [(TITLE_LABEL, facts.title)] if info else []
    if not info:
        return [(TITLE_LABEL, xmp)]
    return [
        (TITLE_LABEL, info),
        (
            WARNING_LABEL,
            "tệp ghi hai tiêu đề khác nhau: phần mềm xem PDF khác nhau hiển thị tiêu đề khác "
            "nhau / the file has two different titles: PDF viewers differ in which they show",
        ),
        (XMP_TITLE_LABEL, xmp),
    ]


def _field_where(facts: PdfFacts, name: str) -> str:
    """An existing field is stamped where its widget is: its page and corner, as for a new
    stamp (the consent's picture shows it too)."""
    from agent.signing.pdf.sign import field_placement

    where = f"ô chữ ký «{name}» / signature field “{name}”"
    placement = field_placement(facts, name)
    field = facts.empty_field(name)
    if placement is not None:
        page = f"trang {placement.page} / page {placement.page}"
        return f"{where}: {page}, {_corner(facts, placement)}"
    if field is not None and field.box is not None:
        return f"{where}: không xác định được ở trang nào / on a page that could not be found"
    return f"{where}: không hiển thị / not drawn (invisible)"


def _corner(facts: PdfFacts, placement: Placement) -> str:
    """Which corner of the page as a reader sees it (after /Rotate, within the visible area,
    CropBox ∩ MediaBox): the same place the consent's preview shows."""
    frame = facts.page_frames.get(placement.page)
    if frame is not None:
        from agent.signing.pdf.preview import box_in_pixels

        left, upper, right_edge, lower = box_in_pixels(frame, placement.box, (1000, 1000))
        top = (upper + lower) / 2 < 500  # pixel rows grow downwards
        right = (left + right_edge) / 2 > 500
    else:
        width, height = facts.page_sizes.get(placement.page, (595.0, 842.0))
        x1, y1, x2, y2 = placement.box
        top = (y1 + y2) / 2 > height / 2
        right = (x1 + x2) / 2 > width / 2
    vi = f"góc {'trên' if top else 'dưới'} bên {'phải' if right else 'trái'}"
    en = f"{'top' if top else 'bottom'} {'right' if right else 'left'} corner"
    return f"{vi} / {en}"


_CHALLENGE_TITLE = "Đăng nhập / xác nhận thay đổi tài khoản trên "


def challenge_item(origin: str) -> ConsentItem:
    """Sign-in or account change on ``origin``. A long origin is cut in its middle to fit the
    title (as :func:`render_origin` cuts it): cut at the end, as any title is, it would lose
    the registrable domain ("dichvucong.gov.vn.…" hiding ".gov.vn.evil.example")."""
    return ConsentItem(
        _CHALLENGE_TITLE + render_origin(origin, TITLE_LIMIT - len(_CHALLENGE_TITLE)),
        (
            (
                "Việc ký / what is signed",
                "một mã ngẫu nhiên của trang, gắn với địa chỉ trang: chỉ để chứng minh bạn giữ "
                "chứng thư số này, không phải một tài liệu / a random code from the page, bound "
                "to its address: it only proves you hold this certificate, it is no document",
            ),
        ),
    )


SUMMARIES = {
    # A dossier, a form or an account request (its item title says which): "văn bản", not "hồ sơ".
    "sign.xml": ("Ký văn bản điện tử gửi tới {origin}", "Sign an electronic document for {origin}"),
    "sign.cms": ("Ký dữ liệu (CMS) cho {origin}", "Sign data (CMS) for {origin}"),
    "sign.pdf": ("Ký tài liệu PDF cho {origin}", "Sign a PDF document for {origin}"),
    "sign.hash": (
        "{origin} yêu cầu ký một giá trị băm mà không ai hiển thị được nội dung",
        "{origin} asks you to sign a hash whose content nobody can display",
    ),
    "sign.batch": ("Ký {count} tài liệu cho {origin}", "Sign {count} documents for {origin}"),
    "auth.challenge": (
        "Đăng nhập / xác nhận thay đổi tài khoản trên {origin}",
        "Sign in / confirm an account change on {origin}",
    ),
}


def summary(action: str, origin: str, count: int = 1) -> tuple[str, str]:
    """The one-sentence Vietnamese and English summary of an action."""
    vi, en = SUMMARIES[action]
    return vi.format(origin=origin, count=count), en.format(origin=origin, count=count)
