"""agent.files: atomic writes and the permissions of what they create.

A new file gets 0o666 limited by the umask, as any program's; a signed copy gets its original's
permission bits limited by the umask (a 0600 dossier stays 0600); an explicit mode (a private
key's 0600) is set exactly. The temporary file never has wider permissions than the result.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.files import atomic_output, atomic_write, permissions_like

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o027, 0o640)])
def test_default_mode_follows_the_umask(tmp_path: Path, mask: int, expected: int) -> None:
    with umask(mask):
        atomic_write(tmp_path / "new.txt", b"data")
        atomic_write(tmp_path / "replaced.txt", b"old")
        atomic_write(tmp_path / "replaced.txt", b"new", overwrite=True)
    assert _mode(tmp_path / "new.txt") == expected
    assert _mode(tmp_path / "replaced.txt") == expected
    assert (tmp_path / "replaced.txt").read_bytes() == b"new"


@pytest.mark.parametrize(
    ("source_mode", "mask", "expected"),
    [
        (0o600, 0o022, 0o600),  # a private dossier stays private
        (0o640, 0o022, 0o640),
        (0o644, 0o022, 0o644),
        (0o644, 0o077, 0o600),  # never wider than the umask allows
        (0o664, 0o027, 0o640),
        (0o755, 0o022, 0o644),  # a signed document is never executable
        (0o4755, 0o000, 0o644),  # nor set-id
    ],
)
def test_a_copy_gets_its_originals_mode_limited_by_the_umask(
    tmp_path: Path, source_mode: int, mask: int, expected: int
) -> None:
    source = tmp_path / "hoso.xml"
    source.write_bytes(b"<Hoso/>")
    source.chmod(source_mode)
    with umask(mask):
        atomic_write(tmp_path / "hoso_signed.xml", b"signed", like=source)
        with atomic_output(tmp_path / "big_signed.pdf", like=source) as out:
            out.write(b"%PDF-")
    assert _mode(tmp_path / "hoso_signed.xml") == expected
    assert _mode(tmp_path / "big_signed.pdf") == expected


def test_an_existing_wider_output_replaced_gets_the_originals_mode(tmp_path: Path) -> None:
    source = tmp_path / "hoso.xml"
    source.write_bytes(b"<Hoso/>")
    source.chmod(0o600)
    target = tmp_path / "hoso_signed.xml"
    target.write_bytes(b"old")
    target.chmod(0o666)
    with umask(0o022):
        atomic_write(target, b"signed", overwrite=True, like=source)
    assert _mode(target) == 0o600 and target.read_bytes() == b"signed"


def test_an_unreadable_original_gives_an_owner_only_copy(tmp_path: Path) -> None:
    assert permissions_like(tmp_path / "gone.xml") == 0o600
    with umask(0o022):
        atomic_write(tmp_path / "out.xml", b"x", like=tmp_path / "gone.xml")
    assert _mode(tmp_path / "out.xml") == 0o600


@pytest.mark.parametrize(("mode", "mask"), [(0o600, 0o000), (0o600, 0o077), (0o644, 0o077)])
def test_an_explicit_mode_is_kept_exactly(tmp_path: Path, mode: int, mask: int) -> None:
    with umask(mask):
        atomic_write(tmp_path / "key.pem", b"secret", mode=mode)
        atomic_write(tmp_path / "key.pem", b"secret2", overwrite=True, mode=mode)
    assert _mode(tmp_path / "key.pem") == mode


@pytest.mark.parametrize(
    ("kwargs", "expected"), [({"mode": 0o600}, 0o600), ({"like": "private"}, 0o600), ({}, 0o644)]
)
def test_the_temporary_file_is_never_wider_than_the_result(
    tmp_path: Path, kwargs: dict[str, object], expected: int
) -> None:
    private = tmp_path / "private"
    private.write_bytes(b"")
    private.chmod(0o600)
    if kwargs.get("like"):
        kwargs = {"like": private}
    out_dir = tmp_path / "out"
    with umask(0o022), atomic_output(out_dir / "key.pem", **kwargs) as handle:  # type: ignore[arg-type]
        handle.write(b"secret")
        (tmp,) = out_dir.iterdir()  # while it is being written
        assert tmp.name.startswith(".key.pem.") and _mode(tmp) == expected
    assert _mode(out_dir / "key.pem") == expected
    assert [p.name for p in out_dir.iterdir()] == ["key.pem"]


def test_no_overwrite_and_a_failure_leave_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "a.xml"
    target.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        atomic_write(target, b"new")
    with pytest.raises(RuntimeError), atomic_output(tmp_path / "b.xml") as handle:
        handle.write(b"half")
        raise RuntimeError("injected")
    assert target.read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xml"]


def test_a_symlink_planted_at_a_temporary_name_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.files

    victim = tmp_path / "victim"
    victim.write_bytes(b"victim")
    names = iter(["aaaaaaaaaaaa", "bbbbbbbbbbbb"])
    monkeypatch.setattr(agent.files.secrets, "token_hex", lambda n: next(names))
    (tmp_path / ".out.xml.aaaaaaaaaaaa.tmp").symlink_to(victim)
    atomic_write(tmp_path / "out.xml", b"signed")
    assert victim.read_bytes() == b"victim" and (tmp_path / "out.xml").read_bytes() == b"signed"
