"""The portal's "Đổi chứng thư số" moves the unit from its USB token to remote signing: the
account request (a signed ``YeuCauTaiKhoan``) is signed through the running agent with the
remote credential the user picks, the portal checks it like any certificate of the demo PKI,
and from then on the remote certificate is the unit's and the token's is refused."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from agent.demo.remote import CLIENT_ID, DEMO_PIN, RunningService
from tests.portal.conftest import clock, portal, portal_trust  # noqa: F401 - fixtures
from tests.portal.helpers import PortalDriver
from tests.remote.listing import list_certificates
from tests.server.conftest import (  # noqa: F401 - fixtures
    Answers,
    Harness,
    answers,
    client_ssl,
    harness,
    prompter,
    server_cert,
)


async def test_change_certificate_to_a_remote_credential(
    portal: PortalDriver,  # noqa: F811
    harness: Harness,  # noqa: F811
    answers: Answers,  # noqa: F811
    csc: RunningService,
    secret_file: Path,
    demo: dict[str, Any],
) -> None:
    await portal.register_and_login()  # registered with token KYSO DEMO 1's "org"
    provider = {
        "name": "demo",
        "display_name": "Ký số từ xa (thử nghiệm)",
        "base_url": csc.url,
        "client_id": CLIENT_ID,
        "auth_flow": "client_credentials",
        "client_secret_file": str(secret_file),
    }
    # The portal runs on http://127.0.0.1:<port> in this test, so the agent allows it as such.
    await harness.start(
        allowed_origins=[portal.origin], allow_http_localhost=True, remote_providers=[provider]
    )
    client = await harness.client(portal.origin)
    listed = await list_certificates(client)
    remote_org = next(
        c for c in listed if c.get("credential_id", "").endswith("/org") and c["usable"]
    )
    assert remote_org["mst"] == "0101234567"

    async def sign_through_agent(action: str, fields: dict[str, Any]) -> str:
        # As portal-sign.js does: no certificate named, the user picks in the agent's picker.
        request = await portal.challenge(action, fields)
        result = await client.call(
            "sign.xml", {"profile": "bhxh", "document": base64.b64encode(request).decode()}
        )
        return result["document"]

    answers.set(certificate=remote_org["thumbprint"], remote_pin=DEMO_PIN)
    signed = await sign_through_agent("change-certificate", {})
    status, body = await portal.request(
        "POST", "/api/v1/account/certificate", json={"fields": {}, "signed_request": signed}
    )
    assert status == 200, body
    status, account = await portal.request("GET", "/api/v1/account")
    assert account["cert_thumbprint"] == remote_org["thumbprint"]
    assert harness.audit_lines()[-1]["token"] == "remote:demo"

    # From now on the unit signs remotely; its token certificate is refused.
    fields = {"loai_ho_so": ["601"]}
    signed = await sign_through_agent("add-types", fields)
    status, body = await portal.request(
        "POST", "/api/v1/account/types/add", json={"fields": fields, "signed_request": signed}
    )
    assert status == 200, body
    status, body = await portal.signed("/api/v1/account/types/add", "add-types", fields, "org")
    assert status == 400 and body["error"]["code"] == "E209", body
    assert csc.server.state.authorize_calls == 2
