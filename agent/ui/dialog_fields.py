"""The masked entry fields of a dialog: a token's PIN, a remote credential's PIN and OTP.
Built by :mod:`agent.ui.dialog_view` on the UI thread."""

from __future__ import annotations

import tkinter as tk
from tkinter import font as tkfont
from tkinter import ttk
from typing import TYPE_CHECKING

from agent.ui.prompt_model import pick
from agent.ui.text import PromptText, ui_text

if TYPE_CHECKING:  # dialog_view imports this module
    from agent.ui.dialog_view import DialogView

MUTED = "#5f6368"
DANGER = "#b71c1c"


def pin_field(
    parent: ttk.Frame, view: DialogView, f_pin: tkfont.Font, f_small: tkfont.Font, max_length: int
) -> None:
    """The masked PIN entry (no longer than the token accepts), with a hint line under it."""
    frame = ttk.Frame(parent)
    frame.pack(fill=tk.X, pady=(14, 0))
    lang = view.text.lang
    ttk.Label(frame, text=ui_text("pin_label", lang), font=f_small, foreground=MUTED).pack(
        anchor=tk.W
    )
    entry = ttk.Entry(frame, show="•", font=f_pin, width=22)
    if max_length:
        fits = parent.register(lambda proposed: len(proposed) <= max_length)
        entry.configure(validate="key", validatecommand=(fits, "%P"))
    entry.pack(anchor=tk.W, pady=(2, 0))
    view.entry = entry
    view.caps_label = ttk.Label(frame, text="", style="Warning.TLabel")
    view.caps_label.pack(anchor=tk.W)

    def caps(event: tk.Event) -> None:
        on = bool(int(event.state) & 0x2)
        view.caps_label.configure(  # type: ignore[union-attr]
            text=ui_text("caps_lock", lang) if on else "", style="Warning.TLabel"
        )

    entry.bind("<KeyPress>", caps, add="+")
    entry.bind("<KeyRelease>", caps, add="+")


def secret_fields(
    parent: ttk.Frame, view: DialogView, text: PromptText, f_pin: tkfont.Font, f_small: tkfont.Font
) -> None:
    """A remote credential's masked PIN and/or OTP fields, each under its own label."""
    frame = ttk.Frame(parent)
    frame.pack(fill=tk.X, pady=(14, 0))
    for key, label_vi, label_en in text.secret_fields:
        label = pick(label_vi, label_en, text.lang, " · ")
        ttk.Label(frame, text=label, font=f_small, foreground=MUTED).pack(anchor=tk.W, pady=(6, 0))
        entry = ttk.Entry(frame, show="•", font=f_pin, width=22)
        entry.pack(anchor=tk.W, pady=(2, 0))
        view.secrets[key] = entry
    view.caps_label = ttk.Label(frame, text="", style="Warning.TLabel")
    view.caps_label.pack(anchor=tk.W)
