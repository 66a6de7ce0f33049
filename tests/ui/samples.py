"""Sample requests for prompter tests: realistic Vietnamese certificates and dossiers, no token."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.tokens.certinfo import CertificateInfo, parse_certificate
from agent.tokens.pin import PinRequest, PinState
from agent.ui.api import CertificateChoice, ConsentItem, ConsentRequest, PairingRequest

ORIGIN = "https://dichvucong.baohiemxahoi.gov.vn"


def make_cert(
    cn: str = "CÔNG TY TNHH PHẦN MỀM HOA SEN",
    uid: str = "MST:0101234567",
    *,
    expired: bool = False,
    organization: str | None = None,
    days: int | None = None,
) -> CertificateInfo:
    """A self-made certificate shaped like a Vietnamese organisation certificate (``organization``
    adds an O attribute: whatever a CA wrote there reaches the prompt)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=800 if expired else 30)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Hà Nội"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.USER_ID, uid),
        ]
        + ([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)] if organization else [])
    )
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kyso Demo Issuing CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days or (730 if not expired else 365)))
        .sign(key, hashes.SHA256())
    )
    return parse_certificate(cert.public_bytes(serialization.Encoding.DER))


ORG = make_cert()
PERSON = make_cert("NGUYỄN THỊ LAN", "CCCD:001190012345")


def pairing() -> PairingRequest:
    """An unknown portal asks to use the token."""
    return PairingRequest(ORIGIN)


FORMS = (
    ("D02-TS", "Báo cáo tình hình sử dụng lao động và danh sách tham gia BHXH, BHYT, BHTN", "12"),
    ("TK1-TS", "Tờ khai tham gia, điều chỉnh thông tin BHXH, BHYT", "3"),
    ("D01-TS", "Bảng kê thông tin", "1"),
)


def consent(n_items: int = 1) -> ConsentRequest:
    """A dossier (or a batch of them) to sign, the way the server summarises a Hoso."""
    items = []
    for i in range(n_items):
        code, name, workers = FORMS[i % len(FORMS)]
        items.append(
            ConsentItem(
                title=f"Hồ sơ 600 — {name} ({code})",
                lines=(
                    ("Đơn vị", "Công ty TNHH Phần mềm Hoa Sen"),
                    ("MST", "0101234567"),
                    ("Kỳ kê khai", f"{11 - i // len(FORMS):02d}/2026"),
                    ("Số lao động", workers),
                ),
                sha256="9f2c1e7a" * 8 if i == 0 else f"{i:02x}" + "9f2c1e7a" * 7 + "9f2c1e",
            )
        )
    return ConsentRequest(
        origin=ORIGIN,
        action="sign.xml" if n_items == 1 else "sign.batch",
        summary_vi="Ký hồ sơ điện tử gửi tới " + ORIGIN,
        summary_en="Sign an electronic dossier for " + ORIGIN,
        certificate=ORG,
        items=tuple(items),
    )


def choice() -> CertificateChoice:
    """Two certificates to choose from."""
    return CertificateChoice(ORIGIN, (ORG, PERSON))


def pin(state: PinState | None = None) -> PinRequest:
    """A PIN request for the demo token."""
    return PinRequest("KYSO DEMO 1", "0a1b2c3d", ORG, state or PinState(), 4, 16)
