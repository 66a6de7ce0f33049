"""Review 42 (1): a fetched CA certificate is "confirmed" when an anchor signed it, but its content is
then trusted although the network chose WHICH genuine certificate to serve. CAs renew an
intermediate with the same key (new dates, new serial). Whoever sits on the leaf's plain-http
caIssuers path serves the genuine, expired earlier issue: it is signed by the root the system
trusts (3c13cad: now the common leaf-only-token case), so it is confirmed, and the good
certificate was refused CERT_EXPIRED. (A verifier accepts the leaf: a valid path exists.) A
fetched CA out of its dates now makes the answer unknown.

Review 42 (2): with the token holding the issuing CA and the root in the system store, a root
host that is down made every signature "unknown"; the system's roots are now looked at for a
root not yet fetched."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from agent.errors import KysoError
from agent.signing.certstatus import StatusChecker, check_before_signing
from agent.signing.chain_walk import system_roots
from tests import pki_http as pki


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYSO_HOME", str(tmp_path / "home"))


async def test_an_expired_earlier_issue_of_the_issuing_ca_does_not_refuse_a_good_leaf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = await pki.free_port()
    base = f"http://127.0.0.1:{port}"
    root = pki.cert("Root CA", None, ca=True, days=(-4000, 4000))
    issuing = pki.cert("Issuing CA", root, ca=True, crl=f"{base}/root.crl", days=(-300, 3000))
    earlier, _ = pki.cert(  # the same CA, same key, issued years ago and expired since
        "Issuing CA", root, ca=True, key=issuing[1], crl=f"{base}/root.crl", days=(-3000, -301)
    )
    leaf = pki.cert(
        "Cong ty A", issuing, ca=False, crl=f"{base}/issuing.crl", ca_issuers=[f"{base}/i.cer"]
    )
    bundle = tmp_path / "system-roots.pem"
    bundle.write_bytes(root[0].public_bytes(serialization.Encoding.PEM))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    system_roots.cache_clear()
    server = pki.Server()
    server.routes = {
        "/i.cer": pki.der(earlier),  # the attacker's choice among genuine issues
        "/root.crl": pki.crl(root),
        "/issuing.crl": pki.crl(issuing),
    }
    await server.start(port)
    try:
        try:
            status = await check_before_signing(
                StatusChecker(tmp_path / "cache"), pki.der(leaf[0]), "sign", []
            )
        except KysoError as exc:
            pytest.fail(f"a good certificate refused {exc.code}: {exc.details}")
    finally:
        await server.stop()
        system_roots.cache_clear()
    assert status.status in ("good", "unknown")


async def test_root_in_the_system_store_and_its_host_down_is_not_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = await pki.free_port()
    base = f"http://127.0.0.1:{port}"
    root, issuing, leaf = pki.three_level_chain(base)
    bundle = tmp_path / "system-roots.pem"
    bundle.write_bytes(root[0].public_bytes(serialization.Encoding.PEM))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    system_roots.cache_clear()
    server = pki.Server()
    server.routes = {  # /root.cer: the root's host is down (404)
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
        system_roots.cache_clear()
    assert status.status == "good", status.reason
    assert "/root.cer" not in server.hits, "fetched a root the system already trusts"
