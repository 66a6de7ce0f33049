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

import datetime as dt
from dataclasses import dataclass

from agent.tokens.certinfo import CertificateInfo
from agent.tokens.pin import PinRequest
from agent.ui.api import CertificateChoice, ConsentItem, ConsentRequest, PairingRequest
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


@dataclass(frozen=True)
class Field:
    """One labelled value: "Mã số thuế · Tax code: 0101234567"."""

    label_vi: str
    label_en: str
    value: str
    style: str = "normal"  # "normal", "bold", "mono" or "danger"

    @property
    def label(self) -> str:
        """Both labels, Vietnamese first."""
        return f"{self.label_vi} · {self.label_en}" if self.label_en else self.label_vi


@dataclass(frozen=True)
class Section:
    """A titled group of fields (the certificate, one signed item...)."""

    title: str
    fields: tuple[Field, ...]
    subtitle: str = ""


@dataclass(frozen=True)
class Choice:
    """A button: its answer key, its bilingual label, and its role."""

    key: str
    label_vi: str
    label_en: str
    role: str = "normal"  # "primary", "normal" or "cancel" (Escape and closing the window)

    @property
    def label(self) -> str:
        """The caption shown on the button."""
        return f"{self.label_vi} / {self.label_en}"


@dataclass(frozen=True)
class Warning:
    """A highlighted message (tries left, final try, locked, expired certificate)."""

    vi: str
    en: str
    severity: str = "warning"  # "warning" (amber) or "danger" (red)


@dataclass(frozen=True)
class PromptText:
    """Everything one prompt shows."""

    kind: str  # "pair", "consent", "certificate" or "pin"
    title: str  # window title
    question_vi: str
    question_en: str
    origin: str = ""  # shown in bold on its own line
    sections: tuple[Section, ...] = ()
    warnings: tuple[Warning, ...] = ()
    choices: tuple[Choice, ...] = ()
    note_vi: str = ""
    note_en: str = ""
    summary_vi: str = ""  # what the page asks for, in one sentence (shown under the origin)
    summary_en: str = ""
    pin_length: tuple[int, int] = (0, 0)  # (min, max) PIN length the token accepts; 0 = unknown


# --- formatting helpers -------------------------------------------------------------------


def format_date(iso: str) -> str:
    """ISO 8601 -> dd/mm/yyyy, the way Vietnamese documents write dates."""
    try:
        return dt.datetime.fromisoformat(iso).strftime("%d/%m/%Y")
    except ValueError:
        return iso


def group_hex(digest: str, size: int = 8) -> str:
    """A long hex digest in groups, so a person can compare it piece by piece."""
    digest = digest.lower()
    return " ".join(digest[i : i + size] for i in range(0, len(digest), size))


def certificate_fields(cert: CertificateInfo) -> tuple[Field, ...]:
    """Holder, identifiers, issuer and validity of a certificate."""
    # A certificate's subject is whatever its issuer wrote: untrusted like page text.
    fields = [Field("Người sở hữu", "Holder", _u(cert.subject_display, TITLE_LIMIT), "bold")]
    for value, vi, en in (
        (cert.mst, "Mã số thuế", "Tax code (MST)"),
        (cert.cccd, "Số CCCD", "Citizen ID (CCCD)"),
        (cert.cmnd, "Số CMND", "ID card (CMND)"),
        (cert.mns, "Mã đơn vị NS", "Budget unit code (MNS)"),
    ):
        if value:
            fields.append(Field(vi, en, _u(value, LABEL_LIMIT), "bold"))
    fields.append(Field("Nhà cung cấp", "Issuer", _u(cert.issuer_cn or cert.issuer, TITLE_LIMIT)))
    problems = cert.problems()
    validity = f"{format_date(cert.not_before)} – {format_date(cert.not_after)}"
    fields.append(
        Field(
            "Hiệu lực",
            "Valid",
            validity,
            "danger" if {"EXPIRED", "NOT_YET_VALID"} & set(problems) else "normal",
        )
    )
    return tuple(fields)


