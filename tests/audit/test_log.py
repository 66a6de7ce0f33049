"""The audit log file: rotation by size without losing a record, two writers at once, torn lines."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from pathlib import Path
from typing import Any

import pytest

from agent import audit as audit_module
from agent.audit import AuditLog, AuditRecord, default_path, file_name, rotated_paths
from agent.config import paths


def _record(writer: str, number: int) -> AuditRecord:
    return AuditRecord(
        origin=None,
        method="sign-xml",
        result="OK",
        channel="cli",
        file=f"{writer}-{number:04d}.xml",
        kind="xml",
        sha256=f"{number:064x}",
    )


def _files(path: Path, keep: int) -> list[Path]:
    return [p for p in rotated_paths(path, keep) if p.exists()]


def test_rotation_at_the_limit_loses_no_record_and_keeps_order(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=2000, keep=20)
    for number in range(60):
        assert log.write(_record("a", number))
    files = _files(path, 20)
    assert len(files) > 3, "the limit was passed many times: the log must have rotated"
    for file in files:
        assert file.stat().st_size <= 2000, file
    # Rotated files are older than the live one, .1 newer than .2.
    records, unreadable = log.read()
    assert unreadable == 0
    assert [r["file"] for r in records] == [f"a-{n:04d}.xml" for n in reversed(range(60))]
    first_of_live = json.loads(path.read_text().splitlines()[0])["file"]
    last_of_rotated = json.loads(files[1].read_text().splitlines()[-1])["file"]
    assert int(first_of_live[2:6]) == int(last_of_rotated[2:6]) + 1


def test_only_keep_old_files_survive_and_what_remains_has_no_gap(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=1000, keep=2)
    for number in range(80):
        log.write(_record("a", number))
    assert _files(path, 10) == rotated_paths(path, 2)  # audit.jsonl, .1, .2 and nothing older
    numbers = [int(str(r["file"])[2:6]) for r in log.read()[0]]
    assert numbers[0] == 79
    assert numbers == list(range(79, 79 - len(numbers), -1))


def _writer(path: str, name: str, count: int, barrier: Any) -> None:
    log = AuditLog(Path(path), max_bytes=1024, keep=400)
    barrier.wait()  # both processes start appending together
    for number in range(count):
        if not log.write(_record(name, number)):
            raise SystemExit(1)


def test_two_processes_writing_and_rotating_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    count = 300
    context = multiprocessing.get_context("spawn")  # two real interpreters, as agent + CLI
    barrier = context.Barrier(2)
    procs = [
        context.Process(target=_writer, args=(str(path), name, count, barrier))
        for name in ("agent", "cli")
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    files = _files(path, 400)
    assert len(files) > 5
    lines = [line for f in files for line in f.read_text().splitlines()]
    assert all(json.loads(line)["result"] == "OK" for line in lines)  # no line interleaved
    for file in files:
        assert file.stat().st_size <= 1024
    seen = sorted(json.loads(line)["file"] for line in lines)
    expected = sorted(f"{name}-{n:04d}.xml" for name in ("agent", "cli") for n in range(count))
    assert seen == expected  # each record exactly once


def test_a_torn_line_is_skipped_and_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.write(_record("a", 1))
    with path.open("ab") as handle:
        handle.write(b'{"time": "2026-12-04T10:00:00+00:00", "meth')  # a crash mid-write
    log.write(_record("a", 2))
    records, unreadable = log.read()
    assert [r["file"] for r in records] == ["a-0002.xml", "a-0001.xml"]
    assert unreadable == 1


def test_a_log_that_cannot_be_written_never_breaks_the_signature(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    assert AuditLog(blocker / "audit.jsonl").write(_record("a", 1)) is False


def test_a_log_folder_made_at_first_record_and_again_after_it_was_deleted(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "logs" / "nested" / "audit.jsonl")
    assert log.write(_record("a", 1)) is True
    shutil.rmtree(tmp_path / "logs")  # a user cleaning up while the agent runs
    assert log.write(_record("a", 2)) is True
    records, unreadable = log.read()
    assert [r["file"] for r in records] == ["a-0002.xml"]
    assert unreadable == 0


def test_a_record_names_every_field_it_has_and_none_it_lacks(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    full = AuditRecord(
        origin="https://p.test",
        method="sign.hash",
        result="OK",
        kind="hash",
        digest="ab" * 20,
        digest_alg="sha1",
        thumbprint="cd" * 32,
        subject_cn="Nguyễn Văn A",
        cert_serial="0a",
        token="Kyso demo",
        request_id="7",
        item=0,
    )
    log.write(full)
    log.write(AuditRecord(origin=None, method="sign-xml", result="OK", channel="cli"))
    (bare, line), _ = log.read()
    assert list(line) == [
        "time", "channel", "origin", "method", "kind", "digest", "digest_alg", "thumbprint",
        "subject_cn", "cert_serial", "token", "request_id", "item", "outcome", "result",
    ]  # fmt: skip
    assert line["subject_cn"] == "Nguyễn Văn A" and line["item"] == 0
    assert line["outcome"] == "signed"
    assert list(bare) == ["time", "channel", "method", "outcome", "result"]


def test_records_carry_outcome_and_utc_time_and_file_names_not_paths(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.write(AuditRecord(origin="https://p.test", method="sign.xml", result="USER_CANCELLED"))
    log.write(AuditRecord(origin="https://p.test", method="sign.xml", result="PIN_INCORRECT"))
    records, _ = log.read()
    assert [(r["outcome"], r["result"]) for r in records] == [
        ("refused", "PIN_INCORRECT"),
        ("cancelled", "USER_CANCELLED"),
    ]
    assert str(records[0]["time"]).endswith("+00:00")
    assert file_name("/home/nguyenvana/Hồ sơ/Công ty ABC/hoso.xml") == "hoso.xml"
    assert file_name(r"C:\Users\an\Documents\tokhai.xml") == "tokhai.xml"
    assert default_path() == paths.log_dir() / "audit.jsonl"


def _refusal(number: int) -> AuditRecord:
    """A refusal a page can make as often as it likes (bad parameters: no prompt, no PIN)."""
    return AuditRecord(
        origin="https://p.test", method="sign.hash", result="INPUT_INVALID", request_id=str(number)
    )


def test_refusals_by_the_thousand_never_rotate_a_signature_record_out(tmp_path: Path) -> None:
    # A paired page's flood of cheap refusals used to fill every rotated file in about a
    # minute at the real limits, and the oldest file, with the record of a signature the user
    # made, was deleted: the evidence gone, by a web page.
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=4000, keep=2)
    assert log.write(_record("signed", 1))
    for number in range(600):  # ~90 kB: the log rotates about 20 times
        assert log.write(_refusal(number))
    log.write(_record("signed", 2))
    for number in range(600, 1200):
        assert log.write(_refusal(number))
    records, unreadable = log.read()
    assert unreadable == 0
    signed = [r["file"] for r in records if r["outcome"] == "signed"]
    assert signed == ["signed-0002.xml", "signed-0001.xml"]
    # The refusals still rotate out: the log stays bounded (the carried records come on top).
    assert len(records) < 100
    assert records[0]["request_id"] == "1199"
    assert _files(path, 10) == rotated_paths(path, 2)
    assert not list(tmp_path.glob("*.tmp"))


def test_signatures_carried_past_rotation_stay_in_order_and_within_the_limit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=3000, keep=1)
    for number in range(100):  # signatures alone: ~18 kB, six times the limit
        log.write(_record("s", number))
        log.write(_refusal(number))
    records, _ = log.read()
    numbers = [int(str(r["file"])[2:6]) for r in records if r["outcome"] == "signed"]
    # Newest first with no gap: what is carried is the newest signatures of the file dropped,
    # which come just before the next file's; the oldest go once they pass the size limit.
    assert numbers == list(range(99, 99 - len(numbers), -1))
    assert 10 < len(numbers) < 100
    oldest = rotated_paths(path, 1)[-1]
    assert oldest.stat().st_size <= 2 * 3000  # carried (at most the limit) + one file
    assert oldest.stat().st_mode & 0o777 == 0o600


def test_a_folder_in_the_oldest_file_s_place_still_blocks_the_rotation(tmp_path: Path) -> None:
    # Carrying reads the oldest file: a folder there must still fail the write (the agent then
    # refuses to sign: no signature without its record), never be skipped.
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=500, keep=1)
    rotated_paths(path, 1)[-1].mkdir()
    results = [log.write(_record("a", number)) for number in range(10)]
    assert results[0] is True and False in results
    assert log.healthy is False


def test_a_new_log_file_has_its_name_synced_after_its_first_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A power cut cannot be staged here: the seam is the folder sync itself, recorded in order
    # with the file's own syncs. Fsynced records in a file whose name never reached the disk
    # would be lost whole, the first log and every log a rotation starts.
    events: list[str] = []
    real_sync = audit_module._sync
    monkeypatch.setattr(audit_module, "_sync", lambda fd: (events.append("file"), real_sync(fd)))
    monkeypatch.setattr(audit_module, "fsync_dir", lambda folder: events.append(f"dir {folder}"))
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=600, keep=3)
    assert log.write(_record("a", 0))
    assert events == ["file", f"dir {tmp_path}"]
    events.clear()
    assert log.write(_record("a", 1))
    assert events == ["file"], "an existing log needs no folder sync per record"
    events.clear()
    while not path.with_name("audit.jsonl.1").exists():
        assert log.write(_record("a", 2))
    # The rotation syncs the folder for its renames; the new live file's name is synced after
    # its first record.
    assert events[-2:] == ["file", f"dir {tmp_path}"]
    # An empty log someone made an instant ago (a crashed writer, another process): the same.
    other = tmp_path / "other.jsonl"
    other.touch()
    events.clear()
    assert AuditLog(other).write(_record("b", 0))
    assert events == ["file", f"dir {tmp_path}"]


def test_bidi_and_format_characters_are_escaped_in_the_line_and_read_back_whole(
    tmp_path: Path,
) -> None:
    """A name holding U+202E would turn the rest of the line around in `tail` or an editor."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    hostile = "Nguyễn Văn A\u202egpj.exe\u200b\x85"
    assert log.write(AuditRecord(origin=None, method="sign-xml", result="OK", channel="cli",
                                 file=hostile, kind="xml"))  # fmt: skip
    raw = path.read_text(encoding="utf-8")
    assert "Nguyễn Văn A" in raw  # Vietnamese stays readable
    assert not any(c in raw for c in "\u202e\u200b\x85"), raw
    assert "\\u202e" in raw
    assert log.read()[0][0]["file"] == hostile
