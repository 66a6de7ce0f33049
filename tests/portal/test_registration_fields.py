"""The registration form's fields (red-team on the portal): the password mail goes to exactly
the one plain address that was signed, and nobody without an account makes the portal store
megabytes. A header-decoded second recipient ("a@b.vn,=?utf-8?b?...?="), an address that
crashed composing the mail after the account was made (then E104 for ever), and a 20 MB field
kept with the challenge for a day are refused as FORM_INVALID before any challenge exists."""

from __future__ import annotations

import base64

import pytest

from tests.portal.helpers import UNIT, PortalDriver

HIDDEN = base64.b64encode(b"attacker@evil.example").decode()


@pytest.mark.parametrize(
    "email",
    [
        f"ketoan@kyso-demo.vn,=?utf-8?b?{HIDDEN}?=",
        "ketoan@kyso-demo.vn,attacker@evil.example",
        "ketoan@[kyso-demo.vn",
        "a(@kyso-demo.vn",
        "Ke Toan <ketoan@kyso-demo.vn>",
        '"a"@kyso-demo.vn',
    ],
)
async def test_only_one_plain_address_may_receive_the_password(
    portal: PortalDriver, email: str
) -> None:
    fields = {**UNIT, "email": email}
    status, body = await portal.request(
        "POST", "/api/v1/challenge", json={"action": "register", "fields": fields}
    )
    assert status != 200 and "thư điện tử" in str(body), body
    status, box = await portal.request("GET", "/api/v1/mailbox")
    assert box["messages"] == []
    # The unit types its address right and registers: no account was left behind.
    status, body = await portal.register(email="ketoan@kyso-demo.vn")
    assert status == 200, body
    status, box = await portal.request("GET", "/api/v1/mailbox")
    assert [m["rcpt_to"] for m in box["messages"]] == ["ketoan@kyso-demo.vn"]


async def test_a_field_of_megabytes_is_refused_before_a_challenge_is_stored(
    portal: PortalDriver,
) -> None:
    fields = {**UNIT, "dia_chi": "x" * 2_000_000}
    status, body = await portal.request(
        "POST", "/api/v1/challenge", json={"action": "register", "fields": fields}
    )
    assert status != 200 and "300" in str(body), body
