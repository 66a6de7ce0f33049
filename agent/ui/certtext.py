"""What a certificate looks like to a person: in the consent, and in the certificate picker.

Times are shown in Vietnam time (Asia/Ho_Chi_Minh, UTC+7, labelled as such), the way the user's
documents and the CA's paperwork write them. Everything a certificate's issuer or a token's
maker wrote (subject, issuer, token label) goes through render_untrusted.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence

from agent.signing.consent import ConsentItem, mst_mismatch
from agent.tokens.certinfo import CertificateInfo
from agent.ui.api import CertificateChoice, CertificateOption, ProviderNote, SignInOption
from agent.ui.prompt_model import Choice, Field, PromptText, Section, Warning, pick
from agent.ui.untrusted import LABEL_LIMIT, TITLE_LIMIT, render_origin, render_untrusted

APP = "Kyso"
# Vietnam has kept UTC+7 without daylight saving since 1975: a fixed offset needs no tz data
# (Windows Pythons often have none).
VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")
VN_TIME_LABEL = ("giờ Việt Nam", "Vietnam time")

PROBLEMS: dict[str, tuple[str, str]] = {
    "EXPIRED": ("đã hết hạn", "expired"),
    "NOT_YET_VALID": ("chưa có hiệu lực", "not yet valid"),
    "NO_SIGNING_KEY_USAGE": ("không dùng để ký", "not for signing"),
    "CA_CERTIFICATE": ("chứng thư CA", "a CA certificate"),
    "UNSUPPORTED_CRITICAL_EXTENSION": (
        "có phần mở rộng bắt buộc (critical) không được hỗ trợ: chữ ký sẽ bị từ chối",
        "an unsupported critical extension: its signatures would be refused",
    ),
    "NO_PRIVATE_KEY": ("không có khóa bí mật trên token", "no private key on the token"),
    "KEY_CANNOT_SIGN": (
        "khóa bí mật trên token không được phép ký",
        "the private key on the token may not sign",
    ),
    "KEY_CERT_MISMATCH": (
        "khóa bí mật trên token không khớp với chứng thư này",
        "the private key on the token does not match this certificate",
    ),
    "REMOTE_DISABLED": ("nhà cung cấp đã khóa hoặc thu hồi", "disabled or revoked by the provider"),
    "REVOKED": ("đã bị thu hồi (theo OCSP/CRL của CA)", "revoked (the CA's OCSP/CRL says so)"),
}


def problem_text(code: str, lang: str = "") -> str:
    """Why a certificate cannot be chosen, in ``lang`` ("" = both); an unknown code as is."""
    vi, en = PROBLEMS.get(code, (code, code))
    return pick(vi, en, lang)


def _u(text: object, limit: int) -> str:
    return render_untrusted(text, limit)


def format_date(iso: str) -> str:
    """ISO 8601 -> dd/mm/yyyy (in Vietnam time), the way Vietnamese documents write dates."""
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if when.tzinfo is not None:
        when = when.astimezone(VIETNAM)
    return when.strftime("%d/%m/%Y")


def format_vn_time(iso: str) -> str:
    """ISO 8601 (UTC) -> "dd/mm/yyyy HH:MM" in Vietnam time; unparseable text as it came."""
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if when.tzinfo is None:  # the certificate layer writes UTC
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")


_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def key_text(cert: CertificateInfo) -> str:
    """ "RSA 2048 bit" or "EC P-256"."""
    if cert.key_type == "EC":
        curve = _CURVES.get(cert.curve or "", cert.curve or str(cert.key_size))
        return f"EC {curve}"
    return f"{cert.key_type} {cert.key_size} bit"


_TIME_PROBLEMS = frozenset({"EXPIRED", "NOT_YET_VALID"})


def _validity(cert: CertificateInfo, lang: str, out_of_time: frozenset[str]) -> Field:
    return Field(
        "Hiệu lực",
        "Valid",
        f"{format_vn_time(cert.not_before)} – {format_vn_time(cert.not_after)} "
        f"({pick(*VN_TIME_LABEL, lang)})",
        "danger" if out_of_time else "normal",
    )


def certificate_fields(cert: CertificateInfo, lang: str = "") -> tuple[Field, ...]:
    """Holder, identifiers, issuer, validity (Vietnam time) and key of a certificate."""
    # Every consent shows the same few certificates: their fields are built once per
    # certificate, language and validity (the line turns red the moment it expires).
    return _certificate_fields(cert, lang, _TIME_PROBLEMS.intersection(cert.problems()))


@functools.lru_cache(maxsize=64)
def _certificate_fields(
    cert: CertificateInfo, lang: str, out_of_time: frozenset[str]
) -> tuple[Field, ...]:
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
    fields.append(_validity(cert, lang, out_of_time))
    fields.append(Field("Khóa", "Key", key_text(cert)))
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
    if "UNSUPPORTED_CRITICAL_EXTENSION" in problems:
        out.append(
            Warning(
                "Chứng thư số có phần mở rộng bắt buộc (critical) mà phần mềm kiểm tra chữ ký "
                "không xử lý được: chữ ký tạo ra sẽ bị từ chối.",
                "The certificate has a critical extension that signature verifiers do not "
                "handle: its signatures would be refused.",
                "danger",
            )
        )
    kinds = dict.fromkeys(kind for kind, _ in cert.ambiguous_ids)
    out.extend(
        _ambiguity_warning(kind, [v for k, v in cert.ambiguous_ids if k == kind]) for kind in kinds
    )
    return tuple(out)


_ID_KINDS = {
    "MST": ("mã số thuế", "tax codes (MST)"),
    "MNS": ("mã đơn vị ngân sách", "budget unit codes (MNS)"),
    "CCCD": ("số CCCD", "citizen ID numbers (CCCD)"),
    "CMND": ("số CMND", "ID card numbers (CMND)"),
    "HC": ("số hộ chiếu", "passport numbers"),
}


def _ambiguity_warning(kind: str, values: Sequence[str]) -> Warning:
    # The subject names two different values: Kyso takes neither as the certificate's (nor
    # compares either with the document), since the portal or another program may take the
    # other one. Both are shown, so the user can see what the certificate says.
    vi, en = _ID_KINDS.get(kind, (kind, kind))
    shown = _u(", ".join(values), TITLE_LIMIT)
    return Warning(
        f"Chứng thư số ghi hai {vi} khác nhau ({shown}): không xác định được chứng thư số "
        "này thuộc đơn vị hay người nào. Chỉ ký khi chắc chắn; hỏi nhà cung cấp chữ ký số.",
        f"The certificate names two different {en} ({shown}): there is no telling whose "
        "certificate it is. Sign only if you are sure; ask your certificate provider.",
        "danger",
    )


def mst_warnings(cert: CertificateInfo | None, items: Sequence[ConsentItem]) -> tuple[Warning, ...]:
    """A red warning when the document names a unit (MST) other than the certificate's."""
    other = mst_mismatch(cert.mst if cert else None, tuple(items))
    if other is None or cert is None:
        return ()
    doc, mine = _u(other, LABEL_LIMIT), _u(cert.mst, LABEL_LIMIT)
    return (
        Warning(
            f"Mã số thuế trong tài liệu ({doc}) KHÁC mã số thuế của chứng thư số ({mine}). "
            "Bạn có thể đang ký bằng chứng thư số của đơn vị khác.",
            f"The tax code in the document ({doc}) DIFFERS from the certificate's ({mine}). "
            "You may be signing with another unit's certificate.",
            "danger",
        ),
    )


