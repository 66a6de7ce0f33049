"""The agent's start skips the full TLS check only for the very bytes it checked, and only
while they stay usable (agent.localtls.checked): any change, an unreadable record or the
renewal date means the full check again."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.localtls import Action, ensure_server_certificate
from agent.localtls import plan as tls_plan
from agent.localtls.checked import RECORD, material_digest, parse_record

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def full_checks(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    """The times at which ensure_server_certificate ran the full (cryptography) check."""
    seen: list[dt.datetime] = []
    real: Callable[..., Any] = tls_plan.inspect_material

    def spy(*args: Any) -> Any:
        seen.append(args[-1])
        return real(*args)

    monkeypatch.setattr(tls_plan, "inspect_material", spy)
    return seen


def _files(directory: Path) -> list[bytes]:
    return [(directory / n).read_bytes() for n in ("ca.pem", "server.pem", "server.key")]


def test_a_second_start_uses_the_record_and_describes_the_same_certificate(
    tmp_path: Path, full_checks: list[dt.datetime]
) -> None:
    first = ensure_server_certificate(tmp_path, now=NOW)
    record = parse_record((tmp_path / RECORD).read_bytes())
    assert record is not None and record.digest == material_digest(*_files(tmp_path))
    again = ensure_server_certificate(tmp_path, now=NOW + dt.timedelta(days=100))
    assert full_checks == [NOW]  # the second start did not check again
    assert again.action is Action.USE
    for name in ("ca_common_name", "ca_sha256", "ca_sha1", "not_after", "cert_path", "key_path"):
        assert getattr(again, name) == getattr(first, name), name


@pytest.mark.parametrize("changed", ["ca.pem", "server.pem", "server.key"])
def test_a_changed_file_means_a_full_check_and_a_repair(
    tmp_path: Path, full_checks: list[dt.datetime], changed: str
) -> None:
    ensure_server_certificate(tmp_path, now=NOW)
    other = tmp_path / "other"
    ensure_server_certificate(other, now=NOW)  # another install's (valid) material
    (tmp_path / changed).write_bytes((other / changed).read_bytes())
    full_checks.clear()
    repaired = ensure_server_certificate(tmp_path, now=NOW)
    assert full_checks == [NOW]
    assert repaired.action is not Action.USE  # the three files no longer belong together
    record = parse_record((tmp_path / RECORD).read_bytes())
    assert record is not None and record.digest == material_digest(*_files(tmp_path))


def test_the_record_ends_where_renewal_begins(
    tmp_path: Path, full_checks: list[dt.datetime]
) -> None:
    ensure_server_certificate(tmp_path, now=NOW)
    record = parse_record((tmp_path / RECORD).read_bytes())
    assert record is not None
    assert record.renew_from == record.not_after - tls_plan.RENEW_BEFORE
    just_before = record.renew_from - dt.timedelta(seconds=1)
    assert ensure_server_certificate(tmp_path, now=just_before).action is Action.USE
    assert full_checks == [NOW]
    renewed = ensure_server_certificate(tmp_path, now=record.renew_from)
    assert full_checks == [NOW, record.renew_from]
    assert renewed.action is Action.RENEW and renewed.needs_retrust
    # ...and a clock set back before the certificates existed is not "usable" either.
    full_checks.clear()
    ensure_server_certificate(tmp_path, now=NOW - dt.timedelta(days=3))
    assert full_checks == [NOW - dt.timedelta(days=3)]


@pytest.mark.parametrize(
    "spoil",
    [
        lambda r: b"",
        lambda r: b"{not json",
        lambda r: json.dumps({**r, "version": 2}).encode(),
        lambda r: json.dumps({**r, "digest": "0" * 64}).encode(),
        lambda r: json.dumps({**r, "renew_from": "2099-01-01T00:00:00"}).encode(),  # no zone
        lambda r: json.dumps({k: v for k, v in r.items() if k != "ca_sha1"}).encode(),
        lambda r: json.dumps([r]).encode(),
    ],
    ids=["empty", "not-json", "other-version", "other-digest", "naive-time", "missing", "list"],
)
def test_a_record_that_is_not_exactly_right_means_a_full_check(
    tmp_path: Path, full_checks: list[dt.datetime], spoil: Callable[[dict[str, Any]], bytes]
) -> None:
    ensure_server_certificate(tmp_path, now=NOW)
    good = json.loads((tmp_path / RECORD).read_bytes())
    (tmp_path / RECORD).write_bytes(spoil(good))
    full_checks.clear()
    assert ensure_server_certificate(tmp_path, now=NOW).action is Action.USE
    assert full_checks == [NOW]
    assert json.loads((tmp_path / RECORD).read_bytes()) == good  # written again


def test_files_changed_by_another_process_during_the_check_are_not_recorded(
    tmp_path: Path, full_checks: list[dt.datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows has no lock here: if another start writes its own certificate between this
    start's mint and its record, the mixed set must not be recorded as checked."""
    from agent.localtls import store

    other = tmp_path / "other"
    ensure_server_certificate(other, now=NOW)
    real = store.load_server_certificate

    def meanwhile(directory: Path, decision: Any = None) -> Any:
        (tmp_path / "server.pem").write_bytes((other / "server.pem").read_bytes())
        return real(directory, decision)

    monkeypatch.setattr(store, "load_server_certificate", meanwhile)
    ensure_server_certificate(tmp_path, now=NOW)
    assert not (tmp_path / RECORD).exists()
    monkeypatch.setattr(store, "load_server_certificate", real)
    full_checks.clear()
    repaired = ensure_server_certificate(tmp_path, now=NOW)
    assert full_checks == [NOW] and repaired.action is Action.RENEW  # caught and repaired


def test_a_record_that_cannot_be_written_costs_only_a_full_check(
    tmp_path: Path, full_checks: list[dt.datetime]
) -> None:
    (tmp_path / RECORD).mkdir()  # the name is taken: the write fails
    assert ensure_server_certificate(tmp_path, now=NOW).action is Action.CREATE
    assert ensure_server_certificate(tmp_path, now=NOW).action is Action.USE
    assert full_checks == [NOW, NOW]
