"""On Windows, find which user owns the process at the other end of a loopback connection.

NEVER RUN ON REAL WINDOWS: written from Microsoft's documentation of ``GetExtendedTcpTable``,
``MIB_TCPROW_OWNER_PID``, ``MIB_TCP6ROW_OWNER_PID``, ``OpenProcessToken`` and
``GetTokenInformation(TokenUser)``, and unit-tested on Linux with synthetic table bytes. The
parsing of the table rows and of SIDs are pure functions (bytes in, result out); the ctypes calls
are the narrowest seam (``_tcp_table``, ``_process_sid``, ``_own_sid``) and fail closed: when any
call fails, the peer is not ours.

How: the TCP table lists both ends of a loopback connection with their owning PIDs; the peer's
row is the one whose local address is the peer's and whose remote address is ours. Its PID's
token names the user SID, compared with our own token's. Another user's process usually cannot
be opened at all (its DACL grants the owner and SYSTEM): that is a refusal too.
"""

from __future__ import annotations

import ipaddress
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass

Address = tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]

AF_INET = 2
AF_INET6 = 23
TCP_TABLE_OWNER_PID_ALL = 5
MIB_TCP_STATE_LISTEN = 2
MIB_TCP_STATE_ESTAB = 5
ERROR_INSUFFICIENT_BUFFER = 122

# MIB_TCPROW_OWNER_PID: state, local addr, local port, remote addr, remote port, pid (DWORDs).
# Addresses are in network order as stored; a port is a DWORD whose low two bytes, in memory
# order, are the port in network order.
_ROW4 = struct.Struct("<I4s2s2x4s2s2xI")
# MIB_TCP6ROW_OWNER_PID: local addr[16], scope, port, remote addr[16], scope, port, state, pid.
_ROW6 = struct.Struct("<16sI2s2x16sI2s2xII")


@dataclass(frozen=True)
class TcpRow:
    """One row of the Windows TCP table with its owning process."""

    local: Address
    remote: Address
    state: int
    pid: int


def _ip(raw: bytes) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(raw)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def _rows(table: bytes, row: struct.Struct) -> Iterator[tuple]:
    """The rows of a MIB_TCP(6)TABLE_OWNER_PID: a DWORD count, then the rows (a count larger
    than the buffer is cut to what is there, never read past it)."""
    if len(table) < 4:
        return
    (count,) = struct.unpack_from("<I", table)
    count = min(count, (len(table) - 4) // row.size)
    for index in range(count):
        yield row.unpack_from(table, 4 + index * row.size)


def parse_tcp_table(table: bytes) -> list[TcpRow]:
    """Parse a MIB_TCPTABLE_OWNER_PID (IPv4) buffer as GetExtendedTcpTable fills it."""
    return [
        TcpRow(
            (_ip(la), int.from_bytes(lp, "big")),
            (_ip(ra), int.from_bytes(rp, "big")),
            state,
            pid,
        )
        for state, la, lp, ra, rp, pid in _rows(table, _ROW4)
    ]


def parse_tcp6_table(table: bytes) -> list[TcpRow]:
    """Parse a MIB_TCP6TABLE_OWNER_PID (IPv6) buffer as GetExtendedTcpTable fills it."""
    return [
        TcpRow(
            (_ip(la), int.from_bytes(lp, "big")),
            (_ip(ra), int.from_bytes(rp, "big")),
            state,
            pid,
        )
        for la, _ls, lp, ra, _rs, rp, state, pid in _rows(table, _ROW6)
    ]


def peer_pid(rows: list[TcpRow], peer: Address, ours: Address) -> int | None:
    """The PID owning the peer's end of the established connection ``peer`` -> ``ours``."""
    for row in rows:
        if row.local == peer and row.remote == ours and row.state == MIB_TCP_STATE_ESTAB:
            return row.pid
    return None


def parse_sid(raw: bytes) -> str:
    """A binary SID as its string form (``S-1-5-21-…``); ValueError when it is not a SID.

    Layout: revision (1 byte, always 1), sub-authority count (at most 15), the identifier
    authority (6 bytes, big-endian), then the sub-authorities (4 bytes each, little-endian)."""
    if len(raw) < 8 or raw[0] != 1 or raw[1] > 15 or len(raw) != 8 + 4 * raw[1]:
        raise ValueError("not a SID")
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack_from(f"<{raw[1]}I", raw, 8)
    return "S-1-" + "-".join(str(v) for v in (authority, *subs))


def same_sid(a: bytes | None, b: bytes | None) -> bool:
    """True only when both are valid SIDs and name the same account (what EqualSid says);
    anything missing or malformed is not the same user."""
    if a is None or b is None:
        return False
    try:
        return parse_sid(a) == parse_sid(b)
    except ValueError:
        return False


# ---- the ctypes seam (Windows only; never run on real Windows) -----------------------------


def _tcp_table(family: int) -> bytes | None:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    iphlpapi = ctypes.WinDLL("iphlpapi")  # type: ignore[attr-defined]
    get = iphlpapi.GetExtendedTcpTable
    get.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(wintypes.DWORD),
        wintypes.BOOL,
        wintypes.ULONG,
        ctypes.c_int,
        wintypes.ULONG,
    ]
    get.restype = wintypes.DWORD
    size = wintypes.DWORD(0)
    for _ in range(5):  # the table can grow between the size query and the read
        buffer = ctypes.create_string_buffer(max(size.value, 4))
        result = get(buffer, ctypes.byref(size), False, family, TCP_TABLE_OWNER_PID_ALL, 0)
        if result == 0:
            return buffer.raw[: size.value]
        if result != ERROR_INSUFFICIENT_BUFFER:
            return None
    return None


