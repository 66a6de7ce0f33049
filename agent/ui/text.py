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
from agent.tokens.pin import PinRequest
from agent.ui.api import ConsentItem, ConsentRequest, PairingRequest

# Re-exported: the prompters and tests take every prompt's text from this module.
from agent.ui.certtext import (  # noqa: F401
    certificate_choice_text,
    certificate_fields,
    certificate_warnings,
    format_date,
    format_vn_time,
    mst_warnings,
)
from agent.ui.prompt_model import (
    Choice,
    Field,
    PromptText,
    Section,
    Warning,
)
from agent.ui.untrusted import (
    LABEL_LIMIT,
    TITLE_LIMIT,
    VALUE_LIMIT,
    render_origin,
    render_untrusted,
)

APP = "Kyso"
SUMMARY_LIMIT = 600  # the agent's own sentence, which quotes the (up to 300-character) origin
# In the terminal, every line that may carry page text starts with this, so no page text can
# start a line, let alone imitate the agent's origin line.
PAGE_PREFIX = "  │ "
ORIGIN_HEADING = "Trang web yêu cầu · Requesting website:"


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
    return Section(prefix + _u(item.title, TITLE_LIMIT), tuple(fields))


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


def pairing_text(request: PairingRequest) -> PromptText:
    """ "Allow https://… to use your signing token?" — once / always / deny."""
    return PromptText(
        kind="pair",
        title=f"{APP} — Cho phép trang web? / Allow this website?",
        question_vi="Cho phép trang web này sử dụng USB token ký số của bạn?",
        question_en="Allow this website to use your signing USB token?",
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


def consent_text(request: ConsentRequest) -> PromptText:
    """Who asks, with which certificate, to sign what: the user decides Ký / Hủy."""
    is_login = request.action == "auth.challenge"
    sections: list[Section] = []
    if request.certificate is not None:
        where = source_fields(request.source)
        sections.append(
            Section("Chứng thư số · Certificate", where + certificate_fields(request.certificate))
        )
    total = len(request.items)
    if total > 1:
        # A batch: first the whole list, one line each, then every item in detail.
        overview = tuple(
            Field(f"{i}.", "", _u(item.title, TITLE_LIMIT))
            for i, item in enumerate(request.items, 1)
        )
        sections.append(Section(f"Danh sách {total} tài liệu · {total} documents", overview))
    for i, item in enumerate(request.items, start=1):
        sections.append(item_section(item, i, total))
    if total > 1:
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
        title=f"{APP} — Xác nhận ký số / Confirm signature",
        question_vi=question_vi,
        question_en=question_en,
        origin=render_origin(request.origin),
        sections=tuple(sections),
        warnings=certificate_warnings(request.certificate)
        + mst_warnings(request.certificate, request.items),
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


def source_fields(source: str) -> tuple[Field, ...]:
    """Where the key is: the USB token's label, or the remote signing service (ký số từ xa)
    whose HSM signs. Both names rendered inert (a token's maker and a provider's label)."""
    kind, _, name = source.partition(":")
    if kind == "remote" and name:
        return (
            Field("Ký số từ xa", "Remote signing", _u(name, LABEL_LIMIT), "bold"),
            Field(
                "Khóa ký",
                "Key",
                "trên máy chủ của nhà cung cấp / in the provider's HSM",
            ),
        )
    if kind == "token" and name:
        return (Field("USB token", "", _u(name, LABEL_LIMIT), "bold"),)
    return ()


def credential_text(request: CredentialPrompt) -> PromptText:
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
        Field("Số chữ ký", "Signatures", f"{request.signatures} (một lần xác nhận / one approval)")
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
        title=f"{APP} — Ký số từ xa / Remote signing",
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


def pin_warnings(request: PinRequest) -> tuple[Warning, ...]:
    """Why the PIN is asked again (if it is), and what the token's PIN flags mean."""
    state = request.state
    out: list[Warning] = []
    refused = request.previous_error.code if request.previous_error is not None else ""
    if refused == "PIN_INVALID":
        out.append(
            Warning(
                "Mã PIN vừa nhập không hợp lệ (sai độ dài hoặc có ký tự không được phép). "
                "Hãy nhập lại.",
                "The PIN just entered is not valid (wrong length or characters). Enter it again.",
                "danger",
            )
        )
    elif refused in ("PIN_INCORRECT", "PIN_FINAL_TRY") and not state.locked:
        out.append(
            Warning(
                "Mã PIN vừa nhập không đúng. Hãy nhập lại.",
                "Wrong PIN. Please enter it again.",
                "danger",
            )
        )
    if state.locked:
        out.append(
            Warning(
                "Mã PIN đã bị khóa. Liên hệ nhà cung cấp chữ ký số để mở khóa token.",
                "The PIN is locked. Contact your certificate provider to unlock the token.",
                "danger",
            )
        )
    elif state.final_try:
        out.append(
            Warning(
                "Chỉ còn MỘT lần thử: nhập sai lần nữa, token sẽ bị khóa.",
                "ONE try left: one more wrong PIN locks the token.",
                "danger",
            )
        )
    elif state.count_low and request.retry:
        out.append(
            Warning(
                "Token đã ghi nhận lần nhập sai. Nhập sai quá số lần cho phép, token sẽ bị khóa.",
                "The token counted the wrong PIN. Too many wrong PINs lock the token.",
            )
        )
    elif state.count_low:
        out.append(
            Warning(
                "Đã có lần nhập sai mã PIN. Hãy nhập cẩn thận: token sẽ bị khóa nếu nhập sai quá "
                "số lần cho phép.",
                "A wrong PIN was entered before. Type carefully: the token locks after too many "
                "wrong PINs.",
                "danger",
            )
        )
    return tuple(out)


def pin_text(request: PinRequest) -> PromptText:
    """The PIN prompt: which token, for which certificate, and how many tries are left."""
    fields = [
        Field(
            "USB token",
            "",
            f"{_u(request.token_label, LABEL_LIMIT)} "
            f"(số sê-ri / serial {_u(request.token_serial, LABEL_LIMIT)})",
        )
    ]
    if request.certificate is not None:
        fields.append(
            Field(
                "Chứng thư số",
                "Certificate",
                _u(request.certificate.subject_display, TITLE_LIMIT),
                "bold",
            )
        )
    if request.min_length or request.max_length:
        length = (
            f"{request.min_length}–{request.max_length}"
            if request.min_length and request.max_length
            else str(request.min_length or request.max_length)
        )
        fields.append(Field("Độ dài mã PIN", "PIN length", f"{length} ký tự / characters"))
    if request.state.locked:
        just_locked = request.retry
        return PromptText(
            kind="pin",
            title=f"{APP} — Mã PIN bị khóa / PIN locked",
            question_vi=(
                "Mã PIN vừa nhập không đúng và USB token đã bị khóa"
                if just_locked
                else "Không thể ký: mã PIN của USB token đã bị khóa"
            ),
            question_en=(
                "Wrong PIN: the token is now locked"
                if just_locked
                else "Cannot sign: the token's PIN is locked"
            ),
            sections=(Section("", tuple(fields)),),
            warnings=pin_warnings(request),
            choices=(Choice("cancel", "Đóng", "Close", "cancel"),),
        )
    retry = request.retry
    return PromptText(
        kind="pin",
        title=f"{APP} — Nhập lại mã PIN / Enter the PIN again"
        if retry
        else f"{APP} — Nhập mã PIN / Enter PIN",
        question_vi="Nhập lại mã PIN của USB token để ký"
        if retry
        else "Nhập mã PIN của USB token để ký",
        question_en="Enter your USB token's PIN again to sign"
        if retry
        else "Enter your USB token's PIN to sign",
        sections=(Section("", tuple(fields)),),
        warnings=pin_warnings(request),
        choices=(
            Choice("ok", "Đồng ý", "OK", "primary"),
            Choice("cancel", "Hủy", "Cancel", "cancel"),
        ),
        note_vi="Mã PIN chỉ được nhập trong cửa sổ này của Kyso, không bao giờ trên trang web.",
        note_en="Type your PIN only in this Kyso window, never into a web page.",
        pin_length=(request.min_length, request.max_length),
    )


def pin_too_short(pin: str, text: PromptText) -> str | None:
    """The hint to show when ``pin`` is shorter than the token accepts (None when fine)."""
    minimum = text.pin_length[0]
    if minimum and len(pin) < minimum:
        return f"Mã PIN cần ít nhất {minimum} ký tự · The PIN needs at least {minimum} characters"
    return None


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
