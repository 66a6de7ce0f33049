"""What is wrong with a PDF signature, in words a person can act on (Vietnamese and English).

pyHanko names a trust failure by its ETSI indication (``AdESIndeterminate.NO_CERTIFICATE_CHAIN
_FOUND``): ``verify-pdf`` printed that name alone, with no next step. Each indication here has
a sentence and what to do; an unknown one keeps its name. Pure data and logic; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

_CRL_OR_SKIP_VI = (
    "Đưa danh sách thu hồi (CRL) của CA bằng --crl, hoặc bỏ kiểm tra thu hồi bằng "
    "--no-revocation nếu đang ngoại tuyến."
)
_CRL_OR_SKIP_EN = (
    "Give the CA's revocation list with --crl, or skip the revocation check with "
    "--no-revocation when offline."
)


@dataclass(frozen=True)
class Problem:
    """One reason a signature is not valid, with what to do next."""

    en: str
    vi: str
    action_en: str
    action_vi: str


_BY_INDICATION: dict[str, Problem] = {
    "NO_CERTIFICATE_CHAIN_FOUND": Problem(
        "no chain from the signer's certificate to a CA you trust",
        "không dựng được chuỗi chứng thư từ người ký tới một CA bạn tin cậy",
        "Give the CA that issued the signer's certificate (and its root) with --trust.",
        "Đưa chứng thư của CA đã cấp chứng thư người ký (và CA gốc) bằng --trust.",
    ),
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": Problem(
        "the certificate chain could not be validated (most often: no revocation data)",
        "không xác thực được chuỗi chứng thư (thường do thiếu dữ liệu thu hồi)",
        _CRL_OR_SKIP_EN,
        _CRL_OR_SKIP_VI,
    ),
    "TRY_LATER": Problem(
        "no revocation data recent enough for the signing time yet",
        "chưa có dữ liệu thu hồi đủ mới cho thời điểm ký",
        "Try again later, or give a newer CRL with --crl.",
        "Thử lại sau, hoặc đưa CRL mới hơn bằng --crl.",
    ),
    "REVOKED_NO_POE": Problem(
        "the signer's certificate is revoked, and nothing proves the signature came before",
        "chứng thư người ký đã bị thu hồi, và không có bằng chứng chữ ký có trước thời điểm đó",
        "Do not rely on this signature; ask the signer to sign again with a valid certificate.",
        "Không dựa vào chữ ký này; đề nghị người ký ký lại bằng chứng thư còn hiệu lực.",
    ),
    "REVOKED_CA_NO_POE": Problem(
        "a CA certificate in the chain is revoked",
        "một chứng thư CA trong chuỗi đã bị thu hồi",
        "Do not rely on this signature; ask the signer to sign again with a valid certificate.",
        "Không dựa vào chữ ký này; đề nghị người ký ký lại bằng chứng thư còn hiệu lực.",
    ),
    "OUT_OF_BOUNDS_NO_POE": Problem(
        "the signer's certificate had expired (or was not yet valid) at the signing time",
        "chứng thư người ký đã hết hạn (hoặc chưa có hiệu lực) tại thời điểm ký",
        "Ask the signer to sign again with a certificate valid now.",
        "Đề nghị người ký ký lại bằng chứng thư đang còn hiệu lực.",
    ),
    "OUT_OF_BOUNDS_NOT_REVOKED": Problem(
        "the signer's certificate has expired and no timestamp proves an earlier signing time",
        "chứng thư người ký đã hết hạn và không có dấu thời gian chứng minh thời điểm ký sớm hơn",
        "Ask the signer for a copy signed with a timestamp (PAdES-B-T or later).",
        "Đề nghị người ký gửi bản ký có dấu thời gian (PAdES-B-T trở lên).",
    ),
    "REVOCATION_OUT_OF_BOUNDS_NO_POE": Problem(
        "the revocation data does not cover the signing time",
        "dữ liệu thu hồi không bao trùm thời điểm ký",
        "Give a CRL that covers the signing time with --crl.",
        "Đưa CRL bao trùm thời điểm ký bằng --crl.",
    ),
    "EXPIRED": Problem(
        "the signer's certificate has expired",
        "chứng thư người ký đã hết hạn",
        "Ask the signer to sign again with a certificate valid now.",
        "Đề nghị người ký ký lại bằng chứng thư đang còn hiệu lực.",
    ),
    "NOT_YET_VALID": Problem(
        "the signer's certificate was not yet valid at the signing time",
        "chứng thư người ký chưa có hiệu lực tại thời điểm ký",
        "Check the computer's clock and the signing time; ask the signer to sign again.",
        "Kiểm tra đồng hồ máy tính và thời điểm ký; đề nghị người ký ký lại.",
    ),
    "CHAIN_CONSTRAINTS_FAILURE": Problem(
        "a certificate in the chain may not be used this way (key usage, CA flags, path length)",
        "một chứng thư trong chuỗi không được phép dùng theo cách này (mục đích khóa, cờ CA)",
        "Ask the signer to sign with a certificate issued for signing documents.",
        "Đề nghị người ký dùng chứng thư được cấp để ký văn bản.",
    ),
    "CRYPTO_CONSTRAINTS_FAILURE": Problem(
        "the signature uses an algorithm too weak to trust (SHA-1, a short key)",
        "chữ ký dùng thuật toán quá yếu (SHA-1, khóa ngắn)",
        "Ask the signer to sign again with SHA-256 and a 2048-bit or longer key.",
        "Đề nghị người ký ký lại bằng SHA-256 và khóa từ 2048 bit.",
    ),
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": Problem(
        "the signature uses an algorithm too weak to trust (SHA-1, a short key)",
        "chữ ký dùng thuật toán quá yếu (SHA-1, khóa ngắn)",
        "Ask the signer to sign again with SHA-256 and a 2048-bit or longer key.",
        "Đề nghị người ký ký lại bằng SHA-256 và khóa từ 2048 bit.",
    ),
    "NO_SIGNING_CERTIFICATE_FOUND": Problem(
        "the signer's certificate is not in the signature",
        "chữ ký không kèm chứng thư của người ký",
        "Ask the signer for a copy signed with the certificate included.",
        "Đề nghị người ký gửi bản ký có kèm chứng thư.",
    ),
}

_UNKNOWN_ACTION_EN = "Check --trust and --crl; run with -v for pyHanko's details."
_UNKNOWN_ACTION_VI = "Kiểm tra --trust và --crl; chạy với -v để xem chi tiết của pyHanko."


def trust_problem(indication: object, *, timestamp: bool = False) -> Problem:
    """The words for pyHanko's trust indication (an enum member, or its text); ``timestamp``:
    about the signature timestamp's authority, not the signer. The indication's name stays in
    the English sentence, for support."""
    name = str(indication or "").rpartition(".")[2]
    known = _BY_INDICATION.get(name)
    if known is None:
        known = Problem("not trusted", "không tin cậy được", _UNKNOWN_ACTION_EN, _UNKNOWN_ACTION_VI)
    if timestamp:
        return Problem(
            f"signature timestamp: {known.en} ({name or 'authority not trusted'})",
            f"dấu thời gian: {known.vi}",
            "Give the timestamp authority's CA with --trust (and its CRL with --crl).",
            "Đưa chứng thư CA của đơn vị cấp dấu thời gian bằng --trust (và CRL bằng --crl).",
        )
    return Problem(f"{known.en} ({name or 'unknown'})", known.vi, known.action_en, known.action_vi)


# The other reasons verify_pdf gives, by their English sentence.
CHANGED = Problem(
    "the signed bytes were changed or the signature value is wrong",
    "nội dung đã ký bị thay đổi hoặc giá trị chữ ký sai",
    "Do not rely on this file; ask the sender for the original signed copy.",
    "Không dựa vào tệp này; đề nghị người gửi gửi lại bản đã ký gốc.",
)
TIMESTAMP_ALTERED = Problem(
    "the signature timestamp was changed or does not stamp this signature",
    "dấu thời gian bị thay đổi hoặc không thuộc chữ ký này",
    "Do not rely on the signing time; ask the sender for the original signed copy.",
    "Không dựa vào thời điểm ký; đề nghị người gửi gửi lại bản đã ký gốc.",
)
TIMESTAMP_TIME_IMPOSSIBLE = Problem(
    "the signature timestamp's time cannot be right: it is ahead of now, or outside the "
    "validity of the signer's or the timestamp authority's certificate",
    "thời điểm của dấu thời gian không thể đúng: muộn hơn hiện tại, hoặc nằm ngoài thời hạn "
    "của chứng thư người ký hay của máy chủ dấu thời gian",
    "Do not rely on the signing time; ask the sender to sign again with a working timestamp "
    "authority.",
    "Không dựa vào thời điểm ký; đề nghị người gửi ký lại với máy chủ dấu thời gian hoạt động "
    "đúng.",
)
CERTIFICATION_BROKEN = Problem(
    "changed after a certification that does not permit it",
    "bị thay đổi sau một chữ ký chứng nhận (certification) không cho phép thay đổi đó",
    "Ask the sender for the copy as certified; changes after it are not covered.",
    "Đề nghị người gửi gửi bản như lúc được chứng nhận; thay đổi sau đó không được bảo đảm.",
)

CHANGED_AFTER = Problem(
    "the file was changed after this signature (content, not only form filling or signatures)",
    "tệp bị sửa sau chữ ký này (sửa nội dung, không chỉ điền biểu mẫu hay thêm chữ ký)",
    "What the pages show now is not what was signed: ask the sender for the signed original.",
    "Nội dung hiển thị bây giờ không phải nội dung đã ký: đề nghị người gửi gửi bản gốc đã ký.",
)


def fields_changed(names: str) -> Problem:
    """Form fields typed over or added after the signature (a shadow attack's tool)."""
    return Problem(
        f"form fields changed or added after this signature, not by a later signature: {names}",
        f"các ô biểu mẫu bị sửa hoặc thêm sau chữ ký này, không phải bởi một chữ ký sau: {names}",
        "What the page shows may not be what was signed: ask the sender for the signed original.",
        "Nội dung hiển thị có thể khác nội dung đã ký: đề nghị người gửi gửi bản gốc đã ký.",
    )


def stamp_covers(names: str) -> Problem:
    """A later signature's stamp drawn over words this signature covers (a "sneaky
    signature": the later signer's drawing hides what the first one signed)."""
    return Problem(
        f"a later signature's stamp is drawn over text this signature covers: {names}",
        f"hình chữ ký của một chữ ký sau được vẽ đè lên nội dung chữ ký này đã ký: {names}",
        "What the page shows may not be what was signed: ask the sender for the original as "
        "this signer signed it, or open that version in a PDF reader (its signature panel).",
        "Nội dung hiển thị có thể khác nội dung đã ký: đề nghị người gửi gửi bản gốc do người "
        "này ký, hoặc mở phiên bản đó trong trình đọc PDF (bảng chữ ký).",
    )


def stamps_unchecked() -> Problem:
    """The later revisions' widgets could not all be read (too many, a budget spent,
    unreadable): whether one hides what this signature covers cannot be told."""
    return Problem(
        "what later changes to this file's form fields and stamps draw could not all be checked "
        "(too many, or unreadable), so the page shown may not be the page signed",
        "không kiểm tra được hết các thay đổi sau chữ ký này ở các ô biểu mẫu và hình chữ ký "
        "(quá nhiều hoặc không đọc được), nên trang hiển thị có thể khác trang đã ký",
        "Ask the sender for the original as this signer signed it, or open that version in a "
        "PDF reader (its signature panel).",
        "Đề nghị người gửi gửi bản gốc do người này ký, hoặc mở phiên bản đó trong trình đọc "
        "PDF (bảng chữ ký).",
    )
