"""An interrupt while a moved original is checked puts it back at its name (red team 41).

``--remove-unsigned`` renames the original to a hidden ``.NAME.kyso-XXXX.removing`` in its
folder, hashes it again, then deletes it. A second Ctrl-C (or SIGTERM then SIGINT: the first
only cancels the task, the second raises at once) during that hash (a 150 MB PDF takes a
second) left the original under the hidden name: not deleted, not where the user looks, and
the report said nothing of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.cli import inputs


def _interrupted_on_second_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    real = inputs._sha256_of
    calls = {"n": 0}

    def hashing(handle: Any) -> Any:  # the second hash is the check of the moved file
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(handle)

    monkeypatch.setattr(inputs, "_sha256_of", hashing)


def test_the_original_is_back_at_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = tmp_path / "hop-dong.pdf"
    original.write_bytes(b"%PDF-1.7\n" + b"x" * 4096)
    _, read = inputs.read_checked(original)
    _interrupted_on_second_hash(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        inputs.removal_refusal(original, read)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hop-dong.pdf"]
    assert original.read_bytes().startswith(b"%PDF-1.7\n")


def test_a_file_saved_at_the_name_meanwhile_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    original = tmp_path / "hop-dong.pdf"
    original.write_bytes(b"old")
    _, read = inputs.read_checked(original)
    real_rename = inputs.os.rename

    def rename_then_save(src: Any, dst: Any) -> None:
        real_rename(src, dst)
        if Path(dst).name.endswith(".removing"):
            original.write_bytes(b"saved meanwhile")

    monkeypatch.setattr(inputs.os, "rename", rename_then_save)
    _interrupted_on_second_hash(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        inputs.removal_refusal(original, read)
    assert original.read_bytes() == b"saved meanwhile"
    [kept] = tmp_path.glob(".*.removing")
    assert kept.read_bytes() == b"old" and str(kept) in capsys.readouterr().err
