"""The X screen the agent's real dialogs appear on (a private Xvfb), seen and typed into from
outside, as a user would: windows found by their title over an X connection of our own, keys
sent with xdotool (XTEST, to whichever window has the focus), pixels read with PIL.

Nothing here reaches into the agent's process: a test that passes through these helpers proves
what the screen showed and what the keyboard did.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image, ImageGrab
from Xlib import X, error
from Xlib import display as xdisplay

# The dialogs' primary button (agent/ui/dialog_view.py): red once armed, pale red while the
# arming delay against click-jacking runs; darker red under the mouse.
ARMED_COLOURS = ((0xC6, 0x28, 0x28), (0xA6, 0x1E, 0x1E))
# The arming delay (build_dialog's default): it runs from before the window is mapped, so once
# a window has been seen this long its timer has run out. Pixels alone could lie (a window
# mapped but not yet painted may still show what was there before).
ARM_DELAY_SECONDS = 0.6
APP_PREFIX = "Kyso"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@dataclass(frozen=True)
class Window:
    """A top-level window the X server shows: its id, title and box on the screen."""

    id: int
    title: str
    box: tuple[int, int, int, int]  # left, top, right, bottom
    # When the test first saw it mapped (time.monotonic()); not part of its identity.
    seen_at: float = field(default=0.0, compare=False)


class Screen:
    """One X display: Kyso's windows on it, its pixels, its keyboard."""

    def __init__(self, display: str) -> None:
        self.display = display

    def windows(self) -> list[Window]:
        """The viewable Kyso windows now (asked over a fresh connection each time)."""
        conn = xdisplay.Display(self.display)
        try:
            root = conn.screen().root
            utf8, net_name = conn.intern_atom("UTF8_STRING"), conn.intern_atom("_NET_WM_NAME")
            found: list[Window] = []

            def walk(window: Any) -> None:
                try:
                    children = window.query_tree().children
                except (error.BadWindow, error.BadDrawable):
                    return  # destroyed while we looked: it is not shown
                for child in children:
                    # A window the agent destroys between two of our requests (a dialog just
                    # answered) is simply no longer on the screen, not a test failure.
                    try:
                        seen = see(child)
                    except (error.BadWindow, error.BadDrawable, error.BadMatch):
                        continue
                    if seen is None:
                        continue
                    if seen.title.startswith(APP_PREFIX):
                        found.append(seen)
                    walk(child)

            def see(child: Any) -> Window | None:
                if child.get_attributes().map_state != X.IsViewable:
                    return None
                net = child.get_full_property(net_name, utf8)
                name = child.get_wm_name()
                if isinstance(name, bytes):
                    name = name.decode("utf-8", "replace")
                title = net.value.decode("utf-8", "replace") if net else (name or "")
                if not title.startswith(APP_PREFIX):
                    return Window(child.id, title, (0, 0, 0, 0))  # its children may be Kyso's
                geometry = child.get_geometry()
                origin = root.translate_coords(child, 0, 0)
                box = (origin.x, origin.y, origin.x + geometry.width, origin.y + geometry.height)
                return Window(child.id, title, box)

            walk(root)
            return found
        finally:
            conn.close()

    def titles(self) -> list[str]:
        """The titles of the viewable Kyso windows now."""
        return [w.title for w in self.windows()]

    def wait_window(self, title_prefix: str, timeout: float = 30.0) -> Window:
        """Wait until exactly one Kyso window is shown and its title starts with
        ``title_prefix``; fail with what the screen showed instead."""
        deadline = time.monotonic() + timeout
        shown: list[Window] = []
        while time.monotonic() < deadline:
            shown = self.windows()
            if len(shown) == 1 and shown[0].title.startswith(title_prefix):
                return replace(shown[0], seen_at=time.monotonic())
            time.sleep(0.05)
        raise AssertionError(
            f"no window {title_prefix!r}; the screen shows {shown} ({self.evidence()})"
        )

    def current(self, window: Window) -> Window | None:
        """The window as shown now (it may have moved since it was found), or None."""
        return next((w for w in self.windows() if w.id == window.id), None)

    def wait_gone(self, window: Window, timeout: float = 30.0) -> None:
        """Wait until ``window`` is no longer shown."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.current(window) is None:
                return
            time.sleep(0.05)
        raise AssertionError(
            f"{window.title!r} stayed on the screen (the keyboard focus is on window "
            f"{self.focus_holder()}, the dialog is {window.id}; {self.evidence()})"
        )

    def focus_holder(self) -> int | None:
        """The id of the top-level window that holds the keyboard focus now (the X server's
        focus window or the top-level it lies in), or None when the focus is on no window."""
        conn = xdisplay.Display(self.display)
        try:
            focus = conn.get_input_focus().focus
            root = conn.screen().root
            if not hasattr(focus, "query_tree"):  # X.NONE or X.PointerRoot: no window has it
                return None
            try:
                while True:
                    parent = focus.query_tree().parent
                    if parent is None or parent.id == root.id:
                        return int(focus.id)
                    focus = parent
            except (error.BadWindow, error.BadDrawable):
                return None  # destroyed while we looked
        finally:
            conn.close()

    def wait_focused(self, window: Window, timeout: float = 30.0) -> None:
        """Wait until the keyboard focus is inside ``window``: keys typed before would go
        elsewhere, as for a user typing before the caret appears."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.focus_holder() in self._ancestors(window):
                return
            time.sleep(0.05)
        raise AssertionError(
            f"{window.title!r} never took the keyboard focus (it is on window "
            f"{self.focus_holder()}; {self.evidence()})"
        )

    def _ancestors(self, window: Window) -> set[int]:
        # The found window and the top-level that holds it (Tk's wrapper is the top-level).
        conn = xdisplay.Display(self.display)
        try:
            ids = {window.id}
            node = conn.create_resource_object("window", window.id)
            root = conn.screen().root
            try:
                while True:
                    parent = node.query_tree().parent
                    if parent is None or parent.id == root.id:
                        break
                    ids.add(int(parent.id))
                    node = parent
            except (error.BadWindow, error.BadDrawable):
                pass
            return ids
        finally:
            conn.close()

    def evidence(self, name: str = "screen-at-failure") -> Path:
        """The whole screen saved under test-artifacts/ (for a failure message)."""
        path = ARTIFACTS / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.grab().save(path)
        return path

    def grab(self, window: Window | None = None) -> Image.Image:
        """The whole screen, or one window where it is now, as pixels."""
        box = None
        if window is not None:
            now = self.current(window)
            if now is None:
                raise AssertionError(f"{window.title!r} is no longer on the screen")
            box = now.box
        return ImageGrab.grab(bbox=box, xdisplay=self.display)

    def is_armed(self, window: Window) -> bool:
        """True once the window's primary (approving) button is drawn armed: its red appears
        in the bottom strip of the window, where the buttons are."""
        image = self.grab(window).convert("RGB")
        strip = image.crop((0, max(image.height - 90, 0), image.width, image.height))
        colours = {colour for _, colour in strip.getcolors(strip.width * strip.height) or ()}
        return any(c in colours for c in ARMED_COLOURS)

    def wait_armed(self, window: Window, timeout: float = 30.0) -> None:
        """Wait until the approving button can be pressed (the arming delay is over and the
        window is painted): keys sent before would be ignored, as for a user."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            settled = time.monotonic() - window.seen_at >= ARM_DELAY_SECONDS
            if settled and self.is_armed(window):
                return
            time.sleep(0.05)
        raise AssertionError(
            f"{window.title!r} never armed its approving button ({self.evidence()})"
        )

    def key(self, *keys: str) -> None:
        """Press keys (xdotool names: Tab, shift+Tab, space, Return) in the focused window."""
        self._xdotool("key", "--delay", "40", *keys)

    def mouse_to(self, x: int, y: int) -> None:
        """Move the pointer (out of the dialogs' way: hovering changes a button's colour)."""
        self._xdotool("mousemove", str(x), str(y))

    def type(self, text: str) -> None:
        """Type text into the focused window."""
        self._xdotool("type", "--delay", "40", text)

    def save(self, window: Window, *paths: Path) -> Image.Image:
        """Save the window's pixels to each of ``paths`` (atomically: temp file, rename)."""
        image = self.grab(window)
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(f".{path.name}.tmp")
            image.save(temp, format="PNG")
            with temp.open("rb") as f:
                os.fsync(f.fileno())
            temp.replace(path)
        return image

    def _xdotool(self, *args: str) -> None:
        env = {**os.environ, "DISPLAY": self.display}
        subprocess.run(["xdotool", *args], env=env, check=True, timeout=30)


@contextmanager
def xvfb() -> Iterator[Screen]:
    """A private Xvfb on a free display (it picks one with -displayfd); stopped on exit."""
    binary = shutil.which("Xvfb")
    if binary is None or shutil.which("xdotool") is None:
        raise RuntimeError("Xvfb and xdotool are needed: Debian packages xvfb, xdotool (run.sh)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [binary, "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield Screen(f":{number}")
    finally:
        proc.terminate()
        proc.wait(10)
