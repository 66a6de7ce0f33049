"""The one table of errors a user can meet, with stable codes and bilingual, actionable text.

Every layer raises :class:`KysoError` with a code from :data:`ERRORS`. The agent protocol sends
the same code, messages and action to the page (``data`` of a JSON-RPC error), the CLI prints
them, and the portal stub shows them. Codes never change meaning once published; add new ones.
"""

from __future__ import annotations

import enum
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
    group: ErrorGroup = field(default_factory=lambda: ErrorGroup.OTHER)


class ErrorGroup(enum.Enum):
    """What kind of failure a code is, for code that branches on it (never on code strings).

    Each code is in one group at most (:data:`_GROUP_MEMBERS`; the rest are ``OTHER``).
    """

    CANCELLED = "cancelled"  # called off before signing: the user said no or did not answer,
    # or the agent is stopping
    PIN = "pin"  # the PIN was wrong, is locked, or came from where it must not
    TOKEN_GONE = "token_gone"  # the token, its certificate or its key is no longer there
    TOKEN_FAULT = "token_fault"  # the module or token failed: its session cannot be trusted
    CERTIFICATE = "certificate"  # the signer's certificate is unfit now (time, use, revoked)
    INPUT = "input"  # the request or document cannot be signed as given: change it
    REMOTE_AUTH = "remote_auth"  # a remote signing service wants the user to sign in again
    REMOTE_SERVICE = "remote_service"  # a remote service answered, but not usably (now)
    OTHER = "other"


# The groups' members. A code added to the table below is OTHER until it is named here;
# tests/test_errors.py checks that every name here is a code of the table.
_GROUP_MEMBERS: dict[ErrorGroup, frozenset[str]] = {
    ErrorGroup.CANCELLED: frozenset(
        {"USER_CANCELLED", "USER_TIMEOUT", "AGENT_STOPPING", "PAGE_CLOSED"}
    ),
    ErrorGroup.PIN: frozenset(
        {"PIN_INCORRECT", "PIN_FINAL_TRY", "PIN_LOCKED", "PIN_INVALID", "PIN_NOT_ACCEPTED"}
    ),
    ErrorGroup.TOKEN_GONE: frozenset(
        {"TOKEN_NOT_FOUND", "TOKEN_REMOVED", "CERT_NOT_FOUND", "KEY_NOT_FOUND"}
    ),
    ErrorGroup.TOKEN_FAULT: frozenset(
        {
            "TOKEN_ERROR",
            "MODULE_NOT_FOUND",
            "MODULE_LOAD_FAILED",
            "MODULE_WRONG_ARCH",
            "TOKEN_DRIVER_MISSING",
            "KEY_CERT_MISMATCH",
        }
    ),
    ErrorGroup.CERTIFICATE: frozenset(
        {
            "CERT_EXPIRED",
            "CERT_NOT_YET_VALID",
            "CERT_KEY_USAGE",
            "CERT_CRITICAL_EXTENSION",
            "CERT_REVOKED",
        }
    ),
    ErrorGroup.REMOTE_AUTH: frozenset({"REMOTE_AUTH_REFUSED", "REMOTE_TOKEN_EXPIRED"}),
    ErrorGroup.REMOTE_SERVICE: frozenset({"REMOTE_PROTOCOL_ERROR", "REMOTE_BUSY"}),
    ErrorGroup.INPUT: frozenset(
        {
            "INPUT_INVALID",
            "PARAMS_INVALID",
            "MECHANISM_UNSUPPORTED",
            "DOCUMENT_TOO_LARGE",
            "XML_MALFORMED",
            "XML_TOO_LARGE",
            "XML_TOO_DEEP",
            "XML_UNSAFE",
            "XML_FIELD_AMBIGUOUS",
            "XML_ENCODING_UNSUPPORTED",
            "XML_PROFILE_UNKNOWN",
            "XML_PROFILE_MISMATCH",
            "XML_REQUEST_ORIGIN_MISMATCH",
            "XML_CONTAINER_MISSING",
            "XML_CONTAINER_AMBIGUOUS",
            "XML_ALREADY_SIGNED",
            "XML_SIGNATURE_UNSUPPORTED",
            "XML_ECDSA_NOT_ACCEPTED",
            "XML_SHA1_NOT_ACCEPTED",
            "XML_DOTNET_MISREAD",
            "XML_REFERENCE_ID_UNUSABLE",
            "XML_NAME_UNPORTABLE",
            "XML_NAMESPACE_RELATIVE",
            "XML_INHERITED_ATTRIBUTE",
            "XML_VERSION_UNSUPPORTED",
            "PDF_MALFORMED",
            "PDF_VERIFY_TIMEOUT",
            "PDF_TOO_MANY_PAGES",
            "PDF_ENCRYPTED",
            "PDF_ENCRYPTED_UNVERIFIABLE",
            "PDF_FIELD_ALREADY_SIGNED",
            "PDF_CERTIFIED_NO_CHANGES",
            "PDF_CERTIFY_AFTER_SIGNATURE",
            "PDF_PLACEMENT_INVALID",
            "PDF_ANCHOR_NOT_FOUND",
            "PDF_FIELD_REQUIREMENTS",
            "CMS_DATA_IS_PDF",
            "PDF_CERTIFIED_NO_NEW_FIELD",
        }
    ),
}
_GROUP_OF = {code: group for group, codes in _GROUP_MEMBERS.items() for code in codes}


def _e(code: str, rpc: int, vi: str, en: str, action_vi: str, action_en: str) -> ErrorSpec:
    return ErrorSpec(code, vi, en, action_vi, action_en, rpc, _GROUP_OF.get(code, ErrorGroup.OTHER))


