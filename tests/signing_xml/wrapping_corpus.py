"""Build the signature-wrapping corpus in tests/fixtures/xml/wrapping/ (files every verifier of
the interop suite judges; Kyso's verdicts are checked in test_wrapping.py).

    .venv/bin/python -m tests.signing_xml.wrapping_corpus   # rewrites the corpus

Each attack starts from a file Kyso signed (or a signature crafted with the same certificate:
a trusted signer can still make a signature that covers the wrong thing). ``manifest.json``
says, per file, the profile, Kyso's verdict (``valid`` or the error code) and what a bare
``xmlsec1 --verify`` (which checks only the cryptography) says, to show why the coverage
rules are needed. The certificates are valid for two years from generation: verifiers that
check validity should verify at ``generated`` (in the manifest) or the corpus be rebuilt.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import xmlsec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from agent.demo import pki
from agent.errors import KysoError
from agent.signing.signer import SoftwareSigner
from agent.signing.xml import check_xml_signature, sign_xml

from .helpers import HOSO, TAX
from .others import _key

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "xml" / "wrapping"
DS = "http://www.w3.org/2000/09/xmldsig#"
_D = f"{{{DS}}}"
TAX_NS = "{http://kekhaithue.gdt.gov.vn/TKhaiThue}"
TAX_ID = TAX.replace(b"<HSoKhaiThue>", b'<HSoKhaiThue id="ID_1">')
FORGED = "<HSoKhaiThue><TTinChung><TenNNT>Công ty Giả Mạo</TenNNT><mst>0100000000</mst>"
FORGED += "</TTinChung><CTieuTKhaiChinh><ct22>1</ct22></CTieuTKhaiChinh></HSoKhaiThue>"


def _forged() -> etree._Element:
    return etree.fromstring(
        f'<w xmlns="http://kekhaithue.gdt.gov.vn/TKhaiThue">{FORGED}</w>'.encode()
    )[0]


def _out(root: etree._Element) -> bytes:
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="utf-8")


def _tax_twin(signed: bytes, before: bool) -> bytes:
    root = etree.fromstring(signed)
    root.insert(0 if before else 1, _forged())
    return _out(root)


def _tax_moved(signed: bytes, into_object: bool) -> bytes:
    """The signed HSoKhaiThue is moved where no portal reads it; a forged one takes its place."""
    root = etree.fromstring(signed)
    real = root.find(f"{TAX_NS}HSoKhaiThue")
    root.replace(real, _forged())
    if into_object:
        sig = root.find(f".//{_D}Signature")
        etree.SubElement(sig, f"{_D}Object").append(real)
    else:
        etree.SubElement(root, f"{TAX_NS}PhuLuc").append(real)
    return _out(root)


def _tax_duplicate_id(signed: bytes) -> bytes:
    root = etree.fromstring(signed)
    forged = _forged()
    forged.set("id", "ID_1")
    root.insert(0, forged)
    return _out(root)


def _hoso_signature_moved(signed: bytes) -> bytes:
    root = etree.fromstring(signed)
    sig = root.find(f".//{_D}Signature")
    root.append(sig)  # out of CKy_Dvi, still enveloped: the digest does not change
    return _out(root)


def _hoso_second_signature(signed: bytes) -> bytes:
    root = etree.fromstring(signed)
    sig = root.find(f".//{_D}Signature")
    sig.getparent().append(copy.deepcopy(sig))
    return _out(root)


def _crafted(doc: bytes, key: Any, cert: Any, how: str) -> bytes:
    """A signature made with the trusted certificate that covers the wrong thing."""
    root = etree.fromstring(doc)
    holder = next(c for c in root if etree.QName(c).localname in ("CKy_Dvi", "CKyDTu"))
    sig = xmlsec.template.create(root, xmlsec.Transform.C14N, xmlsec.Transform.RSA_SHA256, ns=None)
    holder.append(sig)
    if how == "object-only":
        ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="#st")
        obj = etree.SubElement(sig, f"{_D}Object", Id="st")
        obj.text = "2026-01-01T00:00:00Z"
    elif how == "nested":
        inner = root.find(f"{TAX_NS}HSoKhaiThue/{TAX_NS}TTinChung")
        inner.set("id", "TTinChung-1")
        ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="#TTinChung-1")
    else:  # xpath: the whole document except NoiDung, which is then rewritten
        ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="")
        xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
        xpath = xmlsec.template.add_transform(ref, xmlsec.Transform.XPATH)
        etree.SubElement(xpath, f"{_D}XPath").text = "not(ancestor-or-self::NoiDung)"
    if how != "xpath":
        xmlsec.template.add_transform(ref, xmlsec.Transform.C14N)
    key_info = xmlsec.template.ensure_key_info(sig)
    xmlsec.template.x509_data_add_certificate(xmlsec.template.add_x509_data(key_info))
    xmlsec.tree.add_ids(root, ["Id", "id"])
    ctx = xmlsec.SignatureContext()
    ctx.key = _key(key, cert)
    ctx.sign(sig)
    out = _out(root)
    if how == "xpath":
        out = out.replace("Báo tăng".encode(), "Báo giảm".encode())
    return out


def _kyso_verdict(data: bytes, profile: str) -> str:
    try:
        check_xml_signature(data, profile=profile)
    except KysoError as exc:
        return exc.code
    return "valid"


def _xmlsec1(path: Path, root_pem: Path, issuing_pem: Path, profile: str) -> str:
    extra = ["--id-attr:id", "HSoKhaiThue", "--id-attr:id", "TTinChung"] if profile == "tax" else []
    extra += ["--id-attr:Id", "Object"]
    done = subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--trusted-pem",
            str(root_pem),
            "--untrusted-pem",
            str(issuing_pem),
            *extra,
            str(path),
        ],
        capture_output=True,
        timeout=60,
    )
    return "valid" if done.returncode == 0 else "invalid"


async def build(directory: Path = CORPUS) -> dict[str, Any]:
    """Write the corpus and its manifest into ``directory``; return the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = pki.TestCA.create()
    key = rsa.generate_private_key(65537, 2048)
    cert = ca.issue(pki.PROFILES[0], key.public_key(), 0x5753)
    signer = SoftwareSigner(key, cert)
    hoso = await sign_xml(HOSO, signer, "bhxh")
    tax = await sign_xml(TAX_ID, signer, "tax")
    files: list[tuple[str, str, bytes, str]] = [
        ("valid-hoso.xml", "bhxh", hoso, "baseline: Kyso-signed Hoso"),
        ("valid-tax.xml", "tax", tax, "baseline: Kyso-signed tax dossier (#ID_1)"),
        (
            "tax-twin-before.xml",
            "tax",
            _tax_twin(tax, True),
            "unsigned HSoKhaiThue before the signed one",
        ),
        (
            "tax-twin-after.xml",
            "tax",
            _tax_twin(tax, False),
            "unsigned HSoKhaiThue after the signed one",
        ),
        (
            "tax-signed-in-object.xml",
            "tax",
            _tax_moved(tax, True),
            "signed HSoKhaiThue moved into a ds:Object; a forged one in its place",
        ),
        (
            "tax-signed-in-wrapper.xml",
            "tax",
            _tax_moved(tax, False),
            "signed HSoKhaiThue moved under another element; a forged one in its place",
        ),
        (
            "tax-duplicate-id.xml",
            "tax",
            _tax_duplicate_id(tax),
            "a forged HSoKhaiThue carrying the same id, first in the file",
        ),
        (
            "hoso-signature-outside-container.xml",
            "bhxh",
            _hoso_signature_moved(hoso),
            "the Signature moved out of CKy_Dvi (still enveloped, digest unchanged)",
        ),
        (
            "hoso-second-signature.xml",
            "bhxh",
            _hoso_second_signature(hoso),
            "a copy of the Signature beside it",
        ),
        (
            "hoso-covers-only-object.xml",
            "bhxh",
            _crafted(HOSO, key, cert, "object-only"),
            "crafted with the trusted key: references only its own Object",
        ),
        (
            "tax-covers-nested-element.xml",
            "tax",
            _crafted(TAX, key, cert, "nested"),
            "crafted with the trusted key: references TTinChung, not HSoKhaiThue",
        ),
        (
            "hoso-xpath-excludes-content.xml",
            "bhxh",
            _crafted(HOSO, key, cert, "xpath"),
            "crafted with the trusted key: an XPath transform leaves NoiDung out; NoiDung then edited",
        ),
    ]
    pem = serialization.Encoding.PEM
    (directory / "root.pem").write_bytes(ca.root_cert.public_bytes(pem))
    (directory / "issuing.pem").write_bytes(ca.issuing_cert.public_bytes(pem))
    manifest: dict[str, Any] = {
        "generated": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "trust": {"root": "root.pem", "intermediate": "issuing.pem"},
        "id_attributes": {"tax": "HSoKhaiThue/@id", "bhxh": None},
        "files": [],
    }
    for name, profile, data, attack in files:
        path = directory / name
        path.write_bytes(data)
        manifest["files"].append(
            {
                "file": name,
                "profile": profile,
                "attack": attack,
                "expect": "valid" if name.startswith("valid-") else "invalid",
                "kyso": _kyso_verdict(data, profile),
                "xmlsec1_bare": _xmlsec1(
                    path, directory / "root.pem", directory / "issuing.pem", profile
                ),
            }
        )
    (directory / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    )
    return manifest


if __name__ == "__main__":
    result = asyncio.run(build(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS))
    for row in result["files"]:
        print(f"{row['file']:42} kyso={row['kyso']:28} xmlsec1={row['xmlsec1_bare']}")
