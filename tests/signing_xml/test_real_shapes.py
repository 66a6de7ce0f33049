"""Real file shapes: BHXH form files and IVAN registrations, HTKK tax files, the tax authority's
notices, and files signed by other Vietnamese signers (VNPT SmartCA, CA2). Kyso signs and
verifies them; xmlsec1 and signxml judge Kyso's output independently."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from signxml import XMLVerifier

from agent.demo import pki
from agent.errors import KysoError
from agent.signing.signer import SoftwareSigner
from agent.signing.trust import TrustStore
from agent.signing.xml import check_xml_signature, dsig, sign_xml, summarize_xml, verify_xml

from .helpers import HOSO, token_sign, without_signature, xmlsec_verify
from .others import sign_like_ca2, sign_like_gdt, sign_like_vnpt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xml"
FORMS = sorted((FIXTURES / "forms").glob("*.xml"))
IVAN = sorted((FIXTURES / "ivan").glob("*.xml"))
HTKK = FIXTURES / "tax" / "htkk-01GTGT.xml"
TBAO = FIXTURES / "tax" / "tbao-thue.xml"
DS = "{http://www.w3.org/2000/09/xmldsig#}"

_CA = pki.TestCA.create()
_KEY = rsa.generate_private_key(65537, 2048)
_CERT = _CA.issue(pki.PROFILES[0], _KEY.public_key(), 0x7A)
SIGNER = SoftwareSigner(_KEY, _CERT)
_PEM = serialization.Encoding.PEM


@pytest.fixture(scope="module")
def pki_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The software CA as files, shaped like the demo's for xmlsec_verify."""
    d = tmp_path_factory.mktemp("ca")
    (d / "root.pem").write_bytes(_CA.root_cert.public_bytes(_PEM))
    (d / "issuing.pem").write_bytes(_CA.issuing_cert.public_bytes(_PEM))
    return {"ca": {"root": str(d / "root.pem"), "issuing": str(d / "issuing.pem")}, "dir": d}


def _trust() -> TrustStore:
    der = serialization.Encoding.DER
    return TrustStore.from_certificates(
        [c.public_bytes(der) for c in (_CA.root_cert, _CA.issuing_cert)],
        [c.public_bytes(der) for c in _CA.crls([])],
    )


def _sign(doc: bytes, profile: str = "bhxh", **options: Any) -> bytes:
    return asyncio.run(sign_xml(doc, SIGNER, profile, **options))


@pytest.mark.parametrize("path", FORMS + IVAN, ids=lambda p: p.stem)
def test_real_bhxh_files_sign_in_their_container_and_verify_everywhere(
    path: Path, pki_files: dict[str, Any], xmlsec1: str, tmp_path: Path
) -> None:
    doc = path.read_bytes()
    signed = _sign(doc)
    root = etree.fromstring(signed)
    container = "CKy_Dvi" if root.tag == "Hoso" else "Cky"
    assert root.find(f"{container}/{DS}Signature") is not None
    # Only the container changed (BOM, CRLF, declaration and text kept byte for byte).
    assert (
        without_signature(signed).replace(
            f"<{container} ></{container}>".encode(), f"<{container} />".encode()
        )
        == doc
    )
    result = verify_xml(signed, _trust())
    assert result.profile == "bhxh" and result.shape.code == "kyso"
    assert result.signer.thumbprint == SIGNER.certificate.thumbprint
    out = tmp_path / path.name
    out.write_bytes(signed)
    done = xmlsec_verify(xmlsec1, pki_files, out)
    assert done.returncode == 0, done.stderr