def token_heading(option: CertificateOption, lang: str = "") -> str:
    """ "USB token: KYSO DEMO 1 · số sê-ri / serial 0a1b2c3d" (the label rendered inert); a
    remote credential's group is its provider: "Ký số từ xa: … · remote signing"."""
    if option.remote_provider:
        provider = _u(option.remote_provider, LABEL_LIMIT)
        if lang == "en":
            return f"Remote signing: {provider}"
        return f"Ký số từ xa: {provider}" + ("" if lang else " · remote signing")
    if not option.token_label and not option.token_serial:
        return ""
    label = _u(option.token_label, LABEL_LIMIT)
    serial = _u(option.token_serial, LABEL_LIMIT)
    return f"USB token: {label} · {pick('số sê-ri', 'serial', lang)} {serial}"


def option_subtitle(option: CertificateOption, filtered: bool, lang: str = "") -> str:
    """Why a row cannot be chosen; or, when the page said what it wants, that this is not it."""
    if option.problems:
        return "; ".join(problem_text(p, lang) for p in option.problems)
    if filtered and not option.matches:
        return pick("không khớp yêu cầu của trang web", "not what the website asked for", lang)
    return ""


def sign_in_section(option: SignInOption, lang: str = "") -> Section:
    """The picker row "Đăng nhập dịch vụ ký số từ xa <provider>" / "Sign in to <provider>",
    under the provider's remote-signing heading (the name rendered inert)."""
    name = _u(option.label, LABEL_LIMIT)
    return Section(
        pick(f"Đăng nhập dịch vụ ký số từ xa {name}", f"Sign in to {name}", lang),
        (
            Field(
                "Đăng nhập",
                "Sign in",
                pick(
                    "trang đăng nhập của nhà cung cấp mở trong trình duyệt, rồi chứng thư số "
                    "của bạn hiện ở đây",
                    "the provider's sign-in page opens in your browser, then your certificates "
                    "appear here",
                    lang,
                ),
            ),
        ),
        "",
        _remote_heading(name, lang),
    )


def _remote_heading(provider: str, lang: str) -> str:
    # The same words as token_heading gives a remote credential's group.
    if lang == "en":
        return f"Remote signing: {provider}"
    return f"Ký số từ xa: {provider}" + ("" if lang else " · remote signing")


