"""The self-contained Windows build on paper: the CI workflow and the PyInstaller spec.

Python for Windows cannot be fetched here, so the frozen kyso-agent.exe is built only by
.github/workflows/windows-build.yml on a Windows runner (untested by this suite). What can be
checked here is checked: the workflow parses and builds from the spec with the pinned runtime,
and the spec carries every data file the agent reads (a missing schema would make every
request fail in the frozen agent only) and the modules it imports by name.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from agent.cli.main import COMMAND_MODULES

REPO = Path(__file__).resolve().parents[2]
FREEZE = REPO / "installers" / "windows" / "freeze"
WORKFLOW = REPO / ".github" / "workflows" / "windows-build.yml"
SPEC = FREEZE / "kyso-agent.spec"


def freeze_data() -> ModuleType:
    """installers/windows/freeze/freeze_data.py, the lists the spec reads."""
    spec = importlib.util.spec_from_file_location("freeze_data", FREEZE / "freeze_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def workflow() -> dict[Any, Any]:
    """The workflow as GitHub reads it (YAML)."""
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def steps() -> list[dict[str, Any]]:
    """The steps of the one job."""
    (job,) = workflow()["jobs"].values()
    assert job["runs-on"] == "windows-latest"
    return list(job["steps"])


def test_workflow_builds_the_spec_on_windows_with_the_pinned_runtime() -> None:
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in triggers
    assert data["permissions"] == {"contents": "read"}  # the build needs no write token
    (job,) = data["jobs"].values()
    assert job["env"]["PIP_CONSTRAINT"] == "installers/constraints.txt"
    setup = next(s for s in steps() if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["python-version"] == "3.11" and setup["with"]["architecture"] == "x64"
    runs = "\n".join(s.get("run", "") for s in steps())
    assert "requirements-freeze.txt" in runs
    named = re.findall(r"--spec\s+(\S+)", runs)
    assert named == ["installers/windows/freeze/kyso-agent.spec"]
    assert (REPO / named[0]).is_file()
    assert "kyso-agent.exe" in runs and "--version" in runs  # the smoke test
    upload = next(s for s in steps() if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"].endswith("-win64.zip")
    assert upload["with"]["if-no-files-found"] == "error"
    assert "UNTESTED" in WORKFLOW.read_text(encoding="utf-8")


def test_freezer_is_pinned() -> None:
    lines = (FREEZE / "requirements-freeze.txt").read_text().splitlines()
    requirements = [line for line in lines if line and not line.startswith("#")]
    assert requirements and all("==" in line for line in requirements)
    assert any(line.startswith("pyinstaller==") for line in requirements)


def test_spec_ships_every_data_file_of_the_agent() -> None:
    data = freeze_data()
    shipped = {
        (Path(src).relative_to(REPO).as_posix(), dest) for src, dest in data.agent_data_files()
    }
    schemas = sorted((REPO / "agent" / "server" / "schema").glob("*.json"))
    assert len(schemas) >= 9
    for schema in schemas:
        # In the bundle the file must sit where importlib.resources looks for it.
        assert (f"agent/server/schema/{schema.name}", "agent/server/schema") in shipped
    assert all(not src.endswith((".py", ".pyc")) for src, _ in shipped)
    # The spec really uses these lists (and does not, say, hard-code an older copy).
    calls = {
        ast.unparse(node.func)
        for node in ast.walk(ast.parse(SPEC.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
    }
    assert "freeze_data.agent_data_files" in calls
    assert {"collect_data_files", "collect_submodules", "Analysis", "COLLECT"} <= calls


def test_spec_names_what_imports_cannot_show() -> None:
    data = freeze_data()
    # agent.cli.main imports its sub-commands with importlib: collected as submodules.
    assert "agent" in data.SUBMODULE_PACKAGES
    assert all(name.startswith("agent.") for name in COMMAND_MODULES)
    assert "pystray._win32" in data.HIDDEN_IMPORTS and "tkinter" in data.HIDDEN_IMPORTS
    assert "portal_stub" in data.EXCLUDES and "agent" not in data.EXCLUDES
    # Every package whose data files are collected is one the installers ship (a typo or a
    # dropped dependency would make collect_data_files fail on the runner).
    text = (REPO / "installers" / "constraints.txt").read_text()
    pinned = {line.split("==")[0].lower() for line in text.splitlines() if "==" in line}
    for package in data.DATA_PACKAGES:
        assert package.replace("_", "-").lower() in pinned, package
