"""xml:lang, xml:space or xml:base on the signature's container or the signed element (or
around them) is refused before the PIN with a code that names the attribute and the element,
and says what to do: verifiers carry these attributes into the signature differently, and
Kyso's canonical copy cannot carry them as xmlsec1 does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from agent.errors import KysoError
from agent.signing.xml import (
    check_portal_verifier,
    check_signable,
    check_xml_signature,
    get_profile,
)
from tests.interop import matrix, toolchain

from .helpers import HOSO, TAX, token_sign, xmlsec_verify


@pytest.mark.parametrize(
    ("profile", "document", "where", "attribute"),
    [
        ("bhxh", HOSO.replace(b"<Hoso ", b'<Hoso xml:lang="vi" ', 1), "Hoso", "xml:lang"),
        (
            "bhxh",
            HOSO.replace(b"<CKy_Dvi", b'<CKy_Dvi xml:space="preserve"', 1),
            "CKy_Dvi",
            "xml:space",
        ),
        (
            "tax",
            TAX.replace(b"<HSoThueDTu ", b'<HSoThueDTu xml:base="http://a.vn/" ', 1),
            "HSoThueDTu",
            "xml:base",
        ),
    ],
)
async def test_an_inherited_xml_attribute_is_refused_naming_it(
    token_service: Any,
    demo: dict[str, Any],
    profile: str,
    document: bytes,
    where: str,
    attribute: str,
) -> None:
    with pytest.raises(KysoError) as refused:
        check_signable(etree.ElementTree(etree.fromstring(document)), get_profile(profile))
    assert refused.value.code == "XML_INHERITED_ATTRIBUTE"
    assert refused.value.details == {"attribute": attribute, "element": where}
    assert attribute in refused.value.spec.action_en.format(**refused.value.details)
    with pytest.raises(KysoError) as again:
        await token_sign(token_service, demo, "org", document, profile)
    assert again.value.code == "XML_INHERITED_ATTRIBUTE"
    with pytest.raises(KysoError) as early:  # the agent's check, before consent and PIN
        check_portal_verifier(document, profile)
    assert early.value.code == "XML_INHERITED_ATTRIBUTE"


async def test_the_signed_elements_own_xml_attributes_are_signed_and_verify_everywhere(
    token_service: Any, demo: dict[str, Any], tmp_path: Path, xmlsec1: str
) -> None:
    """Interop round 23, F1: xml:space, xml:lang or xml:base on the referenced element itself (the tax
    profile's HSoKhaiThue) is an ordinary attribute of the signed subset, not an inherited one:
    every verifier canonicalises it alike, so it is signed, not refused. Its ancestors' still
    are (the parametrized test above)."""
    document = TAX.replace(
        b"<HSoKhaiThue",
        b'<HSoKhaiThue xml:space="preserve" xml:lang="vi" xml:base="http://a.vn/"',
        1,
    )
    check_signable(etree.ElementTree(etree.fromstring(document)), get_profile("tax"))
    check_portal_verifier(document, "tax")
    signed = await token_sign(token_service, demo, "org", document, "tax")
    path = tmp_path / "xml-space-self.xml"
    path.write_bytes(signed)
    assert check_xml_signature(signed).references  # Kyso's own verifier: raises if not valid
    assert xmlsec_verify(xmlsec1, demo, path, "--id-attr:id", "HSoKhaiThue").returncode == 0
    for command in (
        toolchain.dotnet_command(),
        toolchain.java_command("VerifyXmlJsr105"),
        toolchain.java_command("VerifyXmlSantuario"),
    ):
        verdict = toolchain.run_batch(command, [str(path)])[str(path)]
        assert verdict.valid, (command[-1], verdict)
    [signxml] = matrix.run_signxml([matrix.Item(path, "rsa", "sha256", "tax")]).values()
    assert signxml.valid, signxml
