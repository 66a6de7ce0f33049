"""Certificate and key objects as foreign tools and odd tokens write them (red-team 22).

- F1: one certificate object Kyso cannot read (an unknown key algorithm raised
  UnsupportedAlgorithm, not the ValueError the listing caught) hid every certificate of its
  token: now that object alone is skipped, logged once, and counted by ``doctor``.
- F2: a private key with CKA_SIGN false under the certificate's CKA_ID was listed as usable,
  and after the consent and the PIN python-pkcs11's key had no ``sign``: INTERNAL_ERROR. Now
  only keys that may sign are candidates (KEY_NOT_FOUND with the reason otherwise), refused
  before any prompt when the objects visible without login already say so.
- F5: a private key without a public-key object (a PKCS#12 import) is invisible before login,
  and was refused as missing (KEY_NOT_FOUND) before the PIN. Now the key is looked for after
  the login; the refusal before any prompt stays where absence is certain (a token that needs
  no login shows everything).

The token is built by tests/tokens/oddobjects.py (its objects written by another process).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from agent.cli.main import main
from agent.errors import KysoError
from agent.tokens import StaticPinProvider
from tests.server.conftest import (  # noqa: F401  (fixtures, registered by being imported)
    answers,
    client_ssl,
    harness,
    prompter,
    server_cert,
)
from tests.tokens.keymix import RSA256, rescan_for_cli
from tests.tokens.oddobjects import LABEL, PIN, Odd, odd_token


@pytest.fixture(scope="module")
def odd(demo: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Odd]]:
    """The KYSO ODD OBJECTS token's certificates by name, once for this module's tests."""
    with odd_token(demo["module"], tmp_path_factory.mktemp("odd")) as issued:
        yield issued


async def _listed(token_service: Any) -> dict[str, Any]:
    await token_service.rescan()
    return {
        c.thumbprint: c for c in await token_service.list_certificates() if c.token.label == LABEL
    }


def _verifies(issued: Odd, signature: bytes, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    key: Any = issued.certificate.public_key()
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


# ---- F1: an unreadable certificate object hides nothing else --------------------------------
async def test_one_unreadable_certificate_hides_none_of_the_tokens_others(
    odd, token_service, caplog
):
    caplog.set_level(logging.WARNING, logger="agent.tokens.module.reading")
    listed = await _listed(token_service)
    assert odd["foreign"].thumbprint not in listed
    for name in ("good", "badlabel", "nosign", "privonly", "nokey"):
        assert odd[name].thumbprint in listed, name
    token = listed[odd["good"].thumbprint].token
    assert token_service.unreadable_certificates(token) == ("unsupported_key_algorithm",)
    await _listed(token_service)  # listed again: read from the cache, not logged again
    skipped = [r for r in caplog.records if "could not be read" in r.getMessage()]
    assert len(skipped) <= 1 and all(LABEL in r.getMessage() for r in skipped)
    # The good certificate signs; sign-cms --cert <its thumbprint> found CERT_NOT_FOUND before.
    async with token_service.open_key(odd["good"].thumbprint, StaticPinProvider(PIN)) as key:
        assert _verifies(odd["good"], await key.sign(b"hoso", RSA256), b"hoso")


async def test_a_certificate_label_in_invalid_utf8_is_listed(odd, token_service):
    cert = (await _listed(token_service))[odd["badlabel"].thumbprint]
    assert "\ufffd" in cert.label and "odd" in cert.label
    assert cert.has_private_key and not cert.key_hidden


def test_doctor_says_how_many_certificates_could_not_be_read(odd, capsys):
    asyncio.run(rescan_for_cli())
    capsys.readouterr()
    main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    (token,) = [t for t in report["tokens"] if t["label"] == LABEL]
    assert token["unreadable_certificates"] == ["unsupported_key_algorithm"]
    shown = {c["thumbprint"] for c in report["certificates"]}
    assert odd["good"].thumbprint in shown and odd["foreign"].thumbprint not in shown


# ---- F2: a key that may not sign ---------------------------------------------------------------
async def test_a_key_that_may_not_sign_is_refused_clearly_after_the_pin(odd, token_service):
    # Nothing visible before login says it (its public half may verify): the PIN is asked,
    # then KEY_NOT_FOUND with the reason, never an AttributeError (INTERNAL_ERROR).
    cert = (await _listed(token_service))[odd["nosign"].thumbprint]
    assert cert.has_private_key and not cert.key_cannot_sign
    pins = StaticPinProvider(PIN)
    opened = False
    with pytest.raises(KysoError) as err:
        async with token_service.open_key(cert, pins) as key:
            opened = True
            await key.sign(b"hoso", RSA256)
    assert not opened  # refused when the key is looked up, before the token signs anything
    assert err.value.code == "KEY_NOT_FOUND" and len(pins.requests) == 1
    assert err.value.details["reason"] == "key_may_not_sign"
    assert err.value.details["key_id"] == "22"
    wire = err.value.to_dict()
    assert (
        "CKA_SIGN" in wire["details"]["reason_en"]
        and "không được phép ký" in (wire["details"]["reason_vi"])
    )
    assert "certificate provider" in wire["action_en"]


@pytest.mark.parametrize("name", ["nosign-visible"])
async def test_a_key_shown_unable_to_sign_is_refused_before_any_prompt(odd, token_service, name):
    # nosign-visible: the private key itself is visible without login and says CKA_SIGN false.
    cert = (await _listed(token_service))[odd[name].thumbprint]
    assert cert.has_private_key and cert.key_cannot_sign
    pins = StaticPinProvider(PIN)
    with pytest.raises(KysoError) as err:
        async with token_service.open_key(cert, pins):
            pass
    assert err.value.code == "KEY_NOT_FOUND"
    assert err.value.details["reason"] == "key_may_not_sign"
    assert pins.requests == []


async def test_the_agent_answers_key_not_found_not_internal_error(
    odd: dict[str, Odd],
    harness: Any,  # noqa: F811 - the fixture imported above
    prompter: Any,  # noqa: F811
) -> None:
    await harness.tokens.rescan()
    await harness.start()
    client = await harness.client()
    digest = base64.b64encode(hashlib.sha256(b"hoso").digest()).decode()
    for name in ("nosign", "nosign-pub"):
        before = prompter.count()
        reply = await client.request(
            "sign.hash", {"digest": digest, "certificate": odd[name].thumbprint}
        )
        assert reply["error"]["data"]["code"] == "KEY_NOT_FOUND", reply
        assert reply["error"]["data"]["details"]["reason"] == "key_may_not_sign", reply
        asked = prompter.count() - before
        # Both after the consent and the PIN: a public half's CKA_VERIFY false says nothing
        # of the private key (only the private key's own CKA_SIGN, seen before login, would).
        assert asked == 2, (name, prompter.prompts)
    outcomes = [(r.get("outcome"), r.get("result")) for r in harness.audit_lines()]
    assert outcomes == [("refused", "KEY_NOT_FOUND")] * 2, outcomes


def test_sign_cms_says_the_key_may_not_sign(odd, tmp_path, capsys):
    asyncio.run(rescan_for_cli())
    document = tmp_path / "doc.txt"
    document.write_text("hello")
    pin = tmp_path / "pin"
    pin.write_text(PIN)
    out = tmp_path / "doc.p7s"
    argv = ["sign-cms", str(document), "--cert", odd["nosign"].thumbprint]
    status = main([*argv, "--pin-file", str(pin), "-o", str(out), "--json"])
    error = json.loads(capsys.readouterr().out)["error"]
    assert status == 2 and error["code"] == "KEY_NOT_FOUND", error
    assert error["details"]["reason"] == "key_may_not_sign"
    assert not out.exists()


# ---- F5: a key hidden until login -------------------------------------------------------------
async def test_a_private_key_without_its_public_half_signs_after_the_pin(odd, token_service):
    cert = (await _listed(token_service))[odd["privonly"].thumbprint]
    assert cert.has_private_key and cert.key_hidden
    assert cert.to_json()["has_private_key"] is True  # the page is not told "no key"
    pins = StaticPinProvider(PIN)
    async with token_service.open_key(cert, pins) as key:
        signature = await key.sign(b"hoso", RSA256)
    assert _verifies(odd["privonly"], signature, b"hoso")
    assert len(pins.requests) == 1


async def test_a_certificate_without_any_key_is_refused_after_the_pin(odd, token_service):
    cert = (await _listed(token_service))[odd["nokey"].thumbprint]
    assert cert.has_private_key and cert.key_hidden  # unknown before login, not absent
    pins = StaticPinProvider(PIN)
    with pytest.raises(KysoError) as err:
        async with token_service.open_key(cert, pins):
            pass
    assert err.value.code == "KEY_NOT_FOUND" and len(pins.requests) == 1


async def test_a_missing_key_is_refused_before_any_prompt_when_nothing_hides_it(
    odd, token_service, monkeypatch
):
    # A token that needs no login shows every object without one: no key object under the
    # certificate's CKA_ID means no key, refused before any prompt as before. SoftHSM2 always
    # wants a login, so its flags are faked at the one function that reads them; the listing
    # cache (kept while a token stays in, and the flag never changes then) is emptied around.
    import agent.tokens.module.library as library

    real = library._flags_state

    def no_login(flags: int) -> Any:
        state, protected, _login_required = real(flags)
        return state, protected, False

    module = token_service.module_for((await token_service.list_tokens())[0])
    module._cert_cache.clear()
    monkeypatch.setattr(library, "_flags_state", no_login)
    try:
        listed = await _listed(token_service)
        for name in ("nokey", "privonly"):  # privonly: its key is a private object, so
            cert = listed[odd[name].thumbprint]  # invisible without login: no key for Kyso
            assert not cert.has_private_key and not cert.key_hidden, name
            pins = StaticPinProvider(PIN)
            with pytest.raises(KysoError) as err:
                async with token_service.open_key(cert, pins):
                    pass
            assert err.value.code == "KEY_NOT_FOUND" and pins.requests == [], name
        assert listed[odd["good"].thumbprint].has_private_key
    finally:
        monkeypatch.undo()
        module._cert_cache.clear()


def test_certs_and_doctor_say_the_key_may_be_hidden_until_the_pin(odd, capsys):
    asyncio.run(rescan_for_cli())
    capsys.readouterr()
    assert main(["certs", "--json"]) == 0
    listed = {e["thumbprint"]: e for e in json.loads(capsys.readouterr().out)}
    hidden = listed[odd["privonly"].thumbprint]
    assert hidden["has_private_key"] is True and hidden["key_hidden"] is True
    # A public half's CKA_VERIFY false is no forecast: the private key decides after the PIN.
    assert listed[odd["nosign-pub"].thumbprint]["key_cannot_sign"] is False
    assert listed[odd["nosign-visible"].thumbprint]["key_cannot_sign"] is True
    main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    rows = {c["thumbprint"]: c for c in report["certificates"]}
    assert rows[odd["privonly"].thumbprint]["problems"] == []
    assert "KEY_HIDDEN" in rows[odd["privonly"].thumbprint]["warnings"]
    assert rows[odd["nosign-visible"].thumbprint]["problems"] == ["KEY_CANNOT_SIGN"]
    main(["doctor"])
    text = capsys.readouterr().out
    assert "the key may be hidden until the PIN is entered" in text
    assert "1 certificate(s) on this token could not be read" in text


async def test_the_listing_and_the_picker_say_the_key_may_not_sign(
    odd: dict[str, Odd],
    harness: Any,  # noqa: F811 - the fixture imported above
) -> None:
    """Not "no private key" (the key is there), and never preselected or offered."""
    from agent.server.certificate_choice import Candidate, CertificateFilter, option_for
    from agent.server.commands.base import candidate
    from agent.ui.certtext import problem_text

    await harness.tokens.rescan()
    await harness.start()
    client = await harness.client()
    rows = {c["thumbprint"]: c for c in (await client.call("certificates.list"))["certificates"]}
    row = rows[odd["nosign-visible"].thumbprint]
    assert row["usable"] is False and row["problems"] == ["KEY_CANNOT_SIGN"], row
    listed = {c.thumbprint: c for c in await harness.tokens.list_certificates()}
    picked: Candidate = candidate(listed[odd["nosign-visible"].thumbprint])
    option = option_for(picked, CertificateFilter())
    assert option.problems == ("KEY_CANNOT_SIGN",) and not option.usable
    assert "may not sign" in problem_text("KEY_CANNOT_SIGN", "en")
