"""The Windows same-user check at its narrowest seams, on Linux: the TCP table rows as
GetExtendedTcpTable lays them out (MIB_TCPROW_OWNER_PID, MIB_TCP6ROW_OWNER_PID), built here byte
by byte from Microsoft's documented layout, the SID parser, and the decision ``same_user`` takes
on Windows with the ctypes calls replaced by those bytes. The ctypes calls themselves were never
run on real Windows."""

from __future__ import annotations

import ipaddress
import sys

import pytest

from agent import peercred, peercred_win
from agent.peercred_win import (
    parse_sid,
    parse_tcp6_table,
    parse_tcp_table,
    peer_pid,
    same_sid,
)

V4 = ipaddress.ip_address("127.0.0.1")
V6 = ipaddress.ip_address("::1")
LISTEN, ESTAB, TIME_WAIT = 2, 5, 11


def _dword(value: int) -> bytes:
    return value.to_bytes(4, "little")


def _port(port: int) -> bytes:
    # A DWORD whose first two bytes in memory hold the port in network order.
    return port.to_bytes(2, "big") + b"\x00\x00"


def row4(state: int, local: tuple[str, int], remote: tuple[str, int], pid: int) -> bytes:
    """One MIB_TCPROW_OWNER_PID (24 bytes)."""
    return (
        _dword(state)
        + ipaddress.IPv4Address(local[0]).packed
        + _port(local[1])
        + ipaddress.IPv4Address(remote[0]).packed
        + _port(remote[1])
        + _dword(pid)
    )


def row6(state: int, local: tuple[str, int], remote: tuple[str, int], pid: int) -> bytes:
    """One MIB_TCP6ROW_OWNER_PID (56 bytes)."""
    return (
        ipaddress.IPv6Address(local[0]).packed
        + _dword(0)
        + _port(local[1])
        + ipaddress.IPv6Address(remote[0]).packed
        + _dword(0)
        + _port(remote[1])
        + _dword(state)
        + _dword(pid)
    )


def table(*rows: bytes, count: int | None = None) -> bytes:
    return _dword(len(rows) if count is None else count) + b"".join(rows)


def sid(*subs: int, authority: int = 5) -> bytes:
    return bytes([1, len(subs)]) + authority.to_bytes(6, "big") + b"".join(map(_dword, subs))


OURS_SID = sid(21, 1004336348, 1177238915, 682003330, 1001)
OTHER_SID = sid(21, 1004336348, 1177238915, 682003330, 1002)

TABLE4 = table(
    row4(LISTEN, ("127.0.0.1", 27443), ("0.0.0.0", 0), 100),
    row4(ESTAB, ("127.0.0.1", 27443), ("127.0.0.1", 54321), 100),  # our end
    row4(ESTAB, ("127.0.0.1", 54321), ("127.0.0.1", 27443), 4242),  # the peer's end
    row4(TIME_WAIT, ("127.0.0.1", 54322), ("127.0.0.1", 27443), 5151),
)
TABLE6 = table(
    row6(ESTAB, ("::1", 54400), ("::1", 27443), 7007),
    row6(ESTAB, ("::ffff:127.0.0.1", 54401), ("::ffff:127.0.0.1", 27443), 7008),
)


def test_the_peer_pid_is_the_row_whose_local_end_is_the_peer() -> None:
    rows = parse_tcp_table(TABLE4)
    assert [r.pid for r in rows] == [100, 100, 4242, 5151]
    assert rows[2].local == (V4, 54321) and rows[2].remote == (V4, 27443)
    assert peer_pid(rows, (V4, 54321), (V4, 27443)) == 4242
    # Our own end of the same connection is not the peer.
    assert peer_pid(rows, (V4, 27443), (V4, 54321)) == 100
    assert peer_pid(rows, (V4, 54322), (V4, 27443)) is None  # not established
    assert peer_pid(rows, (V4, 1), (V4, 27443)) is None


