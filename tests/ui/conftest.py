"""A private X server (Xvfb) for the dialog and tray tests, and screenshots of what it shows."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


@pytest.fixture(autouse=True)
def _tk_freed_on_its_own_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test with a display, collect its garbage here, on the main thread. A Tk root a
    test made on this thread and left in a reference cycle would otherwise be freed by the
    next collection, which may run on a dialog prompter's Tk thread: Tcl then aborts the whole
    run ("async handler deleted by the wrong thread")."""
    yield
    if "xvfb" in request.fixturenames:
        gc.collect()


@pytest.fixture(scope="session")
def xvfb() -> Iterator[str]:
    """Start Xvfb on a free display (it picks one with -displayfd); yield ":N"; set $DISPLAY."""
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.fail("Xvfb is missing: install the Debian package xvfb (./run.sh test does)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [binary, "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not start")
    display = f":{number}"
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    try:
        yield display
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        proc.terminate()
        proc.wait(10)


def screenshot(root, name: str) -> Path:
    """Save the window ``root`` (a Tk toplevel, on the UI thread) as test-artifacts/ui/NAME.png."""
    from PIL import ImageGrab

    root.update()
    x, y = root.winfo_rootx(), root.winfo_rooty()
    box = (x, y, x + root.winfo_width(), y + root.winfo_height())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    ImageGrab.grab(bbox=box, xdisplay=os.environ["DISPLAY"]).save(path)
    return path
