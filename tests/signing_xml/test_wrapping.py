"""The signature-wrapping corpus (tests/fixtures/xml/wrapping/, built by wrapping_corpus.py):
Kyso accepts the two baselines and refuses every attack, with the code the manifest records.
Most attacks are cryptographically valid (a bare xmlsec1 accepts them): only Kyso's coverage
rules stand between them and a portal that reads the forged element."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agent.errors import KysoError
from agent.signing.xml import check_xml_signature

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "xml" / "wrapping"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())


@pytest.mark.parametrize("row", MANIFEST["files"], ids=lambda r: r["file"])
def test_kyso_judges_the_wrapping_corpus(row: dict[str, str]) -> None:
    data = (CORPUS / row["file"]).read_bytes()
    if row["expect"] == "valid":
        assert row["kyso"] == "valid"
        result = check_xml_signature(data, profile=row["profile"])
        assert result.shape.code == "kyso"
        return
    assert row["kyso"] != "valid"
    with pytest.raises(KysoError) as err:
        check_xml_signature(data, profile=row["profile"])
    assert err.value.code == row["kyso"]
    # The same verdict when the profile is guessed from the root element.
    with pytest.raises(KysoError):
        check_xml_signature(data)


def test_most_attacks_fool_a_bare_cryptographic_check(xmlsec1: str) -> None:
    """Re-run xmlsec1 on the corpus: the manifest's bare verdicts are what it says today."""
    fooled = []
    for row in MANIFEST["files"]:
        extra = ["--id-attr:id", "HSoKhaiThue", "--id-attr:id", "TTinChung"]
        done = subprocess.run(
            [
                xmlsec1,
                "--verify",
                "--trusted-pem",
                str(CORPUS / "root.pem"),
                "--untrusted-pem",
                str(CORPUS / "issuing.pem"),
                "--verification-time",
                MANIFEST["generated"][:19].replace("T", " "),
                *(extra if row["profile"] == "tax" else []),
                "--id-attr:Id",
                "Object",
                str(CORPUS / row["file"]),
            ],
            capture_output=True,
            timeout=60,
        )
        verdict = "valid" if done.returncode == 0 else "invalid"
        assert verdict == row["xmlsec1_bare"], row["file"]
        if verdict == "valid" and row["expect"] == "invalid":
            fooled.append(row["file"])
    assert len(fooled) >= 6, fooled


def test_a_manifest_is_refused_before_libxmlsec_could_follow_it(tmp_path: Path) -> None:
    """An unsigned Object with a ds:Manifest keeps the signature valid, and libxmlsec resolves
    its references itself (it opens a file: URI): refused before libxmlsec runs."""
    data = (CORPUS / "valid-hoso.xml").read_bytes()
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    manifest = (
        f'<Object><Manifest><Reference URI="file://{secret}">'
        '<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        "<DigestValue>AAAA</DigestValue></Reference></Manifest></Object></Signature>"
    )
    hostile = data.replace(b"</Signature>", manifest.encode(), 1)
    with pytest.raises(KysoError) as err:
        check_xml_signature(hostile)
    assert err.value.code == "XML_SIGNATURE_UNSUPPORTED"
    assert "Manifest" in err.value.message_en
