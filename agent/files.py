"""Writing files so that nothing is lost: temporary file, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def atomic_write(
    path: Path | str, data: bytes, *, overwrite: bool = False, mode: int = 0o644
) -> Path:
    """Write ``data`` to ``path`` atomically.

    The bytes go to a temporary file in the same directory, are flushed and fsynced, then the
    file is renamed into place, so a reader sees the old content or the new, never a part.
    Without ``overwrite`` an existing file is never replaced (FileExistsError), and the check
    is made by the final link itself, not by an earlier look that could race.
    """
    with atomic_output(path, overwrite=overwrite, mode=mode) as handle:
        handle.write(data)
    return Path(path)


@contextlib.contextmanager
def atomic_output(
    path: Path | str, *, overwrite: bool = False, mode: int = 0o644
) -> Iterator[BinaryIO]:
    """Like :func:`atomic_write` for content written piece by piece (a 50 MB signed PDF need
    not be held in memory): write into the yielded file (opened ``w+b``, so it can be read
    back), and it is fsynced and renamed into place when the block ends without an error.
    An error in the block leaves nothing behind."""
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() fails if the target exists: no window between check and write.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise
            except OSError:
                # Filesystems without hard links: reserve the name exclusively, then replace.
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))
                os.replace(tmp, path)
            else:
                tmp.unlink()
        _fsync_dir(directory)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _fsync_dir(directory: Path) -> None:
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
