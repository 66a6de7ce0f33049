""" "Ký tệp hồ sơ…" walked through as a user would, under Xvfb: the file dialog (two files chosen
at once), the options, the certificate, the one consent over the progress window, the PIN, the
result and its "Mở thư mục", then "Nhật ký ký số" — every step photographed, the signed files
checked by xmlsec1.

The program is the one the tray starts (``kyso-agent sign-files``). The file dialog, the options
and the result windows are driven from outside with xdotool; the agent's own dialogs (picker,
consent, PIN) are the real DialogPrompter's windows, answered from inside the process as
tests/ui/test_dialog_screen.py does, because a consent button that a synthetic key could press
would be a weakness, not a feature."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cert_thumbprint
from tests.signing_xml.helpers import HOSO, PIN, TAX, xmlsec_verify
from tests.ui.conftest import ARTIFACTS

REPO = Path(__file__).resolve().parents[2]

# sign-files with the real dialog prompter, whose windows photograph the screen and answer.
DRIVER = r"""
import json, os, sys
from pathlib import Path
from PIL import ImageGrab
from Xlib import X, display
import agent.cli.compose as compose
from agent.ui.dialogs import DialogPrompter

shots, pin, thumbprint = Path(sys.argv[1]), sys.argv[2], sys.argv[3]


def titles():
    conn = display.Display()
    utf8, net = conn.intern_atom("UTF8_STRING"), conn.intern_atom("_NET_WM_NAME")
    found = []

    def walk(window):
        for child in window.query_tree().children:
            if child.get_attributes().map_state == X.IsViewable:
                name = child.get_full_property(net, utf8)
                if name and name.value.decode("utf-8", "replace").startswith("Kyso"):
                    found.append(name.value.decode("utf-8", "replace"))
                walk(child)

    try:
        walk(conn.screen().root)
    finally:
        conn.close()
    return found


def radio_values(widget):
    for child in widget.winfo_children():
        if child.winfo_class() in ("TRadiobutton", "Radiobutton"):
            yield str(child.cget("value"))
        yield from radio_values(child)


def on_shown(view):
    def run():
        if not view.root.winfo_viewable():
            view.root.after(10, run)  # on the display, not just built
            return
        view.root.update()
        kind = view.text.kind
        ImageGrab.grab(xdisplay=os.environ["DISPLAY"]).save(shots / f"filesign-walk-3-{kind}.png")
        origin = view.origin_label.cget("text") if view.origin_label is not None else ""
        print("SHOWN", json.dumps({"kind": kind, "on_screen": titles(), "origin": str(origin)}),
              flush=True)
        if kind == "certificate":
            # A row's value names the certificate and its token: this certificate's row.
            rows = [v for v in radio_values(view.root) if json.loads(v)[0] == thumbprint]
            view.cert_var.set(rows[0])
            view.press("choose")
        elif kind == "consent":
            view.press("allow")
        elif kind == "pin":
            view.type_pin(pin)
            view.press("ok")
        else:
            view.root.event_generate("<Escape>")

    view.root.after_idle(run)


compose.make_prompter = lambda spec, **_kw: DialogPrompter(
    arm_delay_ms=0, on_shown=on_shown, language=lambda: "vi"
)
from agent.cli.main import main

