"""Rules a payload kind imposes on the certificate are enforced before consent and PIN."""

from __future__ import annotations

import base64

from tests.conftest import cert_thumbprint
from tests.signing_xml.helpers import HOSO


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_bhxh_refuses_an_ec_key_before_any_prompt_unless_allowed(demo, agent) -> None:
    client = await agent.client()
    ec = cert_thumbprint(demo, "ec")
    reply = await client.request("sign.xml", {"document": _b64(HOSO), "certificate": ec})
    assert reply["error"]["data"]["code"] == "XML_ECDSA_NOT_ACCEPTED"
    assert ".NET" in reply["error"]["data"]["message_en"]
    batch = await client.request(
        "sign.batch",
        {"items": [{"kind": "xml", "document": _b64(HOSO)}], "certificate": ec},
    )
    assert batch["error"]["data"]["code"] == "XML_ECDSA_NOT_ACCEPTED"
    assert agent.prompter.prompts == []  # nothing asked: no consent, no PIN
    allowed = await client.call(
        "sign.xml", {"document": _b64(HOSO), "certificate": ec, "allow_ecdsa": True}
    )
    assert allowed["document"]
    assert [p.kind for p in agent.prompter.prompts] == ["consent", "pin"]