def test_form_rule_known_codes_and_any_root_with_cky() -> None:
    d02 = (FIXTURES / "forms" / "D02-TS.xml").read_bytes()
    with pytest.raises(KysoError) as err:  # a known form without its <Cky>
        _sign(d02.replace(b"  <Cky />\r\n", b""))
    assert err.value.code == "XML_CONTAINER_MISSING"
    with pytest.raises(KysoError) as err:  # an envelope without CKy_Dvi
        _sign((FIXTURES / "ivan" / "05_SD-IVAN.xml").read_bytes().replace(b"<CKy_Dvi />", b""))
    assert err.value.code == "XML_CONTAINER_MISSING"
    with pytest.raises(KysoError) as err:  # not a BHXH file at all
        _sign(b"<BaoCao><NoiDung>x</NoiDung></BaoCao>")
    assert err.value.code == "XML_PROFILE_MISMATCH"
    # A new form code Kyso has never heard of: its <Cky> makes it a form.
    new_form = "<M05A-HSB><NoiDung>Trợ cấp</NoiDung><Cky/></M05A-HSB>".replace("M05A-HSB", "D09-TS")
    signed = _sign(new_form.encode())
    assert etree.fromstring(signed).find(f"Cky/{DS}Signature") is not None
    assert check_xml_signature(signed).profile == "bhxh"
    assert summarize_xml(d02).title.startswith("Tờ khai D02-TS")


def test_htkk_file_with_bom_and_crlf(
    pki_files: dict[str, Any], xmlsec1: str, tmp_path: Path
) -> None:
    doc = HTKK.read_bytes()
    assert doc.startswith(b"\xef\xbb\xbf") and b"\r\n" in doc
    signed = _sign(doc, "tax")
    assert signed.startswith(b"\xef\xbb\xbf<?xml")
    assert b'URI="#ID_1"' in signed
    assert without_signature(signed).replace(b"<CKyDTu ></CKyDTu>", b"<CKyDTu />") == doc
    result = verify_xml(signed, _trust())
    # The covered content is HSoKhaiThue itself, canonical: what a portal should read.
    covered = etree.fromstring(result.covered_c14n)
    assert covered.tag == "{http://kekhaithue.gdt.gov.vn/TKhaiThue}HSoKhaiThue"
    assert covered.findtext(".//{*}mst") == "0109876543"
    out = tmp_path / "htkk.xml"
    out.write_bytes(signed)
    # A Java portal must register HSoKhaiThue/@id as an ID, as xmlsec1 must be told.
    assert xmlsec_verify(xmlsec1, pki_files, out, "--id-attr:id", "HSoKhaiThue").returncode == 0


def test_signxml_accepts_kyso_files_and_rejects_the_old_schema_error() -> None:
    """signxml validates the XML-DSig schema: SigningTime in the ds namespace was refused."""
    cert = _CERT.public_bytes(_PEM).decode()
    verifier = XMLVerifier()
    # lxml ≥ 5.3 writes a spurious xmlns="" in subtree C14N (signxml issue #275, fixed by
    # signxml PR #286, unreleased in 5.2): this signxml switch strips it.
    verifier.excise_empty_xmlns_declarations = True
    for doc, profile in ((HOSO, "bhxh"), (HTKK.read_bytes(), "tax")):
        results = verifier.verify(_sign(doc, profile), x509_cert=cert, expect_references=2)
        assert len(results) == 2
    dsig_ns = "http://www.w3.org/2000/09/xmldsig#"
    old = dsig.SIGNING_TIME_NS
    dsig.SIGNING_TIME_NS = dsig_ns  # what earlier Kyso versions wrote
    try:
        legacy = _sign(HOSO)
    finally:
        dsig.SIGNING_TIME_NS = old
    with pytest.raises(Exception, match="SigningTime"):
        verifier.verify(legacy, x509_cert=cert, expect_references=2)
    # Old Kyso files still verify with Kyso, named as such, and their time is still read.
    result = verify_xml(legacy, _trust())
    assert result.shape.code == "kyso-legacy" and result.signing_time is not None


