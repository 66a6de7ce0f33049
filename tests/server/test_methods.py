"""Every protocol method end to end over WSS, each result checked by an independent verifier:
xmlsec1 for XML, openssl for CMS, cryptography for raw signatures, our validator for tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from agent.signing.challenge import validate_auth_token
from agent.signing.trust import TrustStore
from tests.conftest import cert_thumbprint
from tests.server.conftest import ORIGIN

NONCE = base64.urlsafe_b64encode(b"n" * 32).decode().rstrip("=")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def form_file(mst: str = "0101234567") -> bytes:
    """A D02-TS form file as in the dossier format."""
    return (
        '<ToKhai MaToKhai="D02-TS"><ThongTinChung><MaSoThue>' + mst + "</MaSoThue>"
        "<KyKeKhai>11/2026</KyKeKhai></ThongTinChung><DanhSach><NguoiLaoDong><STT>1</STT>"
        "<HoTen>Nguyễn Văn An</HoTen><MaSoBHXH>0123456789</MaSoBHXH><NgaySinh>1990-01-15"
        "</NgaySinh><GioiTinh>Nam</GioiTinh><ChucVu>Nhân viên</ChucVu><MucLuong>8500000"
        "</MucLuong><TuThang>11/2026</TuThang><PhuongAn>TM</PhuongAn></NguoiLaoDong>"
        "</DanhSach><Cky/></ToKhai>"
    ).encode()


def dossier(number: str = "HS-0001", mst: str = "0101234567") -> bytes:
    """A procedure-600 dossier (Hoso) of the unit ``mst`` carrying one form file."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<Hoso><NoiDung><ThongTinIVAN><MaIVAN>KYSO'
        "</MaIVAN><TenIVAN>Cổng thử nghiệm Kyso</TenIVAN></ThongTinIVAN><ThongTinDonVi>"
        "<TenDoiTuong>Công ty TNHH Giải pháp Kyso Việt Nam</TenDoiTuong><MaSoBHXH>TA0101234"
        f"</MaSoBHXH><MaSoThue>{mst}</MaSoThue><CoQuanQuanLy>BHXH quận Ba Đình"
        "</CoQuanQuanLy></ThongTinDonVi><ThongTinHoSo><TenThuTuc>Báo tăng, giảm, điều chỉnh "
        "đóng BHXH, BHYT, BHTN</TenThuTuc><MaThuTuc>600</MaThuTuc><KyKeKhai>11/2026</KyKeKhai>"
        f"<NgayLap>2026-11-24</NgayLap><SoHoSo>{number}</SoHoSo><SoLuongFile>1</SoLuongFile>"
        "<ToKhais><FileToKhai><MaToKhai>D02-TS</MaToKhai><TenFile>D02-TS.xml</TenFile>"
        f"<NoiDungFile>{b64(form_file(mst))}</NoiDungFile></FileToKhai></ToKhais></ThongTinHoSo>"
        "</NoiDung><CKy_Dvi/></Hoso>"
    ).encode()


