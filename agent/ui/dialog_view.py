"""Tk widgets for one prompt, built from a :class:`agent.ui.text.PromptText`. Runs on the UI thread.

Layout, top to bottom: the seal icon beside the question (Vietnamese, then English in grey),
the requesting origin in bold in a framed box, warnings in red/amber, the details (certificate,
what is signed) in a scrollable read-only text, the note, the PIN field (PIN dialogs), and a
countdown beside the buttons. The window stays on top and takes the focus; Escape or closing
the window answers "cancel". Buttons that approve are armed after a short delay, so keys typed
for another window at the moment the dialog pops up cannot approve anything.

Page text (titles, summary lines, certificate subjects) arrives already made inert by
agent.ui.text and is only ever put in the details box or the certificate list, below the
origin's own framed widget: nothing a page writes can take the origin's place or look like it.
"""

from __future__ import annotations

import functools
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass, field
from tkinter import font as tkfont
from tkinter import ttk
from typing import Any

from agent.ui.dialog_details import details_box
from agent.ui.dialog_fields import DANGER, MUTED, pin_field, secret_fields
from agent.ui.text import PromptText, Section, pin_too_short, ui_text

WARNING = "#8a5300"
ORIGIN_BG = "#fff8e1"
ORIGIN_BORDER = "#e0b000"
PRIMARY = "#c62828"
FONT_FAMILIES = ("Segoe UI", "Noto Sans", "DejaVu Sans", "Liberation Sans", "Helvetica")
MONO_FAMILIES = ("Consolas", "Noto Sans Mono", "DejaVu Sans Mono", "Liberation Mono", "Courier")
WRAP = 620  # pixels: the width text wraps at


@dataclass
class DialogView:
    """Handles a test (or the prompter) uses to drive and inspect an open dialog."""

    root: tk.Tk
    text: PromptText
    buttons: dict[str, ttk.Button] = field(default_factory=dict)
    entry: ttk.Entry | None = None
    cert_var: tk.StringVar | None = None
    details: tk.Text | None = None
    caps_label: ttk.Label | None = None
    origin_label: tk.Label | None = None  # the origin's own widget (tests read what it shows)
    secrets: dict[str, ttk.Entry] = field(default_factory=dict)  # remote PIN/OTP fields
    previews: list[tk.Label] = field(default_factory=list)  # PDF page previews shown

    def type_secret(self, key: str, value: str) -> None:
        """Put text in a remote credential's PIN ("pin") or OTP ("otp") field."""
        entry = self.secrets[key]
        entry.delete(0, tk.END)
        entry.insert(0, value)

    def press(self, key: str) -> None:
        """Click a button as the user would (does nothing while it is not armed)."""
        self.buttons[key].invoke()

    def type_pin(self, pin: str) -> None:
        """Put text in the PIN field, as typing would."""
        assert self.entry is not None
        self.entry.delete(0, tk.END)
        self.entry.insert(0, pin)


def _family(root: tk.Tk, candidates: tuple[str, ...]) -> str:
    available = set(tkfont.families(root))
    return next((f for f in candidates if f in available), "TkDefaultFont")


@dataclass(frozen=True)
class Fonts:
    """The dialog's fonts, made once per window."""

    question: tkfont.Font
    secondary: tkfont.Font  # the other language's line under the question
    origin: tkfont.Font
    body: tkfont.Font
    bold: tkfont.Font
    small: tkfont.Font
    mono: tkfont.Font
    pin: tkfont.Font


def _fonts(root: tk.Tk) -> Fonts:
    family, mono = _family(root, FONT_FAMILIES), _family(root, MONO_FAMILIES)
    return Fonts(
        question=tkfont.Font(root, family=family, size=13, weight="bold"),
        secondary=tkfont.Font(root, family=family, size=9),
        origin=tkfont.Font(root, family=family, size=13, weight="bold"),
        body=tkfont.Font(root, family=family, size=10),
        bold=tkfont.Font(root, family=family, size=10, weight="bold"),
        small=tkfont.Font(root, family=family, size=9),
        mono=tkfont.Font(root, family=mono, size=9),
        pin=tkfont.Font(root, family=mono, size=16),
    )


