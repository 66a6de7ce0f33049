"""A dossier the profile's .NET portal would misread is refused before consent and PIN."""

from __future__ import annotations

import base64

from tests.conftest import cert_thumbprint
from tests.signing_xml.helpers import HOSO

# A TAB written as a reference in a covered attribute: .NET SignedXml (the BHXH portal's
# verifier) reads it back as a space and would call the signature invalid.
MISREAD = HOSO.replace(b"<MaSoThue>", b'<MaSoThue GhiChu="a&#9;b">', 1)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_a_dossier_dotnet_misreads_is_refused_before_any_prompt(demo, agent) -> None:
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    reply = await client.request("sign.xml", {"document": _b64(MISREAD), "certificate": org})
    assert reply["error"]["data"]["code"] == "XML_DOTNET_MISREAD"
    assert "GhiChu" in reply["error"]["data"]["message_en"]
    batch = await client.request(
        "sign.batch", {"items": [{"kind": "xml", "document": _b64(MISREAD)}], "certificate": org}
    )
    assert batch["error"]["data"]["code"] == "XML_DOTNET_MISREAD"
    assert agent.prompter.prompts == []  # nothing asked: no consent, no PIN
    # The same file with the generic profile (a verifier not known to be .NET) is signed.
    signed = await client.call(
        "sign.xml", {"document": _b64(MISREAD), "profile": "generic", "certificate": org}
    )
    assert signed["document"]
    assert [p.kind for p in agent.prompter.prompts] == ["consent", "pin"]
