"""On Linux, find which OS user owns the process at the other end of a loopback connection.

On a terminal server many users share 127.0.0.1: without this check, another user's program
could reach this user's agent (and token). Both ends of a loopback TCP connection appear in
``/proc/net/tcp`` (or ``tcp6``), each with the uid of its owner; the peer's entry is the one whose
local address is the peer's and whose remote address is ours. Parsing is pure; reading the files
is a small wrapper.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path

PROC_FILES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
ESTABLISHED = "01"

Address = tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]


@dataclass(frozen=True)
class SocketEntry:
    """One line of /proc/net/tcp{,6}."""

    local: Address
    remote: Address
    state: str
    uid: int


def _decode_ip(hex_ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_ip)
    # The kernel prints each 32-bit word in host order (little-endian on every platform we run).
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(words)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def _decode_address(field: str) -> Address:
    hex_ip, hex_port = field.split(":")
    return _decode_ip(hex_ip), int(hex_port, 16)


def parse_proc_net_tcp(text: str) -> list[SocketEntry]:
    """Parse the content of /proc/net/tcp or /proc/net/tcp6 (header line skipped, bad lines
    ignored)."""
    entries = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            entries.append(
                SocketEntry(
                    local=_decode_address(fields[1]),
                    remote=_decode_address(fields[2]),
                    state=fields[3],
                    uid=int(fields[7]),
                )
            )
        except ValueError:
            continue
    return entries


def normalize_address(host: str, port: int) -> Address:
    """An address as Python reports it (``'::ffff:127.0.0.1'`` included) in comparable form."""
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip, port


def peer_uid(entries: list[SocketEntry], peer: Address, ours: Address) -> int | None:
    """The uid owning the peer's end of the connection ``peer`` -> ``ours``, or None."""
    for entry in entries:
        if entry.local == peer and entry.remote == ours and entry.state == ESTABLISHED:
            return entry.uid
    return None


def read_peer_uid(peername: tuple, sockname: tuple) -> int | None:
    """Look the peer up in /proc (Linux only; None elsewhere or when not found)."""
    if not sys.platform.startswith("linux"):
        return None
    peer = normalize_address(peername[0], peername[1])
    ours = normalize_address(sockname[0], sockname[1])
    for path in PROC_FILES:
        try:
            text = path.read_text()
        except OSError:
            continue
        uid = peer_uid(parse_proc_net_tcp(text), peer, ours)
        if uid is not None:
            return uid
    return None


def same_user(peername: tuple | None, sockname: tuple | None) -> bool:
    """True when the peer runs as our effective user (always True off Linux, where the check
    is not available; False on Linux when the peer cannot be found)."""
    if not sys.platform.startswith("linux"):
        return True
    if not peername or not sockname:
        return False
    return read_peer_uid(peername, sockname) == os.geteuid()
