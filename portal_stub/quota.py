"""Counting what anonymous clients make the portal keep, per client address, in memory (a
restart forgets): registration challenges, page sessions without a log-in."""

from __future__ import annotations

import datetime as dt
import ipaddress

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


# A site holding a whole /48 (a /64 each for 65,536 networks) could turn to another /64 for
# each count: its /48 is counted too, at this many times one address's limit.
IPV6_SITE_FACTOR = 4


def client_keys(address: str | None) -> tuple[tuple[str, int], ...]:
    """The units ``address`` is counted in, each with its limit's multiple: the client itself
    (:func:`client_key`), and for IPv6 also its /48 at :data:`IPV6_SITE_FACTOR` times."""
    key = client_key(address)
    if not key.endswith("/64"):
        return ((key, 1),)
    network = ipaddress.IPv6Network(key)
    site = ipaddress.IPv6Network((int(network.network_address) >> 80 << 80, 48))
    return ((key, 1), (str(site), IPV6_SITE_FACTOR))


class AddressQuota:
    """Admissions per client (:func:`client_keys`) within a time window; the limit, window and
    time are given at each :meth:`admit`, so a change of a setting holds at once."""

    def __init__(self) -> None:
        self._recent: dict[str, list[dt.datetime]] = {}

    def admit(
        self, address: str | None, *, limit: int, window: dt.timedelta, now: dt.datetime
    ) -> bool:
        """Count one for ``address`` at ``now`` and say yes, or say no (nothing counted) when
        it, or the IPv6 site it is in, reached ``limit`` within ``window``."""
        since = now - window
        units = [
            (key, factor, [t for t in self._recent.pop(key, ()) if t > since])
            for key, factor in client_keys(address)
        ]
        admitted = all(len(recent) < limit * factor for _, factor, recent in units)
        for key, _, recent in units:
            if admitted:
                recent.append(now)
            if recent:
                self._recent[key] = recent  # re-inserted: the least recent client goes first
        while len(self._recent) > _TRACKED_ADDRESSES:
            del self._recent[next(iter(self._recent))]
        return admitted
