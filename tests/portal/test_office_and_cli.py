"""The simulated BHXH office on its timer, and the kyso-portal command line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from portal_stub import cli
from portal_stub.db import Database
from portal_stub.processing import advance


def _submitted(db: Database, at: dt.datetime, review: str | None = None) -> int:
    now = at.isoformat()
    db.run(
        "INSERT INTO accounts (username, password_hash, mst, unit_name, unit_code, office_code, "
        "address, contact_name, phone, email, cert_thumbprint, cert_der, cert_subject, "
        "cert_not_after, status, created_at, updated_at) VALUES ('u', 'h', '0101234567', 'Cty', "
        "'TA0101234', '01001', 'a', 'c', 'p', 'e@x.vn', 't', x'00', 's', 'n', 'active', ?, ?)",
        (now, now),
    )
    cur = db.run(
        "INSERT INTO dossiers (account_id, receipt, dossier_number, sha256, procedure, "
        "procedure_name, period, employees, signer_subject, signer_thumbprint, content, status, "
        "review, submitted_at, updated_at) VALUES (1, 'BN1', 'HS1', 'h', '600', 'Báo tăng', "
        "'11/2026', 3, 's', 't', x'00', 'received', ?, ?, ?)",
        (review, now, now),
    )
    return int(cur.lastrowid or 0)


def test_timer_moves_only_dossiers_that_waited_long_enough(tmp_path: Path) -> None:
    db = Database(tmp_path / "p.sqlite3")
    t0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
    dossier = _submitted(db, t0, review="Mức lương thấp.")
    minute = dt.timedelta(minutes=1)
    assert advance(db, t0 + dt.timedelta(seconds=30), older_than=minute) == []
    assert [c["status"] for c in advance(db, t0 + minute, older_than=minute)] == ["processing"]
    assert advance(db, t0 + minute, older_than=minute) == []  # just moved: waits again
    assert [c["status"] for c in advance(db, t0 + 2 * minute, older_than=minute)] == ["rejected"]
    row = db.one("SELECT status, status_reason FROM dossiers WHERE id = ?", (dossier,))
    assert row is not None and tuple(row) == ("rejected", "Mức lương thấp.")
    notice = db.one("SELECT title, period FROM notices")
    assert notice is not None and notice["title"] == "Thông báo từ chối hồ sơ HS1"
    assert notice["period"] == "11/2026"
    assert advance(db, t0 + 10 * minute) == []  # finished dossiers stay put


def test_cli_help_teaches_the_options(capsys: Any) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for option in ("--trust", "--crl", "--smtp", "--public-origin", "--db", "--debug-hooks"):
        assert option in out


def test_cli_refuses_a_bad_smtp_address(capsys: Any) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--smtp", "no-port", "--trust", "x.pem"])
    assert done.value.code == 2
    assert "HOST:PORT" in capsys.readouterr().err


def test_cli_reports_an_unreadable_trust_file(tmp_path: Path, capsys: Any) -> None:
    code = cli.main(["--trust", str(tmp_path / "missing.pem"), "--db", ":memory:"])
    assert code == 2
    assert "kyso-portal:" in capsys.readouterr().err


def test_cli_refuses_a_public_origin_that_is_not_one(demo: dict[str, Any], capsys: Any) -> None:
    ca = demo["ca"]
    code = cli.main(
        [
            "--trust",
            ca["root"],
            "--db",
            ":memory:",
            "--public-origin",
            "http://kekhai.example.vn/path",
        ]
    )
    assert code == 2
    assert "origin" in capsys.readouterr().err
