"""xml:lang, xml:space or xml:base on the signature's container or the signed element (or
around them) is refused before the PIN with a code that names the attribute and the element,
and says what to do: verifiers carry these attributes into the signature differently, and
Kyso's canonical copy cannot carry them as xmlsec1 does."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from agent.errors import KysoError
from agent.signing.xml import check_portal_verifier, check_signable, get_profile

from .helpers import HOSO, TAX, token_sign


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
            TAX.replace(b"<HSoKhaiThue", b'<HSoKhaiThue xml:base="http://a.vn/"', 1),
            "HSoKhaiThue",
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
