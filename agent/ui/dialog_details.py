"""The details box of a dialog: the prompt's sections as read-only, scrollable rich text with
aligned labels, and a PDF item's page preview (where the visible signature goes). Built by
:mod:`agent.ui.dialog_view` on the UI thread. Page text arrives here already rendered inert."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk
from typing import TYPE_CHECKING

from agent.ui.dialog_fields import DANGER, MUTED
from agent.ui.preview_image import SHOWN_WIDTH, preview_photo
from agent.ui.text import Section, ui_text

if TYPE_CHECKING:  # dialog_view imports this module
    from agent.ui.dialog_view import DialogView, Fonts


def details_box(parent: ttk.Frame, view: DialogView, fonts: Fonts) -> tk.Text:
    """Sections as read-only, scrollable rich text with aligned labels, and page previews.

    One preview (a PDF consent) stands beside the text, where it is seen without scrolling;
    several (a batch of PDFs) go under their own items."""
    text = view.text
    frame = ttk.Frame(parent)
    frame.pack(fill=tk.BOTH, expand=True, pady=(12, 0))
    with_preview = [s for s in text.sections if s.preview_png is not None]
    beside = (
        _preview(frame, view, with_preview[0].preview_png, fonts, "#ffffff")
        if len(with_preview) == 1
        else None
    )
    if beside is not None:
        beside.pack(side=tk.RIGHT, anchor=tk.N, padx=(12, 0))
    plain = text.kind in ("pin", "pin_pad")  # a few lines about the token: no box around them
    widget = tk.Text(
        frame,
        wrap=tk.WORD,
        width=1,
        height=1,
        borderwidth=0,
        relief=tk.FLAT,
        highlightthickness=0 if plain else 1,
        highlightbackground="#d0d0d0",
        highlightcolor="#d0d0d0",
        background="#ffffff" if plain else "#fafafa",
        padx=10,
        pady=8,
        font=fonts.body,
        tabs=(TAB,),
        cursor="arrow",
    )
    _detail_tags(widget, fonts)
    lines = sum(
        _insert_section(widget, view, i, section, inline_previews=len(with_preview) > 1)
        for i, section in enumerate(text.sections)
    )
    width = 56 if beside is not None else 72
    widget.configure(state=tk.DISABLED, width=width, height=min(max(lines, 3), DETAIL_LINES))
    if lines > DETAIL_LINES:
        bar = ttk.Scrollbar(frame, orient=tk.VERTICAL, command=widget.yview)
        widget.configure(yscrollcommand=bar.set)
        bar.pack(side=tk.RIGHT, fill=tk.Y)
    widget.pack(side=tk.LEFT, fill=tk.BOTH, expand=True)
    return widget


TAB = 190  # pixels: where values start, after their labels
DETAIL_LINES = 16  # the details box's height at most; a scrollbar beyond
PREVIEW_LINES = 11  # text lines a page preview takes (180 px and its caption)


def _detail_tags(widget: tk.Text, fonts: Fonts) -> None:
    widget.tag_configure("title", font=fonts.bold, spacing1=6, spacing3=2)
    widget.tag_configure("subtitle", foreground=DANGER, font=fonts.small)
    widget.tag_configure("label", foreground=MUTED, font=fonts.small, lmargin2=TAB)
    widget.tag_configure("value", lmargin2=TAB)
    widget.tag_configure("bold", font=fonts.bold, lmargin2=TAB)
    widget.tag_configure("mono", font=fonts.mono, lmargin2=TAB)
    widget.tag_configure("danger", foreground=DANGER, font=fonts.bold, lmargin2=TAB)
    widget.tag_configure("listitem", lmargin1=8, lmargin2=30)
    widget.tag_configure("preview", lmargin1=TAB, spacing1=4, spacing3=4)
    widget.kyso_fonts = fonts  # type: ignore[attr-defined]  # the preview caption's font


def _insert_section(
    widget: tk.Text, view: DialogView, index: int, section: Section, *, inline_previews: bool
) -> int:
    """One section's title, subtitle, fields (and page preview); returns the lines it takes."""
    text = view.text
    fonts: Fonts = widget.kyso_fonts  # type: ignore[attr-defined]
    lines = 0
    if section.title:
        widget.insert(tk.END, ("\n" if index else "") + section.title + "\n", "title")
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
        label = f.label_in(text.lang)
        widget.insert(tk.END, label, "label")
        if fonts.small.measure(label) > TAB - 24:  # would push the value out of its column
            widget.insert(tk.END, "\n")
            lines += 1
        widget.insert(tk.END, "\t" + f.value + "\n", f.style if f.style != "normal" else "value")
        lines += 1 + len(f.value) // 60
    if inline_previews and section.preview_png is not None:
        box = _preview(widget, view, section.preview_png, fonts, widget.cget("background"))
        if box is not None:
            widget.window_create(tk.END, window=box)
            widget.insert(tk.END, "\n")
            widget.tag_add("preview", "end-2l linestart", "end-1c")
            lines += PREVIEW_LINES
    return lines


def _preview(
    master: tk.Misc, view: DialogView, png: bytes | None, fonts: Fonts, background: str
) -> tk.Frame | None:
    """The page preview with its caption (None when the PNG is not a small, sound picture)."""
    photo = preview_photo(master, png)
    if photo is None:
        return None
    box = tk.Frame(master, background=background)
    # A thin grey frame, so a white page stands out from the white window.
    picture = tk.Label(box, image=photo, borderwidth=1, relief=tk.SOLID, background="#ffffff")
    picture.pack(anchor=tk.W)
    picture.kyso_photo = photo  # type: ignore[attr-defined]  # the image lives with its label
    tk.Label(
        box,
        text=ui_text("preview_caption", view.text.lang),
        font=fonts.small,
        foreground=MUTED,
        background=background,
        wraplength=SHOWN_WIDTH,
        justify=tk.LEFT,
    ).pack(anchor=tk.W)
    view.previews.append(picture)
    return box
