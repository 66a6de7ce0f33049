"""Entry script of the frozen kyso-agent.exe: the same ``main`` as the ``kyso-agent`` command."""

from __future__ import annotations

import sys

from agent.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
