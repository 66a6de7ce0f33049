"""Counting what anonymous clients make the portal keep, per client address, in memory (a
restart forgets): registration challenges, page sessions without a log-in."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable

_TRACKED_ADDRESSES = 10_000  # the counts themselves stay bounded


def client_key(address: str | None) -> str:
    """The unit counted: an IPv4 address, or an IPv6 address's /64 (one host or one home
    network usually holds a whole /64, and picks any address in it); "" when unknown."""
    if not address:
        return ""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


class AddressQuota:
    """At most ``limit`` admissions per client (:func:`client_key`) within ``window``."""

    def __init__(self, limit: int, window: dt.timedelta, clock: Callable[[], dt.datetime]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._recent: dict[str, list[dt.datetime]] = {}

    def admit(self, address: str | None) -> bool:
        """Count one for ``address`` and say yes, or say no (nothing counted) past the limit."""
        key, now = client_key(address), self.clock()
        since = now - self.window
        recent = [t for t in self._recent.pop(key, ()) if t > since]
        admitted = len(recent) < self.limit
        if admitted:
            recent.append(now)
        if recent:
            self._recent[key] = recent  # re-inserted: the least recent client goes first
        while len(self._recent) > _TRACKED_ADDRESSES:
            del self._recent[next(iter(self._recent))]
        return admitted
