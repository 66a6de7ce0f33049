"""Shared by the revocation tests: the demo's real OCSP/CRL responder and a clean status cache.

The session demo (tests/conftest.py) names a free loopback port in its certificates; nothing
listens there unless a test starts :class:`agent.demo.responder.DemoResponder`, so every other
test sees "revocation status unknown" (connection refused at once) and signs as before.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def status_cache_dir() -> Path:
    """Where the agent and the CLI cache revocation answers: under the state root."""
    from agent.config.paths import data_dir

    return data_dir() / "certstatus"


def clear_status_cache() -> None:
    """Forget every cached answer (as on a machine that never checked)."""
    shutil.rmtree(status_cache_dir(), ignore_errors=True)


def demo_der(demo: dict[str, Any], name: str) -> bytes:
    """DER of a demo end-entity certificate by profile name."""
    pem = Path(demo["certificates"][name]["path"]).read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def issuing_der(demo: dict[str, Any]) -> bytes:
    """DER of the demo's issuing CA (the issuer of every end-entity certificate)."""
    pem = Path(demo["ca"]["issuing"]).read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