def _token_sid(token: int) -> bytes | None:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    advapi = ctypes.WinDLL("advapi32")  # type: ignore[attr-defined]
    token_user = 1  # TOKEN_INFORMATION_CLASS.TokenUser
    size = wintypes.DWORD(0)
    advapi.GetTokenInformation(wintypes.HANDLE(token), token_user, None, 0, ctypes.byref(size))
    if not size.value:
        return None
    buffer = ctypes.create_string_buffer(size.value)
    if not advapi.GetTokenInformation(
        wintypes.HANDLE(token), token_user, buffer, size, ctypes.byref(size)
    ):
        return None
    # TOKEN_USER starts with SID_AND_ATTRIBUTES, whose first field points at the SID.
    sid = ctypes.c_void_p.from_buffer(buffer).value
    advapi.IsValidSid.argtypes = [ctypes.c_void_p]
    advapi.GetLengthSid.argtypes = [ctypes.c_void_p]
    if not sid or not advapi.IsValidSid(sid):
        return None
    return ctypes.string_at(sid, advapi.GetLengthSid(sid))


def _process_sid(pid: int | None) -> bytes | None:  # pragma: no cover - Windows only
    """The user SID of process ``pid`` (None: our own process)."""
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    advapi = ctypes.WinDLL("advapi32")  # type: ignore[attr-defined]
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    advapi.OpenProcessToken.argtypes = [
        wintypes.HANDLE,
        wintypes.DWORD,
        ctypes.POINTER(wintypes.HANDLE),
    ]
    process_query_limited_information = 0x1000
    token_query = 0x0008
    if pid is None:
        process = kernel32.GetCurrentProcess()  # a pseudo-handle: nothing to close
    else:
        process = kernel32.OpenProcess(process_query_limited_information, False, pid)
        if not process:
            return None  # another user's process: access denied, so not ours
    token = wintypes.HANDLE()
    try:
        if not advapi.OpenProcessToken(process, token_query, ctypes.byref(token)):
            return None
        try:
            return _token_sid(token.value or 0)
        finally:
            kernel32.CloseHandle(token)
    finally:
        if pid is not None:
            kernel32.CloseHandle(process)


def read_peer_pid(peer: Address, ours: Address) -> int | None:
    """The peer's PID from the IPv4 or IPv6 TCP table (None when not found)."""
    if sys.platform != "win32":
        return None
    for family, parse in ((AF_INET, parse_tcp_table), (AF_INET6, parse_tcp6_table)):
        table = _tcp_table(family)
        if table is None:
            continue
        pid = peer_pid(parse(table), peer, ours)
        if pid is not None:
            return pid
    return None


def same_user_windows(peer: Address, ours: Address) -> bool:
    """True when the peer's process runs as our user (fails closed on every error)."""
    if sys.platform != "win32":
        return False
    pid = read_peer_pid(peer, ours)
    if pid is None:
        return False
    return same_sid(_process_sid(pid), _process_sid(None))


def own_sid() -> str | None:
    """Our own user SID as a string (Windows; None elsewhere or on failure)."""
    if sys.platform != "win32":
        return None
    raw = _process_sid(None)
    try:
        return parse_sid(raw) if raw else None
    except ValueError:
        return None


__all__ = [
    "TcpRow",
    "own_sid",
    "parse_sid",
    "parse_tcp6_table",
    "parse_tcp_table",
    "peer_pid",
    "same_sid",
    "same_user_windows",
]
