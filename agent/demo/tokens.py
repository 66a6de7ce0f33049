"""Demo tokens: a private SoftHSM2 store under the state root, provisioned with the test PKI.

Nothing here touches the system SoftHSM2 directory: a private ``softhsm2.conf`` points at
``<demo dir>/tokens``, and ``SOFTHSM2_CONF`` is set to it in the process that loads the demo
module. Keys are generated ON the tokens (sensitive, never extractable) through the token
layer; certificates from :mod:`agent.demo.pki` are written beside them with the same CKA_ID.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from agent.errors import KysoError
from agent.files import atomic_write
from agent.tokens.certinfo import parse_certificate
from agent.tokens.modules import ModuleCandidate, softhsm2_module
from agent.tokens.service import TokenService

# Re-exported: callers that create the demo also read it through this module.
from .manifest import MANIFEST as MANIFEST
from .manifest import activate as activate
from .manifest import load_manifest, paths
from .manifest import trust_files as trust_files
from .ocsp_index import ocsp_index
from .pki import PROFILES, UNIT_MST, PkiUrls, TestCA, pki_port

TOKENS = {1: "KYSO DEMO 1", 2: "KYSO DEMO 2"}
USER_PINS = {1: "123456", 2: "654321"}
SO_PIN = "12345678"


def _softhsm_util(conf: Path, *args: str) -> None:
    util = shutil.which("softhsm2-util")
    if util is None:
        raise KysoError("MODULE_NOT_FOUND", {"detail": "softhsm2-util (Debian package softhsm2)"})
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run([util, *args], check=True, env=env, capture_output=True, text=True)


async def init(root: Path | None = None, *, force: bool = False) -> dict[str, Any]:
    """Create the demo PKI and tokens (idempotent: an existing demo is kept unless ``force``)."""
    p = paths(root)
    existing = load_manifest(root)
    if existing and not force:
        return existing
    module = softhsm2_module()
    if module is None:
        raise KysoError("MODULE_NOT_FOUND", {"detail": "libsofthsm2.so (Debian package softhsm2)"})
    _init_tokens(p)
    urls = PkiUrls(pki_port())
    ca = TestCA.create(urls)
    ca.save(p["pki"])
    os.environ["SOFTHSM2_CONF"] = str(p["conf"])
    revoked_at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    service = TokenService([ModuleCandidate(module, "SoftHSM2 (Kyso demo tokens)", "demo", True)])
    await service.start(monitor=False)
    try:
        certificates, issued = await _provision(service, ca, urls, p["pki"], revoked_at)
    finally:
        await service.close()
    _write_revocation(p["pki"], ca, issued, revoked_at)
    manifest = _manifest(p, module, urls, certificates)
    atomic_write(
        p["manifest"], json.dumps(manifest, ensure_ascii=False, indent=2).encode(), overwrite=True
    )
    return manifest


def _init_tokens(p: dict[str, Path]) -> None:
    """A fresh SoftHSM2 configuration and the two empty demo tokens."""
    if p["root"].exists():
        for key in ("tokens", "pki"):
            shutil.rmtree(p[key], ignore_errors=True)
        p["manifest"].unlink(missing_ok=True)
    p["tokens"].mkdir(parents=True, exist_ok=True)
    atomic_write(
        p["conf"],
        f"directories.tokendir = {p['tokens']}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = true\n".encode(),
        overwrite=True,
    )
    for slot, label in TOKENS.items():
        _softhsm_util(
            p["conf"],
            "--init-token",
            "--free",
            "--label",
            label,
            "--so-pin",
            SO_PIN,
            "--pin",
            USER_PINS[slot],
        )


async def _provision(
    service: TokenService, ca: TestCA, urls: PkiUrls, pki: Path, revoked_at: dt.datetime
) -> tuple[dict[str, dict[str, Any]], list[tuple[Any, dt.datetime | None]]]:
    """A key generated on the token and a certificate for every profile; the issuing CA's
    certificate on token 1 too. Returns the manifest's certificates and (certificate, revoked
    at) for the revocation data."""
    certificates: dict[str, dict[str, Any]] = {}
    issued: list[tuple[Any, dt.datetime | None]] = []
    tokens = {t.label: t for t in await service.list_tokens()}
    for serial, profile in enumerate(PROFILES, start=0x1001):
        token = tokens[TOKENS[profile.token]]
        module_obj = service.module_for(token)
        key_id = bytes([profile.key_id])
        spki = await module_obj.generate_key(
            token,
            USER_PINS[profile.token],
            kind=profile.key_kind,
            bits=2048,
            key_id=key_id,
            label=profile.name,
        )
        public_key = serialization.load_der_public_key(spki)
        assert isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        cert = ca.issue(profile, public_key, serial, urls)
        issued.append((cert, revoked_at if profile.revoked else None))
        der = cert.public_bytes(serialization.Encoding.DER)
        await module_obj.store_certificate(
            token, USER_PINS[profile.token], der=der, key_id=key_id, label=profile.name
        )
        cert_path = pki / f"{profile.name}.pem"
        atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM), overwrite=True)
        info = parse_certificate(der)
        certificates[profile.name] = {
            "token": TOKENS[profile.token],
            "thumbprint": info.thumbprint,
            "subject": info.subject,
            "mst": info.mst,
            "cccd": info.cccd,
            "key_type": info.key_type,
            "not_before": info.not_before,
            "not_after": info.not_after,
            "revoked": profile.revoked,
            "path": str(cert_path),
            "description": profile.description,
        }
    # Real tokens often carry their CA certificate too: an object with no key behind it.
    token1 = tokens[TOKENS[1]]
    await service.module_for(token1).store_certificate(
        token1,
        USER_PINS[1],
        der=ca.issuing_cert.public_bytes(serialization.Encoding.DER),
        key_id=b"\xca",
        label="Kyso Test Issuing CA",
    )
    return certificates, issued


def _write_revocation(
    pki: Path, ca: TestCA, issued: list[tuple[Any, dt.datetime | None]], revoked_at: dt.datetime
) -> None:
    """The CRLs and the OCSP responder's database (openssl ca format), saying the same."""
    revoked = [cert.serial_number for cert, when in issued if when is not None]
    issuing_crl, root_crl = ca.crls(revoked, revoked_at)
    atomic_write(pki / "index.txt", ocsp_index(issued).encode(), overwrite=True)
    atomic_write(pki / "index.txt.attr", b"unique_subject = no\n", overwrite=True)
    atomic_write(
        pki / "issuing-ca.crl.pem",
        issuing_crl.public_bytes(serialization.Encoding.PEM),
        overwrite=True,
    )
    atomic_write(
        pki / "root-ca.crl.pem",
        root_crl.public_bytes(serialization.Encoding.PEM),
        overwrite=True,
    )


