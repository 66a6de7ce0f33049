"""What each prompt says, in Vietnamese first and English below. Pure: requests in, text out.

The desktop dialogs, the terminal prompter and the scripted prompter's log all render these
models, so the words a user reads are decided (and tested) in one place, without a display.

Every string a page (or a certificate's issuer) can influence — item titles and summary lines,
labels, certificate subjects, token labels — goes through
:func:`agent.ui.untrusted.render_untrusted` here, and the origin through ``render_origin``:
no prompter ever sees raw page text. The origin has a place of its own in every prompt
(:attr:`PromptText.origin`), which page text can never reach.
"""

from __future__ import annotations

from agent.remote.prompt import CredentialPrompt
from agent.ui.api import ConsentItem, ConsentRequest, PairingRequest

# Re-exported: the prompters and tests take every prompt's text from this module.
from agent.ui.certtext import (  # noqa: F401
    alarming,
    batch_warnings,
    certificate_choice_text,
    certificate_fields,
    certificate_warnings,
    format_date,
    format_vn_time,
    mst_warnings,
)
from agent.ui.pintext import (  # noqa: F401
    pin_pad_text,
    pin_text,
    pin_too_short,
    pin_warnings,
)
from agent.ui.prompt_model import (
    Choice,
    Field,
    PromptText,
    Section,
    Warning,
    pick,
)
from agent.ui.untrusted import (
    LABEL_LIMIT,
    TITLE_LIMIT,
    VALUE_LIMIT,
    render_origin,
    render_untrusted,
)

APP = "Kyso"
DOMAIN_LIMIT = 100  # a registrable domain in the pairing question (a real one is short)
SUMMARY_LIMIT = 600  # the agent's own sentence, which quotes the (up to 300-character) origin
# In the terminal, every line that may carry page text starts with this, so no page text can
# start a line, let alone imitate the agent's origin line.
PAGE_PREFIX = "  │ "
ORIGIN_HEADING = "Trang web yêu cầu · Requesting website:"

# The dialogs' own fixed words (beside the prompts' texts below), in both languages: one table.
UI_TEXT: dict[str, tuple[str, str]] = {
    "origin_heading": ("Trang web yêu cầu", "Requesting website"),
    "closes_in": ("Tự đóng sau {m}:{s:02d}", "Closes in {m}:{s:02d}"),
    "pin_label": ("Mã PIN", "PIN"),
    "caps_lock": ("⇪ Caps Lock đang bật", "⇪ Caps Lock is on"),
    "fill_every_field": ("Hãy điền đủ các ô", "Fill in every field"),
    "preview_caption": ("Vị trí chữ ký hiển thị", "Where the visible signature goes"),
}


def ui_text(key: str, lang: str, **values: object) -> str:
    """One of the dialogs' own words in ``lang`` ("" = both, Vietnamese first)."""
    vi, en = UI_TEXT[key]
    return pick(vi.format(**values), en.format(**values), lang, " · ")


# --- formatting helpers -------------------------------------------------------------------


def group_hex(digest: str, size: int = 8) -> str:
    """A long hex digest in groups, so a person can compare it piece by piece."""
    digest = digest.lower()
    return " ".join(digest[i : i + size] for i in range(0, len(digest), size))


SHA256_OF_SENT_FILE = "Mã băm SHA-256 của tệp gửi ký / SHA-256 of the file sent for signing"


def item_section(item: ConsentItem, index: int, total: int) -> Section:
    """One thing to be signed: its title, its summary lines and its SHA-256."""
    fields = [
        Field(*split_label(_u(label, LABEL_LIMIT)), _u(value, VALUE_LIMIT))
        for label, value in item.lines
    ]
    if item.sha256:
        # Say which file the hash is of: the page sends the unsigned file, the portal shows
        # the hash of the signed one, and two numbers under one label confuse people.
        digest = group_hex(_u(item.sha256, 2 * LABEL_LIMIT))
        vi, en = split_label(item.sha256_label or SHA256_OF_SENT_FILE)
        fields.append(Field(vi, en, digest, "mono"))
    prefix = f"{index}/{total}. " if total > 1 else ""
    return Section(
        prefix + _u(item.title, TITLE_LIMIT), tuple(fields), preview_png=item.preview_png
    )


