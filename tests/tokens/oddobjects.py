"""The KYSO ODD OBJECTS token: certificate and key objects as foreign tools and odd tokens write
them (red-team 22, F1, F2 and F5), built for tests/tokens/test_odd_objects.py.

One extra SoftHSM2 token is made in the demo's token store with softhsm2-util, and its objects
are written by a separate process through python-pkcs11 (this module run as a script), as a CA's
tool or another application would; key and certificate files go to the test's tmp_path. The
token is removed afterwards.

- id 01 "good": an RSA key pair and its signing certificate: must stay listed beside the rest;
- id 09 "foreign": a certificate whose public key algorithm Kyso does not know (an EC
  certificate with its SPKI OID changed to 1.2.840.10045.2.9, standing for GOST or SM2);
- id 0a "badlabel": an RSA key pair and its certificate, the certificate's label invalid UTF-8;
- id 22 "nosign": the private key (a private object) has CKA_SIGN false, its public half
  CKA_VERIFY true: nothing before login tells, find_key must refuse it after the PIN;
- id 23 "nosign-pub": the same with the public half's CKA_VERIFY false too: still refused
  after the PIN (a public half's flags say nothing of what the private key may do);
- id 24 "nosign-visible": a CKA_SIGN=false private key that is NOT a private object (visible
  without login), no public half: refused before any prompt;
- id 28 "privonly": a private key and its certificate, no public-key object (a PKCS#12 import):
  the key is invisible before login, yet there;
- id 29 "nokey": a certificate and no key at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

LABEL = "KYSO ODD OBJECTS"
PIN = "123456"  # the server harness's scripted PIN
SO_PIN = "12345678"
# id-ecPublicKey (1.2.840.10045.2.1) as DER, and an OID no library knows in its place.
_EC_PUBLIC_KEY_OID = bytes.fromhex("06072a8648ce3d0201")
_UNKNOWN_KEY_OID = bytes.fromhex("06072a8648ce3d0209")


@dataclass(frozen=True)
class Odd:
    """A certificate on the KYSO ODD OBJECTS token."""

    name: str
    key_id: str
    thumbprint: str
    der: bytes

    @property
    def certificate(self) -> x509.Certificate:
        """The parsed certificate (not for "foreign", which no library parses)."""
        return x509.load_der_x509_certificate(self.der)


def _self_signed(name: str, key: Any) -> bytes:
    from tests.tokens.keymix import self_signed

    return self_signed(name, key).public_bytes(serialization.Encoding.DER)


def _plan(work: Path) -> tuple[list[dict[str, Any]], dict[str, Odd]]:
    """The objects to write (files under ``work``) and the certificates by name."""
    objects: list[dict[str, Any]] = []
    issued: dict[str, Odd] = {}

    def cert(name: str, key_id: str, der: bytes, label: bytes | None = None) -> None:
        path = work / f"{name}.der"
        path.write_bytes(der)
        label_hex = (label if label is not None else name.encode()).hex()
        objects.append({"kind": "cert", "id": key_id, "file": str(path), "label": label_hex})
        issued[name] = Odd(name, key_id, hashlib.sha256(der).hexdigest(), der)

    def key(name: str, key_id: str, secret: Any, **flags: Any) -> None:
        path = work / f"{name}.key.der"
        path.write_bytes(
            secret.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        objects.append({"kind": "key", "id": key_id, "file": str(path), "label": name, **flags})

    def rsa_key() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    for name, key_id, flags in (
        ("good", "01", {}),
        ("badlabel", "0a", {}),
        ("nosign", "22", {"sign": False}),
        ("nosign-pub", "23", {"sign": False, "verify": False}),
        ("nosign-visible", "24", {"sign": False, "private": False, "public": False}),
        ("privonly", "28", {"public": False}),
    ):
        private = rsa_key()
        key(name, key_id, private, **flags)
        label = b"\xff\xfe odd \xc3" if name == "badlabel" else None
        cert(name, key_id, _self_signed(name, private), label)
    cert("nokey", "29", _self_signed("nokey", rsa_key()))
    ec_der = _self_signed("foreign", ec.generate_private_key(ec.SECP256R1()))
    assert ec_der.count(_EC_PUBLIC_KEY_OID) == 1
    cert("foreign", "09", ec_der.replace(_EC_PUBLIC_KEY_OID, _UNKNOWN_KEY_OID))
    return objects, issued


def _write_objects(module: str, objects: list[dict[str, Any]]) -> None:
    """Run in its own process: write ``objects`` to the token with python-pkcs11."""
    import pkcs11
    from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass
    from pkcs11.attributes import AttributeMapper, handle_bytes
    from pkcs11.util.rsa import decode_rsa_private_key

    mapper = AttributeMapper()
    mapper.register_handler(Attribute.LABEL, *handle_bytes)  # labels as raw bytes
    token = pkcs11.lib(module).get_token(token_label=LABEL)
    with token.open(rw=True, user_pin=PIN, attribute_mapper=mapper) as session:
        for obj in objects:
            data = Path(obj["file"]).read_bytes()
            key_id = bytes.fromhex(obj["id"])
            if obj["kind"] == "cert":
                session.create_object(
                    {
                        Attribute.CLASS: ObjectClass.CERTIFICATE,
                        Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: False,
                        Attribute.ID: key_id,
                        Attribute.LABEL: bytes.fromhex(obj["label"]),
                        Attribute.SUBJECT: b"\x30\x00",  # SoftHSM2 wants one; unused here
                        Attribute.VALUE: data,
                    }
                )
                continue
            label = obj["label"].encode()
            attrs = decode_rsa_private_key(data)
            public = {
                Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                Attribute.KEY_TYPE: KeyType.RSA,
                Attribute.MODULUS: attrs[Attribute.MODULUS],
                Attribute.PUBLIC_EXPONENT: attrs[Attribute.PUBLIC_EXPONENT],
                Attribute.TOKEN: True,
                Attribute.ID: key_id,
                Attribute.LABEL: label,
                Attribute.VERIFY: obj.get("verify", True),
            }
            attrs.update(
                {
                    Attribute.TOKEN: True,
                    Attribute.ID: key_id,
                    Attribute.LABEL: label,
                    Attribute.PRIVATE: obj.get("private", True),
                    Attribute.SENSITIVE: True,
                    Attribute.SIGN: obj.get("sign", True),
                }
            )
            if obj.get("public", True):
                session.create_object(public)
            session.create_object(attrs)


def build(module: str, work: Path) -> dict[str, Odd]:
    """Make the token and its objects (see the module's docstring); the certificates by name."""
    objects, issued = _plan(work)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", LABEL,
         "--pin", PIN, "--so-pin", SO_PIN],
        check=True, capture_output=True,
    )  # fmt: skip
    spec = work / "objects.json"
    spec.write_text(json.dumps(objects))
    root = Path(__file__).resolve().parents[2]
    written = subprocess.run(
        [sys.executable, "-m", "tests.tokens.oddobjects", module, str(spec)],
        capture_output=True, text=True, cwd=root,
    )  # fmt: skip
    if written.returncode:
        raise RuntimeError(f"writing the objects failed: {written.stderr}")
    return issued


def delete() -> None:
    """Remove the token from the demo's store (if it was made at all)."""
    subprocess.run(
        ["softhsm2-util", "--delete-token", "--token", LABEL], check=False, capture_output=True
    )


@contextlib.contextmanager
def odd_token(module: str, work: Path) -> Iterator[dict[str, Odd]]:
    """The KYSO ODD OBJECTS token's certificates by name; the token is deleted afterwards."""
    from tests.tokens.keymix import rescan

    delete()  # left over by an interrupted run
    try:
        issued = build(module, work)
        asyncio.run(rescan(module))
        yield issued
    finally:
        delete()
        asyncio.run(rescan(module))


if __name__ == "__main__":
    _write_objects(sys.argv[1], json.loads(Path(sys.argv[2]).read_text()))
