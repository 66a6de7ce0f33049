"""Which ports the agent tries, in order. Pure, apart from reading who the user is.

Single-user machines: the configured ``port``, or 27443 then 27444 and 27445 (what pages try
by default). Terminal servers: ``port_range``, starting at the user's own first choice.
"""

from __future__ import annotations

import hashlib

from agent.config.settings import Settings
from agent.peercred import user_key


def range_candidates(ports: range, key: str, skip: int | None = None) -> tuple[int, ...]:
    """Every port of a terminal server's range, starting at this user's own first choice
    (a hash of ``key``, the uid or SID) so users spread over the range and each usually gets
    the same port at every log-in; ``skip`` (the ping port) is left out."""
    start = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % len(ports)
    rotated = (*ports[start:], *ports[:start])
    return tuple(p for p in rotated if p != skip)


def candidate_ports(settings: Settings) -> tuple[int, ...]:
    """The ports to try, in order: the configured port; else the user's order over
    ``port_range``; else the default port and its fallbacks."""
    ports = settings.port_range_ports
    if settings.port is None and ports is not None:
        return range_candidates(ports, user_key(), settings.ping_port)
    return settings.candidate_ports


__all__ = ["candidate_ports", "range_candidates"]
