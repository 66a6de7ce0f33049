"""Files signed the way other Vietnamese signers shape them, made at test time with libxmlsec
(python-xmlsec) and a software key from the demo PKI.

Shapes from their public code (docs/signing-xml.md, "Other signers' files"):

- VNPT SmartCA: ``/Hoso/CKy_Dvi``, ``URI=""`` + enveloped, SigningTime in an Object whose
  SignatureProperty has the Id ``SigningTime-<guid>``, referenced too.
- CA2's BHXH signer: ``URI=""`` with only exclusive C14N (the digest is taken before the
  signature is inserted; no enveloped transform), ``KeyValue`` in ``KeyInfo`` and ``X509Data``
  beside it, an unsigned SigningTime in ``http://example.org/#signatureProperties``.
- The tax authority's notices: ``URI="#_NODE_TO_SIGN"``, SignedInfo in C14N WithComments,
  rsa-sha1, ``KeyValue`` + ``X509Data``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from agent.signing.xml.c14n import c14n_bytes

DS = "http://www.w3.org/2000/09/xmldsig#"
EXAMPLE_NS = "http://example.org/#signatureProperties"
_D = f"{{{DS}}}"


def _key(key: rsa.RSAPrivateKey, cert: x509.Certificate) -> xmlsec.Key:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    loaded = xmlsec.Key.from_memory(pem, xmlsec.KeyFormat.PEM)
    loaded.load_cert_from_memory(
        cert.public_bytes(serialization.Encoding.PEM), xmlsec.KeyFormat.CERT_PEM
    )
    return loaded


def _holder(root: etree._Element, local: str) -> etree._Element:
    return next(c for c in root.iterchildren(etree.Element) if etree.QName(c).localname == local)


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="utf-8")


def sign_like_vnpt(doc: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
    """A ``Hoso`` signed into ``CKy_Dvi`` the way VNPT SmartCA's XmlHashSigner lays it out."""
    root = etree.fromstring(doc)
    sig_id = str(uuid.uuid4())
    time_id = f"SigningTime-{uuid.uuid4()}"
    sig = xmlsec.template.create(root, xmlsec.Transform.C14N, xmlsec.Transform.RSA_SHA256, ns=None)
    sig.set("Id", sig_id)
    _holder(root, "CKy_Dvi").append(sig)
    ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="")
    xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(ref, xmlsec.Transform.C14N)
    ref2 = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri=f"#{time_id}")
    xmlsec.template.add_transform(ref2, xmlsec.Transform.C14N)
    key_info = xmlsec.template.ensure_key_info(sig)
    x509_data = xmlsec.template.add_x509_data(key_info)
    xmlsec.template.x509_data_add_certificate(x509_data)
    obj = etree.SubElement(sig, f"{_D}Object")
    props = etree.SubElement(obj, f"{_D}SignatureProperties")
    prop = etree.SubElement(props, f"{_D}SignatureProperty", Id=time_id, Target=f"#{sig_id}")
    stamp = etree.SubElement(prop, f"{{{EXAMPLE_NS}}}SigningTime", nsmap={None: EXAMPLE_NS})
    stamp.text = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    xmlsec.tree.add_ids(root, ["Id"])
    ctx = xmlsec.SignatureContext()
    ctx.key = _key(key, cert)
    ctx.sign(sig)
    return _serialize(root)


def sign_like_gdt(doc: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
    """A tax notice signed the way the tax authority signs: ``#_NODE_TO_SIGN``, SignedInfo
    canonicalized WithComments, rsa-sha1, KeyValue + X509Data."""
    root = etree.fromstring(doc)
    sig = xmlsec.template.create(
        root, xmlsec.Transform.C14N_COMMENTS, xmlsec.Transform.RSA_SHA1, ns=None
    )
    _holder(root, "CKyDTu").append(sig)
    ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA1, uri="#_NODE_TO_SIGN")
    xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(ref, xmlsec.Transform.C14N_COMMENTS)
    key_info = xmlsec.template.ensure_key_info(sig)
    xmlsec.template.add_key_value(key_info)
    x509_data = xmlsec.template.add_x509_data(key_info)
    xmlsec.template.x509_data_add_subject_name(x509_data)
    xmlsec.template.x509_data_add_certificate(x509_data)
    xmlsec.tree.add_ids(root, ["Id"])
    ctx = xmlsec.SignatureContext()
    ctx.key = _key(key, cert)
    ctx.sign(sig)
    return _serialize(root)


def sign_like_ca2(doc: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
    """A BHXH file signed the way CA2's signer does: the document element's exclusive C14N
    digested before the signature exists, ``URI=""`` with that one transform."""
    exc = "http://www.w3.org/2001/10/xml-exc-c14n#"
    root = etree.fromstring(doc)
    digest = hashlib.sha256(c14n_bytes(root, exc)).digest()
    holder = _holder(root, "CKy_Dvi")
    sig = etree.SubElement(holder, f"{_D}Signature", nsmap={None: DS}, Id="sigid")
    info = etree.SubElement(sig, f"{_D}SignedInfo")
    etree.SubElement(info, f"{_D}CanonicalizationMethod", Algorithm=exc)
    etree.SubElement(
        info, f"{_D}SignatureMethod", Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    )
    ref = etree.SubElement(info, f"{_D}Reference", URI="")
    transforms = etree.SubElement(ref, f"{_D}Transforms")
    etree.SubElement(transforms, f"{_D}Transform", Algorithm=exc)
    etree.SubElement(ref, f"{_D}DigestMethod", Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
    etree.SubElement(ref, f"{_D}DigestValue").text = base64.b64encode(digest).decode()
    value = key.sign(c14n_bytes(info, exc), padding.PKCS1v15(), hashes.SHA256())
    etree.SubElement(sig, f"{_D}SignatureValue").text = base64.b64encode(value).decode()
    numbers = key.public_key().public_numbers()
    rsa_value = etree.SubElement(
        etree.SubElement(etree.SubElement(sig, f"{_D}KeyInfo"), f"{_D}KeyValue"),
        f"{_D}RSAKeyValue",
    )

    def b64int(n: int) -> str:
        return base64.b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode()

    etree.SubElement(rsa_value, f"{_D}Modulus").text = b64int(numbers.n)
    etree.SubElement(rsa_value, f"{_D}Exponent").text = b64int(numbers.e)
    x509_data = etree.SubElement(sig, f"{_D}X509Data")  # beside KeyInfo, as CA2 writes it
    etree.SubElement(x509_data, f"{_D}X509SubjectName").text = cert.subject.rfc4514_string()
    etree.SubElement(x509_data, f"{_D}X509Certificate").text = base64.b64encode(
        cert.public_bytes(serialization.Encoding.DER)
    ).decode()
    # CA2 writes SignatureProperties in no namespace (xmlns=""), SigningTime in example.org's.
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sig.append(
        etree.fromstring(
            f'<Object xmlns="{DS}"><SignatureProperties Id="proid" xmlns="">'
            '<SignatureProperty Target="#sigid">'
            f'<SigningTime xmlns="{EXAMPLE_NS}">{when}</SigningTime>'
            "</SignatureProperty></SignatureProperties></Object>"
        )
    )
    return _serialize(root)
