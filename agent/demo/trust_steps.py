"""What ``kyso-agent demo`` prints when it does not set up browser trust itself (no terminal to
ask, ``--no-trust``, or the user said no): the exact commands, with this run's real paths, to
trust both local CAs by hand. Pure text: the caller says which stores exist and which CA is
already trusted.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from agent.localtls.truststore_nss import cmd_add, cmd_create

PORTAL_NICKNAME = "Kyso Demo Portal CA"


@dataclass(frozen=True)
class NssTarget:
    """One NSS database a browser reads (Chromium/Chrome's, or a Firefox profile's)."""

    label: str
    path: Path
    exists: bool  # cert9.db is there; otherwise the commands create it first


def _sh(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def _win(path: Path) -> str:
    return f'"{path}"'


def manual_trust_lines(
    *,
    agent_ca: Path,
    portal_ca: Path,
    targets: list[NssTarget],
    agent_command: str,
    agent_trusted: bool,
    portal_trusted: bool,
    windows: bool,
    reason: str,
) -> list[str]:
    """The lines to print: for each CA not trusted yet, the command that trusts it and what it
    does, in Vietnamese and English. ``agent_command`` is how this run's ``kyso-agent`` is
    invoked (with ``KYSO_HOME`` when the run uses one, so the same CA is trusted)."""
    lines = [
        f"Trình duyệt CHƯA tin cậy chứng thư cục bộ ({reason}). Hãy tự chạy các lệnh dưới đây, "
        "chép nguyên từng dòng. / The browsers do not trust the local CAs yet "
        f"({reason}). Run the commands below yourself, each line as it is."
    ]
    if agent_trusted:
        lines.append("1) CA cục bộ của Kyso: đã được tin cậy. / Kyso's local CA: already trusted.")
    else:
        lines += [
            f"1) CA cục bộ của Kyso / Kyso's local CA: {agent_ca}",
            f"   {agent_command} trust install",
            "   Lệnh này thêm CA cục bộ của Kyso vào kho NSS của Chromium/Chrome và mọi hồ sơ "
            "Firefox của người dùng này (Windows: kho Root của CurrentUser; macOS: login "
            "keychain). Khóa bí mật của CA đã bị xóa ngay sau khi cấp chứng thư cho Kyso, và CA "
            "chỉ dùng được cho 127.0.0.1.",
            "   It adds Kyso's local CA to Chromium/Chrome's NSS database and every Firefox "
            "profile of this user (Windows: the CurrentUser Root store; macOS: the login "
            "keychain). The CA's private key was deleted right after it issued Kyso's "
            "certificate, and the CA is only valid for 127.0.0.1.",
        ]
    if portal_trusted:
        lines.append(
            "2) CA của cổng thử nghiệm: đã được tin cậy. / The demo portal's CA: already trusted."
        )
    elif windows:
        lines += [
            f"2) CA của cổng thử nghiệm / the demo portal's CA: {portal_ca}",
            f"   certutil -user -addstore Root {_win(portal_ca)}",
            "   (certutil của Windows, kho Root của người dùng hiện tại; Chrome, Edge và Firefox "
            "đều đọc kho này. / Windows' certutil, the current user's Root store, which Chrome, "
            "Edge and Firefox read.)",
        ]
    else:
        lines.append(
            f"2) CA của cổng thử nghiệm / the demo portal's CA: {portal_ca} — certutil "
            "(gói / package libnss3-tools):"
        )
        for target in targets:
            lines.append(f"   {target.label}:")
            if not target.exists:
                lines.append(f"     mkdir -p {shlex.quote(str(target.path))}")
                # "test ||": step 1 (trust install) may have created it meanwhile, and
                # certutil -N on an existing database asks for its password and waits.
                created = shlex.quote(str(target.path / "cert9.db"))
                lines.append(f"     test -e {created} || {_sh(cmd_create(target.path))}")
            lines.append(f"     {_sh(cmd_add(target.path, PORTAL_NICKNAME, portal_ca))}")
        lines.append(
            "   Trên Windows thì dùng / on Windows use: certutil -user -addstore Root "
            f"{_win(Path(portal_ca.name))} (tệp / file {portal_ca.name})"
        )
    lines.append(
        "Sau đó đóng hẳn rồi mở lại trình duyệt (Firefox phải đóng trước khi chạy certutil). / "
        "Then quit and reopen the browser (close Firefox before running certutil)."
    )
    return lines