def _u(text: object, limit: int) -> str:
    """Page-influenced text, rendered inert (one line, visible, bounded)."""
    return render_untrusted(text, limit)


# English captions for the labels the signing summaries use (the summary itself is Vietnamese).
_LABELS_EN = {
    "đơn vị": "Unit",
    "tên đơn vị": "Unit",
    "mst": "Tax code",
    "mã số thuế": "Tax code",
    "mã số bhxh": "Social insurance no.",
    "kỳ kê khai": "Period",
    "kỳ": "Period",
    "số lao động": "Employees",
    "số người lao động": "Employees",
    "số bản ghi": "Records",
    "thủ tục": "Procedure",
    "mã thủ tục": "Procedure code",
    "tờ khai": "Forms",
    "biểu mẫu": "Forms",
    "cơ quan quản lý": "Managing office",
    "ngày lập": "Date",
    "kích thước": "Size",
    "tệp": "File",
    "thuật toán": "Algorithm",
}


def split_label(label: str) -> tuple[str, str]:
    """ "Kích thước / size" -> ("Kích thước", "size"); a Vietnamese-only label gets a known
    English caption (or none)."""
    if " / " in label:
        vi, en = label.split(" / ", 1)
        return vi.strip(), en.strip()
    return label.strip(), _LABELS_EN.get(label.strip().lower(), "")


# --- the four prompts -----------------------------------------------------------------------


def pairing_text(request: PairingRequest, lang: str = "") -> PromptText:
    """ "Allow https://… to use your signing token?" — once / always / deny."""
    domain = render_untrusted(request.domain, DOMAIN_LIMIT) if request.domain else ""
    return PromptText(
        kind="pair",
        lang=lang,
        title=f"{APP} — {pick('Cho phép trang web?', 'Allow this website?', lang)}",
        # The registrable domain in the question itself: a long look-alike origin wraps so
        # that its first line reads like the real portal, and this is what to judge.
        question_vi=(
            f"Cho phép trang web thuộc tên miền «{domain}» sử dụng USB token ký số của bạn?"
            if domain
            else "Cho phép trang web này sử dụng USB token ký số của bạn?"
        ),
        question_en=(
            f"Allow this website, on the domain “{domain}”, to use your signing USB token?"
            if domain
            else "Allow this website to use your signing USB token?"
        ),
        origin=render_origin(request.origin),
        choices=(
            Choice("once", "Một lần", "Once", "normal"),
            # No button is emphasised: allowing a site is a decision, not the default.
            Choice("always", "Luôn cho phép", "Always allow", "normal"),
            Choice("deny", "Từ chối", "Deny", "cancel"),
        ),
        note_vi=(
            "Chỉ cho phép trang web bạn tin cậy, ví dụ cổng Dịch vụ công hoặc phần mềm kê khai "
            "BHXH của đơn vị. Mỗi lần ký, Kyso vẫn hỏi bạn và bạn vẫn phải nhập mã PIN."
        ),
        note_en=(
            "Only allow websites you trust, such as the public-services portal or your BHXH "
            "filing software. Kyso still asks you, and you still enter your PIN, for every signature."
        ),
    )


