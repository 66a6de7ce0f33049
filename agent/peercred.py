"""Find which OS user owns the process at the other end of a loopback connection.

On a terminal server many users share 127.0.0.1: without this check, another user's program
could reach this user's agent (and token). On Linux both ends of a loopback TCP connection
appear in ``/proc/net/tcp`` (or ``tcp6``), each with the uid of its owner; the peer's entry is
the one whose local address is the peer's and whose remote address is ours. Parsing is pure;
reading the files is a small wrapper. Windows: :mod:`agent.peercred_win` (the TCP table's
owning PID, then its token's user SID) -- never run on real Windows. Other systems (macOS): no
check (True), as documented in docs/security.md.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path

PROC_FILES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
ESTABLISHED = "01"
LISTEN = "0A"

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


def parse_proc_net_tcp(text: str, *, local_port: int | None = None) -> list[SocketEntry]:
    """Parse the content of /proc/net/tcp or /proc/net/tcp6 (header line skipped, bad lines
    ignored). ``local_port``: only the entries on that local port."""
    entries = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            # Every connection on a busy machine is a line here: skip the other ports before
            # the costly address decoding (the same int() the full decoding would compare).
            if local_port is not None and int(fields[1].rpartition(":")[2], 16) != local_port:
                continue
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
        # Only the peer's port can hold its end of the connection (peer_uid compares it too).
        uid = peer_uid(parse_proc_net_tcp(text, local_port=peer[1]), peer, ours)
        if uid is not None:
            return uid
    return None


def listening_port(entries: list[SocketEntry], uid: int, ports: range) -> int | None:
    """The lowest port in ``ports`` on which ``uid`` listens on 127.0.0.1, or None."""
    found = [
        e.local[1]
        for e in entries
        if e.state == LISTEN
        and e.uid == uid
        and e.local[1] in ports
        and e.local[0] == ipaddress.IPv4Address("127.0.0.1")
    ]
    return min(found, default=None)


def read_listening_port(uid: int, ports: range) -> int | None:
    """The port in ``ports`` where ``uid`` listens on 127.0.0.1 (Linux; None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        text = PROC_FILES[0].read_text()
    except OSError:
        return None
    return listening_port(parse_proc_net_tcp(text), uid, ports)


def peer_port_in_range(peername: tuple | None, sockname: tuple | None, ports: range) -> int | None:
    """The port in ``ports`` on which the OS user at the other end of this connection listens
    (Linux: its uid from /proc, then its listening socket). None when unknown, and always on
    Windows, where another user's process cannot be opened to read its SID."""
    if not sys.platform.startswith("linux") or not peername or not sockname:
        return None
    uid = read_peer_uid(peername, sockname)
    return None if uid is None else read_listening_port(uid, ports)


def same_user(peername: tuple | None, sockname: tuple | None) -> bool:
    """True when the peer runs as our user: Linux by uid, Windows by user SID (never run on
    real Windows); always True elsewhere (macOS), where no check is available. False when the
    peer cannot be found."""
    if sys.platform == "win32":
        if not peername or not sockname:
            return False
        from agent.peercred_win import same_user_windows

        return same_user_windows(
            normalize_address(peername[0], peername[1]),
            normalize_address(sockname[0], sockname[1]),
        )
    if not sys.platform.startswith("linux"):
        return True
    if not peername or not sockname:
        return False
    return read_peer_uid(peername, sockname) == os.geteuid()


def user_key() -> str:
    """A stable name of the user running the agent: the uid, or the user SID on Windows (the
    user name when the SID cannot be read). Only hashed, to spread users over a port range."""
    if sys.platform == "win32":
        from agent.peercred_win import own_sid

        sid = own_sid()
        if sid:
            return sid
        return os.environ.get("USERDOMAIN", "") + "\\" + os.environ.get("USERNAME", "")
    return str(os.geteuid())
