"""Signatures made for a page leave the same records as the CLI's: certificate, token, kind,
hash and outcome, for signed, refused and cancelled requests; never the PIN or the document."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from agent.cli.main import main
from tests.server.conftest import ORIGIN, PIN
from tests.server.test_methods import dossier

MARKER = "HS-MAT-5d2e77"  # the dossier number, inside the signed document only


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _org(demo: dict[str, Any]) -> dict[str, str]:
    cert = x509.load_pem_x509_certificate(Path(demo["certificates"]["org"]["path"]).read_bytes())
    return {
        "thumbprint": demo["certificates"]["org"]["thumbprint"],
        "subject_cn": cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
        "cert_serial": format(cert.serial_number, "x"),
        "token": demo["certificates"]["org"]["token"],
    }


async def test_agent_signatures_are_recorded_like_the_clis_without_secrets(
    demo: dict[str, Any], agent: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    org = _org(demo)
    client = await agent.client()
    document = dossier(MARKER)
    await client.call("sign.xml", {"document": b64(document), "certificate": org["thumbprint"]})
    cms_data = f"Phụ lục {MARKER}".encode()
    await client.call(
        "sign.batch",
        {
            "items": [
                # The label is page text for the consent dialog, not for the log.
                {"kind": "xml", "document": b64(dossier("HS-2")), "label": f"Hồ sơ {MARKER}"},
                {"kind": "cms", "data": b64(cms_data)},
            ],
            "certificate": org["thumbprint"],
        },
    )
    digest384 = hashlib.sha384(b"bao cao quy 4").digest()
    await client.call("sign.hash", {"digest": b64(digest384), "certificate": org["thumbprint"]})
    agent.prompter.path.write_text(json.dumps({"consent": "deny", "pin": PIN}))
    refused = await client.request(
        "sign.xml", {"document": b64(document), "certificate": org["thumbprint"]}
    )
    assert refused["error"]["data"]["code"] == "USER_CANCELLED"
    agent.prompter.path.write_text(json.dumps({"consent": "allow", "pin": "000000"}))
    wrong = await client.request(
        "sign.cms", {"data": b64(cms_data), "certificate": org["thumbprint"]}
    )
    assert wrong["error"]["data"]["code"] == "PIN_INCORRECT"

    records = agent.audit_lines()
    summary = [(r["method"], r["kind"], r.get("item"), r["outcome"], r["result"]) for r in records]
    assert summary == [
        ("sign.xml", "xml", None, "signed", "OK"),
        ("sign.batch", "xml", 0, "signed", "OK"),
        ("sign.batch", "cms", 1, "signed", "OK"),
        ("sign.batch", "batch", None, "signed", "OK"),
        ("sign.hash", "hash", None, "signed", "OK"),
        ("sign.xml", "xml", None, "cancelled", "USER_CANCELLED"),
        ("sign.cms", "cms", None, "refused", "PIN_INCORRECT"),
    ]
    for r in records:
        assert r["channel"] == "agent" and r["origin"] == ORIGIN and "file" not in r
        assert {k: r[k] for k in org} == org
    assert records[0]["sha256"] == hashlib.sha256(document).hexdigest()
    assert records[0]["profile"] == "bhxh"
    assert records[2]["sha256"] == hashlib.sha256(cms_data).hexdigest()
    # A SHA-384 digest is recorded as what it is, not in the sha256 field.
    assert (records[4]["digest"], records[4]["digest_alg"]) == (digest384.hex(), "sha384")
    assert "sha256" not in records[4]

    text = agent.audit.path.read_text(encoding="utf-8")
    assert PIN not in text and "000000" not in text
    assert MARKER not in text  # neither the document nor the page's label

    # kyso-agent audit reads the agent's records the same way as the CLI's.
    capsys.readouterr()
    assert main(["audit", "--file", str(agent.audit.path), "--origin", ORIGIN, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["records"]
    assert [r["result"] for r in listed] == [r["result"] for r in reversed(records)]


def test_every_signing_method_records_what_kind_of_thing_it_signed() -> None:
    """A method added later (sign.pdf was, once) must not leave records without a kind."""
    from agent.server.audit import METHOD_KINDS
    from agent.server.commands import command_table

    signing = {name for name, command in command_table().items() if command.signs}
    assert signing - {"auth.challenge"} and signing <= set(METHOD_KINDS)


async def test_a_request_whose_page_went_away_is_recorded_as_such(
    demo: dict[str, Any], agent: Any
) -> None:
    """Not 'Kyso is shutting down' (the agent runs on): the page closed while the user was
    still deciding, and the record says so."""
    import asyncio

    agent.prompter.path.write_text(json.dumps({"consent": "allow", "pin": PIN, "delay_seconds": 5}))
    client = await agent.client()
    params = {"document": b64(dossier(MARKER)), "certificate": _org(demo)["thumbprint"]}
    message = {"jsonrpc": "2.0", "id": 1, "method": "sign.xml", "params": params}
    await client.ws.send_str(json.dumps(message))
    for _ in range(100):  # the consent is on the screen
        if agent.prompter.prompts:
            break
        await asyncio.sleep(0.02)
    await client.close()
    for _ in range(100):
        if agent.audit_lines():
            break
        await asyncio.sleep(0.02)
    (record,) = agent.audit_lines()
    assert (record["result"], record["outcome"]) == ("PAGE_CLOSED", "cancelled")


async def test_a_paired_page_s_flood_of_refusals_leaves_the_user_s_signature_on_record(
    demo: dict[str, Any], agent: Any
) -> None:
    """Every signing request with bad parameters is an audit line, before any prompt; a page
    sent enough of them that rotation deleted the file holding a signature's record (at the
    real 5 MB x 5 files, about a minute). Here the log is small, the dispatcher real."""
    agent.audit.max_bytes = 6000
    client = await agent.client()
    org = _org(demo)
    await client.call(
        "sign.hash",
        {"digest": b64(hashlib.sha256(b"hd").digest()), "certificate": org["thumbprint"]},
    )
    for number in range(300):  # ~50 kB of refusals: past the live file and its 5 old ones
        reply = await client.request("sign.hash", {"bogus": number})
        assert reply["error"]["data"]["code"] == "PARAMS_INVALID"
    records, _ = agent.audit.read()
    assert [r["method"] for r in records if r["outcome"] == "signed"] == ["sign.hash"]
    assert records[0]["outcome"] == "refused" and len(records) < 300