def certificate_warnings(cert: CertificateInfo | None) -> tuple[Warning, ...]:
    """Problems a person must see before using this certificate."""
    if cert is None:
        return ()
    out = []
    problems = set(cert.problems())
    if "EXPIRED" in problems:
        out.append(Warning("Chứng thư số đã hết hạn.", "The certificate has expired.", "danger"))
    if "NOT_YET_VALID" in problems:
        out.append(
            Warning(
                "Chứng thư số chưa đến ngày hiệu lực.",
                "The certificate is not valid yet.",
                "danger",
            )
        )
    if "NO_SIGNING_KEY_USAGE" in problems:
        out.append(
            Warning(
                "Chứng thư số này không dùng để ký số.",
                "This certificate is not meant for signing.",
            )
        )
    return tuple(out)


def item_section(item: ConsentItem, index: int, total: int) -> Section:
    """One thing to be signed: its title, its summary lines and its SHA-256."""
    fields = [
        Field(*split_label(_u(label, LABEL_LIMIT)), _u(value, VALUE_LIMIT))
        for label, value in item.lines
    ]
    if item.sha256:
        digest = group_hex(_u(item.sha256, 2 * LABEL_LIMIT))
        fields.append(Field("Mã băm SHA-256", "SHA-256", digest, "mono"))
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
        sections.append(
            Section("Chứng thư số · Certificate", certificate_fields(request.certificate))
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
        warnings=certificate_warnings(request.certificate),
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


def certificate_choice_text(request: CertificateChoice) -> PromptText:
    """Pick one of the certificates on the plugged-in tokens."""
    sections = []
    for cert in request.certificates:
        problems = cert.problems()
        subtitle = ""
        if problems:
            subtitle = "; ".join(_PROBLEM_TEXT.get(p, p) for p in problems)
        sections.append(
            Section(_u(cert.subject_display, TITLE_LIMIT), certificate_fields(cert)[1:], subtitle)
        )
    return PromptText(
        kind="certificate",
        title=f"{APP} — Chọn chứng thư số / Choose a certificate",
        question_vi="Chọn chứng thư số để dùng cho trang web này",
        question_en="Choose the certificate to use for this website",
        origin=render_origin(request.origin),
        sections=tuple(sections),
        choices=(
            Choice("choose", "Chọn", "Choose", "primary"),
            Choice("cancel", "Hủy", "Cancel", "cancel"),
        ),
    )


_PROBLEM_TEXT = {
    "EXPIRED": "đã hết hạn / expired",
    "NOT_YET_VALID": "chưa có hiệu lực / not yet valid",
    "NO_SIGNING_KEY_USAGE": "không dùng để ký / not for signing",
    "CA_CERTIFICATE": "chứng thư CA / a CA certificate",
}


def pin_warnings(request: PinRequest) -> tuple[Warning, ...]:
    """What the token's PIN flags mean for the person typing."""
    state = request.state
    if state.locked:
        return (
            Warning(
                "Mã PIN đã bị khóa. Liên hệ nhà cung cấp chữ ký số để mở khóa token.",
                "The PIN is locked. Contact your certificate provider to unlock the token.",
                "danger",
            ),
        )
    if state.final_try:
        return (
            Warning(
                "Chỉ còn MỘT lần thử: nhập sai lần nữa, token sẽ bị khóa.",
                "ONE try left: one more wrong PIN locks the token.",
                "danger",
            ),
        )
    if state.count_low:
        return (
            Warning(
                "Đã có lần nhập sai mã PIN. Hãy nhập cẩn thận: token sẽ bị khóa nếu nhập sai quá "
                "số lần cho phép.",
                "A wrong PIN was entered before. Type carefully: the token locks after too many "
                "wrong PINs.",
                "danger",
            ),
        )
    return ()


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
        return PromptText(
            kind="pin",
            title=f"{APP} — Mã PIN bị khóa / PIN locked",
            question_vi="Không thể ký: mã PIN của USB token đã bị khóa",
            question_en="Cannot sign: the token's PIN is locked",
            sections=(Section("", tuple(fields)),),
            warnings=pin_warnings(request),
            choices=(Choice("cancel", "Đóng", "Close", "cancel"),),
        )
    return PromptText(
        kind="pin",
        title=f"{APP} — Nhập mã PIN / Enter PIN",
        question_vi="Nhập mã PIN của USB token để ký",
        question_en="Enter your USB token's PIN to sign",
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
    for section in text.sections:
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