def consent_text(request: ConsentRequest, lang: str = "") -> PromptText:
    """Who asks, with which certificate, to sign what: the user decides Ký / Hủy."""
    is_login = request.action == "auth.challenge"
    sections: list[Section] = []
    if request.certificate is not None:
        where = source_fields(request.source, lang)
        sections.append(
            Section(
                pick("Chứng thư số", "Certificate", lang, " · "),
                where + certificate_fields(request.certificate, lang),
            )
        )
    total = len(request.items)
    if total > 1:
        # A batch: first the whole list, one line each, then every item in detail.
        overview = tuple(
            Field(f"{i}.", "", _overview_line(item)) for i, item in enumerate(request.items, 1)
        )
        heading = pick(f"Danh sách {total} tài liệu", f"{total} documents", lang, " · ")
        sections.append(Section(heading, overview))
    for i, item in enumerate(request.items, start=1):
        sections.append(item_section(item, i, total))
    if request.action == "sign.files":  # "Ký tệp hồ sơ…" from the tray: no website involved
        question_vi = f"Ký {total} tệp dưới đây, trên máy tính này?"
        question_en = f"Sign the {total} file(s) below, on this computer?"
    elif total > 1:
        question_vi = f"Ký {total} tài liệu cho trang web này?"
        question_en = f"Sign {total} documents for this website?"
    elif is_login:
        question_vi = "Xác nhận đăng nhập bằng chứng thư số trên trang web này?"
        question_en = "Confirm signing in with your certificate on this website?"
    else:
        question_vi = "Ký số tài liệu dưới đây cho trang web này?"
        question_en = "Sign the document below for this website?"
    primary = (
        Choice("allow", "Xác nhận", "Confirm", "primary")
        if is_login
        else Choice("allow", "Ký", "Sign", "primary")
    )
    return PromptText(
        kind="consent",
        lang=lang,
        title=f"{APP} — {pick('Xác nhận ký số', 'Confirm signature', lang)}",
        question_vi=question_vi,
        question_en=question_en,
        origin=render_origin(request.origin),
        sections=tuple(sections),
        warnings=certificate_warnings(request.certificate)
        + mst_warnings(request.certificate, request.items)
        + batch_warnings(request.items),
        choices=(primary, Choice("deny", "Hủy", "Cancel", "cancel")),
        # The agent's own sentence; rendered all the same, as it quotes the origin.
        summary_vi=_u(request.summary_vi, SUMMARY_LIMIT),
        summary_en=_u(request.summary_en, SUMMARY_LIMIT),
        note_vi=(
            "Hãy kiểm tra kỹ trước khi ký: chữ ký số có giá trị pháp lý như chữ ký tay và con dấu."
        ),
        note_en=(
            "Check carefully before signing: a digital signature has the same legal force as a "
            "handwritten signature and seal."
        ),
    )


def source_fields(source: str, lang: str = "") -> tuple[Field, ...]:
    """Where the key is: the USB token's label, or the remote signing service (ký số từ xa)
    whose HSM signs. Both names rendered inert (a token's maker and a provider's label)."""
    kind, _, name = source.partition(":")
    if kind == "remote" and name:
        return (
            Field("Ký số từ xa", "Remote signing", _u(name, LABEL_LIMIT), "bold"),
            Field(
                "Khóa ký",
                "Key",
                pick("trên máy chủ của nhà cung cấp", "in the provider's HSM", lang),
            ),
        )
    if kind == "token" and name:
        return (Field("USB token", "", _u(name, LABEL_LIMIT), "bold"),)
    return ()


