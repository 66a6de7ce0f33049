"""CAdES-T: a CMS signature with an RFC 3161 signature timestamp from the demo TSA.

``openssl ts -verify`` (not pyHanko) checks the token against the demo PKI and the signature
value it stamps; a TSA that does not answer gives TIMESTAMP_UNAVAILABLE, never a crash.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms

from agent.errors import KysoError
from agent.signing.cms import sign_cms
from tests.signing_cms.conftest import token_signer


@pytest.mark.parametrize("name", ["org", "ec"])
async def test_cms_with_a_timestamp_openssl_verifies(demo, token_service, tsa, tmp_path, name):
    async with token_signer(token_service, demo, name) as signer:
        der = await sign_cms(signer, data=b"To khai TK1-TS", timestamp_url=tsa.url)
    signer_info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    tokens = [
        a["values"][0]
        for a in signer_info["unsigned_attrs"]
        if a["type"].native == "signature_time_stamp_token"
    ]
    assert len(tokens) == 1
    (tmp_path / "token.der").write_bytes(tokens[0].dump())
    (tmp_path / "sig.bin").write_bytes(signer_info["signature"].native)
    result = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-token_in",
            "-in",
            str(tmp_path / "token.der"),
            "-data",
            str(tmp_path / "sig.bin"),
            "-CAfile",
            demo["ca"]["chain"],
            "-untrusted",
            str(Path(demo["ca"]["chain"]).parent / "tsa.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr


async def test_a_silent_tsa_is_a_clear_error(demo, token_service) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with token_signer(token_service, demo, "org") as signer:
        with pytest.raises(KysoError) as err:
            await sign_cms(signer, data=b"x", timestamp_url=f"http://127.0.0.1:{port}/tsa")
    assert err.value.code == "TIMESTAMP_UNAVAILABLE"
