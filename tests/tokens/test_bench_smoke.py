"""The token benchmark runs to the end and prints its ratio line (no timing is asserted)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "token_sign.py"


def test_bench_runs_and_prints_the_ratio(demo, kyso_home, capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("kyso_bench_token_sign", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # dataclasses look their module up
    spec.loader.exec_module(bench)
    before = (os.environ.get("KYSO_HOME"), os.environ.get("SOFTHSM2_CONF"))

    # The session's demo is reused so the smoke test does not build a second PKI.
    status = bench.main(["--kyso-home", str(kyso_home), "--iterations", "5", "--block", "2"])

    assert status == 0
    out = capsys.readouterr().out
    assert "ratio layer/direct p50 RSA-2048" in out
    assert "ratio layer/direct p50 ECDSA P-256" in out
    assert "direct" in out and "layer" in out
    # The bench put the environment back: later tests still use the session's demo.
    assert (os.environ.get("KYSO_HOME"), os.environ.get("SOFTHSM2_CONF")) == before