def build_dialog(
    root: tk.Tk,
    text: PromptText,
    finish: Callable[[Any], None],
    *,
    timeout_seconds: float | None,
    arm_delay_ms: int = 600,
    certificate_keys: tuple[str, ...] = (),
    disabled_certificates: frozenset[str] = frozenset(),
    selected_certificate: str = "",
    icon: Any = None,
    on_built: Callable[[DialogView], None] | None = None,
) -> DialogView:
    """Create the widgets of ``text`` in ``root``; buttons call ``finish(key or value)``.

    The agent's own words are in ``text.lang``; the question, the summary and the warnings
    also carry the other language in a smaller grey line, for someone helping the user."""
    fonts = _fonts(root)
    _style_window(root, text, fonts)
    view = DialogView(root, text)
    outer = ttk.Frame(root, padding=(20, 18, 20, 14))
    outer.pack(fill=tk.BOTH, expand=True)
    _header(outer, view, icon, fonts)
    _origin_box(outer, view, fonts)
    _summary(outer, text, fonts)
    _warnings(outer, text, fonts)
    if text.kind == "certificate":
        _certificate_list(
            outer, view, certificate_keys, disabled_certificates, selected_certificate, fonts
        )
    elif text.sections:
        view.details = details_box(outer, view, fonts)
    _entry_fields(outer, view, fonts)
    note = text.note()
    if note:
        ttk.Label(outer, text=note, wraplength=WRAP, font=fonts.small).pack(
            anchor=tk.W, pady=(10, 0)
        )
    countdown = _buttons(outer, view, finish, arm_delay_ms)
    _timer(view, countdown, timeout_seconds)
    _place(root)
    _focus(view, text)
    if on_built is not None:
        on_built(view)
    return view


def _style_window(root: tk.Tk, text: PromptText, fonts: Fonts) -> None:
    """Title, white background, the clam theme and the named styles the widgets use."""
    root.title(text.title)
    root.configure(background="#ffffff")
    root.resizable(False, text.kind in ("consent", "certificate"))
    style = ttk.Style(root)
    style.theme_use("clam" if "clam" in style.theme_names() else style.theme_use())
    style.configure(".", background="#ffffff", font=fonts.body)
    style.configure("TButton", padding=(14, 6))
    style.configure("Primary.TButton", foreground="#ffffff", background=PRIMARY, font=fonts.bold)
    style.map("Primary.TButton", background=[("disabled", "#e6a3a3"), ("active", "#a61e1e")])
    style.configure("Muted.TLabel", foreground=MUTED, font=fonts.small)
    style.configure("Danger.TLabel", foreground=DANGER, font=fonts.bold)
    style.configure("Warning.TLabel", foreground=WARNING, font=fonts.bold)
    style.configure("TRadiobutton", background="#ffffff")


def _header(parent: ttk.Frame, view: DialogView, icon: Any, fonts: Fonts) -> None:
    """The seal icon beside the question, in the dialog's language, the other one below."""
    header = ttk.Frame(parent)
    header.pack(fill=tk.X)
    if icon is not None:
        tk.Label(header, image=icon, background="#ffffff").pack(
            side=tk.LEFT, anchor=tk.N, padx=(0, 14)
        )
        view.root.iconphoto(True, icon)
    questions = ttk.Frame(header)
    questions.pack(side=tk.LEFT, fill=tk.X, expand=True)
    main, other = view.text.question()
    ttk.Label(questions, text=main, font=fonts.question, wraplength=WRAP).pack(anchor=tk.W)
    if other:
        ttk.Label(
            questions, text=other, font=fonts.secondary, foreground=MUTED, wraplength=WRAP
        ).pack(anchor=tk.W, pady=(2, 0))


def _origin_box(parent: ttk.Frame, view: DialogView, fonts: Fonts) -> None:
    """The requesting origin in bold in its own framed box (page text never gets here)."""
    if not view.text.origin:
        return
    box = tk.Frame(
        parent, background=ORIGIN_BG, highlightbackground=ORIGIN_BORDER, highlightthickness=1
    )
    box.pack(fill=tk.X, pady=(14, 4))
    tk.Label(
        box,
        text=ui_text("origin_heading", view.text.lang),
        font=fonts.small,
        foreground=MUTED,
        background=ORIGIN_BG,
    ).pack(anchor=tk.W, padx=10, pady=(6, 0))
    view.origin_label = tk.Label(
        box,
        text=view.text.origin,
        font=fonts.origin,
        background=ORIGIN_BG,
        foreground="#1a1a1a",
        wraplength=WRAP,
        justify=tk.LEFT,
    )
    view.origin_label.pack(anchor=tk.W, padx=10, pady=(0, 6))


