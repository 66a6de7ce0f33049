"""Review 41: a caIssuers address that stops answering, and a root copy that is not self-issued.

A named issuer that could not be had makes the answer unknown (it was: the certificate's own
cached "good", silently, with the CA above never checked); an address named by a copy nothing
on the token can confirm is not followed."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.errors import KysoError
from agent.signing.certstatus import StatusChecker, check_before_signing
from tests import pki_http as pki


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYSO_HOME", str(tmp_path / "home"))


@pytest.mark.parametrize("token", ["nothing", "the root"])
async def test_blocking_caissuers_after_a_cached_leaf_good_is_not_a_silent_good(
    tmp_path: Path, token: str
) -> None:
    """Root revoked the issuing CA. Process 1: the attacker serves a self-issued copy of the
    issuing CA (its real key): the leaf's own CRL verifies under that key, so the leaf's
    "good" is cached on disk; the answer is "unknown" (unconfirmed). Process 2: the attacker
    answers 404 at the caIssuers address. The walk ends with Chain((), missing=leaf,
    unconfirmed=None) and the cached "good" is returned: silent good, revoked CA."""
    port = await pki.free_port()
    base = f"http://127.0.0.1:{port}"
    root, issuing, leaf = pki.three_level_chain(base)
    server = pki.Server()
    server.routes = {
        "/root.cer": pki.der(root[0]),
        "/i.cer": pki.self_issued_copy(issuing),
        "/root.crl": pki.crl(root, [issuing[0].serial_number]),
        "/issuing.crl": pki.crl(issuing),
    }
    tok = [pki.der(root[0])] if token == "the root" else []
    await server.start(port)
    try:
        with contextlib.suppress(KysoError):
            first = await check_before_signing(
                StatusChecker(tmp_path / "cache"), pki.der(leaf[0]), "sign", tok
            )
            assert first.status == "unknown"
        del server.routes["/i.cer"]  # the attacker now blocks the caIssuers address
        status = await check_before_signing(
            StatusChecker(tmp_path / "cache"), pki.der(leaf[0]), "sign", tok
        )
    finally:
        await server.stop()
    assert status.status == "unknown", (
        f"silent {status.status!r} although the issuing CA (revoked by the root) was never "
        "found: the leaf's cached good was returned alone"
    )


async def test_demo_chain_an_unconfirmed_root_copy_does_not_send_the_agent_to_its_addresses(
    tmp_path: Path,
) -> None:
    """The demo shape: the token holds the issuing CA; the root comes from caIssuers. The
    attacker serves the root's name and key, NOT self-issued (issuer 'Evil'), naming a caIssuers
    address of their choosing. No CA on the token can sit above it (the only one is already in
    the path), yet the walk follows that address (reach_further = bool(candidates))."""
    port = await pki.free_port()
    base = f"http://127.0.0.1:{port}"
    lan = pki.Server()
    await lan.start()
    root, issuing, leaf = pki.three_level_chain(base)
    attacker = ec.generate_private_key(ec.SECP256R1())
    copy, _ = pki.cert(
        "Root CA",
        None,
        ca=True,
        key=pki.PublicKeyOf(root[0]),
        signer=attacker,
        issuer_name=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Evil")]),
        ca_issuers=[lan.url("/internal/admin?do=something")],
    )
    server = pki.Server()
    server.routes = {
        "/root.cer": pki.der(copy),
        "/root.crl": pki.crl(root),
        "/issuing.crl": pki.crl(issuing),
    }
    await server.start(port)
    try:
        status = await check_before_signing(
            StatusChecker(tmp_path / "cache"), pki.der(leaf[0]), "sign", [pki.der(issuing[0])]
        )
    finally:
        await server.stop()
        await lan.stop()
    assert status.status == "unknown"
    assert lan.hits == [], f"the agent fetched an address the attacker chose: {lan.hits}"
