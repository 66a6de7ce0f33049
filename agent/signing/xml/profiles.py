"""Where a portal expects the signature and how it is made: one table of data, no code.

A new portal convention is a new :class:`XmlProfile` row. Each profile lists the document kinds
it signs (:class:`Placement`: the root element, the child that holds the signature, and what the
signature references). Pure data plus lookups; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from lxml import etree

from agent.errors import KysoError, invalid_input

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
C14N_1_0 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_1_0_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
# SigningTime's namespace. XML-DSig Core §4.8 allows only ##other inside SignatureProperty, so it
# cannot be the ds namespace (what Kyso wrote before: signxml rejected it). This one is what the
# Vietnamese .NET signers already write (CA2's BHXH signer, e-invoice signers; it comes from
# Microsoft's SignedXml sample), so a portal that looks SigningTime up by name finds ours too.
SIGNING_TIME_NS = "http://example.org/#signatureProperties"
# Canonicalization methods we can compute with libxml2 through lxml (C14N 1.1 is not exposed).
C14N_METHODS = {
    "c14n": C14N_1_0,
    "c14n-comments": C14N_1_0_COMMENTS,
    "exc-c14n": EXC_C14N,
    "exc-c14n-comments": EXC_C14N_COMMENTS,
}
HASHES = ("sha256", "sha1", "sha384", "sha512")
# Whether a profile's signatures carry an XAdES SignatureTimeStamp (agent/signing/xml/xades.py):
# "off" never, "optional" when the agent has a timestamp authority and the call does not say
# no, "required" always (TIMESTAMP_NOT_CONFIGURED without an authority).
TIMESTAMP_MODES = ("off", "optional", "required")
# BHXH form files: the root is the form code, the signature goes in its <Cky> child. "ToKhai"
# is kept for files made by Kyso's earlier tests; no real form uses it.
BHXH_FORMS = (
    "D01-TS",
    "D02-TS",
    "D03-TS",
    "D05-TS",
    "TK1-TS",
    "TK3-TS",
    "M01B-HSB",
    "M05A-HSB",
    "ToKhai",
)

# --- account requests (docs/portal-api.md, "Account requests") -----------------------------------
# The portal writes what a unit asks of its account as a small signed document; the consent
# dialog says it in one sentence. Everything below is data: a new request type is a new row.
REQUEST_ROOT = "YeuCauTaiKhoan"
REQUEST_CODE_PATH = "ThongTinYeuCau/LoaiYeuCau"
# The portal the request was written for: the agent compares it with the page's origin.
REQUEST_ORIGIN_PATH = "ThongTinYeuCau/CongGiaoDich"
# Changed details: <NoiDung><ThayDoi><DienThoai><GiaTriCu/><GiaTriMoi/></DienThoai>...</ThayDoi>.
REQUEST_CHANGES_PATH = "NoiDung/ThayDoi"


@dataclass(frozen=True)
class RequestSummary:
    """How the consent dialog words one request type.

    ``sentence_vi``/``sentence_en`` name values as ``{placeholder}``; each placeholder is read
    from :data:`REQUEST_VALUES` (several elements are joined with ", "). ``lines`` are the
    dialog's rows: (label, placeholder).
    """

    sentence_vi: str
    sentence_en: str
    lines: tuple[tuple[str, str], ...] = ()


# placeholder -> element path under the request root (untrusted text, shown on one line).
REQUEST_VALUES: dict[str, str] = {
    "don_vi": "ThongTinDonVi/TenDonVi",
    "mst": "ThongTinDonVi/MaSoThue",
    "ma_don_vi": "ThongTinDonVi/MaDonVi",
    "ten_dang_nhap": "ThongTinDonVi/TenDangNhap",
    "ho_so": "NoiDung/DanhSachHoSo/HoSo/MaThuTuc",
    "ten_ho_so": "NoiDung/DanhSachHoSo/HoSo/TenThuTuc",
    "co_quan": "NoiDung/ThongTinDangKy/CoQuanBHXH",
    "dia_chi": "NoiDung/ThongTinDangKy/DiaChi",
    "nguoi_lien_he": "NoiDung/ThongTinDangKy/NguoiLienHe",
    "dien_thoai": "NoiDung/ThongTinDangKy/DienThoai",
    "thu_dien_tu": "NoiDung/ThongTinDangKy/ThuDienTu",
    "cts_cu": "NoiDung/ChungThuSoCu/ChuThe",
    "cts_cu_so_hieu": "NoiDung/ChungThuSoCu/SoHieu",
    "ly_do": "NoiDung/LyDo/TenLyDo",
    "ghi_chu": "NoiDung/LyDo/GhiChu",
    "cong": REQUEST_ORIGIN_PATH,
    "thoi_gian": "ThongTinYeuCau/ThoiGianLap",
}
# Field names inside <ThayDoi>, in words (an unknown name is shown as it is written).
REQUEST_FIELD_LABELS: dict[str, str] = {
    "TenDonVi": "Tên đơn vị",
    "CoQuanBHXH": "Cơ quan BHXH quản lý",
    "DiaChi": "Địa chỉ",
    "NguoiLienHe": "Người liên hệ",
    "DienThoai": "Điện thoại",
    "ThuDienTu": "Thư điện tử",
}
_UNIT_LINES = (("Đơn vị", "don_vi"), ("Mã số thuế", "mst"))
_TAIL_LINES = (("Cổng giao dịch", "cong"), ("Thời gian lập", "thoi_gian"))
REQUEST_SUMMARIES: dict[str, RequestSummary] = {
    "DANG_KY": RequestSummary(
        "Đăng ký sử dụng dịch vụ giao dịch điện tử với BHXH — đơn vị {don_vi}, MST {mst}, "
        "loại hồ sơ: {ho_so}",
        "Register for electronic transactions with BHXH — unit {don_vi}, tax code {mst}, "
        "dossier types: {ho_so}",
        (
            *_UNIT_LINES,
            ("Mã đơn vị", "ma_don_vi"),
            ("Loại hồ sơ", "ten_ho_so"),
            ("Cơ quan BHXH", "co_quan"),
            ("Địa chỉ", "dia_chi"),
            ("Người liên hệ", "nguoi_lien_he"),
            ("Điện thoại", "dien_thoai"),
            ("Thư nhận tài khoản", "thu_dien_tu"),
            *_TAIL_LINES,
        ),
    ),
    "DANG_KY_THEM_HO_SO": RequestSummary(
        "Đăng ký thêm loại hồ sơ giao dịch điện tử — đơn vị {don_vi}, MST {mst}: {ho_so}",
        "Add dossier types for electronic transactions — unit {don_vi}, tax code {mst}: {ho_so}",
        (*_UNIT_LINES, ("Loại hồ sơ thêm", "ten_ho_so"), *_TAIL_LINES),
    ),
    "DANG_KY_NGUNG_HO_SO": RequestSummary(
        "Đăng ký ngừng loại hồ sơ giao dịch điện tử — đơn vị {don_vi}, MST {mst}: {ho_so}",
        "Stop dossier types for electronic transactions — unit {don_vi}, tax code {mst}: {ho_so}",
        (*_UNIT_LINES, ("Loại hồ sơ ngừng", "ten_ho_so"), *_TAIL_LINES),
    ),
    "THAY_DOI_THONG_TIN": RequestSummary(
        "Thay đổi thông tin đăng ký giao dịch điện tử — đơn vị {don_vi}, MST {mst}: {thay_doi}",
        "Change the registration details — unit {don_vi}, tax code {mst}: {thay_doi}",
        (*_UNIT_LINES, *_TAIL_LINES),  # each changed field gets its own "old → new" line
    ),
    "THAY_DOI_CHUNG_THU_SO": RequestSummary(
        "Thay đổi chứng thư số giao dịch điện tử — đơn vị {don_vi}, MST {mst}: chứng thư số "
        "dùng để ký yêu cầu này thay cho chứng thư số {cts_cu}",
        "Change the certificate for electronic transactions — unit {don_vi}, tax code {mst}: "
        "the certificate signing this request replaces {cts_cu}",
        (
            *_UNIT_LINES,
            ("Chứng thư số cũ", "cts_cu"),
            ("Số hiệu chứng thư cũ", "cts_cu_so_hieu"),
            *_TAIL_LINES,
        ),
    ),
    "NGUNG_DICH_VU": RequestSummary(
        "Ngưng sử dụng dịch vụ giao dịch điện tử — đơn vị {don_vi}, MST {mst}, lý do: {ly_do}",
        "Stop using electronic transactions — unit {don_vi}, tax code {mst}, reason: {ly_do}",
        (*_UNIT_LINES, ("Ghi chú", "ghi_chu"), *_TAIL_LINES),
    ),
}


# --- consent summary (agent/signing/xml/summary.py) ----------------------------------------------
@dataclass(frozen=True)
class SummaryPaths:
    """Where the consent summary reads one document shape's fields.

    Each field is a tuple of element paths (local names, ``/`` between steps) under the part the
    signature covers (the placement's ``reference_element``, else the root), every step in the
    namespace of the document's root element: the path a portal reads, never "the first element
    of that name anywhere". Several paths are the layouts of one shape (the IVAN registrations
    write their fields flat under ``NoiDung``); a field found at more than one of them, or more
    than once at one, is refused, as is a field holding a comment, PI or child element.
    """

    code: tuple[str, ...] = ()  # procedure code
    procedure: tuple[str, ...] = ()  # procedure name
    unit: tuple[str, ...] = ()  # the unit's (taxpayer's) name
    mst: tuple[str, ...] = ()  # its tax code: compared with the certificate's
    period: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()  # employee rows (counted)
    forms: tuple[str, ...] = ()  # FileToKhai: base64 form files, read with FORM_FILE_FIELDS


# Shape -> paths. "Hoso": BHXH envelope (portal_stub/checks.py reads the same paths); "form": a
# BHXH form file (root = form code, or ToKhai) and the form files inside a Hoso; the tax shapes
# are read under the element the signature references (HSoKhaiThue, TBaoThue).
SUMMARY_PATHS: dict[str, SummaryPaths] = {
    "Hoso": SummaryPaths(
        code=("NoiDung/ThongTinHoSo/MaThuTuc", "NoiDung/MaThuTuc"),
        procedure=("NoiDung/ThongTinHoSo/TenThuTuc", "NoiDung/TenThuTuc"),
        unit=("NoiDung/ThongTinDonVi/TenDoiTuong", "NoiDung/TenDoiTuong"),
        mst=("NoiDung/ThongTinDonVi/MaSoThue", "NoiDung/MaSoThue"),
        period=("NoiDung/ThongTinHoSo/KyKeKhai",),
        rows=("NoiDung/DanhSachLaoDong/NguoiLaoDong",),
        forms=("NoiDung/ThongTinHoSo/ToKhais/FileToKhai", "NoiDung/ToKhais/FileToKhai"),
    ),
    "form": SummaryPaths(
        unit=("ThongTinChung/TenDonVi",),
        mst=("ThongTinChung/MaSoThue",),
        period=("ThongTinChung/KyKeKhai",),
        # The people a form is about: a D02-TS's employees, an M01B-HSB's beneficiaries (who is
        # paid, for how many days), a TK1-TS's person registered.
        rows=("DanhSach/NguoiLaoDong", "DanhSachHuong/Dong", "ThongTinNguoiThamGia"),
    ),
    # HTKK's 01/GTGT writes TTinTKhaiThue/NNT/{mst, tenNNT} and TKhaiThue/KyKKhaiThue/kyKKhai;
    # TTinChung/{TenNNT, mst, kyKKhai} is the short layout of Kyso's own test files.
    "HSoThueDTu": SummaryPaths(
        unit=("TTinChung/TTinTKhaiThue/NNT/tenNNT", "TTinChung/TenNNT"),
        mst=("TTinChung/TTinTKhaiThue/NNT/mst", "TTinChung/mst"),
        period=("TTinChung/TTinTKhaiThue/TKhaiThue/KyKKhaiThue/kyKKhai", "TTinChung/kyKKhai"),
    ),
    "TBaoThueDTu": SummaryPaths(period=("NDungTBao/kyKKhai",)),
}
# Where a form file names its own code (besides its root element, or ToKhai's MaToKhai=).
FORM_CODE_PATH = "ThongTinChung/MaToKhai"
# Under a FileToKhai: the form's name (first path found) and its base64 content.
FORM_FILE_NAME = ("MaToKhai", "TenFile")
FORM_FILE_CONTENT = "NoiDungFile"


@dataclass(frozen=True)
class Placement:
    """One kind of document a profile signs.

    ``root`` is the document element's local name ("*" = any); ``container`` the local name of
    the root's child that receives the signature ("" = the root itself); ``reference_element``
    is None for ``Reference URI=""`` (the whole document, enveloped transform), or the local
    name of the root's child whose ``id_attribute`` the reference points at (added if missing).
    """

    root: str
    container: str
    reference_element: str | None = None
    id_attribute: str = "Id"
    description: str = ""
    # For root "*": match only a root that has the container as a child (BHXH form files).
    needs_container: bool = False

    def matches(self, root: etree._Element) -> bool:
        """Whether this placement is the one for the document element ``root``."""
        if self.root != "*":
            return self.root == etree.QName(root).localname
        if not self.needs_container:
            return True
        return any(
            etree.QName(c).localname == self.container for c in root.iterchildren(etree.Element)
        )


@dataclass(frozen=True)
class XmlProfile:
    """A portal's XML-DSig convention."""

    name: str
    description: str
    placements: tuple[Placement, ...]
    c14n: str = C14N_1_0
    hash_name: str = "sha256"
    signing_time: bool = True  # a signed SignatureProperties/SigningTime object
    subject_name: bool = True  # X509SubjectName beside X509Certificate in KeyInfo
    extra: dict[str, Any] = field(default_factory=dict)
    # What the portals' verifiers accept: .NET's SignedXml has no ecdsa-sha256
    # (dotnet/runtime#36103), JDK 17+ secure validation refuses SHA-1. False = refuse to sign.
    allow_ecdsa: bool = True
    allow_sha1: bool = True
    # The portals verify with .NET SignedXml, which re-parses the covered part before C14N: a
    # document it would read differently (agent/signing/xml/dotnet.py) is refused before any
    # prompt (XML_DOTNET_MISREAD), since the portal would reject the signed file.
    dotnet_verifier: bool = False
    # One of TIMESTAMP_MODES. The portals' own shapes (BHXH, GDT) carry no timestamp: "off".
    signature_timestamp: str = "off"

    def placement_for(self, root: etree._Element) -> Placement:
        """The placement matching the document element, or XML_PROFILE_MISMATCH."""
        name = etree.QName(root).localname
        for placement in self.placements:
            if placement.matches(root):
                return placement
        hint = suggest_profile(name)
        raise KysoError(
            "XML_PROFILE_MISMATCH",
            {
                "root": name,
                "profile": self.name,
                "hint_vi": f"Tệp này có vẻ hợp với kiểu ký '{hint}' (--profile {hint})."
                if hint
                else "",
                "hint_en": f"It looks like a '{hint}' document (--profile {hint})." if hint else "",
            },
        )

    def check_algorithms(self, *, ecdsa: bool) -> None:
        """Refuse what this profile's verifiers cannot check, unless explicitly allowed:
        XML_ECDSA_NOT_ACCEPTED for an EC key, XML_SHA1_NOT_ACCEPTED for SHA-1."""
        if ecdsa and not self.allow_ecdsa:
            raise KysoError("XML_ECDSA_NOT_ACCEPTED", {"profile": self.name})
        if self.hash_name == "sha1" and not self.allow_sha1:
            raise KysoError("XML_SHA1_NOT_ACCEPTED", {"profile": self.name})

    def timestamp_url(self, configured: str | None, wanted: bool | None = None) -> str | None:
        """The timestamp authority to ask after signing, or None for no timestamp.

        ``configured`` is the agent's authority (settings/policy; a page never names one),
        ``wanted`` the call's ``timestamp`` option (None: the default, yes). "required" wins
        over ``wanted=False`` and without an authority is TIMESTAMP_NOT_CONFIGURED.
        """
        if self.signature_timestamp == "required":
            if not configured:
                raise KysoError("TIMESTAMP_NOT_CONFIGURED", {"profile": self.name})
            return configured
        if self.signature_timestamp == "optional" and wanted is not False:
            return configured or None
        return None


