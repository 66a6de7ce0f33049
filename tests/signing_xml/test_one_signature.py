"""Issue 14: XML signing awaits ONE token signature on the event loop (no thread calling back
into the loop, no signxml subclass), over exactly the SignedInfo written into the document."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from agent.signing.signer import TokenSigner
from agent.signing.xml import check_xml_signature, sign_xml, sign_xml_file
from agent.signing.xml.c14n import c14n_bytes
from agent.signing.xml.profiles import C14N_1_0
from agent.tokens.algorithms import SignatureAlgorithm
from agent.tokens.pin import StaticPinProvider
from tests.conftest import cert_thumbprint

from .helpers import HOSO, PIN, without_signature

DS = "{http://www.w3.org/2000/09/xmldsig#}"


class _Recording(TokenSigner):
    """The real token signer, noting on which thread each signature was asked for."""

    def __init__(self, key: Any) -> None:
        super().__init__(key)
        self.calls: list[tuple[int, bytes, SignatureAlgorithm]] = []

    async def sign(self, data: bytes, algorithm: SignatureAlgorithm) -> bytes:
        self.calls.append((threading.get_ident(), data, algorithm))
        return await super().sign(data, algorithm)

    async def sign_digest(self, digest: bytes, algorithm: SignatureAlgorithm) -> bytes:
        raise AssertionError("XML signing signs the canonical SignedInfo, not a digest")


@pytest.mark.parametrize("source", ["bytes", "file"])
async def test_one_signature_on_the_event_loop_over_the_written_signed_info(
    token_service: Any, demo: dict[str, Any], tmp_path: Path, source: str
) -> None:
    async with token_service.open_key(cert_thumbprint(demo, "org"), StaticPinProvider(PIN)) as key:
        signer = _Recording(key)
        if source == "bytes":
            signed = await sign_xml(HOSO, signer, "bhxh")
        else:
            path = tmp_path / "hoso.xml"
            path.write_bytes(HOSO)
            _, signed = await sign_xml_file(path, signer, "bhxh")
    assert len(signer.calls) == 1, "one token signature per document"
    thread, data, algorithm = signer.calls[0]
    assert thread == threading.get_ident(), "asked from the event loop's thread"
    assert algorithm is SignatureAlgorithm.RSA_PKCS1_SHA256
    # What the token signed is the canonical SignedInfo as it stands in the signed document,
    # namespaces in scope included (lxml's own subtree C14N adds a stray xmlns="" here).
    info = etree.fromstring(signed).find(f"CKy_Dvi/{DS}Signature/{DS}SignedInfo")
    assert data == c14n_bytes(info, C14N_1_0)
    assert b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' in data
    # Two references: the document and the signed SigningTime object.
    uris = [r.get("URI") for r in info.iter(f"{DS}Reference")]
    assert uris[0] == "" and uris[1].endswith("-SigningTime") and len(uris) == 2


def test_no_signxml_in_the_signing_path() -> None:
    """signxml stays for verification tests only; signing uses no private API of it."""
    package = Path(__file__).resolve().parents[2] / "agent" / "signing" / "xml"
    importing = [
        p.name
        for p in package.glob("*.py")
        if any(
            line.lstrip().startswith(("import signxml", "from signxml"))
            for line in p.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert importing == []


async def test_a_large_document_is_spliced_whole(token_service: Any, demo: dict[str, Any]) -> None:
    """Over 4 MiB the copy is made on a thread: same bytes, still one signature on the loop."""
    big = HOSO.replace(
        b"<NoiDung>", b"<NoiDung><GhiChu>" + b"Ghi ch\xc3\xba " * 600_000 + b"</GhiChu>"
    )
    assert len(big) > 4 * 1024 * 1024
    async with token_service.open_key(cert_thumbprint(demo, "org"), StaticPinProvider(PIN)) as key:
        signer = _Recording(key)
        signed = await sign_xml(big, signer, "bhxh")
    assert [thread for thread, _, _ in signer.calls] == [threading.get_ident()]
    assert without_signature(signed) == big
    assert check_xml_signature(signed).signer.thumbprint == cert_thumbprint(demo, "org")
