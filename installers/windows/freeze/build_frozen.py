#!/usr/bin/env python3
"""Build the self-contained Windows agent: ``kyso-agent-<version>-win64.zip`` holding
``kyso-agent/kyso-agent.exe`` (and ``kyso-agentw.exe``), with no Python needed on the PC.

    python installers/windows/freeze/build_frozen.py [--spec kyso-agent.spec] [--out DIR]

Run it on Windows (64-bit Python 3.11) after installing the pinned runtime and the freezer:

    set PIP_CONSTRAINT=installers\\constraints.txt
    python -m pip install --only-binary=:all: -r installers\\windows\\freeze\\requirements-freeze.txt
    python -m pip install .

UNTESTED ON WINDOWS HERE: Python for Windows cannot be fetched on the development machine, so
this script and kyso-agent.spec are exercised only by .github/workflows/windows-build.yml on a
Windows runner (and the spec's lists by tests/installers/test_frozen_build.py). The tested
Windows installer is the wheel-based MSI (installers/build_msi.py).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # installers/: the shared build helpers
sys.path.insert(0, str(HERE))

import freeze_data  # noqa: E402
from common import REPO, read_version  # noqa: E402

SPEC = HERE / "kyso-agent.spec"


def freeze(out_dir: Path, spec: Path = SPEC) -> Path:
    """Run PyInstaller on the spec; return the folder with the executables."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kyso-freeze-") as work:
        subprocess.run(
            [
                *(sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean"),
                *("--distpath", str(out_dir), "--workpath", work, str(spec)),
            ],
            cwd=REPO,
            check=True,
        )
    return out_dir / freeze_data.CONSOLE_NAME


def smoke_test(folder: Path, version: str) -> None:
    """The frozen command line starts, imports its commands and prints the right version."""
    suffix = ".exe" if sys.platform == "win32" else ""
    exe = folder / (freeze_data.CONSOLE_NAME + suffix)
    proc = subprocess.run(
        [str(exe), "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0 or version not in proc.stdout:
        raise SystemExit(f"{exe} --version failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    print(proc.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    """Freeze, smoke-test, then zip the folder for distribution."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "frozen", help="output folder")
    parser.add_argument("--spec", type=Path, default=SPEC, help="PyInstaller spec")
    args = parser.parse_args(argv)
    if sys.platform == "win32" and sys.maxsize <= 2**32:
        raise SystemExit("build with a 64-bit Python: token drivers are 64-bit DLLs")
    version = read_version()
    folder = freeze(args.out, args.spec.resolve())
    smoke_test(folder, version)
    platform = "win64" if sys.platform == "win32" else sys.platform
    archive = shutil.make_archive(
        str(args.out / f"kyso-agent-{version}-{platform}"), "zip", args.out, folder.name
    )
    print(f"built {archive}")
    print("NOTE: frozen build, untested on Windows by the project's test suite (see the spec).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
