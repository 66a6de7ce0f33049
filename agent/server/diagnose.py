"""The agent part of ``kyso-agent doctor``: port, whether an agent answers, trust of the local
CA, and every setting in force with where it came from (default, user, command line, policy)."""

from __future__ import annotations

import json
import socket
import ssl
import urllib.request
from typing import Any

from agent.config.settings import Settings
from agent.errors import KysoError
from agent.server.ports import candidate_ports  # the user's order over port_range too


def probe_agent(port: int, cafile: str | None, timeout: float = 0.5) -> dict[str, Any] | None:
    """``/v1/info`` of an agent listening on ``port`` (None when nothing answers there)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            pass
    except OSError:
        return None
    context = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
    try:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/v1/info", context=context, timeout=timeout * 4
        ) as response:
            return json.loads(response.read())
    except (OSError, ValueError) as exc:
        return {"error": f"port {port} is open but did not answer as Kyso: {exc}"}


def agent_report(settings: Settings | None = None) -> dict[str, Any]:
    """Everything doctor says about the agent; never raises for a broken part."""
    from agent.config.policy import load_settings
    from agent.localtls import default_directory

    report: dict[str, Any] = {}
    try:
        settings = settings or load_settings()
    except KysoError as exc:
        return {"settings_error": exc.to_dict()}
    ca = default_directory() / "ca.pem"
    cafile = str(ca) if ca.exists() else None
    running = None
    for port in candidate_ports(settings):
        info = probe_agent(port, cafile)
        if info is not None:
            running = {"port": port, **info}
            break
    report["ports"] = list(candidate_ports(settings))
    report["running"] = running
    try:
        from agent.localtls.truststore import run_trust

        trust = run_trust("status")
        report["trust"] = {
            "ca_sha256": trust.ca_sha256,
            "stores": [{"store": s.label, "state": s.state.value} for s in trust.stores],
            "notes": list(trust.notes),
        }
    except KysoError as exc:
        report["trust"] = {"error": exc.to_dict()}
    report["policy"] = settings.policy_path
    report["settings"] = settings.describe()
    report["allowed_origins"] = [
        {"origin": origin, "source": source} for origin, source in settings.origin_sources.items()
    ]
    return report


def print_agent_report(report: dict[str, Any]) -> None:
    """The human form of :func:`agent_report`."""
    print("Agent:")
    if "settings_error" in report:
        print(f"  cấu hình lỗi / settings error: {report['settings_error']['message_en']}")
        return
    running = report["running"]
    if running and "error" not in running:
        print(f"  đang chạy / running on port {running['port']} (version {running.get('version')})")
    elif running:
        print(f"  {running['error']}")
    else:
        ports = ", ".join(str(p) for p in report["ports"])
        print(f"  không chạy / not running (ports tried: {ports}) — start it with 'kyso-agent run'")
    trust = report["trust"]
    if "error" in trust:
        print(f"  trust: {trust['error']['message_en']}")
    else:
        for store in trust["stores"]:
            print(f"  trust: {store['store']}: {store['state']}")
        if not trust["stores"]:
            print("  trust: " + " ".join(trust["notes"]) if trust["notes"] else "  trust: -")
    print(f"  policy: {report['policy'] or 'none'}")
    for row in report["settings"]:
        print(f"  {row['setting']} = {row['value']!r}  [{row['source']}]")
    for row in report["allowed_origins"]:
        print(f"  allowed origin {row['origin']}  [{row['source']}]")
