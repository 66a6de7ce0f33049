""" "Kiểm tra hồ sơ": every check the portal makes on an uploaded dossier. Pure logic, no I/O.

Order (the first failure is reported): size → well-formed (safe parser) → no comment or
processing instruction inside the dossier → XSD → unit codes → dossier type → embedded forms
→ XML signature, chain, validity and revocation (the agent library's verify_xml) → the
signature covers the whole dossier → signer MST → registered certificate. The signature check runs
beside the others; its canonical bytes (``covered_c14n``) confirm what the others read. Duplicates need the
database and are checked by the caller, on the canonical digest (see signed_content).

Fields are read only from the canonical form of the signed content (signed_content), never
from the file as uploaded: what the portal records is what the unit signed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from lxml import etree

from agent.errors import KysoError
from agent.signing.trust import TrustStore, validate_certificate
from agent.signing.xml import XmlVerification, parse_untrusted, verify_xml
from portal_stub.errors import PortalError, from_kyso
from portal_stub.signed_content import canonical_bytes, canonical_content, refuse_hidden_nodes

MAX_DEPTH = 64
# Lương tối thiểu vùng I (from 7/2024): the simulated office rejects rows paid less.
MINIMUM_WAGE = 4_960_000


@cache
def schema() -> etree.XMLSchema:
    """The dossier XSD (parsed once)."""
    text = resources.files("portal_stub.schema").joinpath("hoso.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(text))


@dataclass(frozen=True)
class UnitContext:
    """Who is submitting: the logged-in unit and its registrations."""

    mst: str
    unit_code: str
    cert_thumbprint: str
    types: dict[str, str]  # procedure -> registered | stopped
    catalogue: dict[str, str]  # procedure -> name


@dataclass
class CheckResult:
    """What a passed check found, shown on the result page and stored at submission."""

    sha256: str  # of the file's bytes
    content_digest: str  # of the canonical signed content: what duplicates are found on
    dossier_number: str
    procedure: str
    procedure_name: str
    period: str
    unit_name: str
    mst: str
    unit_code: str
    employees: int
    signer_subject: str
    signer_thumbprint: str
    signer_mst: str | None
    signing_time: str | None
    size: int
    review: str | None = None  # the simulated office's objection, if any
    forms: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """API form."""
        return dict(self.__dict__)


def _text(root: etree._Element, path: str) -> str:
    # NFC: a name typed with combining accents (NFD) reads and compares like the composed one.
    found = root.find(path)
    return unicodedata.normalize("NFC", (found.text or "").strip()) if found is not None else ""


def _schema_error(log: Any) -> str:
    err = log.last_error if hasattr(log, "last_error") else None
    if err is None:
        return "không rõ"
    return f"dòng {err.line}: {err.message}"


def _validate(root: etree._Element, *, form: str | None = None) -> None:
    xsd = schema()
    if not xsd.validate(root):
        if form:
            raise PortalError(
                "FORM_FILE_INVALID", {"form": form, "detail": _schema_error(xsd.error_log)}
            )
        raise PortalError("SCHEMA_INVALID", {"detail": _schema_error(xsd.error_log)})


def _row_stats(listing: etree._Element | None) -> tuple[int, str | None]:
    """(number of employees, the office's objection) for a list of NguoiLaoDong rows.

    XPath runs in libxml2: a 20 MB dossier has tens of thousands of rows.
    """
    if listing is None:
        return 0, None
    count = int(listing.xpath("count(NguoiLaoDong)"))
    low = listing.xpath(f"NguoiLaoDong[number(MucLuong) < {MINIMUM_WAGE}]")
    if not low:
        return count, None
    shown = ", ".join(f"{row.findtext('STT')} ({row.findtext('HoTen')})" for row in low[:10])
    wage = f"{MINIMUM_WAGE:,}".replace(",", ".")
    more = "…" if len(low) > 10 else ""
    return (
        count,
        f"Mức lương đóng BHXH thấp hơn lương tối thiểu vùng ({wage} đồng) ở dòng: {shown}{more}",
    )


def _verify_signature(data: bytes, trust: TrustStore, now: dt.datetime) -> XmlVerification:
    """The agent library's XML signature check, then the certificate again at receipt time."""
    verification = verify_xml(data, trust, profile="bhxh")
    # No trusted timestamp in a BHXH file: the claimed signing time is the signer's word, so
    # the certificate must also be valid (and not revoked) now, when the portal receives it.
    validate_certificate(verification.signer.der, trust, at=now, purpose="sign")
    return verification


def _require_whole_document(verification: XmlVerification, root: etree._Element) -> None:
    """The fields are read from the whole dossier, so the signature must cover all of it.

    The bhxh profile of verify_xml already insists on this; checked here again from its
    public result so that the portal's reading never rests on a detail of the verifier.
    """
    ids = {root.get(name) for name in ("Id", "ID", "id")} - {None}
    whole = {""} | {f"#{i}" for i in ids}
    if not any(ref in whole for ref in verification.references):
        raise PortalError("SIGNATURE_INVALID", {"detail": "chữ ký không bao trùm toàn bộ hồ sơ"})


def _root(parsed: Any) -> etree._Element:
    return parsed.getroot() if hasattr(parsed, "getroot") else parsed


def _parse_upload(data: bytes, max_bytes: int) -> etree._Element:
    try:
        return _root(parse_untrusted(data, max_bytes=max_bytes, max_depth=MAX_DEPTH))
    except KysoError as exc:
        raise PortalError("XML_MALFORMED", {"detail": exc.message_vi}, cause=exc) from exc


def _require_hoso(root: etree._Element) -> None:
    if root.tag != "Hoso":
        raise PortalError("SCHEMA_INVALID", {"detail": f"phần tử gốc là <{root.tag}>, cần <Hoso>"})


@dataclass
class _Read:
    """What the signed content says (before the signature's signer is compared)."""

    root: etree._Element
    listing: etree._Element | None
    forms: list[str]


def _check_unit_and_type(root: etree._Element, unit: UnitContext) -> None:
    """The dossier is the unit's own (MST, BHXH unit code) and of a procedure it may file."""
    mst = _text(root, "NoiDung/ThongTinDonVi/MaSoThue")
    unit_code = _text(root, "NoiDung/ThongTinDonVi/MaSoBHXH")
    if mst != unit.mst:
        raise PortalError("UNIT_MISMATCH", {"field": "MST", "value": mst})
    if unit_code != unit.unit_code:
        raise PortalError("UNIT_MISMATCH", {"field": "mã đơn vị", "value": unit_code})
    procedure = _text(root, "NoiDung/ThongTinHoSo/MaThuTuc")
    if procedure not in unit.catalogue:
        raise PortalError("TYPE_UNKNOWN", {"procedure": procedure})
    status = unit.types.get(procedure)
    if status is None:
        raise PortalError("TYPE_NOT_REGISTERED", {"procedure": procedure})
    if status == "stopped":
        raise PortalError("TYPE_STOPPED", {"procedure": procedure})


def _read_content(root: etree._Element, unit: UnitContext, max_bytes: int) -> _Read:
    """Unit, type and embedded-form checks on the canonical signed content ``root``."""
    _check_unit_and_type(root, unit)
    listing = root.find("NoiDung/DanhSachLaoDong")
    forms = []
    for form_file in root.iterfind("NoiDung/ThongTinHoSo/ToKhais/FileToKhai"):
        code = _text(form_file, "MaToKhai")
        forms.append(code)
        try:
            raw = base64.b64decode(_text(form_file, "NoiDungFile"), validate=True)
            form_root = _root(parse_untrusted(raw, max_bytes=max_bytes, max_depth=MAX_DEPTH))
        except (binascii.Error, ValueError) as exc:
            raise PortalError(
                "FORM_FILE_INVALID", {"form": code, "detail": "không giải mã được"}
            ) from exc
        except KysoError as exc:
            raise PortalError(
                "FORM_FILE_INVALID", {"form": code, "detail": exc.message_vi}
            ) from exc
        if form_root.tag != "ToKhai":
            raise PortalError(
                "FORM_FILE_INVALID", {"form": code, "detail": f"gốc <{form_root.tag}>"}
            )
        refuse_hidden_nodes(form_root, where=f"tờ khai {code}")
        _validate(form_root, form=code)
        form_root = canonical_content(form_root, max_depth=MAX_DEPTH).root
        if _text(form_root, "ThongTinChung/MaSoThue") != unit.mst:
            raise PortalError(
                "UNIT_MISMATCH",
                {
                    "field": f"MST trong tờ khai {code}",
                    "value": _text(form_root, "ThongTinChung/MaSoThue"),
                },
            )
        in_form = form_root.find("DanhSach")
        if listing is not None and len(listing) and in_form is not None and len(in_form):
            # Two employee lists: whoever reads one would not see the other (Kyso's consent
            # refuses such a file too: XML_FIELD_AMBIGUOUS).
            detail = "danh sách lao động có ở cả hồ sơ và tờ khai"
            raise PortalError("FORM_FILE_INVALID", {"form": code, "detail": detail})
        if listing is None or not len(listing):
            listing = in_form
    return _Read(root, listing, forms)


def _has_hidden_nodes(root: etree._Element) -> bool:
    """Any comment or PI inside ``root``. Decides both the refusal and, independently of it,
    whether the tree may be read as it is (a field's ``.text`` stops at a comment, while C14N
    drops the comment and joins the text)."""
    return next(root.iter(etree.Comment, etree.ProcessingInstruction), None) is not None


def _signed_content(verification: XmlVerification) -> tuple[etree._Element, str]:
    """The tree and content digest of what the signature covers, parsed from the verifier's
    canonical bytes (the fallback when they differ from the canonical form of the upload)."""
    try:
        root = _root(
            parse_untrusted(
                verification.covered_c14n,
                max_bytes=len(verification.covered_c14n) + 1,
                max_depth=MAX_DEPTH,
            )
        )
    except KysoError as exc:  # not expected: the canonical form of a well-formed document
        raise PortalError("XML_MALFORMED", {"detail": exc.message_vi}, cause=exc) from exc
    content = canonical_content(root, max_depth=MAX_DEPTH)
    return content.root, content.digest


_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="portal-check")