def _manifest(
    p: dict[str, Path], module: str, urls: PkiUrls, certificates: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """demo.json: the module, tokens and PINs, CA files, responder and certificates."""
    return {
        "module": module,
        "softhsm2_conf": str(p["conf"]),
        "token_dir": str(p["tokens"]),
        "unit_mst": UNIT_MST,
        "tokens": [
            {"label": label, "user_pin": USER_PINS[i], "so_pin": SO_PIN}
            for i, label in TOKENS.items()
        ],
        "ca": {
            "root": str(p["pki"] / "root-ca.pem"),
            "issuing": str(p["pki"] / "issuing-ca.pem"),
            "chain": str(p["pki"] / "chain.pem"),
            "crl": str(p["pki"] / "issuing-ca.crl.pem"),
            "root_crl": str(p["pki"] / "root-ca.crl.pem"),
            "issuing_key": str(p["pki"] / "issuing-ca.key"),
        },
        # Revocation services on loopback (agent/demo/responder.py serves them).
        "responder": {
            "port": urls.port,
            "ocsp_url": urls.ocsp,
            "crl_url": urls.issuing_crl,
            "index": str(p["pki"] / "index.txt"),
            "ocsp_cert": str(p["pki"] / "ocsp-responder.pem"),
            "ocsp_key": str(p["pki"] / "ocsp-responder.key"),
        },
        "certificates": certificates,
    }


async def reset(root: Path | None = None) -> dict[str, Any]:
    """Throw the demo away and make a new one (new keys, new CA)."""
    return await init(root, force=True)


def token_directory(label: str, root: Path | None = None) -> Path:
    """The SoftHSM2 directory that stores the token with ``label`` (tests move it to simulate
    pulling the token out)."""
    for entry in paths(root)["tokens"].iterdir():
        info = entry / "token.object"
        if info.exists() and label.encode() in info.read_bytes():
            return entry
    raise KysoError("TOKEN_NOT_FOUND", {"detail": label})