def xmlsec_verify(xmlsec1: str, demo: dict[str, Any], signed: bytes, tmp_path: Path) -> None:
    """xmlsec1 checks the signature and the certificate chain to the demo root."""
    path = tmp_path / "signed.xml"
    path.write_bytes(signed)
    proc = subprocess.run(
        [
            xmlsec1,
            "--verify",
            "--enabled-key-data",
            "x509",
            "--trusted-pem",
            demo["ca"]["root"],
            "--untrusted-pem",
            demo["ca"]["issuing"],
            str(path),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()


def openssl_cms_verify(
    openssl: str, demo: dict[str, Any], sig: bytes, data: bytes, tmp_path: Path
) -> None:
    """openssl cms -verify of a detached signature against the demo CA chain."""
    (tmp_path / "sig.der").write_bytes(sig)
    (tmp_path / "data.bin").write_bytes(data)
    proc = subprocess.run(
        [
            openssl,
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "sig.der"),
            "-content",
            str(tmp_path / "data.bin"),
            "-CAfile",
            demo["ca"]["chain"],
            "-out",
            str(tmp_path / "out.bin"),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()


async def test_info_over_https_and_rpc(agent) -> None:
    response = await agent.http("GET", headers={"Origin": ORIGIN})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response.headers["Vary"]
    body = await response.json()
    assert body["name"] == "Kyso" and body["protocol"] == ["1"] and body["port"] == agent.port
    assert body["scripted_prompter"] is True  # said loudly: answers come from a file
    client = await agent.client()
    info = await client.call("agent.info")
    assert info["origin"] == ORIGIN and info["port"] == agent.port
    assert agent.prompter.prompts == []


async def test_tokens_and_certificates_list(demo, agent) -> None:
    client = await agent.client()
    tokens = (await client.call("tokens.list"))["tokens"]
    assert {"KYSO DEMO 1", "KYSO DEMO 2"} <= {t["label"] for t in tokens}
    assert all("module" not in t for t in tokens)  # local paths stay on the machine
    certs = {c["thumbprint"]: c for c in (await client.call("certificates.list"))["certificates"]}
    org = certs[cert_thumbprint(demo, "org")]
    assert org["usable"] and org["mst"] == "0101234567"
    der = base64.b64decode(org["certificate"])
    assert hashlib.sha256(der).hexdigest() == org["thumbprint"]
    assert not certs[cert_thumbprint(demo, "expired")]["usable"]
    assert agent.prompter.prompts == []


async def test_sign_hash_rsa_and_ec(demo, agent) -> None:
    client = await agent.client()
    digest = hashlib.sha256(b"bao cao thang 11").digest()
    for name in ("org", "ec"):
        result = await client.call(
            "sign.hash", {"digest": b64(digest), "certificate": cert_thumbprint(demo, name)}
        )
        cert = x509.load_der_x509_certificate(base64.b64decode(result["certificate"]))
        signature = base64.b64decode(result["signature"])
        if name == "ec":
            assert result["algorithm"] == "ECDSA_SHA256"
            cert.public_key().verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        else:
            assert result["algorithm"] == "RSA_PKCS1_SHA256"
            cert.public_key().verify(
                signature, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256())
            )
    # One consent and one PIN per signature: nothing is skipped.
    assert [p.kind for p in agent.prompter.prompts] == ["consent", "pin"] * 2
    audit = agent.audit_lines()
    assert [a["result"] for a in audit] == ["OK", "OK"]
    assert audit[0]["sha256"] == digest.hex() and audit[0]["origin"] == ORIGIN
    assert "123456" not in agent.audit.path.read_text()


async def test_auth_challenge_validates_for_the_connection_origin(demo, agent) -> None:
    client = await agent.client()
    token = await client.call(
        "auth.challenge", {"nonce": NONCE, "certificate": cert_thumbprint(demo, "org")}
    )
    trust = TrustStore.from_files(
        [demo["ca"]["chain"]], [demo["ca"]["crl"], demo["ca"]["root_crl"]]
    )
    info = validate_auth_token(token, expected_origin=ORIGIN, nonce=NONCE, trust=trust)
    assert info.mst == "0101234567"
    consent = [p for p in agent.prompter.prompts if p.kind == "consent"]
    assert (
        len(consent) == 1
        and "Sign in / confirm an account change on " + ORIGIN in consent[0].summary
    )


async def test_auth_challenge_without_certificate_asks_the_user_to_choose(demo, agent) -> None:
    agent.prompter.path.write_text(
        json.dumps(
            {"consent": "allow", "pin": "123456", "certificate": cert_thumbprint(demo, "ec")}
        )
    )
    client = await agent.client()
    token = await client.call("auth.challenge", {"nonce": NONCE})
    assert token["algorithm"] == "ES256"
    assert [p.kind for p in agent.prompter.prompts] == ["certificate", "consent", "pin"]


async def test_sign_cms_detached_verified_by_openssl(demo, agent, openssl, tmp_path) -> None:
    client = await agent.client()
    data = "Đơn đăng ký giao dịch điện tử".encode() * 50
    result = await client.call(
        "sign.cms", {"data": b64(data), "certificate": cert_thumbprint(demo, "org")}
    )
    openssl_cms_verify(openssl, demo, base64.b64decode(result["cms"]), data, tmp_path)


async def test_sign_xml_verified_by_xmlsec1(demo, agent, xmlsec1, tmp_path) -> None:
    client = await agent.client()
    document = dossier()
    result = await client.call(
        "sign.xml",
        {"profile": "bhxh", "document": b64(document), "certificate": cert_thumbprint(demo, "org")},
    )
    signed = base64.b64decode(result["document"])
    assert b"CKy_Dvi" in signed and signed != document
    xmlsec_verify(xmlsec1, demo, signed, tmp_path)
    assert agent.audit_lines()[-1]["sha256"] == hashlib.sha256(document).hexdigest()


async def test_sign_batch_one_consent_one_pin_progress_and_results(
    demo, agent, xmlsec1, openssl, tmp_path
) -> None:
    client = await agent.client()
    digest = hashlib.sha256(b"item").digest()
    items = [
        {"kind": "xml", "profile": "bhxh", "document": b64(dossier("HS-1"))},
        {"kind": "xml", "profile": "bhxh", "document": b64(dossier("HS-2"))},
        {"kind": "cms", "data": b64(b"phu luc")},
        {"kind": "hash", "digest": b64(digest)},
    ]
    response = await client.request(
        "sign.batch", {"items": items, "certificate": cert_thumbprint(demo, "org")}
    )
    result = response["result"]
    assert result["signed"] == 4 and result["failed"] == 0
    assert [r["index"] for r in result["results"]] == [0, 1, 2, 3]
    for index in (0, 1):
        xmlsec_verify(
            xmlsec1,
            demo,
            base64.b64decode(result["results"][index]["result"]["document"]),
            tmp_path,
        )
    openssl_cms_verify(
        openssl, demo, base64.b64decode(result["results"][2]["result"]["cms"]), b"phu luc", tmp_path
    )
    assert [p.kind for p in agent.prompter.prompts] == ["consent", "pin"]
    assert "Sign 4 documents" in agent.prompter.prompts[0].summary
    progress = [n["params"] for n in client.notifications if n["method"] == "sign.progress"]
    assert progress == [{"request_id": response["id"], "done": i, "total": 4} for i in (1, 2, 3, 4)]
    batch_lines = [a for a in agent.audit_lines() if "item" in a]
    assert [a["item"] for a in batch_lines] == [0, 1, 2, 3]


async def test_sign_batch_stop_on_error_skips_the_rest(demo, agent) -> None:
    client = await agent.client()
    good = {"kind": "hash", "digest": b64(hashlib.sha256(b"a").digest())}
    thumbprint = cert_thumbprint(demo, "org")
    # A dossier whose signature container already holds a signature fails at signing time.
    signed = await client.call(
        "sign.xml", {"profile": "bhxh", "document": b64(dossier()), "certificate": thumbprint}
    )
    bad = {"kind": "xml", "profile": "bhxh", "document": signed["document"]}
    params = {"items": [good, bad, good], "certificate": thumbprint}
    result = await client.call("sign.batch", {**params, "stop_on_error": True})
    codes = [r["ok"] or r["error"]["data"]["code"] for r in result["results"]]
    assert codes == [True, "XML_ALREADY_SIGNED", "BATCH_ITEM_SKIPPED"]
    result = await client.call("sign.batch", params)
    assert [r["ok"] for r in result["results"]] == [True, False, True]
