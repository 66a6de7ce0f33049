"""What the MSI and .deb builders share: the version, the Kyso wheel, running tools.

Standard library only, so the build scripts run with any Python 3.11 (the repo's .venv is
only needed to build the wheel: it has setuptools >= 70.1, which builds wheels offline).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The exact dependency versions the installers ship (checked in; see its header). Every pip
# run below gets it as PIP_CONSTRAINT, so downloads and offline installs resolve to these pins.
CONSTRAINTS = REPO / "installers" / "constraints.txt"
# What goes into the wheel's source copy (never build/ or egg-info from the shared tree).
WHEEL_SOURCES = ("pyproject.toml", "README.md", "agent", "portal_stub")


def read_version(repo: Path = REPO) -> str:
    """``__version__`` from agent/__init__.py (read as text: no import of the package)."""
    text = (repo / "agent" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.MULTILINE)
    if match is None:
        raise SystemExit("agent/__init__.py has no __version__")
    return match.group(1)


def msi_version(version: str) -> str:
    """An MSI ProductVersion (``major.minor.build``, numbers only) from a Python version:
    ``0.1.0`` -> ``0.1.0``; ``1.2.3rc1`` / ``1.2.3.dev4`` -> ``1.2.3``; ``1.2`` -> ``1.2.0``."""
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", version)
    if match is None:
        raise ValueError(f"version {version!r} does not start with a number")
    major, minor, build = (int(g or 0) for g in match.groups())
    if major > 255 or minor > 255 or build > 65535:
        raise ValueError(f"version {version!r} is out of the MSI range (255.255.65535)")
    return f"{major}.{minor}.{build}"


def require_tools(*names: str) -> None:
    """Stop with a clear message naming the Debian package when a tool is missing."""
    packages = {"wixl": "wixl", "msibuild": "msitools", "msiinfo": "msitools"}
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        hint = ", ".join(f"{n} (apt-get install {packages.get(n, 'dpkg')})" for n in missing)
        raise SystemExit(f"missing tools: {hint}")


def run(cmd: Sequence[str | Path], *, cwd: Path | None = None) -> str:
    """Run a build tool; on failure stop with its output (builds must not half-succeed).
    pip (the dependency downloads) is held to the pins in ``CONSTRAINTS``."""
    env = {**os.environ, "PIP_CONSTRAINT": str(CONSTRAINTS)}
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    return proc.stdout


def build_wheel(out_dir: Path, *, python: str | None = None, repo: Path = REPO) -> Path:
    """Build the Kyso wheel into ``out_dir`` from a clean copy of the sources (offline)."""
    python = python or _default_python(repo)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kyso-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for name in WHEEL_SOURCES:
            path = repo / name
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=ignore)
            else:
                shutil.copy2(path, src / name)
        dist = Path(tmp) / "dist"
        run(
            [
                python,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                "-w",
                dist,
                src,
            ]
        )
        (wheel,) = dist.glob("kyso_agent-*.whl")
        target = out_dir / wheel.name
        shutil.copy2(wheel, target)
    return target


def _default_python(repo: Path) -> str:
    venv = repo / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def is_pure_wheel(name: str) -> bool:
    """True for ``...-none-any.whl`` (runs anywhere); False for platform wheels."""
    return name.endswith("-none-any.whl")


def add_dependency_wheel_options(
    parser: argparse.ArgumentParser, platform: str, *, folder_help: str, download_help: str
) -> None:
    """``--<platform>-wheels DIR`` or ``--download-<platform>-wheels``: the dependencies to ship."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(f"--{platform}-wheels", type=Path, help=folder_help)
    group.add_argument(f"--download-{platform}-wheels", action="store_true", help=download_help)


def gather_wheels(
    args: argparse.Namespace,
    platform: str,
    download: Callable[[Path, Path], list[Path]],
    tmp: Path,
) -> tuple[Path | None, list[Path]]:
    """The Kyso wheel to package (None: the builder makes one) and the dependency wheels."""
    wheel: Path | None = args.wheel
    if getattr(args, f"download_{platform}_wheels"):
        wheel = wheel or build_wheel(tmp / "kyso")
        return wheel, download(wheel, tmp / "deps")
    folder: Path | None = getattr(args, f"{platform}_wheels")
    if folder:
        return wheel, [w for w in folder.glob("*.whl") if not w.name.startswith("kyso_agent-")]
    return wheel, []
