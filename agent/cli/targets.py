"""Where the signed files of one run go, checked before anything is signed.

Every signer that writes files (``sign-xml``, ``sign-pdf``, ``sign-cms``, the desktop's
``sign-files``) plans all its outputs first and refuses the whole run, before the token is
opened or a PIN asked, when

* two inputs would be signed to the same output (``thang10/hoso.xml`` and ``thang11/hoso.xml``
  into one ``--out-dir``): the second would replace the first's signed copy, and with
  ``--remove-unsigned`` the first original is already gone;
* an output is another input of the run (``a.xml`` → ``a_signed.xml`` while ``a_signed.xml`` is
  signed too), or the input itself where that is not allowed;
* the same file is given twice;
* an output's name is longer than its disk allows (a legal 248-byte name plus ``_signed``),
  or its folder is a file: the write would fail after the PIN.

So ``--force`` only ever replaces a file that existed before the run and is not one of its
inputs. Files are compared as the system sees them: existing ones by device and inode (symbolic
and hard links, names that differ in case on a case-insensitive disk), new ones by their folder
(symbolic links resolved) and their name compared without case or Unicode normalisation
differences (one file on Windows, macOS, USB sticks and network shares). One stat per file: a
run of thousands of files is checked in milliseconds.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Hashable, Sequence
from pathlib import Path

from agent.errors import invalid_input
from agent.files import output_name_problem_bilingual


def _identity(path: Path | str) -> tuple[int, int] | None:
    """(device, inode) of an existing file (symbolic links followed), else None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _resolved(path: Path | str) -> str:
    return os.path.normcase(os.path.realpath(path))


def same_file(a: Path | str, b: Path | str) -> bool:
    """Whether ``a`` and ``b`` name one file: the same inode when both exist, otherwise the
    same path once symbolic links are resolved."""
    ia, ib = _identity(a), _identity(b)
    if ia is not None and ib is not None:
        return ia == ib
    return _resolved(a) == _resolved(b)


def _name_key(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def check_targets(
    pairs: Sequence[tuple[Path | str, Path | str]], *, own_input: bool = False
) -> None:
    """Refuse (INPUT_INVALID, naming both files) a run whose (input, output) ``pairs`` clash,
    or an output whose name is too long for its disk; with ``own_input`` an output may be its
    own input (signing in place, with --force)."""
    for source, target in pairs:
        check_output_name(source, target)
    inputs: dict[Hashable, int] = {}
    for index, (source, _) in enumerate(pairs):
        key: Hashable = _identity(source) or ("path", _resolved(source))
        if key in inputs:
            first = pairs[inputs[key]][0]
            raise invalid_input(
                f"{first} is given twice ({source})",
                f"tệp {first} được nêu hai lần ({source})",
            )
        inputs[key] = index
    folders: dict[Path, Hashable] = {}
    targets: dict[Hashable, int] = {}
    for index, (source, target) in enumerate(pairs):
        target = Path(target)
        identity = _identity(target)
        if identity is not None and identity in inputs:
            other = inputs[identity]
            if other == index and own_input:
                pass
            elif other == index:
                raise invalid_input(
                    f"the signed copy of {source} would replace the original",
                    f"bản đã ký của {source} sẽ ghi đè lên chính tệp gốc",
                )
            else:
                raise invalid_input(
                    f"the signed copy of {source} would be written over {pairs[other][0]}, "
                    "another file of this run",
                    f"bản đã ký của {source} sẽ ghi đè lên {pairs[other][0]}, một tệp khác "
                    "trong cùng lần ký này",
                )
        folder = folders.get(target.parent)
        if folder is None:
            folder = _identity(target.parent) or ("path", _resolved(target.parent))
            folders[target.parent] = folder
        keys: list[Hashable] = [("name", folder, _name_key(target.name))]
        if identity is not None:
            keys.append(identity)
        for key in keys:
            if key in targets:
                other_source, other_target = pairs[targets[key]]
                where = (
                    str(target)
                    if str(other_target) == str(target)
                    else f"{other_target} and {target} (one file on many disks)"
                )
                raise invalid_input(
                    f"{other_source} and {source} would both be signed to {where}; "
                    "sign them into different folders or in two runs",
                    f"{other_source} và {source} sẽ cùng được ký ra {where}; hãy ký vào hai "
                    "thư mục khác nhau hoặc ký làm hai lần",
                )
            targets[key] = index


def check_output_name(source: Path | str, target: Path | str) -> None:
    """INPUT_INVALID when the signed copy of ``source`` cannot be created at ``target``
    because its name or path is too long, its folder is a file, or more than its last folder
    is missing (refused with the whole run, before the PIN). One missing folder is made, as
    ``--out-dir signed`` asks; a tree is not: a mistyped ``-o`` path would put signed files
    where nobody looks (CLI QA 38 F12)."""
    problem = output_name_problem_bilingual(target)
    if problem is None:
        folder = Path(os.path.abspath(target)).parent
        if not os.path.lexists(folder) and not os.path.isdir(folder.parent):
            problem = (
                f"the folder {folder.parent} does not exist; create it first or choose "
                "another folder",
                f"thư mục {folder.parent} chưa có; hãy tạo thư mục đó trước hoặc chọn thư mục khác",
            )
    if problem is not None:
        raise invalid_input(
            f"the signed copy of {source} cannot be saved: {problem[0]}",
            f"không lưu được bản đã ký của {source}: {problem[1]}",
        )
