"""Run a program and measure it: wall time, CPU time and *its own* peak resident memory.

Why a helper process: Linux counts the pages a child shares with the process that forked it in
the child's peak RSS. ``ru_maxrss`` keeps the old address space's high-water mark across
``exec``, so a child forked straight from a benchmark that holds cryptography and a generated
dossier reported the benchmark's size, not its own. ``bench/xml_sign.py`` showed ~50 MB for
both Kyso and ``xmlsec1`` at 1 MB that way, when ``xmlsec1`` needs 22 MB. The measured program
is therefore forked by a bare interpreter (``python -I -S``), which lends it at most
:func:`helper_floor_mb`, printed by the benchmarks beside their figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

_HELPER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execve(sys.argv[1], sys.argv[1:], os.environ)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
report = {"seconds": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
          "maxrss_kb": usage.ru_maxrss, "exit": os.waitstatus_to_exitcode(status)}
sys.stderr.write("\\n" + json.dumps(report) + "\\n")
"""


@dataclass(frozen=True)
class Measured:
    """One run of one program."""

    seconds: float  # wall time, fork to exit
    cpu_seconds: float  # user + system, all its threads
    peak_rss_mb: float  # its own peak resident set (plus at most the helper's floor)
    stdout: str
    stderr: str  # the program's own, without the helper's report


def run_measured(argv: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run ``argv`` (``argv[0]`` an absolute path) to its end; SystemExit if it fails."""
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _HELPER, *argv],
        capture_output=True,
        env=env,
        check=False,
    )
    err = result.stderr.decode(errors="replace").rstrip()
    head, _, last = err.rpartition("\n")
    try:
        report = json.loads(last)
    except ValueError:
        raise SystemExit(f"could not run {argv[0]}: {err[-2000:]}") from None
    if result.returncode != 0 or report["exit"] != 0:
        raise SystemExit(f"{argv[:3]} failed ({report['exit']}): {head[-2000:]}")
    return Measured(
        seconds=report["seconds"],
        cpu_seconds=report["cpu"],
        peak_rss_mb=report["maxrss_kb"] / 1024,
        stdout=result.stdout.decode(errors="replace"),
        stderr=head,
    )


def helper_floor_mb() -> float:
    """The peak RSS the helper reports for a program that does nothing: what it may lend."""
    return run_measured(["/bin/true"]).peak_rss_mb
