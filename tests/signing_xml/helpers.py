"""Sample documents and a token-signing helper for the XML signing tests."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from agent.cli.main import main
from agent.signing.signer import TokenSigner
from agent.signing.xml import sign_xml
from agent.tokens.pin import StaticPinProvider
from tests.conftest import cert_thumbprint

PIN = "123456"

FORM = (
    '<?xml version="1.0" encoding="utf-8"?>\n<ToKhai MaToKhai="D02-TS">\n'
    "  <ThongTinChung><MaSoThue>0101234567</MaSoThue><KyKeKhai>11/2026</KyKeKhai></ThongTinChung>\n"
    "  <DanhSach>\n"
    "    <NguoiLaoDong><STT>1</STT><HoTen>Nguyễn Văn An</HoTen><MucLuong>8500000</MucLuong></NguoiLaoDong>\n"
    "    <NguoiLaoDong><STT>2</STT><HoTen>Trần Thị Bích Ngọc</HoTen><MucLuong>9200000</MucLuong></NguoiLaoDong>\n"
    "  </DanhSach>\n  <Cky/>\n</ToKhai>\n"
).encode()

HOSO = (
    '<?xml version="1.0" encoding="utf-8"?>\n<!-- Xuất từ phần mềm kê khai -->\n'
    '<Hoso xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n  <NoiDung>\n'
    "    <ThongTinDonVi><TenDoiTuong>Công ty TNHH Giải pháp Kyso Việt Nam</TenDoiTuong>"
    "<MaSoBHXH>TA0101234</MaSoBHXH>\n      <MaSoThue>0101234567</MaSoThue></ThongTinDonVi>\n"
    "    <ThongTinHoSo><TenThuTuc>Báo tăng, giảm, điều chỉnh đóng BHXH, BHYT, BHTN</TenThuTuc>\n"
    "      <MaThuTuc>600</MaThuTuc><KyKeKhai>11/2026</KyKeKhai><!-- kỳ kê khai -->\n"
    "      <ToKhais><FileToKhai><MaToKhai>D02-TS</MaToKhai><TenFile>D02-TS.xml</TenFile>"
    f"<NoiDungFile>{base64.b64encode(FORM).decode()}</NoiDungFile></FileToKhai></ToKhais>\n"
    "    </ThongTinHoSo>\n  </NoiDung>\n  <CKy_Dvi></CKy_Dvi>\n</Hoso>\n"
).encode()

TAX = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<HSoThueDTu xmlns="http://kekhaithue.gdt.gov.vn/TKhaiThue">\n'
    "  <HSoKhaiThue><TTinChung><TenNNT>Công ty Hòa Bình</TenNNT><mst>0109876543</mst>"
    "<kyKKhai>Q3/2026</kyKKhai></TTinChung><CTieuTKhaiChinh><ct22>1500000</ct22></CTieuTKhaiChinh>"
    "</HSoKhaiThue>\n  <CKyDTu/>\n</HSoThueDTu>\n"
).encode()

GENERIC = '<?xml version="1.0" encoding="utf-8"?>\n<ThongBao>\n  <NoiDung>Đã nhận hồ sơ</NoiDung>\n</ThongBao>\n'.encode()

SIGNATURE_RE = re.compile(
    rb'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#".*?</Signature>', re.DOTALL
)


def without_signature(signed: bytes) -> bytes:
    """The signed bytes with the inserted <Signature> cut out again."""
    return SIGNATURE_RE.sub(b"", signed, count=1)


async def token_sign(
    service: Any, demo: dict[str, Any], name: str, doc: bytes, profile: str, **opt: Any
) -> bytes:
    """Sign ``doc`` on SoftHSM2 with the demo certificate ``name``."""
    async with service.open_key(cert_thumbprint(demo, name), StaticPinProvider(PIN)) as key:
        return await sign_xml(doc, TokenSigner(key), profile, **opt)


def xmlsec_verify(
    xmlsec1: str, demo: dict[str, Any], path: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    """xmlsec1's verdict on a signed file, trusting the demo root and issuing CA."""
    return subprocess.run(
        [
            xmlsec1,
            "--verify",
            "--trusted-pem",
            demo["ca"]["root"],
            "--untrusted-pem",
            demo["ca"]["issuing"],
            *extra,
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def sign_xml_cli(
    demo: dict[str, Any],
    files: dict[str, Path],
    *extra: str,
    cert: str = "org",
    pin: str = "pin",
    capsys: Any = None,
    inputs: tuple[Path, ...] | None = None,
) -> tuple[int, dict[str, Any]]:
    """sign-xml a.xml b.xml (or ``inputs``) with --json: (exit status, the JSON printed)."""
    code = main(
        [
            "sign-xml",
            *(str(p) for p in (inputs if inputs is not None else (files["a"], files["b"]))),
            "--cert",
            cert_thumbprint(demo, cert),
            "--pin-file",
            str(files[pin]),
            "--json",
            *extra,
        ]
    )
    out = capsys.readouterr().out if capsys else "{}"
    return code, json.loads(out)
