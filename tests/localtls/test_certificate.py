"""The per-install CA and loopback certificate: what is on disk, renewal, and real TLS handshakes."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import stat
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509

from agent.localtls import Action, ensure_server_certificate, load_ca_bundle, ssl_context
from agent.localtls.plan import decide, inspect_material

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_first_run_creates_a_constrained_ca_and_no_ca_key(tmp_path: Path) -> None:
    sc = ensure_server_certificate(tmp_path, now=NOW, owner="may-ke-toan/lan")
    assert sc.action is Action.CREATE
    ca, server = _cert(sc.ca_cert_path), _cert(sc.cert_path)
    assert sc.ca_common_name == "Kyso Local CA (may-ke-toan/lan, 2026-11-24)"
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    nc = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert nc.critical
    assert set(nc.value.permitted_subtrees) == {
        x509.IPAddress(ipaddress.ip_network("127.0.0.1/32")),
        x509.IPAddress(ipaddress.ip_network("::1/128")),
        x509.DNSName("localhost"),
    }
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    assert server.not_valid_after_utc - NOW <= dt.timedelta(days=366)
    server.verify_directly_issued_by(ca)
    # The server key is private; and there is exactly one private key in the directory.
    assert stat.S_IMODE(os.stat(sc.key_path).st_mode) == 0o600
    holders = [
        p.name for p in tmp_path.rglob("*") if p.is_file() and b"PRIVATE KEY" in p.read_bytes()
    ]
    assert holders == ["server.key"]


def test_second_run_reuses_the_certificate(tmp_path: Path) -> None:
    first = ensure_server_certificate(tmp_path, now=NOW)
    again = ensure_server_certificate(tmp_path, now=NOW + dt.timedelta(days=100))
    assert again.action is Action.USE and not again.needs_retrust
    assert again.ca_sha256 == first.ca_sha256


def test_renewal_mints_a_new_ca_and_retires_the_old(tmp_path: Path) -> None:
    first = ensure_server_certificate(tmp_path, now=NOW)
    later = NOW + dt.timedelta(days=340)  # 25 days before expiry
    renewed = ensure_server_certificate(tmp_path, now=later)
    assert renewed.action is Action.RENEW and renewed.needs_retrust
    assert "expiring" in renewed.reasons
    assert renewed.ca_sha256 != first.ca_sha256
    assert renewed.not_after > later + dt.timedelta(days=300)
    bundle = load_ca_bundle(tmp_path)
    assert bundle.current_sha256 == renewed.ca_sha256
    assert [len(d) > 0 for d in bundle.retired] == [True]
    assert (tmp_path / "retired" / f"ca-{first.ca_sha1}.pem").exists()


def test_broken_files_are_repaired_and_a_stray_ca_key_removed(tmp_path: Path) -> None:
    first = ensure_server_certificate(tmp_path, now=NOW)
    (tmp_path / "ca.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    other = tmp_path / "other"
    ensure_server_certificate(other, now=NOW)
    (tmp_path / "server.key").write_bytes((other / "server.key").read_bytes())  # wrong key
    repaired = ensure_server_certificate(tmp_path, now=NOW)
    assert repaired.action is Action.RENEW and "key_mismatch" in repaired.reasons
    assert repaired.ca_sha256 != first.ca_sha256
    assert not (tmp_path / "ca.key").exists()


def test_ssl_context_refuses_old_tls(tmp_path: Path) -> None:
    context = ssl_context(ensure_server_certificate(tmp_path))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_decision_is_pure() -> None:
    assert decide(inspect_material(None, None, None, NOW)).action is Action.CREATE
    assert decide(inspect_material(b"junk", b"junk", b"junk", NOW)).action is Action.CREATE


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "localhost"])
async def test_real_tls_handshake_trusting_only_the_local_ca(tmp_path: Path, host: str) -> None:
    sc = ensure_server_certificate(tmp_path)
    app = web.Application()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    bind = "::1" if host == "[::1]" else "127.0.0.1"
    site = web.TCPSite(runner, bind, 0, ssl_context=ssl_context(sc))
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        client_ctx = ssl.create_default_context(cafile=str(sc.ca_cert_path))
        async with aiohttp.ClientSession() as session:
            async with session.get(f"https://{host}:{port}/", ssl=client_ctx) as resp:
                assert await resp.text() == "ok"
            # Without the local CA the handshake must fail: verification is never turned off.
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(f"https://{host}:{port}/", ssl=ssl.create_default_context())
    finally:
        await runner.cleanup()