def provider_warning(note: ProviderNote) -> Warning:
    """A remote signing service the picker does not wait for (still loading) or could not
    reach: its certificates are missing from the list, and the user is told so."""
    name = _u(note.label, LABEL_LIMIT)
    if note.state == "loading":
        return Warning(
            f"Dịch vụ ký số từ xa {name} chưa trả lời nên chứng thư số của dịch vụ này chưa có "
            "trong danh sách. Nếu cần dùng, hãy đóng cửa sổ này và thử lại sau ít giây.",
            f"The remote signing service {name} has not answered yet, so its certificates are "
            "not in this list. If you need one, close this window and try again in a moment.",
        )
    return Warning(
        f"Không kết nối được dịch vụ ký số từ xa {name}: chứng thư số của dịch vụ này không có "
        "trong danh sách. Kiểm tra kết nối mạng rồi thử lại.",
        f"Could not reach the remote signing service {name}: its certificates are not in this "
        "list. Check the network connection and try again.",
    )


def certificate_choice_text(request: CertificateChoice, lang: str = "") -> PromptText:
    """Pick one of the certificates on the plugged-in tokens, grouped by token; then the
    remote signing services the user can sign in to (one section per row key, in order)."""
    sections = []
    for option in request.rows():
        cert = option.certificate
        sections.append(
            Section(
                _u(cert.subject_display, TITLE_LIMIT),
                certificate_fields(cert, lang)[1:],
                option_subtitle(option, request.filtered, lang),
                token_heading(option, lang),
            )
        )
    sections += [sign_in_section(s, lang) for s in request.sign_ins]
    return PromptText(
        kind="certificate",
        lang=lang,
        title=f"{APP} — {pick('Chọn chứng thư số', 'Choose a certificate', lang)}",
        question_vi="Chọn chứng thư số để dùng cho trang web này",
        question_en="Choose the certificate to use for this website",
        origin=render_origin(request.origin),
        sections=tuple(sections),
        warnings=tuple(provider_warning(n) for n in request.providers_missing),
        choices=(
            Choice("choose", "Chọn", "Choose", "primary"),
            Choice("cancel", "Hủy", "Cancel", "cancel"),
        ),
        note_vi=(
            "Kiểm tra tên USB token và mã số thuế: mã PIN nhập sau đây là của token được chọn."
        ),
        note_en="Check the token's name and the tax code: the PIN you enter next is that token's.",
    )


# The labels of an item's lines that must reach the top of a batch's consent: Kyso's warnings
# (active content, layers, changes after an earlier signature...), a lock, a certification.
_ALARM_LABELS = ("Cảnh báo", "Khoá", "Chữ ký chứng nhận")
_ITEMS_NAMED = 8  # items named in one batch warning; past these, how many more


def alarming(item: ConsentItem) -> bool:
    """Whether an item carries a warning or a lock of its own (its lines say so)."""
    return any(label.startswith(_ALARM_LABELS) for label, _ in item.lines)


def batch_warnings(items: Sequence[ConsentItem]) -> tuple[Warning, ...]:
    """For a batch: which items carry a warning of their own (named at the top, not only in
    their section far down the list), and which items are the same document twice (the same
    SHA-256: it would be signed twice)."""
    if len(items) < 2:
        return ()
    warned = [i for i, item in enumerate(items, 1) if alarming(item)]
    out: list[Warning] = []
    if warned:
        named = _numbers(warned)
        out.append(
            Warning(
                f"Tài liệu {named} có cảnh báo hoặc khoá tài liệu: đọc kỹ mục của tài liệu đó "
                "trước khi ký.",
                f"Document(s) {named} carry a warning or lock the document: read that item "
                "before signing.",
                "danger",
            )
        )
    first: dict[str, int] = {}
    twice: list[tuple[int, int]] = []
    for i, item in enumerate(items, 1):
        if item.sha256:
            if item.sha256 in first:
                twice.append((first[item.sha256], i))
            else:
                first[item.sha256] = i
    if twice:
        pairs = ", ".join(f"{a} = {b}" for a, b in twice[:_ITEMS_NAMED])
        more = f" (+{len(twice) - _ITEMS_NAMED})" if len(twice) > _ITEMS_NAMED else ""
        out.append(
            Warning(
                f"Có tài liệu giống hệt nhau ({pairs}{more}): mỗi bản sẽ được ký một lần nữa.",
                f"Some documents are identical ({pairs}{more}): each copy is signed again.",
                "danger",
            )
        )
    return tuple(out)


def _numbers(indexes: list[int]) -> str:
    shown = ", ".join(str(i) for i in indexes[:_ITEMS_NAMED])
    return shown + (f" (+{len(indexes) - _ITEMS_NAMED})" if len(indexes) > _ITEMS_NAMED else "")
