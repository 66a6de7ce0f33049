"""Entry script of the frozen kyso-agent.exe: the same ``main`` as the ``kyso-agent`` command."""

from __future__ import annotations

import multiprocessing
import sys

from agent.cli.main import main

if __name__ == "__main__":
    # verify-pdf verifies in a spawned child on Windows (agent.signing.pdf.bounded): in a
    # frozen executable the child is this same .exe, which must run the child's work, not main.
    multiprocessing.freeze_support()
    sys.exit(main())
