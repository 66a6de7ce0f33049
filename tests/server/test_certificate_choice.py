"""Choosing the certificate over the real protocol, on the demo SoftHSM2 tokens: the page's
certificate_filter, the picker grouped by token, the MST check against the dossier, and a
wrong PIN retried within one request."""

from __future__ import annotations

import base64

from agent.demo.pki import UNIT_MST
from tests.conftest import cert_thumbprint
from tests.server.conftest import preselected
from tests.server.test_methods import dossier, form_file


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_one_match_skips_the_picker_and_the_consent_shows_it(demo, agent) -> None:
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    result = await client.call(
        "sign.xml", {"document": b64(dossier()), "certificate_filter": {"thumbprints": [org]}}
    )
    assert b"CKy_Dvi" in base64.b64decode(result["document"])
    assert [p.kind for p in agent.prompter.prompts] == ["consent", "pin"]
    certificate = dict(agent.prompter.prompts[0].shown[0][1])
    assert certificate["Mã số thuế · Tax code (MST)"] == UNIT_MST
    assert agent.audit_lines()[-1]["thumbprint"] == org


async def test_the_picker_names_each_token_and_preselects_the_unit(demo, agent, answers) -> None:
    # Several certificates of the unit, on two tokens: the user picks; the unit's usable one
    # that expires last is preselected (the renewal on token 2, unless they end in the same
    # second: then the first token's), never a greyed one, never another unit's.
    # The demo's responder runs, so the revoked one is known revoked and greyed whatever an
    # earlier test left in the status cache (with its status unknown it was usable, and when
    # the demo made it in the renewal's second it was the one expected: a flake, 2 runs in 4).
    from agent.demo.responder import DemoResponder

    names = ("org", "org_renewed")
    expected, pin = preselected(demo, names)
    answers.set(pin=pin)  # the PIN of the token the user is led to
    client = await agent.client()
    with DemoResponder(demo):
        await client.call(
            "auth.challenge",
            {
                "nonce": base64.urlsafe_b64encode(b"n" * 32).decode().rstrip("="),
                "certificate_filter": {"mst": UNIT_MST},
            },
        )
    picker = agent.prompter.prompts[0]
    assert picker.kind == "certificate"
    by_thumbprint = {c["thumbprint"]: name for name, c in demo["certificates"].items()}
    chosen = by_thumbprint[picker.answer]
    assert chosen in names
    # Its token and expiry: two of them may end in the same second (then the same token).
    assert demo["certificates"][chosen]["token"] == demo["certificates"][expected]["token"]


async def test_another_units_dossier_is_warned_or_refused(demo, harness) -> None:
    other = dossier(mst="0109999999")
    params = {"document": b64(other), "certificate": cert_thumbprint(demo, "org")}
    await harness.start()
    client = await harness.client()
    await client.call("sign.xml", params)
    consent = harness.prompter.prompts[0]
    assert any("0109999999" in w and "KHÁC" in w for w in consent.warnings)
    await harness.agent.stop()
    harness.agent = None
    harness.prompter.prompts.clear()

    await harness.start(mst_mismatch="refuse")
    client = await harness.client()
    response = await client.request("sign.xml", params)
    error = response["error"]["data"]
    assert error["code"] == "MST_MISMATCH" and "0109999999" in error["message_vi"]
    assert harness.prompter.prompts == []  # refused before any prompt


async def test_a_wrong_pin_is_retried_in_the_same_request(demo, agent, answers) -> None:
    """The user mistypes once, the dialog asks again with the token's state, the right PIN
    signs: one request, one consent."""
    answers.set(pin=["000000", "123456"])  # typed in turn, as a person would
    client = await agent.client()
    await client.call(
        "sign.xml", {"document": b64(dossier()), "certificate": cert_thumbprint(demo, "org")}
    )
    kinds = [p.kind for p in agent.prompter.prompts]
    assert kinds == ["consent", "pin", "pin"]
    retry = agent.prompter.prompts[2]
    assert "Mã PIN vừa nhập không đúng. Hãy nhập lại." in retry.warnings
    assert retry.summary == "KYSO DEMO 1 (count_low)"  # the token's flag, read after the miss


async def test_the_same_wrong_pin_twice_ends_the_request_without_a_second_try(
    demo, agent, answers
) -> None:
    answers.set(pin="000000")  # an unattended machine's answers file with a wrong PIN
    client = await agent.client()
    response = await client.request(
        "sign.xml", {"document": b64(dossier()), "certificate": cert_thumbprint(demo, "org")}
    )
    assert response["error"]["data"]["code"] == "PIN_INCORRECT"
    # Asked again (a person could correct it); the file gives the same PIN, which the agent
    # does not send to the token a second time: the page gets the token's own answer.
    assert [p.kind for p in agent.prompter.prompts] == ["consent", "pin", "pin"]


async def test_a_form_of_another_unit_inside_the_dossier_is_refused_before_any_prompt(
    demo, agent
) -> None:
    """The dossier names the certificate's unit, its embedded D02-TS form another: the MST
    check would pass on the dossier alone, while the portal holds the form to its own unit."""
    inner = form_file("0109999999")
    mixed = dossier().replace(b64(form_file()).encode(), b64(inner).encode())
    assert mixed != dossier()
    client = await agent.client()
    params = {"document": b64(mixed), "certificate": cert_thumbprint(demo, "org")}
    reply = await client.request("sign.xml", params)
    error = reply["error"]["data"]
    assert error["code"] == "XML_FIELD_AMBIGUOUS" and "0109999999" in error["message_en"]
    assert agent.prompter.prompts == []
