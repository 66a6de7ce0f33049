"""The files a signing command reads, checked before the PIN, and removed only when unchanged.

* :func:`open_input` (:func:`agent.files.open_regular`, which the desktop planner uses too): a
  regular file or a clear INPUT_INVALID, never a hang. A FIFO would block the run forever
  (after the token login), /dev/zero would fill the memory, a folder fails late: each is
  refused by one ``open`` (non-blocking, so a FIFO is not waited on) and one ``fstat``.
* :class:`ReadFile`: what a command actually read (device, inode, size, mtime and the bytes'
  SHA-256), taken from the open handle or around the read.
* :func:`remove_original` (``--remove-unsigned``): deletes a path only when it still holds
  exactly what was read and signed. A corrected version saved over it while the PIN was asked
  (an editor writes a new file and renames it over the old one) is kept, with a warning.
"""

from __future__ import annotations

import hashlib
import os
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

    @classmethod
    def of(cls, st: os.stat_result, sha256: str) -> ReadFile:
        """From the stat of the file that was read and the SHA-256 of what was read."""
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, sha256)

    def same_identity(self, st: os.stat_result) -> bool:
        """Whether ``st`` is this file, unchanged as far as the system says."""
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == (
            self.device,
            self.inode,
            self.size,
            self.mtime_ns,
        )


def read_checked(path: Path | str, *, max_bytes: int | None = None) -> tuple[bytes, ReadFile]:
    """The whole content of the regular file ``path`` and what was read (one open; refused
    with INPUT_INVALID when the file changed while it was read)."""
    with open_input(path, max_bytes=max_bytes) as handle:
        before = os.fstat(handle.fileno())
        try:
            data = handle.read()
        except OSError as exc:
            detail = f"cannot read {path}: {exc.strerror or exc}"
            raise KysoError("INPUT_INVALID", {"detail": detail}) from exc
        after = os.fstat(handle.fileno())
    read = ReadFile.of(after, hashlib.sha256(data).hexdigest())
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
        return read.same_identity(os.lstat(path))
    except (OSError, KysoError):
        return False


def remove_original(source: Path, read: ReadFile) -> bool:
    """``--remove-unsigned``, called only once the signed copy was written and read back: True
    when the original is gone. The path is deleted only while it holds exactly what was read
    and signed (``read``); a file changed or replaced since, or a failure to delete (read-only
    folder, file in use), keeps it, says so on stderr and lets the run go on: nothing is lost."""
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
    return True


def changed_after_consent(source: Path) -> str:
    """INPUT_INVALID's detail when a file is no longer what the consent showed."""
    return (
        f"tệp {source.name} đã thay đổi sau khi bạn đồng ý ký, nên không được ký; hãy mở lại "
        f"tệp, xem lại rồi ký lại / {source.name} changed after you agreed to sign it, so it "
        "was not signed; open it again, check it and sign it again"
    )
