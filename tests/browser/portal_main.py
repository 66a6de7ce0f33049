"""The portal stub for the browser tests, with its CSP naming the test agent's ping port.

The portal's Content-Security-Policy allows the page to ping exactly ``http://127.0.0.1:27442``,
the agent's real ping port. The tests run their agent's ping on a free port instead (27442 may
belong to a real Kyso on this machine, or to a parallel test run), so this runner swaps that one
address in the policy for the test's, and changes nothing else: the policy is still enforced by
Chromium, and a ping to any other port is still blocked.

``python -m tests.browser.portal_main --agent-ping-port N <portal_stub.https_server arguments>``
"""

from __future__ import annotations

import runpy
import sys

REAL_PING = "http://127.0.0.1:27442"


def main(argv: list[str]) -> int:
    """Patch the CSP's ping address, then run the portal's own entry point with the rest."""
    from agent.cli.demo_portal import PORTAL_MODULE
    from portal_stub.web import common

    if len(argv) < 2 or argv[0] != "--agent-ping-port":
        print("usage: portal_main --agent-ping-port N [portal arguments]", file=sys.stderr)
        return 2
    port = int(argv[1])
    if REAL_PING not in common.CSP:
        # Fail loudly rather than test a policy the portal no longer has.
        print(f"the portal's CSP no longer names {REAL_PING}: {common.CSP}", file=sys.stderr)
        return 3
    common.CSP = common.CSP.replace(REAL_PING, f"http://127.0.0.1:{port}")
    sys.argv = [PORTAL_MODULE, *argv[2:]]
    runpy.run_module(PORTAL_MODULE, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
