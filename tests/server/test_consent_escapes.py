"""Red-team findings on what the consent shows, end to end through a running agent: an embedded
form Kyso cannot read, an account request's MST with a hidden character, and a long origin in
a sign-in's title."""

from __future__ import annotations

import base64

from agent.demo.pki import UNIT_MST
from tests.conftest import cert_thumbprint
from tests.server.test_consent_labels import stop_service_request
from tests.signing_xml.test_embedded_form_unreadable import UNREADABLE, with_form

NONCE = base64.urlsafe_b64encode(b"n" * 32).decode().rstrip("=")
# dichvucong.gov.vn's name first, the registrable domain (evil.example) at the far end.
LONG_ORIGIN = "https://dichvucong.gov.vn." + ".".join(c * 60 for c in "abc") + ".evil.example"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_an_unreadable_embedded_form_is_refused_before_any_prompt(demo, agent) -> None:
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    for content in UNREADABLE.values():
        document = b64(with_form(content))
        for method, params in (
            ("sign.xml", {"document": document, "certificate": org}),
            ("sign.cms", {"data": document, "certificate": org}),
            ("sign.batch", {"items": [{"kind": "xml", "document": document}], "certificate": org}),
        ):
            reply = await client.request(method, params)
            assert reply["error"]["data"]["code"] == "XML_FIELD_AMBIGUOUS", (method, reply)
    assert agent.prompter.prompts == []


async def test_a_request_mst_with_a_word_joiner_is_another_unit(demo, harness) -> None:
    await harness.start(mst_mismatch="refuse")
    client = await harness.client()
    org = cert_thumbprint(demo, "org")
    hidden = stop_service_request().replace(
        f"<MaSoThue>{UNIT_MST}".encode(), f"<MaSoThue>{UNIT_MST}\u2060".encode()
    )
    assert hidden != stop_service_request()
    for method, params in (
        ("sign.xml", {"document": b64(hidden), "certificate": org}),
        ("sign.cms", {"data": b64(hidden), "certificate": org}),
    ):
        reply = await client.request(method, params)
        assert reply["error"]["data"]["code"] == "MST_MISMATCH", reply
    assert harness.prompter.prompts == []
    # Under the default (warn), the dialog shows the character tagged, and warns.
    await harness.agent.stop()
    harness.agent = None
    await harness.start()
    client = await harness.client()
    await client.call("sign.xml", {"document": b64(hidden), "certificate": org})
    (consent,) = (p for p in harness.prompter.prompts if p.kind == "consent")
    assert f"{UNIT_MST}<U+2060>" in repr(consent.shown)
    assert consent.warnings, consent


async def test_a_long_origin_keeps_its_domain_in_the_sign_in_title(demo, harness) -> None:
    await harness.start(allowed_origins=[LONG_ORIGIN])
    client = await harness.client(LONG_ORIGIN)
    await client.call(
        "auth.challenge", {"nonce": NONCE, "certificate": cert_thumbprint(demo, "org")}
    )
    (consent,) = (p for p in harness.prompter.prompts if p.kind == "consent")
    title = next(t for t, _ in consent.shown if t.startswith("Đăng nhập"))
    assert title.endswith(".evil.example"), title
    assert title.startswith("Đăng nhập / xác nhận thay đổi tài khoản trên https://dichvucong.")
    assert "…" in title  # the middle, not the end, was cut