sys.exit(main(["sign-files", "--language", "vi"]))
"""


def xdotool(*argv: str) -> str:
    binary = shutil.which("xdotool")
    if binary is None:
        pytest.fail("xdotool is missing: install the Debian package xdotool")
    return subprocess.run([binary, *argv], capture_output=True, text=True).stdout


KEYS = ("Return", "Escape", "Tab", "space", "BackSpace", "ctrl", "shift")


def release_keys() -> None:
    """Let go of every key this test (or an earlier one) may have left pressed. xdotool sends a
    key to the focused window through XTEST; when the press closes that window, the release
    fails, the key stays down and the X server repeats it every 40 ms into the next window."""
    xdotool("keyup", *KEYS)


def find_window(title: str, proc: subprocess.Popen[str], timeout: float = 60) -> str:
    """The id of the visible window called exactly ``title`` (waits for it)."""
    deadline = time.monotonic() + timeout
    while True:
        for window in xdotool("search", "--onlyvisible", "--name", ".").split():
            if xdotool("getwindowname", window).strip() == title:
                return window
        if proc.poll() is not None:
            pytest.fail(f"the program ended before {title!r}: {proc.stderr.read()}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, f"no window {title!r}"
        time.sleep(0.1)


def gone(window: str) -> bool:
    """True once ``window`` is off the screen (Tk's file dialog is withdrawn and kept for the
    next time, not destroyed: its name alone says nothing)."""
    return window not in xdotool("search", "--onlyvisible", "--name", ".").split()


def photo(window: str, name: str) -> Path:
    """Save a window's picture as test-artifacts/ui/NAME.png."""
    from PIL import ImageGrab

    deadline = time.monotonic() + 30
    while "X" not in (  # a window just mapped may not answer yet
        v := dict(
            line.split("=", 1) for line in xdotool("getwindowgeometry", "--shell", window).split()
        )
    ):
        assert time.monotonic() < deadline, f"no geometry for {name}"
        time.sleep(0.05)
    x, y, w, h = (int(v[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=os.environ["DISPLAY"]).save(path)
    assert path.stat().st_size > 0
    return path


def keys_until_gone(window: str, *keys: str, timeout: float = 60) -> None:
    """Press ``keys`` in ``window`` until it closes. A press sent before Tk focused the new
    window is lost, so it is repeated — but only after a long wait: a repeat that arrives once
    the window did close would land in the next window."""
    deadline = time.monotonic() + timeout
    while not gone(window):
        assert time.monotonic() < deadline, f"{keys} did not close the window"
        xdotool("mousemove", "--window", window, "20", "20")
        xdotool("key", "--window", window, *keys)
        release_keys()
        answered = time.monotonic() + 8
        while not gone(window) and time.monotonic() < answered:
            time.sleep(0.05)


def choose_files(chooser: str, names: str, timeout: float = 60) -> None:
    """Type ``names`` in the file dialog's name field and press Return; when the dialog is still
    there long after, the field is emptied (Tk: Control-/ selects all) and it is tried again."""
    deadline = time.monotonic() + timeout
    while not gone(chooser):
        assert time.monotonic() < deadline, "the file dialog did not take the names"
        xdotool("mousemove", "--window", chooser, "20", "20")
        xdotool("key", "--window", chooser, "ctrl+slash", "BackSpace")
        xdotool("type", "--window", chooser, names)
        xdotool("key", "--window", chooser, "Return")
        release_keys()
        answered = time.monotonic() + 8
        while not gone(chooser) and time.monotonic() < answered:
            time.sleep(0.05)


def lines_of(stream: Any) -> queue.Queue[str | None]:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_a_user_signs_two_files_from_the_file_dialog_to_the_journal(
    xvfb: str, demo: dict[str, Any], tmp_path: Path, xmlsec1: str
) -> None:
    release_keys()  # an earlier test's stuck key would answer this test's windows
    folder = tmp_path / "Hồ sơ tháng 12"
    folder.mkdir()
    (folder / "600-bao-tang.xml").write_bytes(HOSO)
    (folder / "to-khai.xml").write_bytes(TAX)
    (folder / "ghi-chu.txt").write_text("không phải hồ sơ")
    # The desktop's "open this folder" program: a script that writes down what it was given.
    opened = tmp_path / "opened.txt"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "xdg-open").write_text(
        f'#!/bin/sh\nprintf "%s" "$1" > "{opened}.tmp" && mv "{opened}.tmp" "{opened}"\n'
    )
    (bin_dir / "xdg-open").chmod(0o755)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(ARTIFACTS), PIN, cert_thumbprint(demo, "org")],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shown = lines_of(proc.stdout)
    try:
        # 1. "Chọn file để ký": the file dialog opens in the folder; two files at once.
        chooser = find_window("Chọn file để ký", proc)
        photo(chooser, "filesign-walk-1-choose")
        choose_files(chooser, '"600-bao-tang.xml" "to-khai.xml"')
        # 2. Each file with the profile found in it; where to save; "remove unsigned" visible.
        options = find_window("Kyso — Ký tệp hồ sơ", proc)
        photo(options, "filesign-walk-2-options")
        keys_until_gone(options, "Return")  # "Ký": beside the originals, originals kept
        # 3. The agent's dialogs (photographed from inside), then the result.
        result = find_window("Kyso — Kết quả ký", proc, timeout=120)
        photo(result, "filesign-walk-4-result")
        # "Mở thư mục" is the first button: Tab reaches it, Space presses it.
        deadline = time.monotonic() + 30
        while not opened.exists():
            assert time.monotonic() < deadline, "Mở thư mục did not open the folder"
            xdotool("mousemove", "--window", result, "20", "20")
            xdotool("key", "--window", result, "Tab", "space")
            release_keys()
            pressed = time.monotonic() + 8  # a second Tab would move past the button
            while not opened.exists() and time.monotonic() < pressed:
                time.sleep(0.05)
        keys_until_gone(result, "Escape")
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    steps = []
    while (line := shown.get(timeout=10)) is not None:
        if line.startswith("SHOWN "):
            steps.append(json.loads(line[6:]))
    kinds = [s["kind"] for s in steps]
    assert kinds[-2:] == ["consent", "pin"], steps  # one consent and one PIN for both files
    consent = steps[-2]
    # The consent is asked over the progress window, both on the screen.
    assert "Kyso — Xác nhận ký số" in consent["on_screen"], consent
    assert "Kyso — Đang ký" in consent["on_screen"], consent
    assert consent["origin"] == "file://localhost"  # readable, not <U+...> tags
    assert Path(opened.read_text()) == folder  # "Mở thư mục": where the signed files are
    for name, ids in (("600-bao-tang", ()), ("to-khai", ("--id-attr:id", "HSoKhaiThue"))):
        assert (folder / f"{name}.xml").exists()  # kept: "remove unsigned" was not ticked
        check = xmlsec_verify(xmlsec1, demo, folder / f"{name}_signed.xml", *ids)
        assert check.returncode == 0, check.stderr
    assert not (folder / "ghi-chu_signed.txt").exists()

    # 4. "Nhật ký ký số", as the tray opens it.
    journal = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "journal", "--language", "vi"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        window = find_window("Kyso — Nhật ký ký số", journal)
        photo(window, "filesign-walk-5-journal")
        keys_until_gone(window, "Escape")
        _out, err = journal.communicate(timeout=60)
    finally:
        if journal.poll() is None:
            journal.kill()
            journal.communicate(timeout=30)
    assert journal.returncode == 0, err


def test_tks_own_file_dialogs_speak_vietnamese(xvfb: str) -> None:
    import tkinter as tk

    from agent.ui.filesign_view import tk_dialogs_in

    def word(root: tk.Tk, english: str) -> str:
        # As tkfbox.tcl asks for it: `mc` from inside Tk's file dialog namespace (loaded first).
        root.tk.call("auto_load", "::tk::dialog::file::")
        return str(root.tk.call("namespace", "eval", "::tk::dialog::file", ("mc", english)))

    vi, en = tk.Tk(), tk.Tk()
    try:
        tk_dialogs_in(vi, "vi")
        tk_dialogs_in(en, "en")
        assert word(vi, "&Open") == "&Mở" and word(vi, "File &names:") == "&Tên các tệp:"
        assert word(vi, "&Cancel") == "&Hủy"
        missing = 'Cannot change to the directory "%1$s".\nPermission denied.'
        assert word(vi, missing).startswith("Không mở được thư mục")
        assert word(en, "&Open") == "&Open"  # English is Tk's own
    finally:
        vi.destroy()
        en.destroy()
