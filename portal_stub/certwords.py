"""The unit's registered certificate in words, and the device Kyso said it lives on. Pure logic.

A person compares a certificate with what their CA gave them by holder, tax code, issuer, serial
and dates, never by an RFC 4514 DN. The device (USB token label and serial, or the remote
signing service) is what the unit's page learned from Kyso's certificate listing when it signed:
the page supplies it, so it is only kept when it names the certificate that really signed, it is
bounded and stripped of control characters, and it is display only (escaped like any text).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from agent.errors import KysoError
from agent.tokens.certinfo import CertificateInfo, display_name, parse_certificate
from portal_stub.timefmt import LABEL, when

# A PKCS#11 token label is 32 bytes and a serial 16; a provider's name is short. Anything
# longer is not what Kyso sent.
_MAX_TEXT = 64
_MAX_FIELD = 2048  # the whole posted field, before JSON parsing


@dataclass(frozen=True)
class CertificateWords:
    """What the account page shows for the registered certificate (plain text, escaped later)."""

    holder: str
    mst: str
    issuer: str
    serial: str
    valid: str
    device: str
    thumbprint: str


def grouped_serial(serial_hex: str) -> str:
    """The serial as a CA's viewer shows it: uppercase hex bytes separated by spaces."""
    digits = serial_hex.strip().upper().removeprefix("0X")
    if len(digits) % 2:
        digits = "0" + digits
    return " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))


def holder_text(info: CertificateInfo) -> str:
    """The holder's common name, then the organisation when it says something more."""
    cn, org = (info.subject_cn or "").strip(), (info.subject_o or "").strip()
    if cn and org and org.casefold() != cn.casefold():
        return f"{cn} ({org})"
    return cn or org or info.subject_display


def validity_text(not_before: str, not_after: str) -> str:
    """ "từ dd/mm/yyyy HH:MM đến dd/mm/yyyy HH:MM (giờ Việt Nam)"."""
    start, end = when(not_before, label=False), when(not_after, label=False)
    return f"từ {start} đến {end} ({LABEL})"


def _clean(value: Any) -> str:
    """Printable text only (no control or format characters such as bidi overrides), bounded."""
    if not isinstance(value, str):
        return ""
    kept = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C")
    return " ".join(kept.split())[:_MAX_TEXT]


def parse_device(raw: Any, signer_thumbprint: str) -> str | None:
    """The device the page reported (``thiet_bi``, JSON) as JSON to store, or None.

    Kept only when it names the certificate that signed (a stale or other listing is
    dropped) and carries a token label or a provider name; never raises: the device is a
    courtesy for the unit, not part of what it signed.
    """
    if not isinstance(raw, str) or not raw or len(raw) > _MAX_FIELD:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    thumbprint = str(data.get("thumbprint") or "").replace(":", "").lower()
    if thumbprint != signer_thumbprint:
        return None
    if data.get("kind") == "remote":
        provider = _clean(data.get("provider"))
        if not provider:
            return None
        return json.dumps({"kind": "remote", "provider": provider}, ensure_ascii=False)
    label, serial = _clean(data.get("label")), _clean(data.get("serial"))
    if not label:
        return None
    return json.dumps({"kind": "token", "label": label, "serial": serial}, ensure_ascii=False)


def device_text(stored: str | None) -> str:
    """The stored device in words; says so when Kyso did not report one."""
    try:
        data = json.loads(stored) if stored else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return "Chưa rõ (Kyso không báo thiết bị khi đăng ký)"
    if data.get("kind") == "remote":
        return f"Dịch vụ ký số từ xa: {_clean(data.get('provider'))}"
    serial = _clean(data.get("serial"))
    text = f"USB token «{_clean(data.get('label'))}»"
    return f"{text}, số sê-ri {serial}" if serial else text


def certificate_words(
    der: bytes | None, thumbprint: str, device: str | None = None
) -> CertificateWords | None:
    """The registered certificate in words (None when the stored DER cannot be read)."""
    if not der:
        return None
    try:
        info = parse_certificate(bytes(der))
    except (KysoError, ValueError):
        return None
    return CertificateWords(
        holder=holder_text(info),
        mst=info.mst or "(không có trong chứng thư)",
        # The issuer's CN, else its organisation: never the DN itself.
        issuer=(info.issuer_cn or display_name(info.certificate.issuer)).strip(),
        serial=grouped_serial(info.serial),
        valid=validity_text(info.not_before, info.not_after),
        device=device_text(device),
        thumbprint=thumbprint,
    )