def check_dossier(
    data: bytes, unit: UnitContext, trust: TrustStore, *, now: dt.datetime, max_bytes: int
) -> CheckResult:
    """Run every check; return what was found or raise the first :class:`PortalError`.

    The signature check (the verifier parses the file and canonicalises what the signature
    covers) runs beside the structural checks, which parse the file once more and
    canonicalise it without its signature. When both canonical forms are the same bytes (the
    usual case), the tree read here is exactly what was signed and is used as it is; no third
    parse, no third C14N pass. Otherwise the fields are read again from the verifier's bytes.
    """
    if len(data) > max_bytes:
        raise PortalError("FILE_TOO_LARGE", {"limit_mb": max_bytes // (1024 * 1024)})
    if not data.strip():
        raise PortalError("XML_MALFORMED", {"detail": "tệp rỗng"})
    # libxml2, libxmlsec and hashlib release the GIL: both halves run side by side. A
    # structural failure is still reported first; the signature result is then not waited for.
    signature_check = _POOL.submit(_verify_signature, data, trust, now)
    root = _parse_upload(data, max_bytes)
    _require_hoso(root)
    hidden = _has_hidden_nodes(root)
    if hidden:
        refuse_hidden_nodes(root)  # E414, with the node's line
    _validate(root)  # on the file as uploaded: its line numbers are the ones to show
    canonical = canonical_bytes(root)  # the signature is removed from ``root`` too
    read = _read_content(root, unit, max_bytes)
    # While the signature check may still run:
    sha256 = hashlib.sha256(data).hexdigest()
    employees, review = _row_stats(read.listing)
    try:
        verification = signature_check.result()
    except KysoError as exc:
        raise from_kyso(exc) from exc
    if verification.covered_c14n == canonical and not hidden:
        # Without comments and PIs, two trees with the same canonical bytes hold the same
        # elements, attributes and text: every field read here is one that was signed.
        content_digest = hashlib.sha256(canonical).hexdigest()
    else:
        # An exclusive-C14N reference, a PI beside the root, a second signature (or a
        # comment that got past the refusal): read again from what the signature covers.
        root, content_digest = _signed_content(verification)
        read = _read_content(root, unit, max_bytes)
        employees, review = _row_stats(read.listing)
    root = read.root
    _require_whole_document(verification, root)
    signer = verification.signer
    if signer.mst != unit.mst:
        raise PortalError("MST_MISMATCH", {"cert_mst": signer.mst or "(không có)", "mst": unit.mst})
    if signer.thumbprint != unit.cert_thumbprint:
        raise PortalError("CERT_NOT_REGISTERED", {"thumbprint": signer.thumbprint})
    signing_time = getattr(verification, "signing_time", None)
    if isinstance(signing_time, dt.datetime):
        signing_time = signing_time.isoformat()

    return CheckResult(
        sha256=sha256,
        content_digest=content_digest,
        dossier_number=_text(root, "NoiDung/ThongTinHoSo/SoHoSo"),
        procedure=_text(root, "NoiDung/ThongTinHoSo/MaThuTuc"),
        procedure_name=unit.catalogue[_text(root, "NoiDung/ThongTinHoSo/MaThuTuc")],
        period=_text(root, "NoiDung/ThongTinHoSo/KyKeKhai"),
        unit_name=_text(root, "NoiDung/ThongTinDonVi/TenDoiTuong"),
        mst=_text(root, "NoiDung/ThongTinDonVi/MaSoThue"),
        unit_code=_text(root, "NoiDung/ThongTinDonVi/MaSoBHXH"),
        employees=employees,
        signer_subject=signer.subject_display,
        signer_thumbprint=signer.thumbprint,
        signer_mst=signer.mst,
        signing_time=signing_time,
        size=len(data),
        review=review,
        forms=read.forms,
    )
