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

from agent.ui.dialog_fields import MUTED, pin_field, secret_fields
from agent.ui.text import PromptText, Section, pin_too_short

DANGER = "#b71c1c"
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
    """Create the widgets of ``text`` in ``root``; buttons call ``finish(key or value)``."""
    family, mono = _family(root, FONT_FAMILIES), _family(root, MONO_FAMILIES)
    f_question = tkfont.Font(root, family=family, size=13, weight="bold")
    f_en = tkfont.Font(root, family=family, size=10)
    f_origin = tkfont.Font(root, family=family, size=13, weight="bold")
    f_body = tkfont.Font(root, family=family, size=10)
    f_bold = tkfont.Font(root, family=family, size=10, weight="bold")
    f_small = tkfont.Font(root, family=family, size=9)
    f_mono = tkfont.Font(root, family=mono, size=9)
    f_pin = tkfont.Font(root, family=mono, size=16)

    root.title(text.title)
    root.configure(background="#ffffff")
    root.resizable(False, text.kind in ("consent", "certificate"))
    style = ttk.Style(root)
    style.theme_use("clam" if "clam" in style.theme_names() else style.theme_use())
    style.configure(".", background="#ffffff", font=f_body)
    style.configure("TButton", padding=(14, 6))
    style.configure("Primary.TButton", foreground="#ffffff", background=PRIMARY, font=f_bold)
    style.map("Primary.TButton", background=[("disabled", "#e6a3a3"), ("active", "#a61e1e")])
    style.configure("Muted.TLabel", foreground=MUTED, font=f_small)
    style.configure("Danger.TLabel", foreground=DANGER, font=f_bold)
    style.configure("Warning.TLabel", foreground=WARNING, font=f_bold)
    style.configure("TRadiobutton", background="#ffffff")

    view = DialogView(root, text)
    outer = ttk.Frame(root, padding=(20, 18, 20, 14))
    outer.pack(fill=tk.BOTH, expand=True)

    # Header: icon + question (vi, then en).
    header = ttk.Frame(outer)
    header.pack(fill=tk.X)
    if icon is not None:
        tk.Label(header, image=icon, background="#ffffff").pack(
            side=tk.LEFT, anchor=tk.N, padx=(0, 14)
        )
        root.iconphoto(True, icon)
    questions = ttk.Frame(header)
    questions.pack(side=tk.LEFT, fill=tk.X, expand=True)
    ttk.Label(questions, text=text.question_vi, font=f_question, wraplength=WRAP).pack(anchor=tk.W)
    ttk.Label(questions, text=text.question_en, font=f_en, foreground=MUTED, wraplength=WRAP).pack(
        anchor=tk.W, pady=(2, 0)
    )

    if text.origin:
        box = tk.Frame(
            outer, background=ORIGIN_BG, highlightbackground=ORIGIN_BORDER, highlightthickness=1
        )
        box.pack(fill=tk.X, pady=(14, 4))
        tk.Label(
            box,
            text="Trang web yêu cầu · Requesting website",
            font=f_small,
            foreground=MUTED,
            background=ORIGIN_BG,
        ).pack(anchor=tk.W, padx=10, pady=(6, 0))
        view.origin_label = tk.Label(
            box,
            text=text.origin,
            font=f_origin,
            background=ORIGIN_BG,
            foreground="#1a1a1a",
            wraplength=WRAP,
            justify=tk.LEFT,
        )
        view.origin_label.pack(anchor=tk.W, padx=10, pady=(0, 6))

    if text.summary_vi:
        ttk.Label(outer, text=text.summary_vi, font=f_bold, wraplength=WRAP).pack(
            anchor=tk.W, pady=(8, 0)
        )
        ttk.Label(outer, text=text.summary_en, style="Muted.TLabel", wraplength=WRAP).pack(
            anchor=tk.W
        )

    for warning in text.warnings:
        style_name = "Danger.TLabel" if warning.severity == "danger" else "Warning.TLabel"
        ttk.Label(outer, text=f"⚠ {warning.vi}", style=style_name, wraplength=WRAP).pack(
            anchor=tk.W, pady=(8, 0)
        )
        ttk.Label(
            outer,
            text=warning.en,
            foreground=DANGER if warning.severity == "danger" else WARNING,
            font=f_small,
            wraplength=WRAP,
        ).pack(anchor=tk.W)

    if text.kind == "certificate":
        _certificate_list(
            outer,
            view,
            text,
            certificate_keys,
            disabled_certificates,
            selected_certificate,
            (f_bold, f_small),
        )
    elif text.sections:
        view.details = _details(
            outer, text.sections, f_body, f_bold, f_small, f_mono, kind=text.kind
        )

    if text.kind == "pin" and any(c.key == "ok" for c in text.choices):
        pin_field(outer, view, f_pin, f_small, text.pin_length[1])
    if text.secret_fields:
        secret_fields(outer, view, text, f_pin, f_small)

    if text.note_vi:
        ttk.Label(outer, text=text.note_vi, wraplength=WRAP, font=f_small).pack(
            anchor=tk.W, pady=(10, 0)
        )
    if text.note_en:
        ttk.Label(outer, text=text.note_en, wraplength=WRAP, style="Muted.TLabel").pack(anchor=tk.W)

    _buttons(outer, view, text, finish, arm_delay_ms, timeout_seconds, f_small)
    _place(root)
    _focus(view, text)
    if on_built is not None:
        on_built(view)
    return view


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


