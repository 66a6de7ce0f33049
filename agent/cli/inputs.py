"""The files a signing command reads, checked before the PIN, and removed only when unchanged.

* :func:`open_input` (:func:`agent.files.open_regular`, which the desktop planner uses too): a
  regular file or a clear INPUT_INVALID, never a hang. A FIFO would block the run forever
  (after the token login), /dev/zero would fill the memory, a folder fails late: each is
  refused by one ``open`` (non-blocking, so a FIFO is not waited on) and one ``fstat``.
* :class:`ReadFile`: what a command actually read (device, inode, size, mtime and the bytes'
  SHA-256), taken from the open handle or around the read.
* :func:`remove_original` (``--remove-unsigned``): deletes a path only when it still holds
  exactly what was read and signed. A corrected version saved over it while the PIN was asked
  (an editor writes a new file and renames it over the old one) is kept, with a warning. A
  symlink given as the input is removed itself (as ``rm`` would), never the file it points to,
  and only while it is the same link still pointing to the same unchanged file.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from agent.errors import KysoError
from agent.files import open_regular as open_input

__all__ = [
    "ReadFile",
    "changed_after_consent",
    "check_input",
    "link_identity",
    "open_input",
    "read_checked",
    "remove_original",
    "still_holds",
]

_CHUNK = 1 << 20


def check_input(path: Path | str, *, max_bytes: int | None = None) -> int:
    """:func:`open_input`'s checks alone, for a batch checked before the PIN: the size."""
    with open_input(path, max_bytes=max_bytes) as handle:
        return os.fstat(handle.fileno()).st_size


@dataclass(frozen=True)
class ReadFile:
    """What was read from a file: its identity when read, and the read bytes' SHA-256."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    sha256: str
    # When the input path was a symlink: the link's own (device, inode, target text).
    link: tuple[int, int, str] | None = None

    @classmethod
    def of(
        cls, st: os.stat_result, sha256: str, *, link: tuple[int, int, str] | None = None
    ) -> ReadFile:
        """From the stat of the file that was read (the target, for a symlink), the SHA-256
        of what was read and, for a symlink input, :func:`link_identity` taken before opening."""
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, sha256, link)

    def same_identity(self, st: os.stat_result) -> bool:
        """Whether ``st`` is this file, unchanged as far as the system says."""
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == (
            self.device,
            self.inode,
            self.size,
            self.mtime_ns,
        )


def link_identity(path: Path | str) -> tuple[int, int, str] | None:
    """The symlink at ``path`` itself (device, inode, what it points to), None when ``path``
    is no symlink (or is gone). Taken before the open: a link re-pointed after it is seen."""
    try:
        st = os.lstat(path)
        if not stat.S_ISLNK(st.st_mode):
            return None
        return (st.st_dev, st.st_ino, os.readlink(path))
    except OSError:
        return None


def read_checked(path: Path | str, *, max_bytes: int | None = None) -> tuple[bytes, ReadFile]:
    """The whole content of the regular file ``path`` and what was read (one open; refused
    with INPUT_INVALID when the file changed while it was read)."""
    link = link_identity(path)
    with open_input(path, max_bytes=max_bytes) as handle:
        before = os.fstat(handle.fileno())
        try:
            data = handle.read()
        except OSError as exc:
            detail = f"cannot read {path}: {exc.strerror or exc}"
            raise KysoError("INPUT_INVALID", {"detail": detail}) from exc
        after = os.fstat(handle.fileno())
    read = ReadFile.of(after, hashlib.sha256(data).hexdigest(), link=link)
    if not read.same_identity(before) or len(data) != after.st_size:
        raise KysoError("INPUT_INVALID", {"detail": f"{path} changed while it was being read"})
    return data, read


def _sha256_of(handle: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def still_holds(path: Path, read: ReadFile) -> bool:
    """Whether ``path`` is still the file that was read, with the same bytes."""
    try:
        with open_input(path) as handle:
            if not read.same_identity(os.fstat(handle.fileno())):
                return False
            if _sha256_of(handle) != read.sha256:
                return False
        # Last look just before the unlink: the same file is still at the path.
        return _path_unchanged(path, read)
    except (OSError, KysoError):
        return False


def _path_unchanged(path: Path, read: ReadFile) -> bool:
    """The path is still the file that was read, or the same link still pointing to it."""
    if read.link is None:  # a plain file then: not a link put there since
        return read.same_identity(os.lstat(path))
    # The identity read is the target's (fstat through the link): compared with stat, which
    # follows the link; the link itself must be the one that was there (not re-pointed).
    return link_identity(path) == read.link and read.same_identity(os.stat(path))


def remove_original(source: Path, read: ReadFile) -> bool:
    """``--remove-unsigned``, called only once the signed copy was written and read back: True
    when the original is gone. The path is deleted only while it holds exactly what was read
    and signed (``read``); a file changed or replaced since, or a failure to delete (read-only
    folder, file in use), keeps it, says so on stderr and lets the run go on: nothing is lost.
    A symlink input is unlinked itself; the file it points to is never deleted through it."""
    if not still_holds(source, read):
        sys.stderr.write(
            f"Cảnh báo: {source} đã thay đổi sau khi được đọc để ký; Kyso giữ nguyên tệp này "
            "(bản đã ký là của nội dung cũ; hãy ký lại nếu cần).\n"
            f"Warning: {source} changed after it was read for signing; it was kept (the signed "
            "copy holds the earlier content; sign it again if needed).\n"
        )
        return False
    try:
        source.unlink()
    except OSError as exc:
        sys.stderr.write(
            f"Cảnh báo: đã ký nhưng không xóa được bản chưa ký {source}: {exc.strerror}\n"
            f"Warning: signed, but the unsigned original {source} was kept: {exc.strerror}\n"
        )
        return False
    if read.link is not None:  # say which one went: the link, not what it points to
        sys.stderr.write(
            f"Đã xóa liên kết {source}; tệp mà nó trỏ tới được giữ nguyên: {read.link[2]}\n"
            f"Removed the link {source}; the file it points to was kept: {read.link[2]}\n"
        )
    return True


def changed_after_consent(source: Path) -> str:
    """INPUT_INVALID's detail when a file is no longer what the consent showed."""
    return (
        f"tệp {source.name} đã thay đổi sau khi bạn đồng ý ký, nên không được ký; hãy mở lại "
        f"tệp, xem lại rồi ký lại / {source.name} changed after you agreed to sign it, so it "
        "was not signed; open it again, check it and sign it again"
    )