PROFILES: dict[str, XmlProfile] = {
    p.name: p
    for p in (
        XmlProfile(
            name="bhxh",
            description="BHXH envelope (Hoso → CKy_Dvi) and form files (<form code> → Cky)",
            placements=(
                Placement("Hoso", "CKy_Dvi", description="hồ sơ BHXH (chữ ký đơn vị)"),
                # A unit's account request (register, change, cancel): its own root, so a
                # signed request can never pass for a dossier nor a dossier for a request.
                Placement(REQUEST_ROOT, "CKy_Dvi", description="yêu cầu về tài khoản"),
                # Known form codes first: one of them without <Cky> is XML_CONTAINER_MISSING.
                *(Placement(code, "Cky", description=f"tờ khai {code}") for code in BHXH_FORMS),
                # Any other root that carries a <Cky> child is a form too (new form codes).
                Placement("*", "Cky", description="tờ khai BHXH", needs_container=True),
            ),
            allow_ecdsa=False,
            allow_sha1=False,
            dotnet_verifier=True,
        ),
        XmlProfile(
            name="tax",
            description="Tax dossier (HSoThueDTu → CKyDTu, reference to HSoKhaiThue's id)",
            placements=(
                Placement(
                    "HSoThueDTu",
                    "CKyDTu",
                    reference_element="HSoKhaiThue",
                    id_attribute="id",
                    description="hồ sơ khai thuế điện tử",
                ),
                # The tax authority's own notices (TBaoThue Id="_NODE_TO_SIGN").
                Placement(
                    "TBaoThueDTu",
                    "CKyDTu",
                    reference_element="TBaoThue",
                    id_attribute="Id",
                    description="thông báo của cơ quan thuế",
                ),
            ),
            allow_ecdsa=False,
            allow_sha1=False,
            dotnet_verifier=True,
        ),
        XmlProfile(
            name="generic",
            description="Enveloped signature at the end of the root element",
            placements=(Placement("*", "", description="tài liệu XML"),),
            signing_time=False,
            signature_timestamp="optional",
        ),
    )
}