def _summary(parent: ttk.Frame, text: PromptText, fonts: Fonts) -> None:
    """The agent's one-sentence summary of the request (both languages, chosen one first)."""
    main, other = text.summary()
    if not main:
        return
    ttk.Label(parent, text=main, font=fonts.bold, wraplength=WRAP).pack(anchor=tk.W, pady=(8, 0))
    if other:
        ttk.Label(parent, text=other, style="Muted.TLabel", wraplength=WRAP).pack(anchor=tk.W)


def _warnings(parent: ttk.Frame, text: PromptText, fonts: Fonts) -> None:
    """Red (danger) or amber lines: tries left, expired certificate, another unit's MST."""
    for warning in text.warnings:
        danger = warning.severity == "danger"
        main, other = warning.text_in(text.lang)
        style_name = "Danger.TLabel" if danger else "Warning.TLabel"
        ttk.Label(parent, text=f"⚠ {main}", style=style_name, wraplength=WRAP).pack(
            anchor=tk.W, pady=(8, 0)
        )
        ttk.Label(
            parent,
            text=other,
            foreground=DANGER if danger else WARNING,
            font=fonts.small,
            wraplength=WRAP,
        ).pack(anchor=tk.W)


def _entry_fields(parent: ttk.Frame, view: DialogView, fonts: Fonts) -> None:
    """The masked PIN field (PIN dialogs that take one) or a remote credential's fields."""
    text = view.text
    if text.kind == "pin" and any(c.key == "ok" for c in text.choices):
        pin_field(parent, view, fonts.pin, fonts.small, text.pin_length[1])
    if text.secret_fields:
        secret_fields(parent, view, text, fonts.pin, fonts.small)


def _focus(view: DialogView, text: PromptText) -> None:
    """The first field to type in, or else the safe button."""
    entry = view.entry or next(iter(view.secrets.values()), None)
    if entry is not None:
        entry.focus_force()
        return
    # Space activates the focused button: let that be the safe answer.
    cancel = next((c.key for c in text.choices if c.role == "cancel"), None)
    if cancel in view.buttons:
        view.buttons[cancel].focus_set()


def _certificate_list(
    parent: ttk.Frame,
    view: DialogView,
    keys: tuple[str, ...],
    disabled: frozenset[str],
    selected: str,
    fonts: Fonts,
) -> None:
    """One radio button per certificate under its token's heading; unusable ones shown, with
    the reason, but not selectable."""
    frame = ttk.Frame(parent)
    frame.pack(fill=tk.BOTH, expand=True, pady=(6, 0))
    usable = [k for k in keys if k not in disabled]
    first = selected if selected in usable else (usable[0] if usable else "")
    view.cert_var = variable = tk.StringVar(parent, value=first)
    group = None
    for key, section in zip(keys, view.text.sections, strict=True):
        if section.group and section.group != group:
            group = section.group
            tk.Label(
                frame,
                text=section.group,
                font=fonts.bold,
                foreground="#1a1a1a",
                background="#ffffff",
                anchor=tk.W,
                justify=tk.LEFT,
                wraplength=WRAP,
            ).pack(anchor=tk.W, fill=tk.X, pady=(8, 1))
        _certificate_row(frame, variable, key, section, key in disabled, view.text.lang, fonts)


def _certificate_row(
    frame: ttk.Frame,
    variable: tk.StringVar,
    key: str,
    section: Section,
    off: bool,
    lang: str,
    fonts: Fonts,
) -> None:
    """A certificate's radio button, two short lines about it, and why it cannot be chosen."""
    background = "#f0f0f0" if off else "#fafafa"
    row = tk.Frame(
        frame, background=background, highlightbackground="#d0d0d0", highlightthickness=1
    )
    row.pack(fill=tk.X, pady=3, padx=(14, 0))
    tk.Radiobutton(
        row,
        variable=variable,
        value=key,
        text=section.title,
        font=fonts.bold,
        state=tk.DISABLED if off else tk.NORMAL,
        background=background,
        activebackground=background,
        highlightthickness=0,
        anchor=tk.W,
        justify=tk.LEFT,
        wraplength=WRAP - 60,
    ).pack(anchor=tk.W, padx=6, pady=(4, 0))
    # Two short lines: who, from whom, which key; then when (a long list of tokens must
    # still fit on a laptop screen).
    when = tuple(f for f in section.fields if f.label_vi == "Hiệu lực")
    lines = [
        (
            " · ".join(f"{f.label_in(lang)}: {f.value}" for f in part),
            DANGER if any(f.style == "danger" for f in part) else MUTED,
        )
        for part in (tuple(f for f in section.fields if f not in when), when)
    ]
    if section.subtitle:
        lines.append(("⚠ " + section.subtitle, DANGER))
    for line, colour in lines:
        tk.Label(
            row,
            text=line,
            font=fonts.small,
            foreground=colour,
            background=background,
            wraplength=WRAP - 60,
            justify=tk.LEFT,
        ).pack(anchor=tk.W, padx=32)
    tk.Frame(row, height=4, background=background).pack()