def _details(
    parent: ttk.Frame,
    sections: tuple[Section, ...],
    f_body: tkfont.Font,
    f_bold: tkfont.Font,
    f_small: tkfont.Font,
    f_mono: tkfont.Font,
    *,
    kind: str,
) -> tk.Text:
    """Sections as read-only, scrollable rich text with aligned labels."""
    frame = ttk.Frame(parent)
    frame.pack(fill=tk.BOTH, expand=True, pady=(12, 0))
    tab = 190
    widget = tk.Text(
        frame,
        wrap=tk.WORD,
        width=1,
        height=1,
        borderwidth=0,
        relief=tk.FLAT,
        highlightthickness=0 if kind == "pin" else 1,
        highlightbackground="#d0d0d0",
        highlightcolor="#d0d0d0",
        background="#ffffff" if kind == "pin" else "#fafafa",
        padx=10,
        pady=8,
        font=f_body,
        tabs=(tab,),
        cursor="arrow",
    )
    widget.tag_configure("title", font=f_bold, spacing1=6, spacing3=2)
    widget.tag_configure("subtitle", foreground=DANGER, font=f_small)
    widget.tag_configure("label", foreground=MUTED, font=f_small, lmargin2=tab)
    widget.tag_configure("value", lmargin2=tab)
    widget.tag_configure("bold", font=f_bold, lmargin2=tab)
    widget.tag_configure("mono", font=f_mono, lmargin2=tab)
    widget.tag_configure("danger", foreground=DANGER, font=f_bold, lmargin2=tab)
    widget.tag_configure("listitem", lmargin1=8, lmargin2=30)
    lines = 0
    for i, section in enumerate(sections):
        if section.title:
            widget.insert(tk.END, ("\n" if i else "") + section.title + "\n", "title")
            lines += 2
        if section.subtitle:
            widget.insert(tk.END, section.subtitle + "\n", "subtitle")
            lines += 1
        for f in section.fields:
            if f.label_vi.endswith(".") and f.label_vi[:-1].isdigit():
                # A numbered list line (batch overview): no label column.
                widget.insert(tk.END, f"{f.label_vi} {f.value}\n", "listitem")
                lines += 1 + len(f.value) // 70
                continue
            widget.insert(tk.END, f.label, "label")
            widget.insert(
                tk.END, "\t" + f.value + "\n", f.style if f.style != "normal" else "value"
            )
            lines += 1 + len(f.value) // 60
    widget.configure(state=tk.DISABLED, width=72, height=min(max(lines, 3), 16))
    if lines > 16:
        bar = ttk.Scrollbar(frame, orient=tk.VERTICAL, command=widget.yview)
        widget.configure(yscrollcommand=bar.set)
        bar.pack(side=tk.RIGHT, fill=tk.Y)
    widget.pack(side=tk.LEFT, fill=tk.BOTH, expand=True)
    return widget