def group_of(code: str) -> ErrorGroup:
    """The group of a code (a string from the log or the wire); OTHER if it is not a code."""
    spec = ERRORS.get(code)
    return spec.group if spec is not None else ErrorGroup.OTHER


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
    _e(
        "MODULE_WRONG_ARCH",
        1009,
        "Thư viện PKCS#11 {module} là bản {module_arch}, Kyso là chương trình {agent_arch} "
        "nên không nạp được.",
        "The PKCS#11 module {module} is {module_arch}; Kyso runs as {agent_arch} and cannot "
        "load it.",
        "Cài bản {agent_arch} của driver USB token (thường có trong cùng bộ cài của nhà cung "
        "cấp chữ ký số), hoặc khai báo đường dẫn thư viện {agent_arch} trong pkcs11_modules.",
        "Install the {agent_arch} version of the token driver (usually in the same package from "
        "your certificate provider), or set the path of its {agent_arch} module in "
        "pkcs11_modules.",
    ),
    _e(
        "TOKEN_DRIVER_MISSING",
        1010,
        "Đã thấy đầu đọc {reader} nhưng chưa có thư viện PKCS#11 cho token này.",
        "The reader {reader} is present, but no PKCS#11 module for this token is installed.",
        "Cài driver USB token của {driver_vi}, rồi rút token ra và cắm lại.",
        "Install the token driver from {driver_en}, then unplug and re-plug the token.",
    ),
    _e(
        "KEY_CERT_MISMATCH",
        1011,
        "Khóa bí mật trên USB token không thuộc về chứng thư số {subject}: token đang giữ một "
        "khóa khác dưới cùng mã định danh (CKA_ID {key_id}), thường là khóa hoặc chứng thư số cũ "
        "còn sót lại sau khi gia hạn. Chữ ký làm bằng khóa đó sẽ không hợp lệ.",
        "The private key on the token does not belong to the certificate {subject}: the token "
        "holds another key under the same identifier (CKA_ID {key_id}), usually an old key or "
        "certificate left over from a renewal. A signature made with it would be invalid.",
        "Chưa có gì được ký. Liên hệ nhà cung cấp chữ ký số (CA) để kiểm tra token và nạp lại "
        "chứng thư số đúng với khóa trên token (hoặc xóa khóa, chứng thư cũ); trong lúc chờ, hãy "
        "chọn chứng thư số khác nếu có.",
        "Nothing was signed. Ask your certificate provider (CA) to check the token and import "
        "the certificate that belongs to the token's key again (or remove the old key or "
        "certificate); meanwhile, choose another certificate if you have one.",
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
        "Không có gì được ký. Ký lại khi bạn sẵn sàng.",
        "Nothing was signed. Sign again when you are ready.",
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
        "Dữ liệu không hợp lệ: {detail_vi}.",
        "Invalid input: {detail}.",
        "Kiểm tra lại tệp hoặc tham số rồi thử lại.",
        "Check the file or parameters and try again.",
    ),
    # --- 31xx: XML dossiers: safe input, XML-DSig signing and verification (agent/signing/xml)
    _e(
        "XML_MALFORMED",
        3101,
        "Tệp XML bị lỗi cấu trúc, không đọc được: {detail}.",
        "The XML file is malformed and cannot be read: {detail}.",
        "Xuất lại tệp hồ sơ từ phần mềm kê khai; không sửa tệp bằng tay.",
        "Export the dossier again from the declaration software; do not edit it by hand.",
    ),
    _e(
        "XML_TOO_LARGE",
        3102,
        "Tệp XML quá lớn ({size} byte; tối đa {limit} byte).",
        "The XML file is too large ({size} bytes; the limit is {limit} bytes).",
        "Chia hồ sơ thành nhiều tệp nhỏ hơn, hoặc kiểm tra đã chọn đúng tệp.",
        "Split the dossier into smaller files, or check that the right file was chosen.",
    ),
    _e(
        "XML_TOO_DEEP",
        3103,
        "Tệp XML lồng nhau quá sâu (hơn {limit} cấp).",
        "The XML file is nested too deeply (more than {limit} levels).",
        "Tệp này không phải hồ sơ hợp lệ; xuất lại tệp từ phần mềm kê khai.",
        "This is not a valid dossier; export the file again from the declaration software.",
    ),
    _e(
        "XML_UNSAFE",
        3104,
        "Tệp XML chứa khai báo không an toàn ({detail}) nên không được xử lý.",
        "The XML file contains an unsafe construct ({detail}) and was not processed.",
        "Hồ sơ BHXH và thuế không dùng DOCTYPE hay thực thể (entity). Xuất lại tệp từ phần "
        "mềm kê khai; nếu tệp đến từ nguồn lạ, đừng ký nó.",
        "BHXH and tax dossiers never use DOCTYPE or entities. Export the file again from the "
        "declaration software; if it came from an unknown source, do not sign it.",
    ),
    _e(
        "XML_ENCODING_UNSUPPORTED",
        3105,
        "Bảng mã của tệp XML không được hỗ trợ ({encoding}).",
        "The XML file's character encoding is not supported ({encoding}).",
        "Lưu tệp ở dạng UTF-8 (bảng mã chuẩn của hồ sơ điện tử), dòng đầu ghi đúng "
        'encoding="UTF-8", rồi thử lại.',
        "Save the file as UTF-8 (the standard encoding for e-dossiers), its first line saying "
        'encoding="UTF-8" exactly, and try again.',
    ),
    _e(
        "XML_PROFILE_UNKNOWN",
        3106,
        "Không có kiểu ký XML '{profile}'.",
        "There is no XML signing profile '{profile}'.",
        "Chọn một trong các kiểu: {known}.",
        "Choose one of: {known}.",
    ),
    _e(
        "XML_PROFILE_MISMATCH",
        3107,
        "Tệp có phần tử gốc <{root}>, không phải loại hồ sơ của kiểu ký '{profile}'.",
        "The file's root element is <{root}>, which is not a '{profile}' document.",
        "Kiểm tra đã chọn đúng tệp. {hint_vi}",
        "Check that the right file was chosen. {hint_en}",
    ),
    _e(
        "XML_REQUEST_ORIGIN_MISMATCH",
        3140,
        "Yêu cầu cần ký được lập cho cổng {stated}, nhưng trang đang mở là {origin}.",
        "The request to sign was written for the portal {stated}, but the open page is {origin}.",
        "Không ký. Đóng trang này, tự gõ địa chỉ cổng giao dịch rồi thực hiện lại trên đúng cổng.",
        "Do not sign. Close this page, type the portal's address yourself and do it again there.",
    ),
    _e(
        "XML_CONTAINER_MISSING",
        3108,
        "Tệp không có phần tử <{container}> để đặt chữ ký (kiểu ký '{profile}').",
        "The file has no <{container}> element to hold the signature ('{profile}' profile).",
        "Xuất lại hồ sơ bằng phần mềm kê khai phiên bản mới; Kyso không tự đoán chỗ đặt chữ ký.",
        "Export the dossier again with an up-to-date declaration program; Kyso never guesses "
        "where a signature goes.",
    ),
    _e(
        "XML_CONTAINER_AMBIGUOUS",
        3109,
        "Tệp có {count} phần tử <{container}>, không biết đặt chữ ký vào đâu.",
        "The file has {count} <{container}> elements; it is unclear where the signature goes.",
        "Xuất lại hồ sơ bằng phần mềm kê khai; mỗi hồ sơ chỉ có một chỗ ký của đơn vị.",
        "Export the dossier again; a dossier has exactly one place for the unit's signature.",
    ),
    _e(
        "XML_ALREADY_SIGNED",
        3110,
        "Tệp đã có chữ ký trong <{container}>.",
        "The file is already signed (a signature is present in <{container}>).",
        "Không cần ký lại: nộp tệp đã ký. Muốn ký lại bằng chứng thư khác, hãy ký tệp gốc "
        "chưa ký (thêm chữ ký thứ hai sẽ làm hỏng chữ ký đầu tiên).",
        "No need to sign again: submit the signed file. To sign with another certificate, "
        "sign the original unsigned file (a second signature would break the first one).",
    ),
    _e(
        "NOT_SIGNED",
        3111,
        "Tệp chưa được ký số.",
        "The file is not signed.",
        "Ký tệp bằng USB token (kyso-agent sign-xml) rồi nộp lại.",
        "Sign the file with your USB token (kyso-agent sign-xml) and submit it again.",
    ),
    _e(
        "SIGNATURE_INVALID",
        3112,
        "Chữ ký không hợp lệ — tệp có thể đã bị sửa đổi sau khi ký.",
        "The signature is invalid — the file may have been modified after signing.",
        "Lấy lại tệp gốc chưa ký, ký lại và nộp ngay; không mở và lưu lại tệp sau khi ký.",
        "Take the original unsigned file, sign it again and submit it as is; never open and "
        "re-save a file after signing it.",
    ),
    _e(
        "TIMESTAMP_INVALID",
        3124,
        "Dấu thời gian của chữ ký không hợp lệ ({detail}): không thể tin thời điểm ký mà nó ghi.",
        "The signature's timestamp is not valid ({detail}): the time it states cannot be trusted.",
        "Chữ ký vẫn có thể đúng nhưng không chứng minh được thời điểm ký. Ký lại với một dịch vụ "
        "cấp dấu thời gian đang hoạt động, hoặc hỏi người gửi tệp.",
        "The signature itself may still be sound, but the time of signing is not proven. Sign "
        "again with a working timestamp authority, or ask whoever sent the file.",
    ),
    _e(
        "XML_SIGNATURE_UNSUPPORTED",
        3113,
        "Chữ ký dùng cách ký không được hỗ trợ: {detail}.",
        "The signature uses a form Kyso does not support: {detail}.",
        "Kiểm tra tệp bằng công cụ của cơ quan nhận hồ sơ, hoặc ký lại bằng Kyso.",
        "Check the file with the receiving agency's tool, or sign it again with Kyso.",
    ),
    _e(
        "OUTPUT_EXISTS",
        3114,
        "Tệp kết quả {path} đã tồn tại; Kyso không ghi đè.",
        "The output file {path} already exists; Kyso does not overwrite it.",
        "Chọn tên hoặc thư mục khác (-o / --out-dir), hoặc thêm --force nếu muốn ghi đè.",
        "Choose another name or folder (-o / --out-dir), or add --force to overwrite it.",
    ),
    _e(
        "SIGNED_COPY_EXISTS",
        3141,
        "Đã có tệp {path}; Kyso không ghi đè lên tệp đã có.",
        "{path} already exists; Kyso does not write over a file.",
        "Đổi tên hoặc chuyển tệp đó đi chỗ khác, hoặc chọn lưu «Vào thư mục» khác, rồi ký lại.",
        'Rename that file or move it elsewhere, or save "In this folder" with another folder, '
        "then sign again.",
    ),
    _e(
        "WRITE_FAILED",
        3115,
        "Không ghi được tệp {path}: {detail}. Tệp gốc vẫn còn nguyên.",
        "Could not write {path}: {detail}. The original file is untouched.",
        "Kiểm tra dung lượng ổ đĩa và quyền ghi thư mục, rồi thử lại.",
        "Check free disk space and write permission on the folder, then try again.",
    ),
    _e(
        "READBACK_FAILED",
        3116,
        "Tệp đã ký {path} đọc lại không kiểm tra được ({detail}); tệp gốc được giữ nguyên.",
        "The signed file {path} failed its read-back check ({detail}); the original was kept.",
        "Không nộp tệp này. Ký lại tệp gốc; nếu vẫn lỗi, chạy 'kyso-agent doctor'.",
        "Do not submit that file. Sign the original again; if it persists, run "
        "'kyso-agent doctor'.",
    ),
    _e(
        "XML_SIGNATURE_PARTIAL",
        3118,
        "Chữ ký chỉ phủ phần tử <{element}> ({uri}), không phủ toàn bộ tệp.",
        "The signature covers only the <{element}> element ({uri}), not the whole file.",
        "Nếu người ký chỉ định ký phần đó, kiểm tra lại với --profile generic (sẽ cho biết phần "
        "nào được ký). Hồ sơ BHXH hay tờ khai thuế phải được ký toàn bộ.",
        "If only that part was meant to be signed, verify again with --profile generic (it "
        "reports what is covered). A BHXH dossier or a tax return must be signed whole.",
    ),
    _e(
        "XML_FIELD_AMBIGUOUS",
        3119,
        "Không đọc được chắc chắn trường {detail_vi} của tệp XML: nội dung hiển thị có thể khác "
        "nội dung được ký.",
        "Field {detail_en} of the XML file cannot be read unambiguously: what is shown could "
        "differ from what is signed.",
        "Chưa có gì được ký. Xuất lại hồ sơ từ phần mềm kê khai, không sửa tay; nếu tệp đến từ "
        "nguồn lạ, đừng ký.",
        "Nothing was signed. Export the dossier again from the declaration software without "
        "editing it; if it came from an unknown source, do not sign it.",
    ),
    _e(
        "XML_DOTNET_MISREAD",
        3120,
        "Phần được ký của tệp có {detail_vi}. Cổng tiếp nhận hồ sơ ({profile}) kiểm tra chữ ký "
        "bằng .NET SignedXml, vốn đọc lại ký tự này thành ký tự khác (TAB thành dấu cách, CR "
        "thành xuống dòng), nên sẽ báo chữ ký đúng là không hợp lệ.",
        "The signed part of the file holds {detail_en}. '{profile}' portals check signatures "
        "with .NET SignedXml, which reads that character back as another one (a TAB as a space, "
        "a CR as a line feed) and would call a correct signature invalid.",
        "Chưa có gì được ký. Xuất lại tệp từ phần mềm kê khai sao cho không ghi ký tự đó dưới "
        "dạng mã (&#9;, &#13;) mà dùng dấu cách hoặc xuống dòng thường, và báo nhà cung cấp phần "
        "mềm. Nếu tệp không nộp cho cổng {profile}, ký với --profile generic.",
        "Nothing was signed. Export the file again so the software writes no such character "
        "reference (&#9;, &#13;) but a plain space or line break, and tell the software's "
        "vendor. If the file is not for a '{profile}' portal, sign it with --profile generic.",
    ),
    _e(
        "XML_REFERENCE_ID_UNUSABLE",
        3121,
        "Mã định danh {where_vi} = {value} không dùng được cho chữ ký: {detail_vi}.",
        "The id {where_en} = {value} cannot be used by the signature: {detail_en}.",
        "Chưa có gì được ký. Xuất lại tệp từ phần mềm kê khai: mã định danh chỉ gồm chữ cái, chữ "
        "số, '_', '-', '.', bắt đầu bằng chữ cái hoặc '_', và chỉ một phần tử mang nó. Báo nhà "
        "cung cấp phần mềm.",
        "Nothing was signed. Export the file again: an id is letters, digits, '_', '-' and '.', "
        "starts with a letter or '_', and only one element carries it. Tell the software's "
        "vendor.",
    ),
    _e(
        "XML_NAME_UNPORTABLE",
        3122,
        "Tệp có tên {kind_vi} {name} mà trình đọc XML .NET của cổng {profile} (và Java) không đọc "
        "được: cổng sẽ từ chối cả tệp.",
        "The file has the {kind_en} name {name}, which the '{profile}' portal's .NET XML reader "
        "(and Java's) cannot read: the portal would refuse the whole file.",
        "Chưa có gì được ký. Xuất lại tệp với tên thẻ bằng chữ Việt hoặc ASCII. Nếu tệp không nộp "
        "cho cổng {profile}, ký với --profile generic.",
        "Nothing was signed. Export the file again with tag names in Vietnamese or ASCII letters. "
        "If the file is not for a '{profile}' portal, sign it with --profile generic.",
    ),
    _e(
        "XML_NAMESPACE_RELATIVE",
        3127,
        "Tệp khai báo không gian tên {declaration} bằng địa chỉ tương đối {uri}: chuẩn hóa XML "
        "(C14N) không xử lý được, nên không ký được, và cổng cũng không kiểm tra được chữ ký.",
        "The file declares the namespace {declaration} with the relative address {uri}: XML "
        "canonicalization (C14N) cannot process it, so it cannot be signed, and no portal "
        "could check a signature on it.",
        "Chưa có gì được ký. Xuất lại tệp với địa chỉ không gian tên đầy đủ (bắt đầu bằng "
        "http://, https:// hoặc urn:), hoặc báo cho nhà cung cấp phần mềm kê khai.",
        "Nothing was signed. Export the file again with a full namespace address (starting with "
        "http://, https:// or urn:), or tell the maker of the declaration software.",
    ),
    _e(
        "XML_INHERITED_ATTRIBUTE",
        3128,
        "Tệp có thuộc tính {attribute} trên thẻ <{element}>, bao quanh phần được ký: các phần "
        "mềm kiểm tra chữ ký (của cổng, Java, xmlsec1) đưa thuộc tính này vào chữ ký theo cách "
        "khác nhau, nên chữ ký có thể bị cổng từ chối.",
        "The file has the attribute {attribute} on <{element}>, around the part being signed: "
        "signature verifiers (the portal's, Java, xmlsec1) carry it into the signature "
        "differently, so the portal could refuse the signature.",
        "Chưa có gì được ký. Xóa thuộc tính {attribute} khỏi tệp (hồ sơ không cần nó) hoặc "
        "xuất lại tệp từ phần mềm kê khai, rồi ký lại.",
        "Nothing was signed. Remove the {attribute} attribute from the file (the dossier does "
        "not need it) or export the file again from the declaration software, and sign again.",
    ),
    _e(
        "XML_VERSION_UNSUPPORTED",
        3123,
        "Tệp khai báo XML phiên bản {version}; Kyso chỉ ký và kiểm tra XML 1.0 (trình đọc .NET "
        "của cổng từ chối phiên bản khác, Java đọc khác đi).",
        "The file declares XML version {version}; Kyso signs and verifies XML 1.0 only (the "
        "portals' .NET reader refuses other versions, Java reads them differently).",
        'Chưa có gì được ký. Lưu lại tệp dưới dạng XML 1.0 (version="1.0") rồi ký lại.',
        'Nothing was signed. Save the file as XML 1.0 (version="1.0") and sign again.',
    ),
    _e(
        "CERT_CHOICE_NEEDED",
        3117,
        "Có {count} chứng thư số dùng được; cần chọn một.",
        "{count} usable certificates were found; one must be chosen.",
        "Chạy lại với --cert <thumbprint> (xem 'kyso-agent certs') hoặc --token <nhãn hoặc số "
        "sê-ri token>; một chứng thư có trên hai token: dùng cả hai.",
        "Run again with --cert <thumbprint> (see 'kyso-agent certs') or --token <token label or "
        "serial>; a certificate on two tokens: give both.",
    ),
    _e(
        "XML_ECDSA_NOT_ACCEPTED",
        3125,
        "Chứng thư số này dùng khóa ECDSA, nhưng cổng tiếp nhận hồ sơ ({profile}) chạy trên "
        ".NET nên không kiểm tra được chữ ký XML ECDSA (SignedXml không hỗ trợ ecdsa-sha256) "
        "và sẽ từ chối hồ sơ.",
        "This certificate has an ECDSA key, but '{profile}' portals run on .NET, which cannot "
        "verify ECDSA XML signatures (SignedXml has no ecdsa-sha256): the dossier would be "
        "refused.",
        "Ký bằng chứng thư số có khóa RSA. Chỉ khi cơ quan nhận hồ sơ xác nhận chấp nhận "
        "ECDSA mới ký lại với tùy chọn --allow-ecdsa.",
        "Sign with a certificate that has an RSA key. Only if the receiving agency confirms it "
        "accepts ECDSA, sign again with --allow-ecdsa.",
    ),
    _e(
        "XML_SHA1_NOT_ACCEPTED",
        3126,
        "SHA-1 đã lỗi thời: cổng tiếp nhận hồ sơ ({profile}) chạy trên Java 17 trở lên mặc "
        "định từ chối chữ ký XML dùng SHA-1.",
        "SHA-1 is obsolete: '{profile}' portals running on Java 17 or later refuse SHA-1 XML "
        "signatures by default.",
        "Ký với SHA-256 (mặc định). Chỉ dùng --allow-sha1 khi cơ quan nhận hồ sơ yêu cầu "
        "SHA-1 cho tệp cũ.",
        "Sign with SHA-256 (the default). Use --allow-sha1 only when the receiving agency "
        "requires SHA-1 for legacy files.",
    ),
    # --- 32xx: certificate validation, CMS and challenge tokens (agent/signing) -----------
    _e(
        "CERT_UNTRUSTED",
        3201,
        "Chứng thư số của người ký không được cấp bởi tổ chức chứng thực tin cậy: {detail}.",
        "The signer's certificate does not chain to a trusted certificate authority: {detail}.",
        "Kiểm tra người ký dùng chứng thư số do tổ chức chứng thực được công nhận cấp, và "
        "khai báo đúng chứng thư CA gốc/trung gian (--trust) khi kiểm tra.",
        "Make sure the signer used a certificate from a recognised CA, and give the right root "
        "and intermediate CA certificates (--trust) when verifying.",
    ),
    _e(
        "CERT_EXPIRED",
        3202,
        "Chứng thư số đã hết hạn (hết hạn lúc {not_after}).",
        "The certificate has expired (it expired at {not_after}).",
        "Gia hạn chứng thư số với nhà cung cấp chữ ký số rồi ký lại bằng chứng thư số mới.",
        "Renew the certificate with your provider, then sign again with the new certificate.",
    ),
    _e(
        "CERT_NOT_YET_VALID",
        3203,
        "Chứng thư số chưa có hiệu lực (có hiệu lực từ {not_before}).",
        "The certificate is not valid yet (it is valid from {not_before}).",
        "Kiểm tra đồng hồ của máy tính; nếu đúng, đợi đến ngày chứng thư số có hiệu lực hoặc "
        "dùng chứng thư số khác.",
        "Check the computer's clock; if it is right, wait until the certificate becomes valid "
        "or use another certificate.",
    ),
    _e(
        "CERT_REVOKED",
        3204,
        "Chứng thư số đã bị thu hồi (từ {revoked_at}).",
        "The certificate has been revoked (since {revoked_at}).",
        "Không dùng chứng thư số này nữa. Liên hệ nhà cung cấp chữ ký số để được cấp chứng thư "
        "số mới, rồi ký lại.",
        "Stop using this certificate. Ask your provider for a new certificate, then sign again.",
    ),
    _e(
        "CERT_KEY_USAGE",
        3205,
        "Chứng thư số không được phép dùng cho mục đích này ({purpose}).",
        "The certificate may not be used for this purpose ({purpose}).",
        "Chọn chứng thư số dùng để ký số (có mục đích Chữ ký số / Chống chối bỏ).",
        "Choose a certificate meant for signing (key usage digital signature / non-repudiation).",
    ),
    _e(
        # Not CERT_KEY_USAGE: its advice (pick a certificate with the signing key usage) would
        # send the user to look at a key usage that is fine.
        "CERT_CRITICAL_EXTENSION",
        3209,
        "Chứng thư số có phần mở rộng bắt buộc (critical) mà phần mềm kiểm tra chữ ký không "
        "xử lý được ({extension}): chữ ký tạo bằng chứng thư số này sẽ bị từ chối.",
        "The certificate carries a critical extension that signature verifiers do not handle "
        "({extension}): any signature made with it would be refused.",
        "Dùng chứng thư số khác, và báo nhà cung cấp chữ ký số (CA) để được cấp lại chứng thư "
        "số này.",
        "Use another certificate, and ask your certificate provider (CA) to issue this one again.",
    ),
    _e(
        "MST_MISMATCH",
        3230,
        "Mã số thuế trong tài liệu ({document_mst}) khác mã số thuế của chứng thư số "
        "({certificate_mst}).",
        "The tax code in the document ({document_mst}) differs from the certificate's "
        "({certificate_mst}).",
        "Kiểm tra lại đơn vị trên tài liệu, hoặc cắm đúng USB token của đơn vị có mã số thuế "
        "này rồi ký lại. Quy định của Kyso trên máy này không cho ký khi hai mã số khác nhau.",
        "Check the unit in the document, or plug in the token of the unit with this tax code "
        "and sign again. Kyso's policy on this computer refuses to sign when they differ.",
    ),
    _e(
        "CRL_MISSING",
        3206,
        "Không có danh sách thu hồi (CRL) để kiểm tra chuỗi chứng thư số của người ký.",
        "No certificate revocation list (CRL) is available to check the signer's certificate chain.",
        "Tải CRL mới nhất của tổ chức chứng thực và khai báo khi kiểm tra (--crl).",
        "Download the CA's latest CRL and give it when verifying (--crl).",
    ),
    _e(
        "CRL_EXPIRED",
        3207,
        "Danh sách thu hồi (CRL) của tổ chức chứng thực đã cũ, không dùng được để kiểm tra.",
        "The CA's certificate revocation list (CRL) is out of date and cannot be relied on.",
        "Tải CRL mới nhất của tổ chức chứng thực rồi kiểm tra lại.",
        "Download the CA's latest CRL and verify again.",
    ),
    _e(
        "CERT_INVALID",
        3208,
        "Chứng thư số không đọc được: {detail}.",
        "The certificate cannot be read: {detail}.",
        "Kiểm tra tệp chứng thư số (định dạng PEM hoặc DER) rồi thử lại.",
        "Check the certificate file (PEM or DER format) and try again.",
    ),
    _e(
        "CMS_INVALID",
        3210,
        "Tệp chữ ký CMS/PKCS#7 không hợp lệ: {detail}.",
        "The CMS/PKCS#7 signature is not valid: {detail}.",
        "Kiểm tra đã chọn đúng tệp chữ ký (.p7s) và tệp không bị hỏng.",
        "Check that the right signature file (.p7s) was chosen and that it is not damaged.",
    ),
    _e(
        "CMS_DATA_MISSING",
        3211,
        "Chữ ký tách rời (detached): cần tệp dữ liệu gốc để kiểm tra.",
        "This is a detached signature: the original data file is needed to verify it.",
        "Chỉ định tệp dữ liệu đã được ký (--data) rồi kiểm tra lại.",
        "Give the data file that was signed (--data) and verify again.",
    ),
    _e(
        "AUTH_TOKEN_INVALID",
        3220,
        "Mã xác thực (authentication token) không đúng định dạng: {detail}.",
        "The authentication token is malformed: {detail}.",
        "Tải lại trang và xác thực lại bằng USB token.",
        "Reload the page and authenticate again with your USB token.",
    ),
    _e(
        "AUTH_ORIGIN_MISMATCH",
        3221,
        "Yêu cầu xác thực không đến từ đúng trang web ({origin}).",
        "The authentication request did not come from the expected website ({origin}).",
        "Chỉ xác thực trên đúng địa chỉ trang web của cơ quan; đóng các trang lạ.",
        "Only authenticate on the agency's real website address; close unknown pages.",
    ),
    _e(
        "AUTH_SIGNATURE_INVALID",
        3222,
        "Chữ ký xác thực không khớp với trang web và mã thử thách này.",
        "The authentication signature does not match this website and challenge.",
        "Tải lại trang để nhận mã thử thách mới rồi xác thực lại. Nếu vẫn lỗi, có thể trang "
        "khác đang mạo danh: chỉ xác thực trên đúng địa chỉ trang web.",
        "Reload the page to get a new challenge and authenticate again. If it persists, "
        "another site may be impersonating this one: only authenticate on the real address.",
    ),
    # --- JSON-RPC 2.0 protocol errors (numbers fixed by the JSON-RPC specification) --------
    _e(
        "PROTOCOL_PARSE_ERROR",
        -32700,
        "Tin nhắn gửi tới Kyso không phải JSON hợp lệ.",
        "The message sent to Kyso is not valid JSON.",
        "Đây là lỗi của trang web: báo cho đơn vị quản lý cổng thông tin.",
        "This is a fault in the web page: report it to the portal's operator.",
    ),
    _e(
        "PROTOCOL_INVALID_REQUEST",
        -32600,
        "Yêu cầu không đúng giao thức JSON-RPC 2.0: {detail}.",
        "The request is not valid JSON-RPC 2.0: {detail}.",
        "Đây là lỗi của trang web: báo cho đơn vị quản lý cổng thông tin.",
        "This is a fault in the web page: report it to the portal's operator.",
    ),
    _e(
        "METHOD_NOT_FOUND",
        -32601,
        "Kyso không có chức năng {method}.",
        "Kyso has no method {method}.",
        "Cập nhật Kyso lên phiên bản mới nhất; nếu vẫn lỗi, báo cho đơn vị quản lý cổng thông tin.",
        "Update Kyso to the latest version; if it persists, report it to the portal's operator.",
    ),
    _e(
        "PARAMS_INVALID",
        -32602,
        "Tham số gửi tới Kyso không hợp lệ: {detail}.",
        "Invalid parameters sent to Kyso: {detail}.",
        "Đây là lỗi của trang web: báo cho đơn vị quản lý cổng thông tin. Không có gì được ký.",
        "This is a fault in the web page: report it to the portal's operator. Nothing was signed.",
    ),
    # --- 16xx: PDF (PAdES) and timestamps -----------------------------------------------------
    _e(
        "PDF_MALFORMED",
        1601,
        "Tệp PDF bị hỏng hoặc không đọc được ({detail}).",
        "The PDF is damaged or cannot be read ({detail}).",
        "Mở tệp bằng trình đọc PDF và lưu lại (hoặc in ra PDF) rồi ký bản mới. Kyso không tự sửa "
        "tệp, vì chữ ký phải phủ đúng tệp bạn đã chọn.",
        "Open the file in a PDF reader and save it again (or print it to PDF), then sign the new "
        "copy. Kyso does not repair files: a signature must cover exactly the file you chose.",
    ),
    _e(
        "PDF_ENCRYPTED",
        1602,
        "Tệp PDF được đặt mật khẩu hoặc mã hóa, nên không ký được.",
        "The PDF is password-protected or encrypted, so it cannot be signed.",
        "Bỏ mật khẩu trong chương trình đã tạo tệp, lưu bản không mã hóa rồi ký lại.",
        "Remove the password in the program that made the file, save an unencrypted copy and "
        "sign that.",
    ),
    _e(
        "PDF_ENCRYPTED_UNVERIFIABLE",
        1619,
        "Tệp PDF được đặt mật khẩu hoặc mã hóa, nên Kyso không kiểm tra được chữ ký trong đó.",
        "The PDF is password-protected or encrypted, so Kyso cannot check its signatures.",
        "Đừng bỏ mật khẩu (lưu lại tệp sẽ làm hỏng chữ ký): hãy kiểm tra bằng Adobe Acrobat "
        "Reader hoặc hỏi nơi đã gửi tệp.",
        "Do not remove the password (saving the file again breaks the signatures): check it "
        "in Adobe Acrobat Reader, or ask whoever sent it.",
    ),
    _e(
        "PDF_FIELD_ALREADY_SIGNED",
        1603,
        "Ô chữ ký «{field}» trong tệp PDF đã có chữ ký.",
        "The signature field “{field}” in the PDF is already signed.",
        "Chọn ô chữ ký còn trống, hoặc để Kyso tạo ô mới.",
        "Choose an empty signature field, or let Kyso add a new one.",
    ),
    _e(
        "PDF_CERTIFIED_NO_CHANGES",
        1604,
        "Tệp PDF đã bị khoá bởi một chữ ký có sẵn (chữ ký chứng nhận, hoặc chữ ký vào ô khoá "
        "tài liệu hay khoá ô này): không được thay đổi thêm, kể cả ký.",
        "A signature already in the PDF locks it (a certification, or a signature whose field "
        "locks the document or this field): no further change is allowed, signing included.",
        "Chưa có gì được ký. Xin người đã ký trước gửi bản cho phép ký thêm.",
        "Nothing was signed. Ask whoever signed it first for a copy that allows further "
        "signatures.",
    ),
    _e(
        "PDF_CERTIFIED_NO_NEW_FIELD",
        1615,
        "Tệp PDF đã có chữ ký chỉ cho phép điền biểu mẫu và ký (DocMDP P={level}): thêm một ô chữ "
        "ký hiển thị mới sẽ làm chữ ký đó mất hiệu lực.",
        "A signature already in the PDF allows only form filling and signing (DocMDP P={level}): "
        "a new visible signature field would break it.",
        "Chưa có gì được ký. Ký vào ô chữ ký trống có sẵn ({fields}), hoặc ký không hiển thị "
        "(không chọn trang, khung hay dòng chữ neo).",
        "Nothing was signed. Sign one of its empty signature fields ({fields}), or sign invisibly "
        "(no page, box or anchor).",
    ),
    _e(
        "CMS_DATA_IS_PDF",
        1614,
        "Trang {origin} gửi một tệp PDF để ký dưới dạng dữ liệu CMS: chữ ký như vậy có thể được "
        "gắn vào tệp PDF mà Kyso không cho bạn xem tài liệu đó.",
        "The site {origin} sent a PDF to be signed as bare CMS data: such a signature can be put "
        "into the PDF without Kyso showing you the document.",
        "Không có gì được ký. Trang web phải dùng chức năng ký PDF (sign.pdf), khi đó Kyso cho bạn "
        "xem tài liệu trước khi ký. Báo cho đơn vị quản lý cổng thông tin.",
        "Nothing was signed. The site must use PDF signing (sign.pdf), where Kyso shows you the "
        "document before you sign. Report this to the portal's operator.",
    ),
    _e(
        "PDF_FIELD_REQUIREMENTS",
        1613,
        "Không ký được vào ô chữ ký «{field}» như yêu cầu: ô này đặt điều kiện mà yêu cầu ký "
        "không đáp ứng ({detail}).",
        "The signature field “{field}” cannot be signed as asked: the field sets conditions "
        "the request does not meet ({detail}).",
        "Chưa có gì được ký. Ký vào ô khác hoặc để Kyso tạo ô mới; hoặc xin người soạn tệp "
        "bản không đặt điều kiện này.",
        "Nothing was signed. Sign another field or let Kyso add a new one; or ask whoever made "
        "the file for a copy without this condition.",
    ),
    _e(
        "PDF_CERTIFY_AFTER_SIGNATURE",
        1612,
        "Tệp PDF đã có chữ ký, nên không thể thêm chữ ký chứng nhận: chữ ký chứng nhận phải là "
        "chữ ký đầu tiên của tệp.",
        "The PDF is already signed, so a certification signature cannot be added: a "
        "certification must be the file's first signature.",
        "Chưa có gì được ký. Ký bình thường (không chứng nhận), hoặc chứng nhận bản gốc chưa "
        "có chữ ký nào.",
        "Nothing was signed. Sign it without certifying, or certify the original that has no "
        "signature yet.",
    ),
    _e(
        "PDF_PLACEMENT_INVALID",
        1605,
        "Vị trí chữ ký trong tệp PDF không hợp lệ: {detail_vi}.",
        "The signature position in the PDF is not valid: {detail}.",
        "Chọn trang có trong tệp và một khung trống nằm trong trang (đơn vị: point, gốc ở góc "
        "dưới trái của trang khi chưa xoay).",
        "Choose a page that exists and an empty box inside it (in points, from the bottom-left "
        "corner of the page as it is before any turn).",
    ),
    _e(
        "PDF_FONT_MISSING",
        1606,
        "Không tìm thấy phông chữ tiếng Việt để vẽ chữ ký hiển thị (đã tìm: {paths}).",
        "No font with Vietnamese letters was found to draw the visible signature (looked for: "
        "{paths}).",
        "Cài phông DejaVu (Debian: fonts-dejavu-core) hoặc chỉ định tệp phông bằng --font.",
        "Install the DejaVu fonts (Debian: fonts-dejavu-core) or name a font file with --font.",
    ),
    _e(
        "PDF_SEAL_UNREADABLE",
        1607,
        "Không đọc được ảnh con dấu {path}.",
        "The seal image {path} cannot be read.",
        "Dùng ảnh PNG (nền trong suốt) còn đọc được, hoặc bỏ con dấu.",
        "Use a readable PNG image (with a transparent background), or sign without the seal.",
    ),
    _e(
        "PDF_SIGN_FAILED",
        1608,
        "Không ký được tệp PDF: {detail}.",
        "The PDF could not be signed: {detail}.",
        "Không có gì bị thay đổi. Thử lại; nếu vẫn lỗi, gửi tệp và thông báo này cho bộ phận hỗ trợ.",
        "Nothing was changed. Try again; if it persists, send the file and this message to "
        "support.",
    ),
    _e(
        "TIMESTAMP_UNAVAILABLE",
        1609,
        "Máy chủ cấp dấu thời gian {url} không trả lời.",
        "The timestamp authority {url} did not answer.",
        "Kiểm tra kết nối mạng và địa chỉ máy chủ dấu thời gian, rồi ký lại; hoặc ký không kèm "
        "dấu thời gian.",
        "Check the network and the timestamp authority's address, then sign again; or sign "
        "without a timestamp.",
    ),
    _e(
        "TIMESTAMP_ANSWER_INVALID",
        1616,
        "Máy chủ cấp dấu thời gian {url} trả lời không dùng được ({detail}). Chưa có tệp nào "
        "được ghi.",
        "The timestamp authority {url} gave an answer Kyso cannot use ({detail}). Nothing was "
        "written.",
        "Ký lại sau ít phút; nếu vẫn lỗi, báo quản trị viên kiểm tra máy chủ dấu thời gian "
        "(timestamp_url); hoặc ký không kèm dấu thời gian.",
        "Sign again in a few minutes; if it persists, ask your administrator to check the "
        "timestamp authority (timestamp_url); or sign without a timestamp.",
    ),
    _e(
        "TIMESTAMP_NOT_CONFIGURED",
        1611,
        "Kiểu ký «{profile}» bắt buộc chữ ký phải có dấu thời gian, nhưng Kyso chưa được khai báo "
        "máy chủ cấp dấu thời gian.",
        "The '{profile}' signing profile requires a timestamp, but Kyso has no timestamp "
        "authority configured.",
        "Chưa có gì được ký. Nhờ quản trị viên khai báo địa chỉ máy chủ dấu thời gian "
        "(timestamp_url) trong cấu hình Kyso, rồi ký lại.",
        "Nothing was signed. Ask your administrator to set the timestamp authority's address "
        "(timestamp_url) in Kyso's configuration, then sign again.",
    ),
    _e(
        "PDF_VERIFY_TIMEOUT",
        1617,
        "Kiểm tra chữ ký trong tệp PDF đã quá {seconds} giây nên Kyso dừng lại, chưa có kết luận.",
        "Checking the PDF's signatures took more than {seconds} seconds, so Kyso stopped it "
        "without a verdict.",
        "Đừng coi các chữ ký là hợp lệ. Cấu trúc tệp bất thường (có thể cố ý làm chậm việc kiểm "
        "tra): đề nghị người gửi xuất lại tệp (in ra PDF) rồi ký lại. Nếu tệp rất lớn và bạn tin "
        "nguồn gửi, chạy lại với --timeout dài hơn.",
        "Do not treat the signatures as valid. The file's structure is unusual (perhaps made to "
        "slow checking down): ask the sender to export it again (print to PDF) and sign it "
        "again. If the file is very large and you trust its source, run again with a longer "
        "--timeout.",
    ),
    _e(
        "PDF_TOO_MANY_PAGES",
        1618,
        "Tệp PDF có nhiều trang hơn mức Kyso kiểm tra được trước khi ký ({limit} trang).",
        "The PDF has more pages than Kyso checks before signing ({limit} pages).",
        "Không có gì được ký. Tách tệp thành các tệp nhỏ hơn rồi ký từng tệp, hoặc ký cả tệp như "
        "một tài liệu bằng 'kyso-agent sign-cms'.",
        "Nothing was signed. Split the file into smaller ones and sign each, or sign the whole "
        "file as one document with 'kyso-agent sign-cms'.",
    ),
    _e(
        "PDF_ANCHOR_NOT_FOUND",
        1610,
        "Không tìm thấy dòng chữ “{anchor}” trong tệp PDF để đặt chữ ký.",
        "The text “{anchor}” where the signature should go was not found in the PDF.",
        "Kiểm tra dòng chữ (ví dụ “Giám đốc”) có trong tệp dưới dạng chữ chứ không phải ảnh "
        "quét, hoặc chọn trang và khung chữ ký.",
        "Check that the text (for example “Giám đốc”) is in the file as text, not a scanned "
        "image, or give the page and box instead.",
    ),
    # --- 17xx: remote signing (ký số từ xa) over the CSC API (agent/remote) -----------------
    _e(
        "REMOTE_UNREACHABLE",
        1701,
        "Không kết nối được tới dịch vụ ký số từ xa {provider}.",
        "Could not reach the remote signing service {provider}.",
        "Kiểm tra kết nối Internet rồi ký lại. Những tài liệu chưa nhận được chữ ký thì chưa "
        "được ký. Nếu vẫn lỗi, liên hệ nhà cung cấp dịch vụ ký số.",
        "Check the Internet connection and sign again. Documents without a signature back were "
        "not signed. If it persists, contact the signing service provider.",
    ),
    _e(
        "REMOTE_TIMEOUT",
        1702,
        "Dịch vụ ký số từ xa {provider} không trả lời trong {seconds} giây.",
        "The remote signing service {provider} did not answer within {seconds} seconds.",
        "Những chữ ký đã nhận vẫn được giữ; những tài liệu còn lại chưa được ký. Đợi một lát "
        "rồi ký lại các tài liệu đó.",
        "Signatures already received are kept; the remaining documents were not signed. Wait "
        "a moment, then sign those documents again.",
    ),
    _e(
        "REMOTE_AUTH_REFUSED",
        1703,
        "{provider} từ chối xác nhận ký: {reason_vi}.",
        "{provider} refused to authorise the signature: {reason_en}.",
        "Kiểm tra lại mã PIN hoặc mã OTP (mã OTP chỉ dùng được một lần, trong thời gian ngắn) "
        "rồi ký lại. Nhập sai nhiều lần có thể bị nhà cung cấp khóa tạm thời.",
        "Check the PIN or the one-time code (an OTP works once, for a short time) and sign "
        "again. Several wrong attempts may make the provider lock the credential for a while.",
    ),
    _e(
        "REMOTE_CREDENTIAL_INVALID",
        1704,
        "Chứng thư số từ xa {credential} của {provider} không dùng được để ký ({status}).",
        "The remote credential {credential} at {provider} cannot sign ({status}).",
        "Chứng thư số có thể đã bị thu hồi, tạm dừng hoặc hết hạn. Liên hệ nhà cung cấp dịch vụ "
        "ký số, hoặc chọn chứng thư số khác.",
        "The certificate may be revoked, suspended or expired. Contact the signing service "
        "provider, or choose another certificate.",
    ),
    _e(
        "REMOTE_TOKEN_EXPIRED",
        1705,
        "Phiên làm việc với {provider} đã hết hạn giữa lúc xác nhận và lúc ký.",
        "The session with {provider} expired between the authorisation and the signature.",
        "Những tài liệu chưa nhận được chữ ký thì chưa được ký. Ký lại: Kyso sẽ hỏi đăng nhập "
        "hoặc xác nhận lại.",
        "Documents without a signature back were not signed. Sign again: Kyso will ask you to "
        "sign in or confirm again.",
    ),
    _e(
        "REMOTE_PROTOCOL_ERROR",
        1706,
        "Dịch vụ ký số từ xa {provider} trả lời không đúng chuẩn CSC: {detail}.",
        "The remote signing service {provider} gave an answer that breaks the CSC API: {detail}.",
        "Không có chữ ký sai nào được dùng. Thử lại; nếu vẫn lỗi, gửi thông báo này cho nhà "
        "cung cấp dịch vụ ký số.",
        "No wrong signature was used. Try again; if it persists, send this message to the "
        "signing service provider.",
    ),
    _e(
        "REMOTE_INSECURE_URL",
        1707,
        "Kyso từ chối kết nối tới {url} vì địa chỉ này không dùng HTTPS.",
        "Kyso refused to connect to {url} because it does not use HTTPS.",
        "Dịch vụ ký số từ xa phải dùng địa chỉ https:// (chỉ máy cục bộ 127.0.0.1 được dùng "
        "http). Sửa cấu hình remote_providers hoặc liên hệ quản trị viên.",
        "A remote signing service must use an https:// address (only the local machine, "
        "127.0.0.1, may use http). Fix remote_providers in the configuration or ask your "
        "administrator.",
    ),
    _e(
        "REMOTE_PROVIDER_UNKNOWN",
        1708,
        "Không có dịch vụ ký số từ xa nào tên {provider} trong cấu hình Kyso.",
        "No remote signing service named {provider} is configured in Kyso.",
        "Thêm nhà cung cấp vào remote_providers trong config.toml (hoặc chính sách quản trị), "
        "hoặc chọn chứng thư số khác.",
        "Add the provider to remote_providers in config.toml (or the managed policy), or "
        "choose another certificate.",
    ),
    _e(
        "REMOTE_CLIENT_REFUSED",
        1709,
        "{provider} không chấp nhận mã ứng dụng (client_id / client secret) của Kyso.",
        "{provider} did not accept Kyso's client id or client secret.",
        "Đây là lỗi cấu hình, không phải mã PIN: đừng thử lại mã PIN. Báo quản trị viên kiểm "
        "tra client_id và client_secret_file của nhà cung cấp này.",
        "This is a configuration problem, not the PIN: do not try your PIN again. Ask your "
        "administrator to check this provider's client_id and client_secret_file.",
    ),
    _e(
        "REMOTE_BUSY",
        1710,
        "Dịch vụ ký số từ xa {provider} đang quá tải hoặc tạm ngừng (HTTP {status}).",
        "The remote signing service {provider} is overloaded or temporarily down (HTTP {status}).",
        "Lỗi nằm ở phía nhà cung cấp, không phải do mã PIN hay OTP của bạn. Những tài liệu chưa "
        "nhận được chữ ký thì chưa được ký. Đợi vài phút rồi ký lại; nếu vẫn lỗi, liên hệ nhà "
        "cung cấp dịch vụ ký số.",
        "The problem is at the provider, not your PIN or OTP. Documents without a signature "
        "back were not signed. Wait a few minutes and sign again; if it persists, contact the "
        "signing service provider.",
    ),
    # --- 40xx: the agent service (agent/server, agent/config) ------------------------------
    _e(
        "ORIGIN_NOT_ALLOWED",
        4001,
        "Trang {origin} không được phép dùng USB token của bạn.",
        "The site {origin} is not allowed to use your signing token.",
        # Kyso remembers a "deny" until it restarts, so "reload" alone would not ask again.
        "Nếu bạn tin trang này: thoát Kyso (biểu tượng Kyso → «Thoát») rồi mở lại, tải lại trang "
        "và chọn «Cho phép» khi Kyso hỏi. Máy do cơ quan quản lý: nhờ bộ phận IT thêm trang vào "
        "chính sách của Kyso (allowed_origins).",
        "If you trust this site: quit Kyso (Kyso icon → “Quit”) and start it again, reload the "
        "page and choose “Allow” when Kyso asks. On managed computers, ask IT to add the site "
        "to Kyso's policy (allowed_origins).",
    ),
    _e(
        "SIGN_HASH_NOT_ALLOWED",
        4020,
        "Trang {origin} yêu cầu ký một giá trị băm; Kyso chỉ cho phép việc này với những trang "
        "được cấu hình sẵn.",
        "The site {origin} asked to sign a bare hash; Kyso allows that only for sites named in "
        "its configuration.",
        "Không có gì được ký. Một giá trị băm không cho biết nội dung được ký, nên Kyso tắt tính "
        "năng này mặc định. Nếu trang này thật sự cần, bộ phận IT (chính sách) hoặc chính bạn "
        "(config.toml) thêm trang vào sign_hash_origins.",
        "Nothing was signed. A hash does not show what is being signed, so Kyso turns this off "
        "by default. If this site really needs it, IT (policy) or you (config.toml) can add it "
        "to sign_hash_origins.",
    ),
    _e(
        "HOST_NOT_ALLOWED",
        4002,
        "Yêu cầu tới Kyso dùng tên máy không hợp lệ ({host}).",
        "A request reached Kyso under a host name it does not answer to ({host}).",
        "Trang web phải kết nối tới 127.0.0.1, [::1] hoặc localhost. Đây có thể là một cuộc tấn "
        "công (DNS rebinding): đóng trang đó lại.",
        "Pages must connect to 127.0.0.1, [::1] or localhost. This may be an attack (DNS "
        "rebinding): close that page.",
    ),
    _e(
        "PEER_USER_MISMATCH",
        4003,
        "Kết nối tới Kyso đến từ chương trình của một người dùng khác trên máy này.",
        "A connection to Kyso came from another user's program on this computer.",
        "Mỗi người dùng chạy Kyso của riêng mình: đăng nhập đúng tài khoản rồi thử lại.",
        "Each user runs their own Kyso: sign in to your own account and try again.",
    ),
    _e(
        "BUSY",
        4004,
        "USB token đang bận với nhiều yêu cầu ký khác.",
        "The signing token is busy with other signing requests.",
        "Đợi các yêu cầu đang chờ hoàn tất rồi thử lại.",
        "Wait for the pending requests to finish, then try again.",
    ),
    _e(
        "ACTION_PENDING",
        4005,
        "Trang {origin} đang có một yêu cầu ký chờ bạn xác nhận.",
        "The site {origin} already has a signing request waiting for you.",
        "Hoàn tất hoặc hủy yêu cầu đang hiển thị trong cửa sổ Kyso trước, rồi thử lại.",
        "Finish or cancel the request shown in the Kyso window first, then try again.",
    ),
    _e(
        "MESSAGE_TOO_LARGE",
        4006,
        "Tin nhắn gửi tới Kyso quá lớn (tối đa {limit} byte).",
        "The message sent to Kyso is too large (at most {limit} bytes).",
        "Gửi tài liệu nhỏ hơn, hoặc nhờ bộ phận IT tăng giới hạn max_document_bytes.",
        "Send a smaller document, or ask your IT department to raise max_document_bytes.",
    ),
    _e(
        "DOCUMENT_TOO_LARGE",
        4007,
        "Tài liệu cần ký quá lớn ({size} byte; tối đa {limit} byte).",
        "The document to sign is too large ({size} bytes; at most {limit} bytes).",
        "Chia hồ sơ thành các tệp nhỏ hơn, hoặc nhờ bộ phận IT tăng giới hạn max_document_bytes.",
        "Split the dossier into smaller files, or ask your IT department to raise "
        "max_document_bytes.",
    ),
    _e(
        "PIN_NOT_ACCEPTED",
        4008,
        "Trang web đã gửi mã PIN cho Kyso; Kyso từ chối yêu cầu này.",
        "The web page sent a PIN to Kyso; Kyso refused the request.",
        "Mã PIN chỉ được nhập trong cửa sổ của Kyso, không bao giờ trên trang web. Báo cho đơn vị "
        "quản lý cổng thông tin.",
        "A PIN is only ever typed into Kyso's own window, never into a web page. Report this to "
        "the portal's operator.",
    ),
    _e(
        "TOO_MANY_CONNECTIONS",
        4009,
        "Kyso đang có quá nhiều kết nối (tối đa {limit}).",
        "Kyso has too many open connections (at most {limit}).",
        "Đóng bớt các thẻ trình duyệt đang dùng chữ ký số rồi tải lại trang.",
        "Close some browser tabs that use the signing token, then reload the page.",
    ),
    _e(
        "PORT_UNAVAILABLE",
        4010,
        "Kyso không mở được cổng {ports}: cổng đã bị chương trình khác dùng.",
        "Kyso could not open port {ports}: another program is using it.",
        "Có thể Kyso đã đang chạy. Nếu không, đóng chương trình đang dùng cổng hoặc chạy "
        "'kyso-agent run --port N'.",
        "Kyso may already be running. If not, close the program using the port or run "
        "'kyso-agent run --port N'.",
    ),
    _e(
        "CONFIG_INVALID",
        4011,
        "Tệp cấu hình {path} không hợp lệ: {detail}.",
        "The configuration file {path} is invalid: {detail}.",
        "Sửa hoặc xóa tệp cấu hình rồi chạy lại Kyso; 'kyso-agent doctor' cho biết cấu hình đang "
        "dùng.",
        "Fix or remove the configuration file and start Kyso again; 'kyso-agent doctor' shows "
        "the settings in force.",
    ),
    _e(
        "POLICY_INVALID",
        4012,
        "Chính sách quản trị ({path}) không hợp lệ: {detail}.",
        "The managed policy ({path}) is invalid: {detail}.",
        "Liên hệ bộ phận IT để sửa chính sách của Kyso.",
        "Contact your IT department to fix Kyso's policy.",
    ),
    _e(
        "PROMPTER_UNAVAILABLE",
        4013,
        "Kyso không mở được cửa sổ hỏi người dùng ({prompter}): {detail}.",
        "Kyso could not open its prompt ({prompter}): {detail}.",
        "Chạy Kyso trong phiên làm việc có màn hình, hoặc chạy 'kyso-agent run --prompter "
        "terminal'.",
        "Run Kyso in a desktop session, or run 'kyso-agent run --prompter terminal'.",
    ),
    _e(
        "BATCH_ITEM_SKIPPED",
        4014,
        "Mục này chưa được ký vì một mục trước đó bị lỗi.",
        "This item was not signed because an earlier item failed.",
        "Sửa mục bị lỗi rồi ký lại cả lô.",
        "Fix the failed item and sign the batch again.",
    ),
    _e(
        "AGENT_STOPPING",
        4015,
        "Kyso đang tắt; thao tác đã bị dừng.",
        "Kyso is shutting down; the operation was stopped.",
        "Khởi động lại Kyso rồi thử lại. Không có gì được ký.",
        "Start Kyso again and retry. Nothing was signed.",
    ),
    _e(
        "PAGE_CLOSED",
        4017,
        "Trang web đã đóng hoặc ngắt kết nối trước khi ký xong; thao tác đã bị dừng.",
        "The web page closed or disconnected before signing finished; the operation was stopped.",
        "Kết quả (nếu có) không được gửi cho trang web. Mở lại trang và ký lại nếu cần.",
        "No result was delivered to the page. Open the page again and sign again if needed.",
    ),
    _e(
        "SIGNING_PAUSED",
        4016,
        "Kyso đang tạm dừng ký số theo lựa chọn của người dùng máy này.",
        "Signing is paused in Kyso by the person using this computer.",
        "Không có gì được ký. Để ký tiếp: bấm biểu tượng Kyso ở khay hệ thống, chọn «Tiếp tục ký "
        "số», rồi bấm lại nút ký trên trang.",
        "Nothing was signed. To sign again: click the Kyso icon in the system tray, choose "
        "“Resume signing”, then press the sign button on the page again.",
    ),
    _e(
        "AUDIT_UNAVAILABLE",
        4018,
        "Kyso không ghi được nhật ký ký số ({path}), nên tạm thời không ký để không có chữ ký "
        "nào thiếu bản ghi.",
        "Kyso cannot write its signing log ({path}), so it does not sign for now: no "
        "signature may be made without a record.",
        "Không có gì được ký. Giải phóng dung lượng ổ đĩa, kiểm tra quyền ghi của tệp {path} "
        "và thư mục chứa nó (đó phải là một tệp, không phải thư mục), rồi bấm lại nút ký.",
        "Nothing was signed. Free some disk space and check write permission on {path} and its "
        "folder ({path} must be a file, not a folder), then press the sign button again.",
    ),
    _e(
        "CONSENT_COOLDOWN",
        4019,
        "Người dùng vừa từ chối ký nhiều lần liên tiếp cho trang {origin}; Kyso tạm không hỏi "
        "lại trong {seconds} giây.",
        "The user just declined to sign several times in a row for {origin}; Kyso will not ask "
        "again for {seconds} seconds.",
        "Không có gì được ký. Nếu bạn muốn ký, đợi {seconds} giây rồi bấm lại nút ký. Nếu bạn "
        "không yêu cầu ký, hãy đóng trang này.",
        "Nothing was signed. If you do want to sign, wait {seconds} seconds and press the sign "
        "button again. If you did not ask to sign, close this page.",
    ),
    _e(
        "STATE_DIR_UNUSABLE",
        4021,
        "Kyso không dùng được thư mục dữ liệu {path} ({detail_vi}).",
        "Kyso cannot use its data folder {path} ({detail}).",
        "Biến môi trường KYSO_HOME phải trỏ tới một thư mục ghi được: sửa lại, hoặc bỏ biến đó "
        "để Kyso dùng thư mục mặc định, rồi chạy lại.",
        "The KYSO_HOME environment variable must name a folder you can write to: correct it, "
        "or unset it so that Kyso uses its default folders, then run again.",
    ),
    _e(
        "SETTING_LOCKED",
        4022,
        "Chính sách quản trị ({path}) khóa cài đặt {setting}: {detail_vi}.",
        "The managed policy ({path}) locks the setting {setting}: {detail}.",
        "Máy do cơ quan quản lý: nhờ bộ phận IT đổi chính sách của Kyso nếu cần. "
        "'kyso-agent doctor' cho biết cài đặt nào do chính sách khóa.",
        "On a managed computer, ask your IT department to change Kyso's policy if needed. "
        "'kyso-agent doctor' shows which settings the policy locks.",
    ),
    _e(
        "DEMO_PORTAL_FAILED",
        4031,
        "Không khởi động được cổng BHXH thử nghiệm: {detail}.",
        "The demo e-BHXH portal did not start: {detail}.",
        "Cổng thử nghiệm cần các gói phụ của nó: chạy 'pip install \"kyso-agent[portal]\"' "
        "(hoặc './run.sh demo'), rồi chạy lại 'kyso-agent demo'.",
        "The demo portal needs its extra packages: run 'pip install \"kyso-agent[portal]\"' "
        "(or './run.sh demo'), then run 'kyso-agent demo' again.",
    ),
    # --- 41xx: local TLS certificate and browser trust stores (agent/localtls) -------------
    _e(
        "TRUST_TOOL_MISSING",
        4101,
        "Không tìm thấy công cụ {tool} để cài chứng thư của Kyso vào trình duyệt.",
        "The tool {tool}, needed to add Kyso's certificate to the browsers, was not found.",
        "Trên Debian/Ubuntu: cài gói libnss3-tools (sudo apt install libnss3-tools) rồi chạy lại "
        "'kyso-agent trust install'.",
        "On Debian/Ubuntu install libnss3-tools (sudo apt install libnss3-tools), then run "
        "'kyso-agent trust install' again.",
    ),
    _e(
        "TRUST_STORE_FAILED",
        4102,
        "Không cập nhật được kho chứng thư tin cậy: {detail}.",
        "The certificate trust store could not be updated: {detail}.",
        "Chạy 'kyso-agent trust status' để xem kho nào bị lỗi; đóng các cửa sổ hỏi của hệ điều "
        "hành nếu có, rồi chạy lại 'kyso-agent trust install'.",
        "Run 'kyso-agent trust status' to see which store failed; answer any system prompt, then "
        "run 'kyso-agent trust install' again.",
    ),
    _e(
        "TRUST_NEEDS_ADMIN",
        4103,
        "Cần quyền quản trị để thay đổi kho chứng thư dùng chung của máy ({path}).",
        "Administrator rights are needed to change the machine-wide certificate store ({path}).",
        "Chạy lại lệnh bằng sudo (Linux, macOS) hoặc trong cửa sổ lệnh 'Run as administrator' "
        "(Windows); hoặc bỏ --machine để chỉ cài cho người dùng hiện tại.",
        "Run the command again with sudo (Linux, macOS) or from a 'Run as administrator' "
        "prompt (Windows); or leave out --machine to install for the current user only.",
    ),
    _e(
        "TLS_SETUP_FAILED",
        4104,
        "Kyso không tạo được chứng thư TLS cục bộ ({path}): {detail}.",
        "Kyso could not create its local TLS certificate ({path}): {detail}.",
        "Kiểm tra quyền ghi và dung lượng trống của thư mục dữ liệu Kyso, rồi khởi động lại Kyso.",
        "Check that Kyso's data folder is writable and the disk is not full, then restart Kyso.",
    ),
    _e(
        "LNA_POLICY_MISSING",
        4105,
        "{browser} chưa có chính sách cho phép {origins} kết nối tới Kyso trên máy này "
        "(LocalNetworkAccessAllowedForUrls, đã đọc: {where}): trình duyệt sẽ hỏi người dùng "
        "trước khi trang gặp được Kyso.",
        "{browser} has no policy allowing {origins} to reach Kyso on this computer "
        "(LocalNetworkAccessAllowedForUrls, read: {where}): the browser will ask the user before "
        "the page can reach Kyso.",
        "Quản trị viên thêm các cổng này vào LocalNetworkAccessAllowedForUrls: trên Windows "
        "bằng thuộc tính KYSO_PORTALS của bộ cài MSI, hoặc bằng GPO (mẫu ADMX của Chrome, Edge; "
        "GPO thay cả danh sách nên phải ghi đủ các cổng); trên Linux bằng một tệp JSON trong "
        "thư mục chính sách của trình duyệt, ví dụ /etc/opt/chrome/policies/managed/. Khi chưa "
        "làm được, người dùng chọn «Cho phép» lúc trình duyệt hỏi.",
        "An administrator adds these portals to LocalNetworkAccessAllowedForUrls: on Windows "
        "with the MSI property KYSO_PORTALS, or a GPO (Chrome's and Edge's ADMX; a GPO replaces "
        "the whole list, so list every portal); on Linux with a JSON file in the browser's "
        "policy folder, e.g. /etc/opt/chrome/policies/managed/. Until then, users choose "
        "“Allow” when the browser asks.",
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
        # A Vietnamese detail not given (most raise sites name only the English "detail"):
        # the English one, rather than the placeholder.
        if key.endswith("_vi") and key[:-3] in self:
            return str(self[key[:-3]])
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

    @property
    def group(self) -> ErrorGroup:
        """The kind of failure, to branch on (see :class:`ErrorGroup`)."""
        return self.spec.group

    def is_(self, *groups: ErrorGroup) -> bool:
        """Whether this error is in one of ``groups``."""
        return self.spec.group in groups

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


def invalid_input(detail: str, detail_vi: str, **details: Any) -> KysoError:
    """INPUT_INVALID saying what is wrong in both languages (``detail``: English, ``detail_vi``:
    Vietnamese, each a clause that completes "Invalid input: …" / "Dữ liệu không hợp lệ: …").

    The one way to raise INPUT_INVALID: the most common error a user meets must not fall back to
    English inside the Vietnamese sentence (tests/test_errors.py checks every raise site).
    """
    return KysoError("INPUT_INVALID", {"detail": detail, "detail_vi": detail_vi, **details})
