"""What the token PIN prompts say: the PIN typed in Kyso's window, the PIN-pad reader's window,
and the "PIN locked" notice. Pure: a :class:`PinRequest` in, a :class:`PromptText` out.

``lang`` is the dialog's language ("vi" or "en"); "" gives both, Vietnamese first (terminal,
scripted log). The token's label and serial and the certificate's subject are untrusted
(whatever the token's or the CA's maker wrote) and rendered inert.
"""

from __future__ import annotations

from agent.tokens.pin import PinRequest
from agent.ui.certtext import APP
from agent.ui.prompt_model import Choice, Field, PromptText, Section, Warning, pick
from agent.ui.untrusted import LABEL_LIMIT, TITLE_LIMIT, render_untrusted

# previous_error code of the PIN-pad notice shown after Cancel while the reader still waits
# (agent.tokens.pinpad.CANCELLING; not imported: the UI only reads requests).
PIN_PAD_CANCELLING = "USER_CANCELLED"


def _u(text: object, limit: int) -> str:
    return render_untrusted(text, limit)


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


def token_fields(request: PinRequest, lang: str = "") -> list[Field]:
    """Which token (label and serial) and which certificate the PIN is for."""
    serial = pick("số sê-ri", "serial", lang)
    fields = [
        Field(
            "USB token",
            "",
            f"{_u(request.token_label, LABEL_LIMIT)} ({serial} {_u(request.token_serial, LABEL_LIMIT)})",
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
    return fields


def _title(vi: str, en: str, lang: str) -> str:
    return f"{APP} — {pick(vi, en, lang)}"


def locked_text(request: PinRequest, fields: list[Field], lang: str = "") -> PromptText:
    """The PIN is locked (now, or already): nothing to type, only "Close"."""
    just_locked = request.retry
    return PromptText(
        kind="pin",
        title=_title("Mã PIN bị khóa", "PIN locked", lang),
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
        lang=lang,
    )


def pin_text(request: PinRequest, lang: str = "") -> PromptText:
    """The PIN prompt: which token, for which certificate, and how many tries are left."""
    fields = token_fields(request, lang)
    if request.min_length or request.max_length:
        length = (
            f"{request.min_length}–{request.max_length}"
            if request.min_length and request.max_length
            else str(request.min_length or request.max_length)
        )
        unit = pick("ký tự", "characters", lang)
        fields.append(Field("Độ dài mã PIN", "PIN length", f"{length} {unit}"))
    if request.state.locked:
        return locked_text(request, fields, lang)
    retry = request.retry
    return PromptText(
        kind="pin",
        title=_title("Nhập lại mã PIN", "Enter the PIN again", lang)
        if retry
        else _title("Nhập mã PIN", "Enter PIN", lang),
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
        lang=lang,
    )


def pin_pad_text(request: PinRequest, lang: str = "") -> PromptText:
    """The window shown while a PIN-pad reader waits for the PIN typed on its own keypad.

    Kyso cannot interrupt a reader that waits (PKCS#11 has no call for it): Cancel here stops
    the signing, and the reader's own Cancel key (or its timeout) ends its wait. After Cancel,
    ``request.previous_error`` is :data:`PIN_PAD_CANCELLING` and the window says so."""
    fields = token_fields(request, lang)
    if pin_pad_cancelling(request):
        return PromptText(
            kind="pin_pad",
            title=_title("Đang hủy ký số", "Cancelling the signature", lang),
            question_vi="Đã hủy. Hãy nhấn phím Hủy (Cancel) trên đầu đọc thẻ",
            question_en="Cancelled. Press the Cancel key on the card reader",
            sections=(Section("", tuple(fields)),),
            choices=(Choice("close", "Đóng", "Close", "cancel"),),
            note_vi=(
                "Sẽ không có gì được ký. Đầu đọc thẻ vẫn đang chờ mã PIN và Kyso không thể dừng "
                "nó: nhấn phím Hủy trên đầu đọc, hoặc chờ đầu đọc tự hết thời gian chờ."
            ),
            note_en=(
                "Nothing will be signed. The card reader is still waiting for the PIN and Kyso "
                "cannot stop it: press Cancel on the reader, or wait until the reader gives up."
            ),
            lang=lang,
        )
    retry = request.retry
    return PromptText(
        kind="pin_pad",
        title=_title("Nhập mã PIN trên đầu đọc thẻ", "Enter the PIN on the card reader", lang),
        question_vi=(
            "Nhập lại mã PIN trên bàn phím của đầu đọc thẻ"
            if retry
            else "Nhập mã PIN trên bàn phím của đầu đọc thẻ"
        ),
        question_en=(
            "Enter the PIN again on the card reader's keypad"
            if retry
            else "Enter the PIN on the card reader's keypad"
        ),
        sections=(Section("", tuple(fields)),),
        warnings=pin_warnings(request),
        choices=(Choice("cancel", "Hủy", "Cancel", "cancel"),),
        note_vi=(
            "Đầu đọc thẻ của bạn có bàn phím riêng: gõ mã PIN trên đầu đọc rồi nhấn phím OK "
            "của đầu đọc. Kyso không nhìn thấy mã PIN này. Nút Hủy ở đây dừng việc ký, nhưng "
            "đầu đọc vẫn chờ cho đến khi bạn nhấn phím Hủy trên đầu đọc."
        ),
        note_en=(
            "Your card reader has its own keypad: type the PIN on the reader, then press the "
            "reader's OK key. Kyso never sees this PIN. Cancel here stops the signing, but the "
            "reader keeps waiting until you press Cancel on the reader."
        ),
        lang=lang,
    )


def pin_pad_cancelling(request: PinRequest) -> bool:
    """True for the notice shown after Cancel while the reader still waits for its PIN."""
    error = request.previous_error
    return error is not None and error.code == PIN_PAD_CANCELLING


def pin_too_short(pin: str, text: PromptText) -> str | None:
    """The hint to show when ``pin`` is shorter than the token accepts (None when fine)."""
    minimum = text.pin_length[0]
    if minimum and len(pin) < minimum:
        return pick(
            f"Mã PIN cần ít nhất {minimum} ký tự",
            f"The PIN needs at least {minimum} characters",
            text.lang,
            " · ",
        )
    return None
