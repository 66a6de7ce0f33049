"""The files a signing command reads, checked before the PIN, and removed only when unchanged.

* :func:`open_input` (:func:`agent.files.open_regular`, which the desktop planner uses too): a
  regular file or a clear INPUT_INVALID, never a hang. A FIFO would block the run forever
  (after the token login), /dev/zero would fill the memory, a folder fails late: each is
  refused by one ``open`` (non-blocking, so a FIFO is not waited on) and one ``fstat``.
* :class:`ReadFile`: what a command actually read (device, inode, size, mtime and the bytes'
  SHA-256), taken from the open handle or around the read.
* :func:`removal_refusal` (``--remove-unsigned``): deletes a path only when it still holds
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
* Every signed copy: :func:`placed_last` keeps it at its temporary name until it is recorded
  (and read back, where the command reads back), and only then renames it to its name, or
  over the earlier file (``--force``) in one step. Any failure or Ctrl-C before that leaves
  the earlier file as it was, and says so. In this order a crash (kill -9, power loss) at any
  point leaves the earlier file or the recorded new one at that name, at worst a temporary
  file beside it, never a signed file without its record.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from agent.errors import KysoError, invalid_input
from agent.files import StagedFile, read_within
from agent.files import open_regular as open_input

__all__ = [
    "ReadFile",
    "changed_after_consent",
    "check_input",
    "copy_paths",
    "earlier_kept",
    "held",
    "link_identity",
    "open_input",
    "placed_last",
    "read_bounded",
    "read_checked",
    "removal_refusal",
    "remove_output",
    "set_aside",
    "set_aside_saying",
    "still_holds",
    "unverified",
    "written_copy",
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
    """The rest of ``handle``; at most ``max_bytes`` (:func:`agent.files.read_within`); a
    failed read is INPUT_INVALID."""
    try:
        return handle.read() if max_bytes is None else read_within(handle, max_bytes)
    except OSError as exc:
        reason = exc.strerror or exc
        raise invalid_input(
            f"cannot read {path}: {reason}", f"không đọc được {path} ({reason})"
        ) from exc


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
        raise invalid_input(
            f"{path} changed while it was being read",
            f"tệp {path} đã thay đổi trong lúc đang được đọc",
        )
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


def _remove_if_still(source: Path, read: ReadFile) -> bool:
    """Delete ``source`` only if it is the file that was read and signed. Checking the path
    and then unlinking it are two steps, and an editor's save (a new file renamed over the
    name) between them would be deleted: the name is first moved to a private one in the same
    folder (atomic), the file moved is checked, then deleted. Another file moved by mistake is
    put back (never over a file saved at the name meanwhile) and False returned."""
    # Named after the original (cut short: a long name plus the suffix could pass the limit)
    # so that one left by a crash between the two steps says what it is.
    aside = source.with_name(f".{source.name[:40]}.kyso-{secrets.token_hex(4)}.removing")
    os.rename(source, aside)
    try:
        same = still_holds(aside, read)
    except BaseException:
        # A second Ctrl-C (or SIGTERM) while a big file is hashed again: the original goes
        # back to its name before the run stops, never left under the hidden one (red team 41).
        _put_back(aside, source)
        raise
    if same:
        try:
            aside.unlink()
        except OSError:  # in use: back under its name, kept (the caller says why)
            if not os.path.lexists(source):
                os.rename(aside, source)
            raise
        return True
    _put_back(aside, source)
    return False


def _put_back(aside: Path, source: Path) -> None:
    """Move the file at ``aside`` back to ``source``, never over a file saved there since
    (then both are kept, and stderr says where the earlier one is)."""
    try:
        os.link(aside, source, follow_symlinks=False)  # fails if a file took the name since
    except FileExistsError:  # both kept: the newer at the name, the one moved beside it
        sys.stderr.write(
            f"Cảnh báo: bản trước của {source} được giữ ở {aside}\n"
            f"Warning: the earlier version of {source} was kept as {aside}\n"
        )
        return
    except (OSError, NotImplementedError):  # no hard links (FAT, a link on Windows): a
        # rename, checked just before
        if not os.path.lexists(source):
            os.rename(aside, source)
        return
    aside.unlink()


def removal_refusal(source: Path, read: ReadFile) -> dict[str, str] | None:
    """Delete the unsigned original ``source``, called only once its signed copy was written
    and read back: None when it is gone, else why it was kept ({"vi": ..., "en": ...}: a
    report or the desktop's result window shows it; stderr says it too). The path is deleted
    only while it holds exactly what was read and signed (``read``); a file changed or
    replaced since, or a failure to delete (read-only folder, file in use), keeps it and lets
    the run go on: nothing is lost. A symlink input is unlinked itself; the file it points to
    is never deleted through it."""
    if not still_holds(source, read):
        kept = {
            "vi": "tệp đã thay đổi sau khi được đọc để ký nên được giữ nguyên (bản đã ký là của "
            "nội dung cũ; hãy ký lại nếu cần)",
            "en": "it changed after it was read for signing, so it was kept (the signed copy "
            "holds the earlier content; sign it again if needed)",
        }
        sys.stderr.write(f"Cảnh báo: {source}: {kept['vi']}.\nWarning: {source}: {kept['en']}.\n")
        return kept
    try:
        removed = _remove_if_still(source, read)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        kept = {
            "vi": f"đã ký nhưng không xóa được bản chưa ký ({reason}); hãy tự xóa nếu cần",
            "en": f"signed, but the unsigned original could not be deleted ({reason}); "
            "delete it yourself if needed",
        }
        sys.stderr.write(f"Cảnh báo: {source}: {kept['vi']}.\nWarning: {source}: {kept['en']}.\n")
        return kept
    if not removed:  # replaced in the instant before the deletion: put back, kept
        kept = {
            "vi": "tệp vừa được lưu lại đúng lúc xóa nên được giữ nguyên (bản đã ký là của nội "
            "dung cũ; hãy ký lại nếu cần)",
            "en": "it was saved again just as it was to be deleted, so it was kept (the signed "
            "copy holds the earlier content; sign it again if needed)",
        }
        sys.stderr.write(f"Cảnh báo: {source}: {kept['vi']}.\nWarning: {source}: {kept['en']}.\n")
        return kept
    if read.link is not None:  # say which one went: the link, not what it points to
        sys.stderr.write(
            f"Đã xóa liên kết {source}; tệp mà nó trỏ tới được giữ nguyên: {read.link[2]}\n"
            f"Removed the link {source}; the file it points to was kept: {read.link[2]}\n"
        )
    return None


def changed_after_consent(source: Path) -> KysoError:
    """INPUT_INVALID for a file that is no longer what the consent showed."""
    return invalid_input(
        f"{source.name} changed after you agreed to sign it, so it was not signed; open it "
        "again, check it and sign it again",
        f"tệp {source.name} đã thay đổi sau khi bạn đồng ý ký, nên không được ký; hãy mở lại "
        "tệp, xem lại rồi ký lại",
    )


def set_aside(copy: Path | StagedFile) -> Path | None:
    """A signed copy written to ``path`` that failed its read-back (or whose read-back never
    ran: interrupted) moved out of the way, to ``<name>.unverified`` (``.unverified.2``... when
    taken, never over a file): no person or script takes it for a checked signed file, and it
    stays for a diagnosis. Returns where it is now: the new path; None when it could only be
    deleted (a name too long for one more suffix); its path itself when neither worked.
    A copy still at its temporary name (it was to replace an earlier file) gets the same
    ``<name>.unverified`` of its final name; the earlier file is not touched."""
    path, name = copy_paths(copy)
    for attempt in range(1, _ASIDE_ATTEMPTS + 1):
        number = "" if attempt == 1 else f".{attempt}"
        aside = name.with_name(f"{name.name}{UNVERIFIED_SUFFIX}{number}")
        try:
            _rename_new(path, aside)
        except FileExistsError:
            continue
        except OSError:
            break
        return aside
    return None if remove_output(path) else path


def copy_paths(copy: Path | StagedFile) -> tuple[Path, Path]:
    """(where the signed copy is now, the name it is known by: its final path); the two
    differ while a staged copy waits at its temporary name."""
    if isinstance(copy, StagedFile):
        return copy.current, copy.target
    return copy, copy


def check_written(copy: StagedFile, data: bytes) -> None:
    """READBACK_FAILED (the copy set aside) unless the staged ``copy`` holds exactly ``data``:
    for a file that replaces another (``--force``), before it does."""
    try:
        same = copy.current.read_bytes() == data
    except OSError as exc:
        raise unverified(copy, str(exc)) from exc
    if not same:
        raise unverified(copy, "the bytes on disk differ from those written")


def unverified(copy: Path | StagedFile, detail: str) -> KysoError:
    """READBACK_FAILED for the signed copy ``copy`` (its final path, or its staged file), set
    aside first (:func:`set_aside`): its ``path`` is where the copy is now, ``output`` where it
    was written, ``set_aside`` the new path (None: deleted)."""
    aside = set_aside(copy)
    target = copy_paths(copy)[1]
    details = {"output": str(target), "set_aside": None if aside is None else str(aside)}
    return KysoError("READBACK_FAILED", {"path": str(aside or target), "detail": detail, **details})


def set_aside_saying(copy: Path | StagedFile) -> Path | None:
    """:func:`set_aside` for a stop that is no read-back failure (Ctrl-C, the original that
    could not be hashed): on stderr, where the unchecked copy went and not to submit it."""
    aside = set_aside(copy)
    target = copy_paths(copy)[1]
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


def held(copy: StagedFile) -> bool:
    """Whether ``copy`` is to replace an earlier file (``--force``) and has not yet."""
    return copy.replacing and copy.overwrite and not copy.placed


def earlier_kept(copy: StagedFile) -> dict[str, Any]:
    """For a copy that was to replace an earlier file and stopped before it did (:func:`held`):
    says on stderr that the earlier file is kept as it was, and returns the error detail that
    says it (``earlier_kept``: its path); {} for any other copy."""
    if not held(copy):
        return {}
    sys.stderr.write(
        f"Tệp {copy.target} có từ trước (mà --force lẽ ra thay thế) được giữ nguyên, chưa bị "
        "thay bằng bản ký mới.\n"
        f"The earlier {copy.target} (which --force was to replace) was kept as it was; the new "
        "signed copy did not replace it.\n"
    )
    return {"earlier_kept": str(copy.target)}


@contextlib.contextmanager
def placed_last(copy: StagedFile) -> Iterator[None]:
    """The steps after a signed copy's write (its audit record, its read-back), then its
    rename into place, only once the block ended without an error: to a new name (never over
    a file that appeared there meanwhile) or, with ``--force``, over the earlier file in one
    step. A failure or a stop in the block leaves the copy out of place: if still at its
    temporary name it is deleted (the steps set aside or deleted it where they meant to), an
    earlier file is kept as it was, stderr says so and a KysoError gets ``earlier_kept``. A
    rename that fails is WRITE_FAILED (OUTPUT_EXISTS for a name taken meanwhile)."""
    try:
        yield
        try:
            copy.place()
        except FileExistsError as exc:
            raise KysoError("OUTPUT_EXISTS", {"path": str(copy.target)}) from exc
        except OSError as exc:
            detail = exc.strerror or str(exc)
            raise KysoError("WRITE_FAILED", {"path": str(copy.target), "detail": detail}) from exc
    except KysoError as exc:
        kept = _leave_earlier(copy)
        if not kept:
            raise
        raise KysoError(exc.code, {**exc.details, **kept}) from exc
    except BaseException:
        _leave_earlier(copy)
        raise


def _leave_earlier(copy: StagedFile) -> dict[str, Any]:
    replacing = held(copy)
    copy.discard()  # still at its temporary name (set aside or deleted already: nothing left)
    return earlier_kept(copy) if replacing else {}


def written_copy(copy: StagedFile) -> StagedFile:
    """A signed copy just written (staged): kept at its temporary name, for
    :func:`placed_last` to place once its audit record is written (and it is read back), new
    name or not. A crash before that (kill -9, power loss) leaves at worst a hidden temporary
    file, never a signed file without its record under the name a person opens."""
    return copy


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


def remove_output(copy: Path | StagedFile) -> bool:
    """Delete a signed copy this run wrote (its audit record could not be stored): at its
    path, or at its temporary name while it waits to replace an earlier file (which is not
    touched); True when nothing is left of it."""
    path = copy_paths(copy)[0]
    try:
        path.unlink()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
