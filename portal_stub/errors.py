"""The portal's error catalogue ("Danh mục mã lỗi"): stable codes, vi + en text, what to do.

The portal checks with the agent's signing library, which raises :class:`agent.errors.KysoError`;
:func:`from_kyso` maps those onto catalogue rows so that a user always sees a portal code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.errors import KysoError


@dataclass(frozen=True)
class CatalogueError:
    """One row of the catalogue."""

    code: str  # shown to users, e.g. "E404"
    key: str  # stable symbolic name used by code and the API
    group: str
    vi: str
    en: str
    action_vi: str
    action_en: str
    http_status: int = 400


_G_ACCOUNT = "Tài khoản và đăng nhập"
_G_SIGNED = "Xác thực bằng chữ ký số"
_G_CERT = "Chứng thư số"
_G_DOSSIER = "Kiểm tra hồ sơ"
_G_ATTACH = "Tệp đính kèm"
_G_SYSTEM = "Hệ thống"

CATALOGUE: tuple[CatalogueError, ...] = (
    CatalogueError(
        "E101",
        "LOGIN_FAILED",
        _G_ACCOUNT,
        "Tên đăng nhập hoặc mật khẩu không đúng.",
        "The user name or password is wrong.",
        "Nhập lại đúng tên đăng nhập và mật khẩu trong thư cấp tài khoản.",
        "Enter the user name and password from the account e-mail.",
        401,
    ),
    CatalogueError(
        "E102",
        "LOGIN_REQUIRED",
        _G_ACCOUNT,
        "Bạn cần đăng nhập để dùng chức năng này.",
        "You need to log in to use this function.",
        "Đăng nhập bằng tài khoản đã được cấp rồi thử lại.",
        "Log in with the account you were issued and try again.",
        401,
    ),
    CatalogueError(
        "E103",
        "CSRF_INVALID",
        _G_ACCOUNT,
        "Phiên làm việc không hợp lệ hoặc biểu mẫu đã cũ.",
        "The session is not valid or the form is out of date.",
        "Tải lại trang rồi thực hiện lại thao tác.",
        "Reload the page and do it again.",
        403,
    ),
    CatalogueError(
        "E104",
        "ACCOUNT_EXISTS",
        _G_ACCOUNT,
        "Đơn vị có mã số thuế {mst} đã đăng ký giao dịch điện tử.",
        "The unit with tax code {mst} is already registered.",
        "Đăng nhập bằng tài khoản đã được cấp (tên đăng nhập {username}).",
        "Log in with the account already issued (user name {username}).",
        409,
    ),
    CatalogueError(
        "E105",
        "ACCOUNT_CANCELLED",
        _G_ACCOUNT,
        "Đơn vị đã ngưng sử dụng dịch vụ BHXH điện tử.",
        "The unit has cancelled the e-BHXH service.",
        'Chọn "Đăng ký" để đăng ký lại; đơn vị tiếp tục dùng tài khoản cũ.',
        'Choose "Đăng ký" to register again; the old account is kept.',
        403,
    ),
    CatalogueError(
        "E106",
        "FORM_INVALID",
        _G_ACCOUNT,
        "Thông tin chưa hợp lệ: {detail}.",
        "The form is not valid: {detail}.",
        "Sửa các ô được đánh dấu rồi thử lại.",
        "Correct the marked fields and try again.",
    ),
    CatalogueError(
        "E107",
        "NOT_FOUND",
        _G_ACCOUNT,
        "Không tìm thấy dữ liệu yêu cầu.",
        "The requested item was not found.",
        "Kiểm tra lại đường dẫn hoặc chọn lại từ danh sách.",
        "Check the address or choose again from the list.",
        404,
    ),
    CatalogueError(
        "E109",
        "LOGIN_THROTTLED",
        _G_ACCOUNT,
        "Đăng nhập sai quá nhiều lần với tên đăng nhập này; tạm khóa đăng nhập trong {minutes} "
        "phút.",
        "Too many wrong log-ins for this user name; logging in is paused for {minutes} minutes.",
        "Đợi {minutes} phút rồi đăng nhập lại bằng đúng mật khẩu trong thư cấp tài khoản. Nếu "
        "bạn không thử đăng nhập, có thể ai đó đang dò mật khẩu: báo cơ quan BHXH.",
        "Wait {minutes} minutes, then log in with the password from the account e-mail. If it "
        "was not you, someone may be guessing the password: tell the social insurance office.",
        429,
    ),
    CatalogueError(
        "E110",
        "REQUEST_TOO_LARGE",
        _G_ACCOUNT,
        "Yêu cầu gửi lên quá lớn (tối đa {limit_kb} KB khi chưa đăng nhập).",
        "The request is too large (at most {limit_kb} KB before logging in).",
        "Kiểm tra lại các ô đã điền: thông tin đăng ký hay đăng nhập chỉ cần vài trăm ký tự. "
        "Hồ sơ và tệp đính kèm được gửi sau khi đăng nhập.",
        "Check what was filled in: registration and log-in details need a few hundred "
        "characters. Dossiers and attachments are sent after logging in.",
        413,
    ),
    CatalogueError(
        "E111",
        "TOO_MANY_CHALLENGES",
        _G_ACCOUNT,
        "Có quá nhiều yêu cầu ký đang chờ khi chưa đăng nhập; vui lòng thử lại sau {minutes} phút.",
        "Too many signing requests are waiting from visitors who are not logged in; try again "
        "in {minutes} minutes.",
        "Đợi {minutes} phút rồi bấm ký lại; mỗi lần ký chỉ cần một yêu cầu. Nếu lỗi lặp lại, "
        "báo bộ phận hỗ trợ của cổng: có thể ai đó đang gửi yêu cầu hàng loạt.",
        "Wait {minutes} minutes, then sign again; each signature needs only one request. If it "
        "keeps happening, tell the portal's support: someone may be sending requests in bulk.",
        429,
    ),
    CatalogueError(
        "E112",
        "REQUEST_TIMEOUT",
        _G_ACCOUNT,
        "Dữ liệu gửi lên không đến đủ trong {seconds} giây nên cổng đã ngừng chờ.",
        "The request's data did not all arrive within {seconds} seconds, so the portal stopped "
        "waiting.",
        "Kiểm tra kết nối mạng rồi gửi lại. Với tệp lớn, dùng đường truyền ổn định hơn.",
        "Check the network connection and send again. For a large file, use a steadier connection.",
        408,
    ),
    CatalogueError(
        "E108",
        "CROSS_SITE_REFUSED",
        _G_ACCOUNT,
        "Yêu cầu được gửi từ một trang web khác nên đã bị từ chối ({detail}).",
        "The request was sent from another website and has been refused ({detail}).",
        "Mở trực tiếp trang của cổng (gõ địa chỉ hoặc dùng dấu trang) rồi thực hiện lại. "
        "Đừng điền thông tin đăng nhập vào biểu mẫu trên trang web khác.",
        "Open the portal's own page (type its address or use a bookmark) and do it again. "
        "Never enter your log-in details in a form on another website.",
        403,
    ),
    CatalogueError(
        "E201",
        "SIGNATURE_REQUIRED",
        _G_SIGNED,
        "Thao tác này cần ký xác nhận bằng chữ ký số của đơn vị.",
        "This action must be confirmed with the unit's digital signature.",
        "Cắm USB token, bật Kyso rồi bấm lại nút; chọn chứng thư số và nhập mã PIN.",
        "Plug in the USB token, start Kyso and press the button again; choose the "
        "certificate and enter the PIN.",
    ),
    CatalogueError(
        "E202",
        "CHALLENGE_UNKNOWN",
        _G_SIGNED,
        "Mã xác thực (nonce) không do cổng cấp hoặc không dùng cho đơn vị này.",
        "The challenge (nonce) was not issued by this portal or not for this unit.",
        "Bấm lại nút để ký với mã xác thực mới.",
        "Press the button again to sign a fresh challenge.",
    ),
    CatalogueError(
        "E203",
        "CHALLENGE_USED",
        _G_SIGNED,
        "Mã xác thực này đã được dùng.",
        "This challenge has already been used.",
        "Mỗi lần ký chỉ dùng được một lần. Bấm lại nút để ký lại.",
        "Each signature can be used once. Press the button again to sign again.",
    ),
    CatalogueError(
        "E204",
        "CHALLENGE_EXPIRED",
        _G_SIGNED,
        "Mã xác thực đã hết hạn (quá 5 phút).",
        "The challenge has expired (older than 5 minutes).",
        "Bấm lại nút để ký với mã xác thực mới.",
        "Press the button again to sign a fresh challenge.",
    ),
    CatalogueError(
        "E205",
        "CHALLENGE_MISMATCH",
        _G_SIGNED,
        "Nội dung gửi lên khác với nội dung đã ký xác nhận.",
        "What was submitted differs from what was signed.",
        "Không sửa biểu mẫu sau khi ký. Bấm lại nút để ký đúng nội dung.",
        "Do not edit the form after signing. Press the button again to sign it.",
    ),
    CatalogueError(
        "E206",
        "ORIGIN_MISMATCH",
        _G_SIGNED,
        "Chữ ký xác thực được tạo cho trang web khác ({origin}).",
        "The authentication was signed for another web site ({origin}).",
        "Chỉ ký trên đúng cổng {expected}. Nếu không rõ, dừng lại và báo bộ phận hỗ trợ.",
        "Only sign on the portal {expected}. If unsure, stop and contact support.",
    ),
    CatalogueError(
        "E207",
        "AUTH_INVALID",
        _G_SIGNED,
        "Chữ ký xác thực không hợp lệ (hỏng, hoặc được ký cho một trang web khác).",
        "The authentication signature is not valid (damaged, or signed for another web site).",
        "Chỉ ký trên đúng địa chỉ cổng {expected}; bấm lại nút để ký lại. Nếu vẫn lỗi, "
        "cập nhật Kyso lên bản mới nhất.",
        "Only sign on the portal at {expected}; press the button again. If it "
        "persists, update Kyso.",
    ),
    CatalogueError(
        "E208",
        "MST_MISMATCH",
        _G_SIGNED,
        "Chứng thư số mang mã số thuế {cert_mst}, khác mã số thuế của đơn vị ({mst}).",
        "The certificate carries tax code {cert_mst}, not the unit's ({mst}).",
        "Chọn chứng thư số của chính đơn vị (có MST:{mst}).",
        "Choose the unit's own certificate (with MST:{mst}).",
    ),
    CatalogueError(
        "E209",
        "CERT_NOT_REGISTERED",
        _G_SIGNED,
        "Chứng thư số đã dùng không phải chứng thư số đơn vị đã đăng ký.",
        "The certificate used is not the one the unit registered.",
        'Ký bằng chứng thư số đã đăng ký, hoặc đăng ký chứng thư số mới ở "Thay đổi thông tin".',
        'Sign with the registered certificate, or register the new one under "Thay đổi thông tin".',
    ),
    CatalogueError(
        "E210",
        "CERT_UNCHANGED",
        _G_SIGNED,
        "Chứng thư số mới trùng với chứng thư số đang đăng ký.",
        "The new certificate is the one already registered.",
        "Cắm USB token mới và chọn chứng thư số mới khi ký.",
        "Plug in the new token and choose the new certificate when signing.",
    ),
    CatalogueError(
        "E211",
        "REQUEST_INVALID",
        _G_SIGNED,
        "Tệp gửi lên không phải yêu cầu về tài khoản do cổng lập ({detail}).",
        "What was sent is not an account request written by this portal ({detail}).",
        "Thực hiện lại thao tác trên trang của cổng: cổng lập yêu cầu, bạn ký trong cửa sổ Kyso.",
        "Do it again on the portal's page: the portal writes the request, you sign it in Kyso.",
    ),
    CatalogueError(
        "E301",
        "CERT_UNTRUSTED",
        _G_CERT,
        "Chứng thư số không do tổ chức cung cấp dịch vụ chứng thực được công nhận cấp.",
        "The certificate was not issued by a recognised certification authority.",
        "Dùng chứng thư số do nhà cung cấp hợp lệ cấp; liên hệ nhà cung cấp nếu chưa rõ.",
        "Use a certificate from a recognised provider; ask your provider if unsure.",
    ),
    CatalogueError(
        "E302",
        "CERT_EXPIRED",
        _G_CERT,
        "Chứng thư số đã hết hạn.",
        "The certificate has expired.",
        "Gia hạn chứng thư số với nhà cung cấp, rồi đăng ký chứng thư số mới ở "
        '"Thay đổi thông tin".',
        'Renew the certificate, then register the new one under "Thay đổi thông tin".',
    ),
    CatalogueError(
        "E303",
        "CERT_NOT_YET_VALID",
        _G_CERT,
        "Chứng thư số chưa đến ngày có hiệu lực.",
        "The certificate is not valid yet.",
        "Kiểm tra đồng hồ máy tính, hoặc dùng chứng thư số đang có hiệu lực.",
        "Check the computer's clock, or use a certificate that is valid now.",
    ),
    CatalogueError(
        "E304",
        "CERT_REVOKED",
        _G_CERT,
        "Chứng thư số đã bị thu hồi.",
        "The certificate has been revoked.",
        "Liên hệ nhà cung cấp chữ ký số để được cấp chứng thư số mới.",
        "Contact your certificate provider for a new certificate.",
    ),
    CatalogueError(
        "E305",
        "CERT_KEY_USAGE",
        _G_CERT,
        "Chứng thư số không được phép dùng để ký.",
        "The certificate may not be used for signing.",
        "Chọn chứng thư số ký số của đơn vị (không phải chứng thư mã hóa).",
        "Choose the unit's signing certificate (not an encryption one).",
    ),
    CatalogueError(
        "E306",
        "REVOCATION_UNKNOWN",
        _G_CERT,
        "Chưa kiểm tra được tình trạng thu hồi của chứng thư số.",
        "The certificate's revocation status could not be checked.",
        "Thử lại sau ít phút; nếu vẫn lỗi, liên hệ bộ phận hỗ trợ của cổng.",
        "Try again in a few minutes; if it persists, contact the portal's support.",
    ),
    CatalogueError(
        "E401",
        "FILE_TOO_LARGE",
        _G_DOSSIER,
        "Tệp hồ sơ quá lớn (tối đa {limit_mb} MB).",
        "The dossier file is too large (at most {limit_mb} MB).",
        "Chia hồ sơ thành nhiều hồ sơ nhỏ hơn rồi nộp lần lượt.",
        "Split the dossier into smaller ones and submit them one by one.",
        413,
    ),
    CatalogueError(
        "E402",
        "XML_MALFORMED",
        _G_DOSSIER,
        "Tệp không phải hồ sơ XML hợp lệ: {detail}.",
        "The file is not a well-formed XML dossier: {detail}.",
        "Chọn đúng tệp đã ký xuất từ phần mềm kê khai (đuôi .xml).",
        "Choose the signed file exported by the declaration software (.xml).",
    ),
    CatalogueError(
        "E403",
        "SCHEMA_INVALID",
        _G_DOSSIER,
        "Hồ sơ sai cấu trúc: {detail}.",
        "The dossier does not follow the format: {detail}.",
        "Lập lại hồ sơ bằng phần mềm kê khai, xuất file BHXH-VAN, ký rồi nộp lại.",
        "Prepare the dossier again, export the BHXH-VAN file, sign and submit it.",
    ),
    CatalogueError(
        "E404",
        "NOT_SIGNED",
        _G_DOSSIER,
        "Hồ sơ chưa được ký số.",
        "The dossier is not signed.",
        'Ký hồ sơ bằng chữ ký số của đơn vị (nút "Ký và nộp" hoặc phần mềm ký) rồi nộp lại.',
        'Sign the dossier with the unit\'s certificate ("Ký và nộp" or the signing '
        "program), then submit it again.",
    ),
    CatalogueError(
        "E405",
        "SIGNATURE_INVALID",
        _G_DOSSIER,
        "Chữ ký số không hợp lệ, tệp gốc có thể đã bị sửa sau khi ký.",
        "The signature is not valid: the file may have been changed after signing.",
        "Không mở hay sửa tệp sau khi ký. Xuất lại file từ phần mềm kê khai, ký lại rồi nộp.",
        "Do not open or edit the file after signing. Export it again, sign and submit.",
    ),
    CatalogueError(
        "E406",
        "UNIT_MISMATCH",
        _G_DOSSIER,
        "Hồ sơ thuộc đơn vị khác ({field} {value}), không phải đơn vị đang đăng nhập.",
        "The dossier belongs to another unit ({field} {value}), not the logged-in one.",
        "Kiểm tra mã số thuế, mã đơn vị trong phần mềm kê khai, hoặc đăng nhập đúng "
        "tài khoản đơn vị.",
        "Check the tax code and unit code in the declaration software, or log in as "
        "the right unit.",
    ),
    CatalogueError(
        "E407",
        "TYPE_NOT_REGISTERED",
        _G_DOSSIER,
        "Đơn vị chưa đăng ký nộp hồ sơ thủ tục {procedure} qua giao dịch điện tử.",
        "The unit has not registered procedure {procedure} for e-filing.",
        'Vào "Tài khoản" → "Đăng ký thêm hồ sơ" để đăng ký thủ tục này.',
        'Go to "Tài khoản" → "Đăng ký thêm hồ sơ" to register this procedure.',
    ),
    CatalogueError(
        "E408",
        "TYPE_STOPPED",
        _G_DOSSIER,
        "Đơn vị đã đăng ký ngừng nộp hồ sơ thủ tục {procedure} qua mạng.",
        "The unit has stopped e-filing procedure {procedure}.",
        'Đăng ký lại thủ tục ở "Tài khoản" → "Đăng ký thêm hồ sơ", hoặc nộp trực '
        "tiếp tại cơ quan BHXH.",
        'Register it again under "Tài khoản" → "Đăng ký thêm hồ sơ", or file it '
        "at the BHXH office.",
    ),
    CatalogueError(
        "E409",
        "DUPLICATE",
        _G_DOSSIER,
        "Hồ sơ này đã được nộp (biên nhận {receipt}).",
        "This dossier has already been submitted (receipt {receipt}).",
        'Tra cứu tình trạng ở "Tra cứu hồ sơ". Muốn nộp hồ sơ mới thì lấy số hồ sơ mới.',
        'Follow it under "Tra cứu hồ sơ". For a new filing, take a new dossier number.',
        409,
    ),
    CatalogueError(
        "E410",
        "CHECK_REQUIRED",
        _G_DOSSIER,
        'Hồ sơ chưa qua bước "Kiểm tra hồ sơ" hoặc kết quả kiểm tra đã hết hạn.',
        'The dossier has not passed "Kiểm tra hồ sơ", or the check has expired.',
        'Chọn lại tệp ("Duyệt"), bấm "Kiểm tra hồ sơ" rồi "Nộp hồ sơ".',
        'Choose the file again ("Duyệt"), press "Kiểm tra hồ sơ", then "Nộp hồ sơ".',
    ),
    CatalogueError(
        "E411",
        "TYPE_UNKNOWN",
        _G_DOSSIER,
        "Mã thủ tục {procedure} không có trong danh mục hồ sơ.",
        "Procedure code {procedure} is not in the dossier catalogue.",
        'Xem "Danh mục hồ sơ" và lập hồ sơ đúng mã thủ tục.',
        'See "Danh mục hồ sơ" and use a listed procedure code.',
    ),
    CatalogueError(
        "E412",
        "FORM_FILE_INVALID",
        _G_DOSSIER,
        "Tờ khai {form} trong hồ sơ không hợp lệ: {detail}.",
        "Form {form} inside the dossier is not valid: {detail}.",
        "Lập lại tờ khai bằng phần mềm kê khai rồi xuất lại file.",
        "Prepare the form again in the declaration software and export again.",
    ),
    CatalogueError(
        "E413",
        "DOSSIER_NUMBER_MISSING",
        _G_DOSSIER,
        "Hồ sơ chưa được lấy số.",
        "The dossier has no number yet.",
        'Bấm "Lấy số hồ sơ" rồi "Ghi" trước khi xuất file.',
        'Press "Lấy số hồ sơ" then "Ghi" before exporting.',
    ),
    CatalogueError(
        "E414",
        "XML_HIDDEN_CONTENT",
        _G_DOSSIER,
        "Hồ sơ chứa chú thích (comment) hoặc chỉ thị xử lý XML bên trong nội dung được ký "
        "({detail}). Hồ sơ BHXH không dùng các thành phần này, và chữ ký số không bảo vệ "
        "phần chú thích, nên cổng không tiếp nhận.",
        "The dossier has an XML comment or processing instruction inside its signed content "
        "({detail}). BHXH dossiers have no use for them, and a signature does not cover "
        "comments, so the portal does not accept the file.",
        "Xuất lại file từ phần mềm kê khai, không sửa tay tệp XML, ký lại rồi nộp.",
        "Export the file again from the declaration software without editing the XML by "
        "hand, sign it again and submit it.",
    ),
    CatalogueError(
        "E422",
        "DRAFT_CHANGED",
        _G_DOSSIER,
        "Hồ sơ {dossier_number} đã được ghi lại sau khi trang bạn đang xem được mở: trang "
        "hiển thị phiên bản {shown}, bản đang lưu là phiên bản {current}. Cổng không xuất và "
        "không nhận bản khác với bản đang lưu.",
        "Dossier {dossier_number} was saved again after the page you are looking at was "
        "opened: the page shows version {shown}, the saved one is version {current}. The "
        "portal neither exports nor accepts any version but the saved one.",
        'Mở lại hồ sơ ở mục "Lập hồ sơ" (hoặc tải lại trang), kiểm tra nội dung đang lưu rồi '
        'bấm "Ký và nộp" lại.',
        'Open the dossier again under "Lập hồ sơ" (or reload the page), check the saved '
        'content, then press "Ký và nộp" again.',
        409,
    ),
    CatalogueError(
        "E423",
        "DRAFT_MISMATCH",
        _G_DOSSIER,
        "Tệp đã ký không phải bản hồ sơ {dossier_number} (phiên bản {revision}) mà trang "
        "hồ sơ đã xuất để ký.",
        "The signed file is not the version of dossier {dossier_number} (version {revision}) "
        "that the dossier page exported for signing.",
        'Bấm "Ký và nộp" ngay trên trang hồ sơ để Kyso ký đúng bản đang lưu. Tệp ký bằng '
        'phần mềm khác thì nộp ở mục "Nộp hồ sơ".',
        'Press "Ký và nộp" on the dossier page itself so that Kyso signs the saved version. '
        'Submit a file signed with other software under "Nộp hồ sơ".',
        409,
    ),
    CatalogueError(
        "E424",
        "DRAFT_UNSAVED",
        _G_DOSSIER,
        'Hồ sơ trên trang có thay đổi chưa được ghi. Nút "Ký và nộp" chỉ ký bản đã ghi, '
        "nên chưa ký gì cả.",
        'The dossier on the page has changes that are not saved. "Ký và nộp" signs only the '
        "saved version, so nothing was signed.",
        'Bấm "Ghi" để lưu thay đổi, xem lại hồ sơ rồi bấm "Ký và nộp". Muốn bỏ các thay đổi '
        "thì tải lại trang.",
        'Press "Ghi" to save the changes, check the dossier, then press "Ký và nộp". To drop '
        "the changes, reload the page.",
        409,
    ),
    CatalogueError(
        "E415",
        "ATTACHMENT_LIMIT",
        _G_ATTACH,
        "Tệp đính kèm vượt giới hạn: {detail}.",
        "The attachments exceed the limit: {detail}.",
        "Mỗi hồ sơ kèm tối đa {max_files} tệp PDF, mỗi tệp tối đa {limit_mb} MB. Quét lại "
        "giấy tờ với độ phân giải thấp hơn (200 dpi là đủ) hoặc bỏ bớt tệp.",
        "A dossier takes at most {max_files} PDF files of at most {limit_mb} MB each. Scan "
        "the papers again at a lower resolution (200 dpi is enough) or leave some out.",
        413,
    ),
    CatalogueError(
        "E416",
        "ATTACHMENT_INVALID",
        _G_ATTACH,
        "Tệp đính kèm «{name}» không phải tệp PDF hợp lệ: {detail}.",
        "The attachment “{name}” is not a valid PDF file: {detail}.",
        "Chọn đúng tệp PDF bản quét giấy tờ (không đặt mật khẩu cho tệp) rồi ký lại.",
        "Choose the scanned PDF itself (without a password on the file) and sign it again.",
    ),
    CatalogueError(
        "E417",
        "ATTACHMENT_NOT_SIGNED",
        _G_ATTACH,
        "Tệp đính kèm «{name}» chưa được ký số.",
        "The attachment “{name}” is not signed.",
        'Đính kèm tệp ở bước "Ký và nộp" để Kyso ký cùng hồ sơ, hoặc ký tệp bằng chữ ký '
        "số của đơn vị trước khi nộp.",
        'Attach the file at "Ký và nộp" so that Kyso signs it with the dossier, or sign it '
        "with the unit's certificate before submitting.",
    ),
    CatalogueError(
        "E418",
        "ATTACHMENT_SIGNATURE_INVALID",
        _G_ATTACH,
        "Chữ ký số trên tệp đính kèm «{name}» không hợp lệ: {detail}.",
        "A signature on the attachment “{name}” is not valid: {detail}.",
        "Không sửa tệp sau khi ký. Lấy lại bản quét gốc, ký lại bằng chứng thư số còn hiệu "
        "lực của đơn vị rồi nộp.",
        "Do not edit the file after signing. Take the original scan, sign it again with the "
        "unit's valid certificate and submit it.",
    ),
    CatalogueError(
        "E419",
        "ATTACHMENT_CHANGED",
        _G_ATTACH,
        "Tệp đính kèm «{name}» đã bị thay đổi sau chữ ký số cuối cùng ({detail}).",
        "The attachment “{name}” was changed after its last signature ({detail}).",
        "Ký lại tệp sau lần sửa cuối cùng rồi nộp.",
        "Sign the file again after its last change and submit it.",
    ),
    CatalogueError(
        "E420",
        "ATTACHMENT_UNIT_MISMATCH",
        _G_ATTACH,
        "Tệp đính kèm «{name}» được ký bởi {signer} (MST {cert_mst}), không phải đơn vị nộp "
        "hồ sơ (MST {mst}).",
        "The attachment “{name}” was signed by {signer} (tax code {cert_mst}), not by the "
        "submitting unit (tax code {mst}).",
        "Ký tệp bằng chứng thư số của đơn vị đang nộp hồ sơ rồi nộp lại.",
        "Sign the file with the certificate of the unit filing the dossier, then submit again.",
    ),
    CatalogueError(
        "E421",
        "ATTACHMENT_ACTIVE_CONTENT",
        _G_ATTACH,
        "Tệp đính kèm «{name}» chứa {detail}: cổng không nhận tệp có nội dung chạy được "
        "hay tệp nhúng bên trong.",
        "The attachment “{name}” contains {detail}: the portal does not accept files with "
        "active content or embedded files.",
        "Quét hoặc in lại giấy tờ ra một tệp PDF thông thường, ký rồi nộp.",
        "Scan or print the papers again to a plain PDF, sign it and submit it.",
    ),
    CatalogueError(
        "E501",
        "INTERNAL",
        _G_SYSTEM,
        "Lỗi hệ thống: {detail}.",
        "System error: {detail}.",
        "Thử lại sau ít phút. Nếu vẫn lỗi, liên hệ bộ phận hỗ trợ và cung cấp mã lỗi.",
        "Try again in a few minutes. If it persists, contact support with the code.",
        500,
    ),
)

BY_KEY: dict[str, CatalogueError] = {row.key: row for row in CATALOGUE}


class _Keep(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass
class PortalError(Exception):
    """A failure the user can act on, carrying a catalogue row and the values for its text."""

    key: str
    details: dict[str, Any] = field(default_factory=dict)
    cause: KysoError | None = None

    def __post_init__(self) -> None:
        if self.key not in BY_KEY:
            raise ValueError(f"unknown portal error {self.key!r}")
        super().__init__(f"[{self.row.code}] {self.message_en}")

    @property
    def row(self) -> CatalogueError:
        """The catalogue row."""
        return BY_KEY[self.key]

    @property
    def code(self) -> str:
        """The code users see (E404...)."""
        return self.row.code

    @property
    def status(self) -> int:
        """HTTP status for the API."""
        return self.row.http_status

    def _fmt(self, text: str) -> str:
        return text.format_map(_Keep(self.details))

    @property
    def message_vi(self) -> str:
        """Vietnamese message with details filled in."""
        return self._fmt(self.row.vi)

    @property
    def message_en(self) -> str:
        """English message with details filled in."""
        return self._fmt(self.row.en)

    def to_dict(self) -> dict[str, Any]:
        """Wire form used by the API and by the pages."""
        out: dict[str, Any] = {
            "code": self.code,
            "key": self.key,
            "message_vi": self.message_vi,
            "message_en": self.message_en,
            "action_vi": self._fmt(self.row.action_vi),
            "action_en": self._fmt(self.row.action_en),
            "details": {
                k: v
                for k, v in self.details.items()
                if v is None or isinstance(v, str | int | float | bool)
            },
        }
        if self.cause is not None:
            out["cause"] = self.cause.to_dict()
        return out

    def __hash__(self) -> int:
        return id(self)


# Agent library codes -> catalogue keys. Anything not listed about a document is a signature
# problem; anything else is internal.
_FROM_KYSO = {
    "CERT_UNTRUSTED": "CERT_UNTRUSTED",
    "CERT_EXPIRED": "CERT_EXPIRED",
    "CERT_NOT_YET_VALID": "CERT_NOT_YET_VALID",
    "CERT_REVOKED": "CERT_REVOKED",
    "CERT_KEY_USAGE": "CERT_KEY_USAGE",
    "NOT_SIGNED": "NOT_SIGNED",
    "SIGNATURE_INVALID": "SIGNATURE_INVALID",
    "AUTH_ORIGIN_MISMATCH": "ORIGIN_MISMATCH",
    "AUTH_TOKEN_INVALID": "AUTH_INVALID",
    "AUTH_SIGNATURE_INVALID": "AUTH_INVALID",
    "CERT_INVALID": "CERT_UNTRUSTED",
    "CRL_MISSING": "REVOCATION_UNKNOWN",
    "CRL_EXPIRED": "REVOCATION_UNKNOWN",
    "INPUT_INVALID": "XML_MALFORMED",
    "XML_TOO_LARGE": "FILE_TOO_LARGE",
    "XML_SIGNATURE_UNSUPPORTED": "SIGNATURE_INVALID",
}


def from_kyso(exc: KysoError, **details: Any) -> PortalError:
    """Map a signing-library error onto the catalogue, keeping the original as ``cause``."""
    key = _FROM_KYSO.get(exc.code)
    if key is None:
        if exc.code.startswith("XML_") or exc.code.startswith("SIGNATURE"):
            key = "SIGNATURE_INVALID" if "SIGN" in exc.code else "XML_MALFORMED"
        elif exc.code.startswith("CERT_"):
            key = "CERT_UNTRUSTED"
        elif exc.code.startswith("AUTH_"):
            key = "AUTH_INVALID"
        else:
            key = "INTERNAL"
    merged = {"detail": exc.message_vi, **{k: v for k, v in exc.details.items()}, **details}
    return PortalError(key, merged, cause=exc)