def test_ipv6_rows_and_ipv4_mapped_addresses() -> None:
    rows = parse_tcp6_table(TABLE6)
    assert peer_pid(rows, (V6, 54400), (V6, 27443)) == 7007
    assert peer_pid(rows, (V4, 54401), (V4, 27443)) == 7008


def test_a_row_count_larger_than_the_buffer_never_reads_past_it() -> None:
    rows = parse_tcp_table(table(TABLE4[4:28], count=1000))
    assert len(rows) == 1
    assert parse_tcp_table(b"") == [] and parse_tcp6_table(b"\x01\x00") == []


def test_sid_parsing_and_comparison() -> None:
    assert parse_sid(OURS_SID) == "S-1-5-21-1004336348-1177238915-682003330-1001"
    assert parse_sid(sid(18)) == "S-1-5-18"  # LocalSystem
    assert same_sid(OURS_SID, sid(21, 1004336348, 1177238915, 682003330, 1001))
    assert not same_sid(OURS_SID, OTHER_SID)
    assert not same_sid(OURS_SID, None) and not same_sid(None, None)
    for bad in (b"", OURS_SID[:-1], b"\x02" + OURS_SID[1:], bytes([1, 16]) + bytes(70)):
        with pytest.raises(ValueError):
            parse_sid(bad)
        assert not same_sid(bad, bad)


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> dict[int | None, bytes | None]:
    """``same_user`` as on Windows, the ctypes seam answered with synthetic bytes: the TCP
    tables above, and process SIDs from this dict (None: our process; missing: OpenProcess
    refused, as for another user's process)."""
    sids: dict[int | None, bytes | None] = {None: OURS_SID}
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(
        peercred_win, "_tcp_table", lambda family: TABLE4 if family == 2 else TABLE6
    )
    monkeypatch.setattr(peercred_win, "_process_sid", lambda pid: sids.get(pid))
    return sids


def test_windows_same_user_compares_the_peer_process_sid_with_ours(
    windows: dict[int | None, bytes | None],
) -> None:
    peer, ours = ("127.0.0.1", 54321), ("127.0.0.1", 27443)
    windows[4242] = OURS_SID
    assert peercred.same_user(peer, ours)
    windows[4242] = OTHER_SID
    assert not peercred.same_user(peer, ours)
    del windows[4242]  # another user's process cannot be opened
    assert not peercred.same_user(peer, ours)
    windows[7007] = OURS_SID
    assert peercred.same_user(("::1", 54400, 0, 0), ("::1", 27443, 0, 0))
    mapped_peer, mapped_ours = ("::ffff:127.0.0.1", 54401, 0, 0), ("::ffff:127.0.0.1", 27443, 0, 0)
    windows[7008] = OURS_SID
    assert peercred.same_user(mapped_peer, mapped_ours)
    windows[7008] = OTHER_SID
    assert not peercred.same_user(mapped_peer, mapped_ours)


def test_windows_fails_closed(windows: dict[int | None, bytes | None]) -> None:
    windows[4242] = OURS_SID
    assert not peercred.same_user(("127.0.0.1", 9), ("127.0.0.1", 27443))  # no such row
    assert not peercred.same_user(None, ("127.0.0.1", 27443))
    windows[None] = None  # our own SID unreadable
    assert not peercred.same_user(("127.0.0.1", 54321), ("127.0.0.1", 27443))


def test_windows_without_a_readable_table_refuses(
    windows: dict[int | None, bytes | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    windows[4242] = OURS_SID
    monkeypatch.setattr(peercred_win, "_tcp_table", lambda family: None)
    assert not peercred.same_user(("127.0.0.1", 54321), ("127.0.0.1", 27443))


def test_windows_user_key_is_the_sid(windows: dict[int | None, bytes | None]) -> None:
    assert peercred.user_key() == "S-1-5-21-1004336348-1177238915-682003330-1001"
