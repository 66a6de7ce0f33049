"""Kyso's ``sign-pdf`` against pyHanko's own ``pyhanko sign addsig`` on a 200-page, 50 MB PDF.

Both sign the same file with the same RSA-2048 key on the same SoftHSM2 demo token, invisibly,
as PAdES, each in a fresh process (rounds interleaved). Printed: median wall time and peak RSS
of each, the ratios, and PASS/FAIL against the issue's targets — Kyso at most 1.1× pyHanko's
time, and Kyso's peak memory at most 1.5× the file's size. The same run also measures the
floor of the memory target: a bare Python that only imports pyHanko.

    .venv/bin/python bench/pdf_sign.py [--pages 200] [--mb 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TIME_TARGET = 1.1
MEMORY_TARGET = 1.5


def make_big_pdf(path: Path, pages: int, megabytes: int) -> None:
    """``pages`` pages, each with an incompressible image of an equal share of the size."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter()
    per_page = megabytes * 1024 * 1024 // pages
    side = max(8, int((per_page / 3) ** 0.5))
    for number in range(pages):
        image = generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Image"),
                pdf_name("/Width"): generic.NumberObject(side),
                pdf_name("/Height"): generic.NumberObject(side),
                pdf_name("/ColorSpace"): pdf_name("/DeviceRGB"),
                pdf_name("/BitsPerComponent"): generic.NumberObject(8),
            },
            stream_data=os.urandom(side * side * 3),
        )
        content = generic.StreamObject(stream_data=b"q 500 0 0 700 50 70 cm /Im0 Do Q")
        page = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Page"),
                pdf_name("/MediaBox"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, 595, 842)]
                ),
                pdf_name("/Contents"): writer.add_object(content),
                pdf_name("/Resources"): generic.DictionaryObject(
                    {
                        pdf_name("/XObject"): generic.DictionaryObject(
                            {pdf_name("/Im0"): writer.add_object(image)}
                        )
                    }
                ),
            }
        )
        writer.insert_page(page)
        del number
    out = io.BytesIO()
    writer.write(out)
    path.write_bytes(out.getvalue())


def prepare(path: Path, pages: int, megabytes: int) -> int:
    """In the child: demo tokens, the big PDF, and what the parent needs as JSON."""
    import asyncio

    from agent.demo import tokens as demo_tokens

    manifest = asyncio.run(demo_tokens.init())
    module = demo_tokens.activate()
    make_big_pdf(path, pages, megabytes)
    print(
        json.dumps(
            {
                "module": module,
                "softhsm2_conf": os.environ["SOFTHSM2_CONF"],
                "org": manifest["certificates"]["org"],
            }
        )
    )
    return 0


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    _out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed ({proc.returncode}): {err.decode()[-800:]}")
    return elapsed, usage.ru_maxrss * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prepare", metavar="PDF", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        return prepare(Path(args.prepare), args.pages, args.mb)

    work = Path(tempfile.mkdtemp(prefix="kyso-bench-pdf-"))
    env = {**os.environ, "KYSO_HOME": str(work / "home")}
    source = work / "big.pdf"
    # The demo tokens and the PDF are made in a child process: a child's peak RSS counts the
    # parent's pages at fork, so the parent must stay smaller than what it measures.
    prepared = subprocess.run(
        [sys.executable, __file__, "--prepare", str(source), "--pages", str(args.pages),
         "--mb", str(args.mb)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    setup = json.loads(prepared.stdout)
    env["SOFTHSM2_CONF"] = setup["softhsm2_conf"]
    module, org = setup["module"], setup["org"]
    pin = work / "pin.txt"
    pin.write_text("123456\n")
    size = source.stat().st_size
    print(
        f"file: {args.pages} pages, {size / 1e6:.1f} MB; key: RSA-2048 on SoftHSM2 ({org['token']})"
    )

    python = sys.executable
    pyhanko = str(Path(python).with_name("pyhanko"))
    kyso_times, kyso_rss, ref_times, ref_rss, floor_rss = [], [], [], [], []
    for n in range(args.rounds):
        out_k, out_p = work / f"k{n}.pdf", work / f"p{n}.pdf"
        t, m = run_measured(
            [python, "-m", "agent.cli.main", "sign-pdf", str(source), "-o", str(out_k),
             "--cert", org["thumbprint"], "--pin-file", str(pin), "--json"],
            env,
        )  # fmt: skip
        kyso_times.append(t)
        kyso_rss.append(m)
        t, m = run_measured(
            [pyhanko, "sign", "addsig", "--field", "Sig1", "--use-pades", "pkcs11",
             "--lib", module, "--token-label", org["token"], "--cert-label", "org",
             "--key-label", "org", str(source), str(out_p)],
            {**env, "PYHANKO_PKCS11_PIN": "123456"},
        )  # fmt: skip
        ref_times.append(t)
        ref_rss.append(m)
        _, m = run_measured(
            [python, "-c", "import pyhanko.sign, pyhanko.pdf_utils.reader"],
            env,
        )  # fmt: skip
        floor_rss.append(m)
        out_k.unlink()
        out_p.unlink()

    kt, pt = statistics.median(kyso_times), statistics.median(ref_times)
    km, pm, fm = (statistics.median(v) for v in (kyso_rss, ref_rss, floor_rss))
    time_ratio = kt / pt
    mem_ratio = km / size
    print(f"kyso-agent sign-pdf : {kt:6.2f} s  peak {km / 1e6:6.1f} MB")
    print(f"pyhanko sign addsig : {pt:6.2f} s  peak {pm / 1e6:6.1f} MB")
    print(f"floor (python with pyHanko imported, nothing read): peak {fm / 1e6:6.1f} MB "
          f"= {fm / size:.2f}× the file")  # fmt: skip
    verdict_t = "PASS" if time_ratio <= TIME_TARGET else "FAIL"
    verdict_m = "PASS" if mem_ratio <= MEMORY_TARGET else "FAIL"
    print(f"time: {time_ratio:.2f}× pyHanko (target ≤ {TIME_TARGET}×) {verdict_t}")
    print(f"memory: {mem_ratio:.2f}× the file (target ≤ {MEMORY_TARGET}×) {verdict_m}; "
          f"pyHanko itself: {pm / size:.2f}×")  # fmt: skip
    print(json.dumps({"time_ratio": round(time_ratio, 3), "memory_ratio": round(mem_ratio, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