def suggest_profile(root_name: str) -> str | None:
    """The profile whose placements name this root element, if any."""
    for profile in PROFILES.values():
        if any(p.root == root_name for p in profile.placements):
            return profile.name
    return None


def guess_profile(root: etree._Element) -> str | None:
    """The portal profile (not generic) one of whose placements fits this document element."""
    for profile in PROFILES.values():
        if profile.name != "generic" and any(p.matches(root) for p in profile.placements):
            return profile.name
    return None


def get_profile(name: str, **options: Any) -> XmlProfile:
    """The profile called ``name``, adjusted by options.

    Options: ``hash`` (sha256, sha1 for legacy files, sha384, sha512), ``c14n`` (a key of
    :data:`C14N_METHODS`), ``signing_time`` (bool), ``allow_ecdsa`` / ``allow_sha1`` (bool:
    sign anyway although the profile's portals cannot verify it), ``signature_timestamp``
    (one of :data:`TIMESTAMP_MODES`), and for ``generic`` only
    ``reference`` ("" for the whole document, or "#id" / "id" for the element with that Id) and
    ``container`` (local name of a root child to hold the signature).
    """
    try:
        profile = PROFILES[name]
    except KeyError:
        raise KysoError(
            "XML_PROFILE_UNKNOWN", {"profile": name, "known": ", ".join(PROFILES)}
        ) from None
    unknown = set(options) - {
        "hash",
        "c14n",
        "signing_time",
        "reference",
        "container",
        "allow_ecdsa",
        "allow_sha1",
        "signature_timestamp",
    }
    if unknown:
        raise invalid_input(
            f"unknown XML signing option(s): {sorted(unknown)}",
            f"không có tùy chọn ký XML {sorted(unknown)}",
        )
    changes: dict[str, Any] = {}
    for option, field_name, allowed in (
        ("hash", "hash_name", {h: h for h in HASHES}),
        ("c14n", "c14n", C14N_METHODS),
        ("signature_timestamp", "signature_timestamp", {m: m for m in TIMESTAMP_MODES}),
    ):
        if options.get(option) is not None:
            if not isinstance(options[option], str) or options[option] not in allowed:
                raise invalid_input(
                    f"{option} must be one of {', '.join(allowed)}",
                    f"{option} phải là một trong các giá trị {', '.join(allowed)}",
                )
            changes[field_name] = allowed[options[option]]
    if options.get("signing_time") is not None:
        changes["signing_time"] = bool(options["signing_time"])
    for allow in ("allow_ecdsa", "allow_sha1"):
        if options.get(allow):  # only ever widens: a call cannot tighten "generic"
            changes[allow] = True
    reference, container = options.get("reference"), options.get("container")
    if reference is not None or container is not None:
        if name != "generic":
            raise invalid_input(
                "reference/container are options of the generic profile",
                "reference/container chỉ là tùy chọn của kiểu ký generic",
            )
        ref = (reference or "").removeprefix("#")
        changes["placements"] = (
            Placement("*", container or "", reference_element=None, description="tài liệu XML"),
        )
        changes["extra"] = {"reference_id": ref} if ref else {}
    return replace(profile, **changes) if changes else profile
