"""Regenerate docs/interop.md: sign the corpus on fresh SoftHSM2 demo tokens, run every verifier.

Usage (from the repository root)::

    .venv/bin/python tests/interop/make_matrix.py            # writes docs/interop.md
    .venv/bin/python tests/interop/make_matrix.py -o OUT.md  # somewhere else

Everything happens in a temporary ``$KYSO_HOME``; nothing touches the user's tokens. The tests
(``pytest -m interop``) run the same suite and assert every cell; this script only writes the
document, because its versions line differs between machines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


async def _run(work: Path) -> object:
    from agent.demo import tokens as demo_tokens
    from agent.tokens.modules import ModuleCandidate
    from agent.tokens.service import TokenService
    from tests.interop import suite

    demo = await demo_tokens.init()
    demo_tokens.activate()
    service = TokenService([ModuleCandidate(demo["module"], "SoftHSM2 (demo)", "demo", True)])
    await service.start(monitor=False)
    try:
        return await suite.run(service, demo, work / "interop")
    finally:
        await service.close()


def main(argv: list[str] | None = None) -> int:
    """Run the suite and write the matrix."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "interop.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kyso-interop-") as tmp:
        os.environ["KYSO_HOME"] = str(Path(tmp) / "home")
        from tests.interop import report

        results = asyncio.run(_run(Path(tmp)))
        report.write(results, args.output)  # type: ignore[arg-type]
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
