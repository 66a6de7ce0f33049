"""Where the demo lives and what it holds: the manifest written by :func:`agent.demo.tokens.init`.

Apart from the test PKI on purpose: reading the manifest and pointing SoftHSM2 at the demo
store (what an agent started with a demo does, and what a benchmark does before measuring)
loads no cryptography and no certificate builder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agent.config.paths import demo_dir

MANIFEST = "demo.json"


def paths(root: Path | None = None) -> dict[str, Path]:
    """Where each piece of the demo lives."""
    root = root or demo_dir()
    return {
        "root": root,
        "conf": root / "softhsm2.conf",
        "tokens": root / "tokens",
        "pki": root / "pki",
        "manifest": root / MANIFEST,
    }


def load_manifest(root: Path | None = None) -> dict[str, Any] | None:
    """The demo's description written by :func:`agent.demo.tokens.init`, or None if there is
    no demo yet."""
    path = paths(root)["manifest"]
    if not path.exists():
        return None
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def trust_files(root: Path | None = None) -> tuple[list[str], list[str]]:
    """The demo PKI's CA certificates and CRLs (empty lists when there is no demo yet): what a
    verifier such as the portal stub trusts by default."""
    manifest = load_manifest(root)
    if not manifest:
        return [], []
    ca = manifest["ca"]
    return [ca["root"], ca["issuing"]], [ca["crl"], ca["root_crl"]]


def activate(root: Path | None = None) -> str | None:
    """Point SoftHSM2 at the demo store in this process; returns the module path if a demo
    exists. Must run before the module is loaded (SoftHSM2 reads the variable at C_Initialize)."""
    manifest = load_manifest(root)
    if manifest is None:
        return None
    os.environ["SOFTHSM2_CONF"] = manifest["softhsm2_conf"]
    module: str = manifest["module"]
    return module
