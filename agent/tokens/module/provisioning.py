"""Writing to tokens: key pairs generated on the token, certificates stored beside them.

For the demo tokens and IT tooling; signing never writes to a token.
"""

from __future__ import annotations

from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters
from pkcs11.util.rsa import encode_rsa_public_key

from agent.tokens.model import TokenInfo
from agent.tokens.module.library import LoadedLibrary, cache_key


class Provisioning(LoadedLibrary):
    """Key generation and certificate storage (a read-write session with the user PIN)."""

    async def generate_key(
        self, token: TokenInfo, pin: str, *, kind: str, bits: int, key_id: bytes, label: str
    ) -> bytes:
        """Generate a non-extractable key pair ON the token; returns the public key as DER SPKI."""
        return await self.worker.run(self._w_generate_key, token, pin, kind, bits, key_id, label)

    def _w_generate_key(
        self, info: TokenInfo, pin: str, kind: str, bits: int, key_id: bytes, label: str
    ) -> bytes:
        token = self._w_find_token(info)
        private_template = {
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.PRIVATE: True,
            Attribute.SIGN: True,
        }
        with token.open(rw=True, user_pin=pin) as session:
            if kind == "RSA":
                pub, _priv = session.generate_keypair(
                    KeyType.RSA,
                    bits,
                    id=key_id,
                    label=label,
                    store=True,
                    private_template=private_template,
                )
                return _rsa_spki(pub)
            params = session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            pub, _priv = params.generate_keypair(
                id=key_id, label=label, store=True, private_template=private_template
            )
            return _ec_spki(pub)

    async def store_certificate(
        self, token: TokenInfo, pin: str, *, der: bytes, key_id: bytes, label: str
    ) -> None:
        """Write a certificate object beside its key (same CKA_ID)."""
        await self.worker.run(self._w_store_certificate, token, pin, der, key_id, label)

    def _w_store_certificate(
        self, info: TokenInfo, pin: str, der: bytes, key_id: bytes, label: str
    ) -> None:
        from cryptography import x509

        cert = x509.load_der_x509_certificate(der)
        token = self._w_find_token(info)
        with token.open(rw=True, user_pin=pin) as session:
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: False,
                    Attribute.ID: key_id,
                    Attribute.LABEL: label,
                    Attribute.SUBJECT: cert.subject.public_bytes(),
                    Attribute.ISSUER: cert.issuer.public_bytes(),
                    Attribute.SERIAL_NUMBER: cert.serial_number.to_bytes(20, "big").lstrip(b"\0"),
                    Attribute.VALUE: der,
                }
            )
        self._cert_cache.pop(cache_key(info), None)


def _rsa_spki(pub: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    pkcs1 = encode_rsa_public_key(pub)
    key = serialization.load_der_public_key(_wrap_pkcs1(pkcs1))
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _wrap_pkcs1(pkcs1: bytes) -> bytes:
    from asn1crypto import keys

    return keys.PublicKeyInfo(
        {"algorithm": {"algorithm": "rsa"}, "public_key": keys.RSAPublicKey.load(pkcs1)}
    ).dump()


def _ec_spki(pub: Any) -> bytes:
    from pkcs11.util.ec import encode_ec_public_key

    return encode_ec_public_key(pub)
