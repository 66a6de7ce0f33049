"""Hostile XML is refused with clear codes; the consent summary says what is being signed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.demo import pki
from agent.errors import KysoError
from agent.signing.signer import SoftwareSigner
from agent.signing.xml import check_xml_signature, parse_untrusted, sign_xml, summarize_xml
from agent.signing.xml.safe import parse_untrusted_file

from .helpers import FORM, HOSO, without_signature

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Hoso><NoiDung>&lol3;</NoiDung><CKy_Dvi/></Hoso>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Hoso [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Hoso><NoiDung>&xxe;</NoiDung><CKy_Dvi/></Hoso>"""
EXTERNAL_DTD = (
    b'<?xml version="1.0"?>\n<!DOCTYPE Hoso SYSTEM "http://example.invalid/hoso.dtd">\n<Hoso/>'
)


@pytest.mark.parametrize(
    ("data", "code", "limits"),
    [
        (LAUGHS, "XML_UNSAFE", {}),
        (XXE, "XML_UNSAFE", {}),
        (EXTERNAL_DTD, "XML_UNSAFE", {}),
        (b"<Hoso><NoiDung>&undefined;</NoiDung></Hoso>", "XML_UNSAFE", {}),
        (b"<a>" * 40 + b"</a>" * 40, "XML_TOO_DEEP", {"max_depth": 30}),
        (b"<a>" * 3000 + b"</a>" * 3000, "XML_TOO_DEEP", {}),
        (b"<Hoso>" + b"x" * 2000 + b"</Hoso>", "XML_TOO_LARGE", {"max_bytes": 1000}),
        (b"<Hoso><NoiDung></Hoso>", "XML_MALFORMED", {}),
        (b"", "XML_MALFORMED", {}),
        (
            "<?xml version='1.0' encoding='utf-16'?><a/>".encode("utf-16"),
            "XML_ENCODING_UNSUPPORTED",
            {},
        ),
    ],
    ids=[
        "billion-laughs",
        "xxe",
        "external-dtd",
        "undefined-entity",
        "depth-limit",
        "depth-libxml2",
        "size",
        "malformed",
        "empty",
        "utf16",
    ],
)
def test_unsafe_or_broken_xml_is_refused(
    data: bytes, code: str, limits: dict[str, int], tmp_path: Path
) -> None:
    with pytest.raises(KysoError) as err:
        parse_untrusted(data, **limits)
    assert err.value.code == code
    assert err.value.message_vi and err.value.spec.action_en
    # The same verdict when the CLI's file path reads it.
    path = tmp_path / "input.xml"
    path.write_bytes(data)
    with pytest.raises(KysoError) as err:
        parse_untrusted_file(path, **limits)
    assert err.value.code == code


def test_form_file_over_libxml2_text_limit_is_accepted_and_depth_still_bounded() -> None:
    big = b"<Hoso><NoiDungFile>" + b"QUJD" * 3_000_000 + b"</NoiDungFile><CKy_Dvi/></Hoso>"
    assert len(parse_untrusted(big).getroot()[0].text) == 12_000_000  # over 10 MB: huge_tree
    deep = b"<Hoso><NoiDungFile>" + b"QUJD" * 3_000_000 + b"</NoiDungFile>" + b"<a>" * 300
    with pytest.raises(KysoError) as err:
        parse_untrusted(deep + b"</a>" * 300 + b"</Hoso>")
    assert err.value.code == "XML_TOO_DEEP"


def test_default_size_limit_fits_a_50_mb_dossier() -> None:
    from agent.signing.xml.safe import DEFAULT_MAX_BYTES

    assert DEFAULT_MAX_BYTES >= 50 * 1024 * 1024


def test_summary_of_a_dossier_with_an_embedded_form() -> None:
    item = summarize_xml(HOSO)
    lines = dict(item.lines)
    assert item.title.startswith("Hồ sơ 600 — Báo tăng, giảm")
    assert "D02-TS" in item.title
    assert lines["Đơn vị"] == "Công ty TNHH Giải pháp Kyso Việt Nam"
    assert lines["Mã số thuế"] == "0101234567"
    assert lines["Kỳ kê khai"] == "11/2026"
    assert lines["Số lao động"] == "2"  # rows inside the base64 D02-TS file
    assert item.sha256 == hashlib.sha256(HOSO).hexdigest()
    inline = HOSO.replace(
        b"</NoiDung>",
        b"<DanhSachLaoDong>" + b"<NguoiLaoDong/>" * 3 + b"</DanhSachLaoDong></NoiDung>",
    )
    # Rows in the envelope and in the form: two lists, one shown, the other read by someone.
    with pytest.raises(KysoError) as err:
        summarize_xml(inline)
    assert err.value.code == "XML_FIELD_AMBIGUOUS"
    assert dict(summarize_xml(FORM).lines)["Số lao động"] == "2"


_CA = pki.TestCA.create()
_KEY = rsa.generate_private_key(65537, 2048)
_SIGNER = SoftwareSigner(_KEY, _CA.issue(pki.PROFILES[0], _KEY.public_key(), 0x77))
_TEXT = st.text(
    alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ ĐĂÂƠƯ\t\n&<>\"'",
    max_size=30,
)
_WS = st.sampled_from(["", " ", "\n", "\n  ", "\r\n", "\t"])


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>', draw(_WS), "<Hoso>"]
    for i in range(draw(st.integers(0, 4))):
        parts.append(draw(_WS))
        if draw(st.booleans()):
            comment = draw(_TEXT).replace("-", "").replace("\r", "")
            parts.append(f"<!--{comment}-->")
        text = draw(_TEXT).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        attr = draw(_TEXT).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        parts.append(f'<Dong{i} ghiChu="{attr}">{text}</Dong{i}>')
    parts += [draw(_WS), "<CKy_Dvi/>", draw(_WS), "</Hoso>", draw(_WS)]
    return "".join(parts).encode()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents())
def test_generated_documents_sign_verify_and_keep_their_bytes(document: bytes) -> None:
    import asyncio

    signed = asyncio.run(sign_xml(document, _SIGNER, "bhxh"))
    assert without_signature(signed).replace(b"<CKy_Dvi></CKy_Dvi>", b"<CKy_Dvi/>") == document
    assert check_xml_signature(signed).signer.thumbprint == _SIGNER.certificate.thumbprint
    assert isinstance(_SIGNER.certificate.certificate, x509.Certificate)
