"""The default MSI ships every dependency, so a user's first start works offline.

The build takes the dependencies' win_amd64 wheels from the git-ignored cache
``.cache/windows-wheels`` and fetches them from the package index (PyPI by package name) only
when the cache cannot satisfy the Kyso wheel: the first run on a machine needs the index once,
later runs are offline. The check is pip's own resolver, run offline over exactly the wheels
the MSI installs, for every Python the launcher supports — what the launcher's first, offline
``pip install --no-index --find-links wheels`` will do on the user's PC.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import build, require


@pytest.mark.slow
def test_default_build_ships_what_an_offline_first_start_needs(tmp_path: Path) -> None:
    require("msiextract")
    proc = build("build_msi.py", tmp_path / "out")
    assert "first start on each PC needs PyPI" not in proc.stdout
    (msi,) = (tmp_path / "out").glob("kyso-agent-*.msi")
    subprocess.run(
        ["msiextract", "-C", str(tmp_path / "x"), str(msi)], check=True, capture_output=True
    )
    wheels = tmp_path / "x" / "Kyso" / "wheels"
    (kyso,) = wheels.glob("kyso_agent-*.whl")
    names = {w.name for w in wheels.glob("*.whl")}
    assert any(n.startswith("cryptography-") and "win_amd64" in n for n in names), names
    readme = (tmp_path / "x" / "Kyso" / "README-IT.txt").read_text(encoding="utf-8")
    assert "first start works offline" in readme
    for python in ("3.11", "3.12", "3.13"):
        resolve = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "--dry-run", "--quiet"),
                *("--ignore-installed", "--no-index", "--find-links", str(wheels)),
                *("--only-binary=:all:", "--platform", "win_amd64", "--python-version", python),
                *("--target", str(tmp_path / f"t{python}"), str(kyso)),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert resolve.returncode == 0, f"Python {python}: {resolve.stdout}{resolve.stderr}"
