"""Writing files so that nothing is lost: temporary file, fsync, rename.

Permissions: a new file gets ``0o666`` limited by the umask, as any program's (``mode=None``);
a signed copy of a file gets that file's permission bits, further limited by the umask
(``like=SOURCE``: a 0600 dossier stays 0600, never world-readable because it was signed); a
caller that needs exact bits (a private key, 0600) passes ``mode``. The temporary file is
created with the final permissions, so it is never readable by more people than the result.
On Windows the POSIX bits mean little (only read-only): files are created as the platform
creates them, as before.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from agent.errors import KysoError, invalid_input

_WINDOWS = os.name == "nt"
_TEMP_ATTEMPTS = 100
# The temporary file's name: "." + a prefix of the final name + "." + 12 hex digits + ".tmp".
_TEMP_PREFIX_MAX = 100  # bytes: the temporary name always fits where the final name fits
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS |= getattr(os, "O_NOCTTY", 0)
_NAME_MAX_DEFAULT = 255  # where pathconf cannot say (Windows: 255 UTF-16 units)
_PATH_MAX_DEFAULT = 4096


def atomic_write(
    path: Path | str,
    data: bytes,
    *,
    overwrite: bool = False,
    mode: int | None = None,
    like: Path | str | None = None,
) -> Path:
    """Write ``data`` to ``path`` atomically.

    The bytes go to a temporary file in the same directory, are flushed and fsynced, then the
    file is renamed into place, so a reader sees the old content or the new, never a part.
    Without ``overwrite`` an existing file is never replaced (FileExistsError), and the check
    is made by the final link itself, not by an earlier look that could race.

    Permissions (POSIX): ``mode`` exactly when given; else ``like``'s permission bits (read,
    write; never execute or set-id) limited by the umask; else ``0o666`` limited by the umask.
    """
    with atomic_output(path, overwrite=overwrite, mode=mode, like=like) as handle:
        handle.write(data)
    return Path(path)


def permissions_like(source: Path | str) -> int:
    """The permission bits a copy of ``source`` is created with (before the umask): its read
    and write bits. 0o600 when it cannot be read (the safe side: only this user)."""
    try:
        return stat.S_IMODE(os.stat(source).st_mode) & 0o666
    except OSError:
        return 0o600


@contextlib.contextmanager
def atomic_output(
    path: Path | str,
    *,
    overwrite: bool = False,
    mode: int | None = None,
    like: Path | str | None = None,
) -> Iterator[BinaryIO]:
    """Like :func:`atomic_write` for content written piece by piece (a 50 MB signed PDF need
    not be held in memory): write into the yielded file (opened ``w+b``, so it can be read
    back), and it is fsynced and renamed into place when the block ends without an error.
    An error in the block leaves nothing behind. ``mode`` and ``like`` as for atomic_write."""
    with staged_output(path, overwrite=overwrite, mode=mode, like=like) as staged:
        yield staged.handle
    try:
        staged.place()
    except BaseException:
        staged.discard()
        raise


class StagedFile:
    """A new file complete on disk (flushed, fsynced) under a temporary name beside its
    final path ``target``, not yet in place: :meth:`place` renames it there, :meth:`discard`
    deletes it. Until it is placed, whatever was at ``target`` is untouched; so a caller can
    finish its own checks first (a record, a read-back) and replace an earlier file only then.
    """

    def __init__(self, target: Path, temp: Path, handle: BinaryIO, *, overwrite: bool) -> None:
        self.target = target
        self.temp = temp
        self.handle = handle  # closed once the staging block ended
        self.overwrite = overwrite
        # A file (or a link) was at the final path when this one was complete: placing it
        # replaces that file (only with ``overwrite``; otherwise placing fails).
        self.replacing = False
        self.placed = False

    @property
    def current(self) -> Path:
        """Where the new file is now: its final path once placed, else the temporary one."""
        return self.target if self.placed else self.temp

    def place(self) -> Path:
        """Rename the file to its final path, atomically: with ``overwrite`` over what is
        there (one rename: a reader sees the earlier file or the new one); without it never
        over a file (FileExistsError, checked by the link itself). On an error the file stays
        at its temporary name (:meth:`discard` it)."""
        if self.placed:
            return self.target
        if self.overwrite:
            os.replace(self.temp, self.target)
        else:
            # link() fails if the target exists: no window between check and write.
            try:
                os.link(self.temp, self.target)
            except FileExistsError:
                raise
            except OSError:
                # Filesystems without hard links: reserve the name exclusively, then replace.
                placeholder = os.open(self.target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                reserved = os.fstat(placeholder)
                os.close(placeholder)
                try:
                    os.replace(self.temp, self.target)
                except OSError:
                    _drop_placeholder(self.target, reserved)  # no empty "signed" file left
                    raise
            else:
                self.temp.unlink()
        self.placed = True
        fsync_dir(self.target.parent)
        return self.target

    def discard(self) -> None:
        """Delete the file while it is still at its temporary name (placed: left alone)."""
        if not self.placed:
            with contextlib.suppress(FileNotFoundError):
                self.temp.unlink()


def _drop_placeholder(path: Path, reserved: os.stat_result) -> None:
    """Delete the empty file :meth:`StagedFile.place` made at ``path``, if it is still that
    very file (same inode, still empty): never another that took the name since."""
    with contextlib.suppress(OSError):
        now = os.lstat(path)
        if (now.st_dev, now.st_ino) == (reserved.st_dev, reserved.st_ino) and now.st_size == 0:
            path.unlink()


@contextlib.contextmanager
def staged_output(
    path: Path | str,
    *,
    overwrite: bool = False,
    mode: int | None = None,
    like: Path | str | None = None,
) -> Iterator[StagedFile]:
    """:func:`atomic_output`'s first half: write into the yielded file's ``handle`` (opened
    ``w+b``); when the block ends without an error the file is flushed, fsynced and closed
    at its temporary name, and the caller places it (:meth:`StagedFile.place`) or discards it.
    An error in the block leaves nothing behind. ``mode`` and ``like`` as for atomic_write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path, mode, like)
    try:
        with os.fdopen(fd, "w+b") as handle:
            staged = StagedFile(path, tmp, handle, overwrite=overwrite)
            yield staged
            handle.flush()
            os.fsync(handle.fileno())
        staged.replacing = os.path.lexists(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def stage_write(
    path: Path | str,
    data: bytes,
    *,
    overwrite: bool = False,
    mode: int | None = None,
    like: Path | str | None = None,
) -> StagedFile:
    """``data`` written to a temporary file beside ``path`` (fsynced), not yet in place:
    :func:`atomic_write` in two steps, for a caller that places it only after its checks."""
    with staged_output(path, overwrite=overwrite, mode=mode, like=like) as staged:
        staged.handle.write(data)
    return staged


def _create_temp(path: Path, mode: int | None, like: Path | str | None) -> tuple[int, Path]:
    """A new, empty temporary file beside ``path`` with its final permissions: (fd, path)."""
    if _WINDOWS:
        # Only the read-only bit exists there; a read-only temporary file could not be
        # unlinked after the link. Created as before (mkstemp: writable by its owner).
        fd, name = tempfile.mkstemp(
            prefix=f".{_temp_prefix(path.name)}.", suffix=".tmp", dir=path.parent
        )
        return fd, Path(name)
    # The kernel applies the umask (and a directory's default ACL) to this mode, exactly as for
    # any file a program creates; an explicit ``mode`` is then set as is with fchmod.
    create = 0o600 if mode is not None else permissions_like(like) if like is not None else 0o666
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0)
    for _ in range(_TEMP_ATTEMPTS):
        tmp = path.with_name(f".{_temp_prefix(path.name)}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, create)
        except FileExistsError:
            continue
        if mode is not None:
            try:
                os.fchmod(fd, mode)
            except BaseException:
                os.close(fd)
                tmp.unlink()
                raise
        return fd, tmp
    raise FileExistsError(f"no free temporary name beside {path}")


def _temp_prefix(name: str) -> str:
    """The start of ``name`` (whole characters) that the temporary name holds: a long name
    (up to the disk's 255 bytes) still gets a temporary file, 18 bytes longer otherwise."""
    while len(os.fsencode(name)) > _TEMP_PREFIX_MAX:
        name = name[:-1]
    return name


def fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def open_regular(path: Path | str, *, max_bytes: int | None = None) -> BinaryIO:
    """``path`` opened for reading (binary, blocking reads), or INPUT_INVALID when it is not a
    regular file (a folder, a device, a pipe) or cannot be opened, DOCUMENT_TOO_LARGE over
    ``max_bytes``. Never blocks on a FIFO: it is opened non-blocking, then refused, so a pipe
    given as a dossier cannot hang a signer, nor /dev/zero fill its memory."""
    path = Path(path)
    try:
        fd = os.open(path, _READ_FLAGS | _NONBLOCK)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise invalid_input(
            f"cannot read {path}: {reason}", f"không đọc được {path} ({reason})"
        ) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise invalid_input(
                f"{path} is not a regular file (a folder, a device or a pipe)",
                f"{path} không phải một tệp thường (là thư mục, thiết bị hoặc đường ống)",
            )
        if max_bytes is not None and st.st_size > max_bytes:
            raise KysoError("DOCUMENT_TOO_LARGE", {"size": st.st_size, "limit": max_bytes})
        if _NONBLOCK:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_within(handle: BinaryIO, max_bytes: int) -> bytes:
    """The rest of ``handle``, never more than ``max_bytes`` in memory: DOCUMENT_TOO_LARGE
    past it, found by reading one byte more (the size said before the read, as
    :func:`open_regular` checks it, is not trusted to stay: a file may grow, /proc says 0)."""
    data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        size = max(len(data), os.fstat(handle.fileno()).st_size)
        raise KysoError("DOCUMENT_TOO_LARGE", {"size": size, "limit": max_bytes})
    return data


# Side files read whole: a PIN file (a pipe allowed), certificates and CRLs (--trust, --crl).
PIN_FILE_MAX_BYTES = 64 * 1024
TRUST_FILE_MAX_BYTES = 64 * 1024 * 1024  # a national CA's CRL runs to tens of MB


def read_regular(path: Path | str, *, max_bytes: int) -> bytes:
    """A file read whole: a regular file only (a pipe is refused, never waited on), at most
    ``max_bytes`` (DOCUMENT_TOO_LARGE past it: /dev/zero or a wrong path cannot fill memory).
    INPUT_INVALID when it cannot be read."""
    with open_regular(path, max_bytes=max_bytes) as handle:
        try:
            return read_within(handle, max_bytes)
        except OSError as exc:
            reason = exc.strerror or exc
            raise invalid_input(
                f"cannot read {path}: {reason}", f"không đọc được {path} ({reason})"
            ) from exc


def output_name_problem(target: Path | str) -> str | None:
    """Why a signed copy cannot be created at ``target``, with what to do (its folder is a
    file or cannot be reached, or its name or path is too long for the disk), else None. The
    CLI and the desktop both wrap it in INPUT_INVALID, before the PIN. In English: see
    :func:`output_name_problem_bilingual` for the Vietnamese beside it."""
    problem = output_name_problem_bilingual(target)
    return problem[0] if problem is not None else None


def output_name_problem_bilingual(target: Path | str) -> tuple[str, str] | None:
    """:func:`output_name_problem`'s answer as (English, Vietnamese), each a clause for
    :func:`agent.errors.invalid_input`; None when the signed copy can be created."""
    path = Path(os.path.abspath(target))
    if _is_dir(path):  # even with --force: a folder is never replaced by a signed copy
        return (
            f"{path} is a folder; name a file for the signed copy",
            f"{path} là một thư mục; hãy đặt một tên tệp cho bản đã ký",
        )
    folder, error = _nearest_existing(path)
    if error is not None:
        return _unreachable(folder, error)
    if not folder.is_dir():
        return f"{folder} is not a folder", f"{folder} không phải một thư mục"
    problem = _length_problem(path, folder)
    if problem is None:
        return None
    return (
        f"{problem[0]}; rename the file with a shorter name or choose another folder",
        f"{problem[1]}; hãy đổi tên tệp cho ngắn hơn hoặc chọn thư mục khác",
    )


def name_too_long(path: Path | str) -> str | None:
    """Why a file cannot be created at ``path`` because of its name's length (the name over
    the disk's NAME_MAX bytes, or the whole path over PATH_MAX), else None. Asked of the
    nearest existing folder, as the disk it is on decides (a USB stick, a network share)."""
    path = Path(os.path.abspath(path))
    folder, error = _nearest_existing(path)
    if error is not None and error.errno == errno.ENAMETOOLONG:
        return _TOO_LONG
    while not _is_dir(folder) and folder != folder.parent:
        folder = folder.parent
    problem = _length_problem(path, folder)
    return problem[0] if problem is not None else None


_TOO_LONG = "a folder name in its path, or the whole path, is longer than the disk allows"
_TOO_LONG_VI = "tên một thư mục trong đường dẫn, hoặc cả đường dẫn, dài hơn mức ổ đĩa cho phép"
# what stat says of a path whose folders are only missing (or a file stands for one)
_MISSING = {errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EBADF}


def _nearest_existing(path: Path) -> tuple[Path, OSError | None]:
    """The nearest ancestor of ``path`` that exists (a folder or not), or the one whose stat
    failed for another reason than being missing, with that error. A too-long path or a
    folder without access raises from ``Path.exists``: the very cases to report, not crash on."""
    folder = path.parent
    while folder != folder.parent:
        try:
            os.stat(folder)
        except OSError as exc:
            if exc.errno not in _MISSING:
                return folder, exc
            folder = folder.parent
            continue
        return folder, None
    return folder, None


def _unreachable(folder: Path, error: OSError) -> tuple[str, str]:
    """output_name_problem's text (English, Vietnamese) for a folder whose stat failed."""
    if error.errno == errno.ENAMETOOLONG:
        return (
            f"{_TOO_LONG}; choose a folder with a shorter path",
            f"{_TOO_LONG_VI}; hãy chọn thư mục có đường dẫn ngắn hơn",
        )
    reason = error.strerror or type(error).__name__
    return (
        f"the folder {folder} cannot be reached ({reason}); choose another folder",
        f"không truy cập được thư mục {folder} ({reason}); hãy chọn thư mục khác",
    )


def _is_dir(folder: Path) -> bool:
    try:
        return folder.is_dir()
    except OSError:  # no access, or too long: not a folder to ask the disk's limits of
        return False


def _length_problem(path: Path, folder: Path) -> tuple[str, str] | None:
    """name_too_long's check, asked of ``folder`` (an existing folder on the disk), as
    (English, Vietnamese)."""
    name_max = _pathconf(folder, "PC_NAME_MAX", _NAME_MAX_DEFAULT)
    path_max = _pathconf(folder, "PC_PATH_MAX", _PATH_MAX_DEFAULT)
    name = len(os.fsencode(path.name))
    if name > name_max:
        return (
            f"its name would be {name} bytes long, more than the {name_max} the disk allows",
            f"tên tệp sẽ dài {name} byte, vượt mức {name_max} byte ổ đĩa cho phép",
        )
    whole = len(os.fsencode(str(path)))
    if whole >= path_max:
        return (
            f"its path would be {whole} bytes long, more than the {path_max - 1} allowed",
            f"đường dẫn sẽ dài {whole} byte, vượt mức {path_max - 1} byte được phép",
        )
    return None


def _pathconf(folder: Path, name: str, default: int) -> int:
    try:
        value = os.pathconf(folder, name)
    except (OSError, ValueError, AttributeError):
        return default
    return value if value > 0 else default