def credential_text(request: CredentialPrompt, lang: str = "") -> PromptText:
    """A remote credential's PIN and/or OTP: which service, which certificate, how many
    signatures this one approval covers. The service's own field labels are untrusted text,
    shown inert and only beside the agent's own words."""
    fields = [
        Field("Ký số từ xa", "Remote signing", _u(request.provider, LABEL_LIMIT), "bold"),
        Field(
            "Chứng thư số",
            "Certificate",
            _u(request.certificate.subject_display, TITLE_LIMIT),
            "bold",
        ),
    ]
    if request.certificate.mst:
        fields.append(Field("Mã số thuế", "Tax code", _u(request.certificate.mst, LABEL_LIMIT)))
    fields.append(
        Field(
            "Số chữ ký",
            "Signatures",
            f"{request.signatures} ({pick('một lần xác nhận', 'one approval', lang)})",
        )
    )
    secrets: list[tuple[str, str, str]] = []
    for key, need, ours, theirs, en in (
        ("pin", request.need_pin, "Mã PIN ký số", request.pin_label, "Signing PIN"),
        ("otp", request.need_otp, "Mã OTP", request.otp_label, "One-time code"),
    ):
        if need:
            # The provider's own words, in brackets after ours (unless they say the same).
            label = _u(theirs, LABEL_LIMIT)
            hint = f" ({label})" if label and label.casefold() != ours.casefold() else ""
            secrets.append((key, ours + hint, en))
    warnings: tuple[Warning, ...] = ()
    if request.need_otp and request.otp_online:
        warnings = (
            Warning(
                "Nhà cung cấp đã gửi mã OTP tới điện thoại của bạn. Mỗi mã chỉ dùng một lần.",
                "The provider has sent a one-time code to your phone. Each code works once.",
            ),
        )
    what = " và ".join(
        w for w, need in (("mã PIN", request.need_pin), ("mã OTP", request.need_otp)) if need
    )
    what_en = " and ".join(
        w for w, need in (("PIN", request.need_pin), ("one-time code", request.need_otp)) if need
    )
    return PromptText(
        kind="credential",
        lang=lang,
        title=f"{APP} — {pick('Ký số từ xa', 'Remote signing', lang)}",
        question_vi=f"Nhập {what} để ký bằng chứng thư số từ xa",
        question_en=f"Enter the {what_en} to sign with your remote certificate",
        sections=(Section("", tuple(fields)),),
        warnings=warnings,
        choices=(
            Choice("ok", "Đồng ý", "OK", "primary"),
            Choice("cancel", "Hủy", "Cancel", "cancel"),
        ),
        note_vi=(
            "Mã PIN và mã OTP chỉ được nhập trong cửa sổ này của Kyso, không bao giờ trên trang "
            "web. Kyso chỉ gửi chúng tới nhà cung cấp dịch vụ ký số, không ghi lại ở đâu."
        ),
        note_en=(
            "Type the PIN and one-time code only in this Kyso window, never into a web page. "
            "Kyso sends them only to the signing provider and writes them down nowhere."
        ),
        secret_fields=tuple(secrets),
    )


def _overview_line(item: ConsentItem) -> str:
    """Kyso's title first (marked ⚠ when the item carries a warning or a lock of its own),
    then the page's name for the item in quotes: a long page label is what gets cut, never
    the title."""
    title = _u(item.title, TITLE_LIMIT)
    if alarming(item):
        title = "⚠ " + title
    if not item.page_label:
        return title
    room = TITLE_LIMIT - len(title) - 5
    return f"{title} — «{_u(item.page_label, room)}»" if room >= 8 else title


def _is_list_number(f: Field) -> bool:
    """A batch overview line ("3." and a title): shown without a label column."""
    return f.label_vi.endswith(".") and f.label_vi[:-1].isdigit() and not f.label_en


def render_plain(text: PromptText) -> str:
    """The prompt as plain text (the terminal prompter; logs never get the PIN).

    The agent's own lines (title, question, origin, summary, warnings, note) start at column 0
    or with "!!"; everything in the sections, where page text lives, starts with
    :data:`PAGE_PREFIX`. Page text is one line each (see ``render_untrusted``), so it can never
    start a line of its own: the origin line cannot be imitated, only quoted.
    """
    out = [text.title, "", text.question_vi, text.question_en]
    if text.origin:
        out += ["", ORIGIN_HEADING, f">>> {text.origin} <<<"]
    if text.summary_vi:
        out += ["", text.summary_vi, text.summary_en]
    for warning in text.warnings:
        out += ["", f"!! {warning.vi}", f"!! {warning.en}"]
    group = ""
    for section in text.sections:
        if section.group and section.group != group:
            group = section.group
            out += ["", f"== {section.group} =="]
        out.append("")
        if section.title:
            out.append(PAGE_PREFIX + section.title)
        if section.subtitle:
            out.append(f"{PAGE_PREFIX}  ({section.subtitle})")
        for f in section.fields:
            if _is_list_number(f):
                out.append(f"{PAGE_PREFIX}  {f.label_vi} {f.value}")
                continue
            label = f"{f.label_vi} / {f.label_en}" if f.label_en else f.label_vi
            out.append(f"{PAGE_PREFIX}  {label}: {f.value}")
    if text.note_vi or text.note_en:
        out += ["", text.note_vi, text.note_en]
    return "\n".join(out)
