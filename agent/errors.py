"""The one table of errors a user can meet, with stable codes and bilingual, actionable text.

Every layer raises :class:`KysoError` with a code from :data:`ERRORS`. The agent protocol sends
the same code, messages and action to the page (``data`` of a JSON-RPC error), the CLI prints
them, and the portal stub shows them. Codes never change meaning once published; add new ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ErrorSpec:
    """One row of the error table: what happened and what the user should do, in vi and en."""

    code: str
    vi: str
    en: str
    action_vi: str
    action_en: str
    # JSON-RPC error number used by the agent protocol (application range -32000..-32099 is
    # reserved by JSON-RPC for server errors, so ours live in 1000..4999, grouped by area).
    rpc_code: int


def _e(code: str, rpc: int, vi: str, en: str, action_vi: str, action_en: str) -> ErrorSpec:
    return ErrorSpec(code, vi, en, action_vi, action_en, rpc)


_TABLE: tuple[ErrorSpec, ...] = (
    # --- 1xxx: PKCS#11 modules and tokens -------------------------------------------------
    _e(
        "MODULE_NOT_FOUND",
        1001,
        "Không tìm thấy thư viện PKCS#11 của USB token.",
        "No PKCS#11 module for the USB token was found.",
        "Cài phần mềm (driver) của nhà cung cấp chữ ký số, hoặc khai báo đường dẫn thư viện "
        "trong cấu hình Kyso (pkcs11_modules), rồi thử lại.",
        "Install your certificate provider's token driver, or set the module path in Kyso's "
        "configuration (pkcs11_modules), then try again.",
    ),
    _e(
        "MODULE_LOAD_FAILED",
        1002,
        "Không nạp được thư viện PKCS#11 {module}.",
        "The PKCS#11 module {module} could not be loaded.",
        "Cài lại driver USB token của nhà cung cấp; kiểm tra thư viện đúng kiến trúc máy "
        "(64-bit). Chạy 'kyso-agent doctor' để xem chi tiết.",
        "Reinstall the token vendor's driver and check the module matches this machine "
        "(64-bit). Run 'kyso-agent doctor' for details.",
    ),
    _e(
        "TOKEN_NOT_FOUND",
        1003,
        "Không tìm thấy USB token nào.",
        "No USB token was found.",
        "Cắm USB token chữ ký số vào máy, đợi đèn token sáng rồi thử lại.",
        "Plug in your signing USB token, wait for its light, and try again.",
    ),
    _e(
        "TOKEN_REMOVED",
        1004,
        "USB token đã bị rút ra trong khi đang thao tác.",
        "The USB token was removed during the operation.",
        "Cắm lại USB token rồi thực hiện lại thao tác ký. Không có gì đã được ký.",
        "Plug the token back in and sign again. Nothing was signed.",
    ),
    _e(
        "CERT_NOT_FOUND",
        1005,
        "Không tìm thấy chứng thư số đã chọn trên các USB token đang cắm.",
        "The chosen certificate is not on any plugged-in token.",
        "Cắm đúng USB token chứa chứng thư số, hoặc chọn chứng thư số khác.",
        "Plug in the token that holds this certificate, or choose another certificate.",
    ),
    _e(
        "KEY_NOT_FOUND",
        1006,
        "Chứng thư số không có khóa bí mật tương ứng trên USB token.",
        "The certificate has no matching private key on the token.",
        "Chọn chứng thư số khác, hoặc liên hệ nhà cung cấp chữ ký số để kiểm tra token.",
        "Choose another certificate, or ask your certificate provider to check the token.",
    ),
    _e(
        "MECHANISM_UNSUPPORTED",
        1007,
        "USB token không hỗ trợ thuật toán ký {algorithm}.",
        "The token does not support the signature algorithm {algorithm}.",
        "Chọn thuật toán khác (ví dụ RSA-SHA256) hoặc dùng chứng thư số trên token khác.",
        "Choose another algorithm (for example RSA-SHA256) or a certificate on another token.",
    ),
    _e(
        "TOKEN_ERROR",
        1008,
        "USB token báo lỗi: {detail}.",
        "The token reported an error: {detail}.",
        "Rút USB token ra, cắm lại rồi thử lại. Nếu vẫn lỗi, chạy 'kyso-agent doctor'.",
        "Unplug and re-plug the token and try again. If it persists, run 'kyso-agent doctor'.",
    ),
    # --- 2xxx: PIN and the user -----------------------------------------------------------
    _e(
        "PIN_INCORRECT",
        2001,
        "Mã PIN không đúng.",
        "The PIN is incorrect.",
        "Nhập lại mã PIN cẩn thận. Token sẽ bị khóa nếu nhập sai quá số lần cho phép.",
        "Enter the PIN again carefully. The token locks after too many wrong PINs.",
    ),
    _e(
        "PIN_FINAL_TRY",
        2002,
        "Mã PIN không đúng. Chỉ còn MỘT lần thử trước khi token bị khóa.",
        "The PIN is incorrect. ONE try is left before the token locks.",
        "Nếu không chắc mã PIN, dừng lại và liên hệ nhà cung cấp chữ ký số.",
        "If you are not sure of the PIN, stop and contact your certificate provider.",
    ),
    _e(
        "PIN_LOCKED",
        2003,
        "Mã PIN của USB token đã bị khóa.",
        "The token's PIN is locked.",
        "Liên hệ nhà cung cấp chữ ký số (hoặc dùng mã PUK/SO PIN) để mở khóa token.",
        "Contact your certificate provider (or use the PUK / SO PIN) to unlock the token.",
    ),
    _e(
        "PIN_INVALID",
        2004,
        "Mã PIN không hợp lệ (độ dài hoặc ký tự không đúng).",
        "The PIN is not valid (wrong length or characters).",
        "Nhập mã PIN đúng định dạng của token (thường 4–16 ký tự).",
        "Enter a PIN in the token's format (usually 4–16 characters).",
    ),
    _e(
        "USER_CANCELLED",
        2005,
        "Người dùng đã hủy thao tác.",
        "The user cancelled the operation.",
        "Không có gì được ký. Bấm lại nút ký khi sẵn sàng.",
        "Nothing was signed. Press the sign button again when ready.",
    ),
    _e(
        "USER_TIMEOUT",
        2006,
        "Hết thời gian chờ người dùng xác nhận.",
        "Timed out waiting for the user.",
        "Không có gì được ký. Bấm lại nút ký và xác nhận trong cửa sổ Kyso.",
        "Nothing was signed. Press the sign button again and confirm in the Kyso window.",
    ),
    # --- 3xxx: documents and signature formats --------------------------------------------
    _e(
        "INPUT_INVALID",
        3001,
        "Dữ liệu không hợp lệ: {detail}.",
        "Invalid input: {detail}.",
        "Kiểm tra lại tệp hoặc tham số rồi thử lại.",
        "Check the file or parameters and try again.",
    ),
    # --- 9xxx: internal ---------------------------------------------------------------------
    _e(
        "INTERNAL_ERROR",
        9001,
        "Lỗi không mong đợi trong Kyso: {detail}.",
        "Unexpected error in Kyso: {detail}.",
        "Thử lại. Nếu vẫn lỗi, gửi tệp nhật ký của Kyso cho bộ phận hỗ trợ.",
        "Try again. If it persists, send Kyso's log file to support.",
    ),
)

ERRORS: dict[str, ErrorSpec] = {spec.code: spec for spec in _TABLE}


class _KeepMissing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass
class KysoError(Exception):
    """An error a user can act on. ``details`` fill the message placeholders and travel along."""

    code: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in ERRORS:
            raise ValueError(f"unknown error code {self.code!r}: add it to agent.errors")
        super().__init__(self.message_en)

    @property
    def spec(self) -> ErrorSpec:
        """The table row behind this error."""
        return ERRORS[self.code]

    def _fmt(self, text: str) -> str:
        return text.format_map(_KeepMissing(self.details))

    @property
    def message_vi(self) -> str:
        """The Vietnamese message, with details filled in."""
        return self._fmt(self.spec.vi)

    @property
    def message_en(self) -> str:
        """The English message, with details filled in."""
        return self._fmt(self.spec.en)

    def to_dict(self) -> dict[str, Any]:
        """The wire form shared by the protocol, the CLI's --json output and the portal."""
        return {
            "code": self.code,
            "message_vi": self.message_vi,
            "message_en": self.message_en,
            "action_vi": self._fmt(self.spec.action_vi),
            "action_en": self._fmt(self.spec.action_en),
            "details": {k: v for k, v in self.details.items() if _is_json_scalar(v)},
        }

    def __str__(self) -> str:
        return f"[{self.code}] {self.message_en}"

    def __hash__(self) -> int:
        return id(self)


def _is_json_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)

