"""Fixtures shared by the sign-xml CLI tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .helpers import HOSO, PIN


@pytest.fixture
def files(tmp_path: Path, demo: dict[str, Any]) -> dict[str, Path]:
    (tmp_path / "pin").write_text(PIN + "\n")
    (tmp_path / "bad-pin").write_text("000000\n")
    for name in ("a.xml", "b.xml"):
        (tmp_path / name).write_bytes(HOSO)
    return {
        "dir": tmp_path,
        "a": tmp_path / "a.xml",
        "b": tmp_path / "b.xml",
        "pin": tmp_path / "pin",
        "bad_pin": tmp_path / "bad-pin",
    }