def _certificate_list(
    parent: ttk.Frame,
    view: DialogView,
    text: PromptText,
    keys: tuple[str, ...],
    disabled: frozenset[str],
    selected: str,
    fonts: tuple[tkfont.Font, tkfont.Font],
) -> None:
    """One radio button per certificate under its token's heading; unusable ones shown, with
    the reason, but not selectable."""
    f_bold, f_small = fonts
    frame = ttk.Frame(parent)
    frame.pack(fill=tk.BOTH, expand=True, pady=(6, 0))
    usable = [k for k in keys if k not in disabled]
    first = selected if selected in usable else (usable[0] if usable else "")
    view.cert_var = tk.StringVar(parent, value=first)
    group = None
    for key, section in zip(keys, text.sections, strict=True):
        if section.group and section.group != group:
            group = section.group
            tk.Label(
                frame,
                text=section.group,
                font=f_bold,
                foreground="#1a1a1a",
                background="#ffffff",
                anchor=tk.W,
                justify=tk.LEFT,
                wraplength=WRAP,
            ).pack(anchor=tk.W, fill=tk.X, pady=(8, 1))
        off = key in disabled
        background = "#f0f0f0" if off else "#fafafa"
        row = tk.Frame(
            frame, background=background, highlightbackground="#d0d0d0", highlightthickness=1
        )
        row.pack(fill=tk.X, pady=3, padx=(14, 0))
        tk.Radiobutton(
            row,
            variable=view.cert_var,
            value=key,
            text=section.title,
            font=f_bold,
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
        for part in (tuple(f for f in section.fields if f not in when), when):
            tk.Label(
                row,
                text=" · ".join(f"{f.label_vi}: {f.value}" for f in part),
                font=f_small,
                foreground=DANGER if any(f.style == "danger" for f in part) else MUTED,
                background=background,
                wraplength=WRAP - 60,
                justify=tk.LEFT,
            ).pack(anchor=tk.W, padx=32)
        if section.subtitle:
            tk.Label(
                row,
                text="⚠ " + section.subtitle,
                font=f_small,
                foreground=DANGER,
                background=background,
                wraplength=WRAP - 60,
                justify=tk.LEFT,
            ).pack(anchor=tk.W, padx=32)
        tk.Frame(row, height=4, background=background).pack()


def _buttons(
    parent: ttk.Frame,
    view: DialogView,
    text: PromptText,
    finish: Callable[[Any], None],
    arm_delay_ms: int,
    timeout_seconds: float | None,
    f_small: tkfont.Font,
) -> None:
    bar = ttk.Frame(parent)
    bar.pack(fill=tk.X, pady=(16, 0))
    countdown = ttk.Label(bar, text="", style="Muted.TLabel")
    countdown.pack(side=tk.LEFT)
    cancel_key = next((c.key for c in text.choices if c.role == "cancel"), "cancel")

    def answer(key: str) -> None:
        _answer(view, text, finish, key, cancel_key)

    for choice in reversed(text.choices):  # packed from the right: first choice ends up leftmost
        button = ttk.Button(
            bar,
            text=choice.label,
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

    if timeout_seconds:
        remaining = [int(timeout_seconds)]

        def tick() -> None:
            m, s = divmod(max(remaining[0], 0), 60)
            countdown.configure(text=f"Tự đóng sau {m}:{s:02d} · Closes in {m}:{s:02d}")
            remaining[0] -= 1
            if remaining[0] >= 0:
                view.root.after(1000, tick)

        tick()


def _answer(
    view: DialogView, text: PromptText, finish: Callable[[Any], None], key: str, cancel_key: str
) -> None:
    """What a button press answers: the PIN, the chosen certificate, the remote PIN/OTP
    fields, or the button's key."""
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
                text="Hãy điền đủ các ô · Fill in every field", style="Danger.TLabel"
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