def _buttons(
    parent: ttk.Frame,
    view: DialogView,
    finish: Callable[[Any], None],
    arm_delay_ms: int,
) -> ttk.Label:
    """The buttons, right-aligned (approving ones armed after a delay), and the keys that
    answer: Escape and closing the window cancel, Return confirms. Returns the countdown's
    label, at the bar's left."""
    text = view.text
    bar = ttk.Frame(parent)
    bar.pack(fill=tk.X, pady=(16, 0))
    countdown = ttk.Label(bar, text="", style="Muted.TLabel")
    countdown.pack(side=tk.LEFT)
    cancel_key = next((c.key for c in text.choices if c.role == "cancel"), "cancel")

    def answer(key: str) -> None:
        _answer(view, finish, key, cancel_key)

    for choice in reversed(text.choices):  # packed from the right: first choice ends up leftmost
        button = ttk.Button(
            bar,
            text=choice.label_in(text.lang),
            style="Primary.TButton" if choice.role == "primary" else "TButton",
            command=functools.partial(answer, choice.key),
        )
        button.pack(side=tk.RIGHT, padx=(8, 0))
        view.buttons[choice.key] = button
        if choice.role != "cancel" and arm_delay_ms > 0:
            button.state(["disabled"])
            view.root.after(arm_delay_ms, functools.partial(button.state, ["!disabled"]))

    view.root.bind("<Escape>", lambda _e: answer(cancel_key))
    view.root.protocol("WM_DELETE_WINDOW", lambda: answer(cancel_key))
    if text.kind == "pin" and view.entry is not None:
        view.entry.bind(
            "<Return>", lambda _e: view.buttons["ok"].invoke() if "ok" in view.buttons else None
        )
    for entry in view.secrets.values():
        entry.bind("<Return>", lambda _e: view.buttons["ok"].invoke())
    if text.kind == "certificate":
        view.root.bind("<Return>", lambda _e: view.buttons["choose"].invoke())
    return countdown


def _timer(view: DialogView, countdown: ttk.Label, timeout_seconds: float | None) -> None:
    """ "Closes in m:ss", counted down every second (the prompt's timeout closes the window)."""
    if not timeout_seconds:
        return
    remaining = [int(timeout_seconds)]

    def tick() -> None:
        m, s = divmod(max(remaining[0], 0), 60)
        countdown.configure(text=ui_text("closes_in", view.text.lang, m=m, s=s))
        remaining[0] -= 1
        if remaining[0] >= 0:
            view.root.after(1000, tick)

    tick()


def _answer(view: DialogView, finish: Callable[[Any], None], key: str, cancel_key: str) -> None:
    """What a button press answers: the PIN, the chosen certificate, the remote PIN/OTP
    fields, or the button's key."""
    text = view.text
    if text.kind == "pin":
        if key == "ok":
            assert view.entry is not None
            pin = view.entry.get()
            hint = pin_too_short(pin, text)
            if hint:  # a short PIN would only cost one of the token's tries
                view.caps_label.configure(text=hint, style="Danger.TLabel")  # type: ignore[union-attr]
                return
            view.entry.delete(0, tk.END)
            finish(pin)
        else:
            finish(None)
    elif text.kind == "certificate":
        finish(view.cert_var.get() if key != cancel_key and view.cert_var else None)
    elif text.secret_fields:
        if key != "ok":
            finish(None)
            return
        values = {k: e.get() for k, e in view.secrets.items()}
        if not all(values.values()):  # every field is needed: say so, do not send half
            view.caps_label.configure(  # type: ignore[union-attr]
                text=ui_text("fill_every_field", text.lang), style="Danger.TLabel"
            )
            return
        for entry in view.secrets.values():
            entry.delete(0, tk.END)
        finish(values)
    else:
        finish(key)


def _place(root: tk.Tk) -> None:
    """Centre on the screen, stay on top, take the keyboard focus."""
    root.update_idletasks()
    width, height = root.winfo_reqwidth(), root.winfo_reqheight()
    x = max((root.winfo_screenwidth() - width) // 2, 0)
    y = max((root.winfo_screenheight() - height) // 3, 0)
    root.geometry(f"+{x}+{y}")
    root.attributes("-topmost", True)
    root.lift()
    root.focus_force()
