""" "Nhật ký ký số": the recent signatures from the audit log, in a window.

The rows come formatted by the composition root (``kyso-agent audit``'s formatting: Vietnam
time, site or file, what was signed, outcome, certificate), so the window and the terminal show
the same thing. Every cell is made inert (file names and origins came from outside).
"""

from __future__ import annotations

from agent.ui.untrusted import render_untrusted

HEADERS = {
    "vi": ("Thời gian (giờ VN)", "Kênh", "Trang web hoặc tệp", "Thao tác", "Kết quả", "Người ký",
           "SHA-256"),
    "en": ("Time (Vietnam)", "Channel", "Site or file", "Action", "Outcome", "Signer", "SHA-256"),
}  # fmt: skip
TITLE = {"vi": "Kyso — Nhật ký ký số", "en": "Kyso — Signing journal"}
EMPTY = {"vi": "Chưa có chữ ký nào.", "en": "No signature yet."}


def journal_cells(rows: list[list[str]]) -> list[tuple[str, ...]]:
    """Rows as inert, bounded cells (pure: tested without a display)."""
    return [tuple(render_untrusted(cell, 80) for cell in row) for row in rows]


def show_journal(rows: list[list[str]], language: str = "vi") -> None:
    """A window with one line per signature, newest first; returns when it is closed."""
    import tkinter as tk
    from tkinter import ttk

    lang = "en" if language == "en" else "vi"
    root = tk.Tk()
    root.title(TITLE[lang])
    frame = ttk.Frame(root, padding=8)
    frame.pack(fill="both", expand=True)
    headers = HEADERS[lang]
    tree = ttk.Treeview(frame, columns=headers, show="headings", height=18)
    widths = (175, 60, 260, 110, 150, 260, 140)  # the time whole: "2026-12-05 15:05:31"
    for name, width in zip(headers, widths, strict=True):
        tree.heading(name, text=name)
        tree.column(name, width=width, anchor="w")
    cells = journal_cells(rows)
    for row in cells:
        tree.insert("", "end", values=row)
    if not cells:
        ttk.Label(frame, text=EMPTY[lang]).pack(anchor="w")
    scroll = ttk.Scrollbar(frame, orient="vertical", command=tree.yview)
    tree.configure(yscrollcommand=scroll.set)
    tree.pack(side="left", fill="both", expand=True)
    scroll.pack(side="right", fill="y")
    root.bind("<Escape>", lambda _e: root.destroy())
    root.mainloop()
