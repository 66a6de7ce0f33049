"""Two tokens that a driver reports with one serial (blank, or a vendor default) are two
tokens: each lists its own certificates, and each is opened in its own slot.

SoftHSM2 cannot hold two tokens with one serial (its slot manager asserts they differ), so the
PKCS#11 library object is a stand-in here: the narrowest seam. Everything above it (scan,
certificate reading and cache, finding the token to open) is Kyso's real module code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pkcs11 import Attribute, ObjectClass, TokenFlag

from agent.tokens.module import Pkcs11Module
from agent.tokens.modules import ModuleCandidate

SERIAL = b"0000000000000000"


class _Object(dict):  # a PKCS#11 object's attributes; a missing one raises, as python-pkcs11
    def __getitem__(self, key: Any) -> Any:
        if key not in self:
            raise NotImplementedError
        return dict.__getitem__(self, key)

    def get_attributes(self, keys: Any) -> Any:
        raise NotImplementedError  # the reader then takes what it can one by one


class _Session:
    def __init__(self, objects: list[_Object]) -> None:
        self.objects = objects

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def get_objects(self, template: dict[Any, Any]) -> list[_Object]:
        return [o for o in self.objects if o[Attribute.CLASS] == template[Attribute.CLASS]]


class _Token:
    flags = TokenFlag.TOKEN_INITIALIZED | TokenFlag.LOGIN_REQUIRED | TokenFlag.USER_PIN_INITIALIZED
    manufacturer_id = "Stand-in"
    model = "Stand-in"

    def __init__(self, label: str, der: bytes) -> None:
        self.label, self.serial, self.der = label, SERIAL, der

    def open(self, **kwargs: Any) -> _Session:
        certificate = {Attribute.VALUE: self.der, Attribute.ID: b"\x01", Attribute.LABEL: "c"}
        return _Session(
            [
                _Object({Attribute.CLASS: ObjectClass.CERTIFICATE, **certificate}),
                _Object({Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: b"\x01"}),
            ]
        )


class _Slot:
    def __init__(self, slot_id: int, token: _Token) -> None:
        self.slot_id, self.token = slot_id, token

    def get_token(self) -> _Token:
        return self.token

    def get_mechanisms(self) -> list[Any]:
        return []


class _Library:
    def __init__(self, slots: list[_Slot]) -> None:
        self.slots = slots

    def get_slots(self, token_present: bool = True) -> list[_Slot]:
        return self.slots


def _der(demo: dict[str, Any], name: str) -> bytes:
    pem = Path(demo["certificates"][name]["path"]).read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


def _module(slots: list[_Slot]) -> Pkcs11Module:
    module = Pkcs11Module(ModuleCandidate("/stand-in/vendor-p11.so", "stand-in", "demo", True))
    module._lib = _Library(slots)
    return module


def test_each_token_lists_its_own_certificates(demo: dict[str, Any]) -> None:
    module = _module(
        [
            _Slot(0, _Token("CONG TY A", _der(demo, "org"))),
            _Slot(1, _Token("CONG TY B", _der(demo, "org_in_o"))),
        ]
    )
    listed = {}
    for info in module._w_scan(False):
        listed[info.label] = [c.info.mst for c in module._w_certificates(info)]
    assert listed == {"CONG TY A": ["0101234567"], "CONG TY B": ["0109876543"]}


def test_a_token_like_another_is_opened_in_its_own_slot(demo: dict[str, Any]) -> None:
    first, second = _Token("EPASS", _der(demo, "org")), _Token("EPASS", _der(demo, "org_in_o"))
    module = _module([_Slot(0, first), _Slot(1, second)])
    scanned = module._w_scan(False)
    assert [module._w_find_token(info) for info in scanned] == [first, second]