def test_other_signers_files_verify_and_name_their_shape(
    pki_files: dict[str, Any], xmlsec1: str, tmp_path: Path
) -> None:
    vnpt = sign_like_vnpt(HOSO, _KEY, _CERT)
    gdt = sign_like_gdt(TBAO.read_bytes(), _KEY, _CERT)
    ca2 = sign_like_ca2((FIXTURES / "ivan" / "04_DK-IVAN.xml").read_bytes(), _KEY, _CERT)
    for data, shape, profile, timed in (
        (vnpt, "vnpt-smartca", "bhxh", True),
        (gdt, "gdt", "tax", False),
        (ca2, "ca2", "bhxh", False),  # CA2's SigningTime is not covered: ignored
    ):
        result = verify_xml(data, _trust())
        assert (result.shape.code, result.profile) == (shape, profile)
        assert (result.signing_time is not None) == timed
        assert result.signer.thumbprint == SIGNER.certificate.thumbprint
    assert verify_xml(gdt, _trust()).signature_method.endswith("rsa-sha1")
    # Tampering is caught in every shape.
    for data, old, new in (
        (vnpt, "Báo tăng", "Báo giảm"),
        (gdt, "Hòa Bình", "Hoà Bình"),
        (ca2, "lienhe@kyso.vn", "lienhe@kyso.com"),
    ):
        with pytest.raises(KysoError) as err:
            verify_xml(data.replace(old.encode(), new.encode(), 1), _trust())
        assert err.value.code == "SIGNATURE_INVALID"
    # CA2's shape is not conformant XML-DSig: xmlsec1 refuses it; that is why it is by name.
    out = tmp_path / "ca2.xml"
    out.write_bytes(ca2)
    assert xmlsec_verify(xmlsec1, pki_files, out).returncode != 0
    # ...and only that shape: the same reference without CA2's X509Data beside KeyInfo fails.
    moved = etree.fromstring(ca2)
    sig = moved.find(f"CKy_Dvi/{DS}Signature")
    sig.find(f"{DS}KeyInfo").append(sig.find(f"{DS}X509Data"))
    with pytest.raises(KysoError) as err:
        check_xml_signature(etree.tostring(moved))
    assert err.value.code == "SIGNATURE_INVALID"


def test_verify_xml_cli_names_the_shape(tmp_path: Path, pki_files: dict[str, Any]) -> None:
    path = tmp_path / "vnpt.xml"
    path.write_bytes(sign_like_vnpt(HOSO, _KEY, _CERT))
    crl = tmp_path / "issuing.crl"
    issuing_crl, root_crl_obj = _CA.crls([])
    crl.write_bytes(issuing_crl.public_bytes(serialization.Encoding.DER))
    root_crl = tmp_path / "root.crl"
    root_crl.write_bytes(root_crl_obj.public_bytes(serialization.Encoding.DER))
    done = subprocess.run(
        [
            str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kyso-agent"),
            "verify-xml",
            str(path),
            "--trust",
            pki_files["ca"]["root"],
            "--trust",
            pki_files["ca"]["issuing"],
            "--crl",
            str(crl),
            "--crl",
            str(root_crl),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VNPT SmartCA" in done.stdout


@pytest.mark.parametrize("profile", ["bhxh", "tax"])
async def test_portal_profiles_refuse_ecdsa_unless_allowed(
    token_service: Any, demo: dict[str, Any], profile: str
) -> None:
    doc = HOSO if profile == "bhxh" else HTKK.read_bytes()
    with pytest.raises(KysoError) as err:
        await token_sign(token_service, demo, "ec", doc, profile)
    assert err.value.code == "XML_ECDSA_NOT_ACCEPTED"
    assert ".NET" in err.value.message_en and ".NET" in err.value.message_vi
    assert "--allow-ecdsa" in err.value.to_dict()["action_en"]
    signed = await token_sign(token_service, demo, "ec", doc, profile, allow_ecdsa=True)
    assert check_xml_signature(signed).signature_method.endswith("ecdsa-sha256")


async def test_generic_profile_allows_ecdsa_and_sha1(
    token_service: Any, demo: dict[str, Any]
) -> None:
    doc = "<ThongBao><NoiDung>Đã nhận</NoiDung></ThongBao>".encode()
    signed = await token_sign(token_service, demo, "ec", doc, "generic")
    assert check_xml_signature(signed).signature_method.endswith("ecdsa-sha256")
    signed = await token_sign(token_service, demo, "org", doc, "generic", hash="sha1")
    assert check_xml_signature(signed).signature_method.endswith("rsa-sha1")
