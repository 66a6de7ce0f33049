"""The desktop's planner refuses a signed copy it cannot save the way the CLI does (one check,
agent.files.output_name_problem): an output folder that is a file is shown with the file,
before the consent, never signed."""

from __future__ import annotations

from pathlib import Path

from agent.ui.filesign import plan_files


def test_an_out_dir_under_a_file_is_shown_before_the_consent(tmp_path: Path) -> None:
    source = tmp_path / "a.xml"
    source.write_bytes(b'<?xml version="1.0" encoding="UTF-8"?><HoSo><DuLieu>1</DuLieu></HoSo>')
    (tmp_path / "notes").write_text("a file, not a folder")
    [plan] = plan_files([source], out_dir=tmp_path / "notes" / "signed")
    assert plan.problem is not None and plan.problem.code == "INPUT_INVALID"
    assert "is not a folder" in plan.problem.message_en
    assert plan_files([source], out_dir=tmp_path / "signed")[0].problem is None
