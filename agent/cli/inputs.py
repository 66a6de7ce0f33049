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
* :func:`read_bounded`: a whole input within a size limit, checked by its size and by what
  is read (a file that grows while read, or one whose size says 0 as /proc's do).
* What a failure leaves of a signed copy already written: :func:`set_aside` renames one that
  did not pass (or never finished) its read-back to ``<name>.unverified``, never under the name
  of a checked signed file; :func:`remove_output` deletes one whose audit record could not be
  stored (no signature without its record).
"""

from __future__ import annotations

import contextlib
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
    "read_bounded",
    "read_checked",
    "remove_original",
    "remove_output",
    "set_aside",
    "set_aside_saying",
    "still_holds",
    "unverified",
]

_CHUNK = 1 << 20
UNVERIFIED_SUFFIX = ".unverified"
_ASIDE_ATTEMPTS = 100


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


def _read_all(handle: BinaryIO, path: Path | str, max_bytes: int | None) -> bytes:
    """The rest of ``handle``; at most ``max_bytes`` (DOCUMENT_TOO_LARGE past it, found by
    reading one byte more: the size said before the read is not trusted to stay)."""
    try:
        if max_bytes is None:
            return handle.read()
        data = handle.read(max_bytes + 1)
    except OSError as exc:
        detail = f"cannot read {path}: {exc.strerror or exc}"
        raise KysoError("INPUT_INVALID", {"detail": detail}) from exc
    if len(data) > max_bytes:
        size = max(len(data), os.fstat(handle.fileno()).st_size)
        raise KysoError("DOCUMENT_TOO_LARGE", {"size": size, "limit": max_bytes})
    return data


def read_bounded(path: Path | str, *, max_bytes: int) -> bytes:
    """The whole regular file ``path``, never more than ``max_bytes`` in memory:
    DOCUMENT_TOO_LARGE (with the limit) when its size says more, or when more comes while it
    is read (a file still growing, a size that says 0); INPUT_INVALID for what is no regular
    file. Meant before the PIN: a huge input is refused, never an out-of-memory."""
    with open_input(path, max_bytes=max_bytes) as handle:
        return _read_all(handle, path, max_bytes)


def read_checked(path: Path | str, *, max_bytes: int | None = None) -> tuple[bytes, ReadFile]:
    """The whole content of the regular file ``path`` and what was read (one open; refused
    with INPUT_INVALID when the file changed while it was read; with ``max_bytes``, as
    :func:`read_bounded`)."""
    link = link_identity(path)
    with open_input(path, max_bytes=max_bytes) as handle:
        before = os.fstat(handle.fileno())
        data = _read_all(handle, path, max_bytes)
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


def set_aside(path: Path) -> Path | None:
    """A signed copy written to ``path`` that failed its read-back (or whose read-back never
    ran: interrupted) moved out of the way, to ``<name>.unverified`` (``.unverified.2``... when
    taken, never over a file): no person or script takes it for a checked signed file, and it
    stays for a diagnosis. Returns where it is now: the new path; None when it could only be
    deleted (a name too long for one more suffix); ``path`` itself when neither worked."""
    for attempt in range(1, _ASIDE_ATTEMPTS + 1):
        number = "" if attempt == 1 else f".{attempt}"
        aside = path.with_name(f"{path.name}{UNVERIFIED_SUFFIX}{number}")
        try:
            _rename_new(path, aside)
        except FileExistsError:
            continue
        except OSError:
            break
        return aside
    return None if remove_output(path) else path


def unverified(target: Path, detail: str) -> KysoError:
    """READBACK_FAILED for the signed copy at ``target``, set aside first (:func:`set_aside`):
    its ``path`` is where the copy is now, ``output`` where it was written, ``set_aside`` the
    new path (None: deleted)."""
    aside = set_aside(target)
    details = {"output": str(target), "set_aside": None if aside is None else str(aside)}
    return KysoError("READBACK_FAILED", {"path": str(aside or target), "detail": detail, **details})


def set_aside_saying(target: Path) -> Path | None:
    """:func:`set_aside` for a stop that is no read-back failure (Ctrl-C, the original that
    could not be hashed): on stderr, where the unchecked copy went and not to submit it."""
    aside = set_aside(target)
    if aside is None:
        where_vi, where_en = "nên đã bị xóa", "so it was deleted"
    elif aside == target:
        where_vi, where_en = "nhưng không đổi tên được", "but it could not be renamed"
    else:
        where_vi, where_en = f"nên đã đổi tên thành {aside}", f"so it was renamed {aside}"
    sys.stderr.write(
        f"Bản đã ký {target} chưa được đọc lại để kiểm tra, {where_vi}; đừng nộp tệp này, hãy "
        "ký lại tệp gốc (vẫn còn nguyên).\n"
        f"The signed copy {target} was not read back and checked, {where_en}; do not submit "
        "it, sign the original (untouched) again.\n"
    )
    return aside


def _rename_new(path: Path, new: Path) -> None:
    """Rename ``path`` to ``new``, which must not exist (FileExistsError): checked by the
    link itself, as :func:`agent.files.atomic_write` does, not by an earlier look."""
    try:
        os.link(path, new)
    except FileExistsError:
        raise
    except OSError:
        # No hard links on this disk (FAT, some shares): the new name reserved, then moved.
        os.close(os.open(new, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        try:
            os.replace(path, new)
        except OSError:
            with contextlib.suppress(OSError):
                new.unlink()
            raise
        return
    try:
        os.unlink(path)
    except OSError:
        with contextlib.suppress(OSError):  # one name, not two: the copy is where it was
            new.unlink()
        raise


def remove_output(path: Path) -> bool:
    """Delete a signed copy this run wrote to ``path`` (its audit record could not be
    stored); True when nothing is left there."""
    try:
        path.unlink()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
