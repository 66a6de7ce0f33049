"""Build the interop verifiers once (cached by source hash) and run them over many files.

Each verifier in ``verifiers/`` is a small program that takes many files (one JVM or mono start
for a whole batch: a JVM start costs about a second here) and prints one line per file:
``VALID <file>`` or ``INVALID <file> <reason>``. Build outputs live in ``.cache/interop/`` under
the repository, in a directory named after the hash of the source and the compiler's version,
so an edited verifier or a new JDK is rebuilt and an unchanged one never is.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = Path(__file__).resolve().parent / "verifiers"
CACHE = REPO / ".cache" / "interop"
JAVA_LIB = Path("/usr/share/java")

# Debian packages that provide each tool (named in the failure message when one is missing).
PACKAGES = {
    "javac": "default-jdk-headless",
    "java": "default-jdk-headless",
    "mcs": "mono-mcs",
    "mono": "mono-runtime",
    "xmlsec.jar": "libxml-security-java",
    "slf4j-api.jar": "libslf4j-java",
    "bcprov.jar": "libbcprov-java",
    "bcpkix.jar": "libbcpkix-java",
    "bcutil.jar": "libbcutil-java",
    "System.Security.dll": "libmono-system-security4.0-cil",
    # The windows-125x code pages (I18N.West: 1250/1252/1253, I18N.Other: 1251/1257/1258,
    # I18N.MidEast: 1254-1256): without them mono cannot read such a file at all.
    "I18N.West.dll": "libmono-i18n4.0-all",
    "I18N.Other.dll": "libmono-i18n4.0-all",
    "I18N.MidEast.dll": "libmono-i18n4.0-all",
}
MONO_LIB = Path("/usr/lib/mono/4.5")
JARS = {
    "VerifyXmlJsr105": (),
    "VerifyXmlSantuario": ("xmlsec.jar", "slf4j-api.jar", "slf4j-nop.jar"),
    "VerifyCmsBc": ("bcprov.jar", "bcpkix.jar", "bcutil.jar"),
}
# Quick JVM start (C1 only, serial GC): the batches are short; heap for the 20 MB DOMs.
JAVA_OPTS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss4m", "-Xmx1536m")


class ToolchainMissing(RuntimeError):
    """A compiler, runtime or library is not installed (the message names the package)."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolchainMissing(f"{name} is missing: apt-get install {PACKAGES[name]} (run.sh does)")
    return path


def _jar(name: str) -> Path:
    path = JAVA_LIB / name
    if not path.exists():
        package = PACKAGES.get(name, "libslf4j-java")
        raise ToolchainMissing(f"{path} is missing: apt-get install {package} (run.sh does)")
    return path


def _version(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    return proc.stdout + proc.stderr


def _cached_build(name: str, source: Path, compiler_version: str, compile_into: object) -> Path:
    """The build directory for ``source``; compiled into a temp dir and renamed into place."""
    key = hashlib.sha256(source.read_bytes() + compiler_version.encode()).hexdigest()[:16]
    out = CACHE / f"{name}-{key}"
    if (out / ".built").exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=CACHE))
    try:
        compile_into(tmp)  # type: ignore[operator]
        (tmp / ".built").write_text(source.name + "\n")
        try:
            os.rename(tmp, out)
        except OSError:
            # Another test process built the same source at the same time: keep theirs.
            if not (out / ".built").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _run_compiler(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"building a verifier failed: {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
        )


def java_command(name: str) -> list[str]:
    """Compile ``verifiers/<name>.java`` if needed; the command that runs it."""
    javac, java = _tool("javac"), _tool("java")
    jars = [str(_jar(j)) for j in JARS[name]]
    source = SOURCES / f"{name}.java"
    classpath = os.pathsep.join(jars)

    def compile_into(tmp: Path) -> None:
        cmd = [javac, "-nowarn", "-d", str(tmp)]
        _run_compiler([*cmd, *(["-cp", classpath] if classpath else []), str(source)])

    out = _cached_build(name, source, _version([javac, "-version"]) + classpath, compile_into)
    return [java, *JAVA_OPTS, "-cp", os.pathsep.join([str(out), *jars]), name]


def dotnet_command() -> list[str]:
    """Compile ``verifiers/VerifyXml.cs`` with mono's mcs if needed; the command that runs it."""
    mcs, mono = _tool("mcs"), _tool("mono")
    source = SOURCES / "VerifyXml.cs"
    for dll in ("System.Security.dll", "I18N.West.dll", "I18N.Other.dll", "I18N.MidEast.dll"):
        if not (MONO_LIB / dll).exists():
            raise ToolchainMissing(
                f"{MONO_LIB / dll} is missing: apt-get install {PACKAGES[dll]} (run.sh does)"
            )

    def compile_into(tmp: Path) -> None:
        _run_compiler(
            [
                mcs,
                "-nologo",
                "-r:System.Security.dll",
                "-r:System.Xml.dll",
                f"-out:{tmp / 'VerifyXml.exe'}",
                str(source),
            ]
        )

    out = _cached_build("VerifyXml", source, _version([mcs, "--version"]), compile_into)
    return [mono, str(out / "VerifyXml.exe")]


@dataclass(frozen=True)
class Verdict:
    """One verifier's judgement of one file."""

    valid: bool
    reason: str = ""


def run_batch(command: list[str], items: list[str], *, timeout: float = 600) -> dict[str, Verdict]:
    """Run a batch verifier over ``items``; verdicts keyed by the item's first path.

    An item is a path, or ``SIG::DATA`` for the CMS verifier. A verifier that crashes or leaves
    an item without a verdict is a failure of the suite, not an INVALID.
    """
    if not items:
        return {}
    proc = subprocess.run(
        [*command, *items], capture_output=True, text=True, timeout=timeout, check=False
    )
    verdicts: dict[str, Verdict] = {}
    keys = {item.split("::", 1)[0] for item in items}
    for line in proc.stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word not in ("VALID", "INVALID"):
            continue
        path = next((k for k in keys if rest == k or rest.startswith(k + " ")), None)
        if path is None:
            continue
        verdicts[path] = Verdict(word == "VALID", rest[len(path) :].strip())
    missing = keys - verdicts.keys()
    if missing or proc.returncode not in (0, 1):
        raise RuntimeError(
            f"{command[-1]} exited {proc.returncode} without a verdict for {sorted(missing)[:3]}:"
            f"\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return verdicts
