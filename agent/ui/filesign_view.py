"""The windows of "Ký tệp hồ sơ…": choose files, choose where the signed files go (and whether
to remove the unsigned ones), watch the progress, see the result and open the folder.

Plain tkinter on the process's main thread (the file-signing program is its own process, so it
never shares a Tk with the agent's dialogs). Every window has a fixed title per language, so
tests and screen readers find it; Return presses the default button and Escape cancels.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
import tkinter as tk
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Any

from agent.ui.filesign import PROFILE_TEXT, FilePlan
from agent.ui.untrusted import render_untrusted, render_untrusted_middle

T: dict[str, tuple[str, str]] = {
    "choose_title": ("Chọn file để ký", "Choose files to sign"),
    "types": ("Hồ sơ XML hoặc PDF", "XML or PDF dossiers"),
    "options_title": ("Kyso — Ký tệp hồ sơ", "Kyso — Sign dossier files"),
    "files": ("Các tệp sẽ được ký:", "Files to sign:"),
    "cannot": ("không ký được", "cannot be signed"),
    "where": ("Lưu tệp đã ký:", "Save the signed files:"),
    "beside": ("Cạnh tệp gốc (tên_signed.xml)", "Beside the originals (name_signed.xml)"),
    "folder": ("Vào thư mục:", "In this folder:"),
    "pick": ("Chọn thư mục…", "Choose folder…"),
    "remove": (
        "Xóa tệp chưa ký sau khi tệp đã ký được lưu và kiểm tra lại",
        "Remove the unsigned files once the signed copies are saved and checked",
    ),
    "sign": ("Ký", "Sign"),
    "cancel": ("Hủy", "Cancel"),
    "progress_title": ("Kyso — Đang ký", "Kyso — Signing"),
    "progress": ("Đang ký {done}/{total}: {name}", "Signing {done}/{total}: {name}"),
    "waiting": ("Đang chờ xác nhận và mã PIN…", "Waiting for your consent and PIN…"),
    "result_title": ("Kyso — Kết quả ký", "Kyso — Signing result"),
    "summary": ("Đã ký {ok} tệp, lỗi {failed} tệp.", "{ok} file(s) signed, {failed} failed."),
    "removed": ("đã xóa bản chưa ký", "unsigned file removed"),
    "kept": ("bản chưa ký vẫn còn", "the unsigned file is still there"),
    "open": ("Mở thư mục", "Open folder"),
    "close": ("Đóng", "Close"),
}


# Tk's own file dialogs (Linux; Windows and macOS show the system's, already in the user's
# language) take their words from msgcat, and Tk ships no Vietnamese: these are the words of
# tk8.6's tkfbox.tcl, choosedir.tcl and the message box they raise.
TK_DIALOG_VI: dict[str, str] = {
    "&Directory:": "&Thư mục:",
    "File &name:": "&Tên tệp:",
    "File &names:": "&Tên các tệp:",
    "Files of &type:": "&Loại tệp:",
    "&Open": "&Mở",
    "Open": "Mở",
    "&Save": "&Lưu",
    "Save As": "Lưu thành",
    "&Cancel": "&Hủy",
    "&OK": "&Đồng ý",
    "&Selection:": "Thư mục đã &chọn:",
    "Choose Directory": "Chọn thư mục",
    "Show &Hidden Directories": "Hiện thư mục &ẩn",
    "Show &Hidden Files and Directories": "Hiện tệp và thư mục &ẩn",
    'File "%1$s"  does not exist.': 'Không có tệp "%1$s".',
    'Directory "%1$s" does not exist.': 'Không có thư mục "%1$s".',
    'Cannot change to the directory "%1$s".\nPermission denied.': (
        'Không mở được thư mục "%1$s".\nKhông có quyền truy cập.'
    ),
    'Invalid file name "%1$s".': 'Tên tệp không hợp lệ: "%1$s".',
}


def tk_dialogs_in(root: tk.Misc, lang: str) -> None:
    """Tk's file and folder dialogs in ``lang`` (Vietnamese needs our words; English is Tk's)."""
    if lang != "vi":
        return
    root.tk.call("package", "require", "msgcat")
    root.tk.call("::msgcat::mclocale", "vi")
    for english, vietnamese in TK_DIALOG_VI.items():
        # Set in ::tk, where Tk's dialogs look their words up (a Tcl list: quoting is exact).
        root.tk.call("namespace", "eval", "::tk", ("::msgcat::mcset", "vi", english, vietnamese))


def t(key: str, lang: str, **values: object) -> str:
    """One text in ``lang`` (vi unless "en")."""
    vi, en = T[key]
    return (en if lang == "en" else vi).format(**values)


def ask_files(root: tk.Tk, lang: str) -> list[Path]:
    """The native "open files" dialog, several files at once; [] when cancelled."""
    tk_dialogs_in(root, lang)
    names = filedialog.askopenfilenames(
        parent=root,
        title=t("choose_title", lang),
        filetypes=[(t("types", lang), "*.xml *.XML *.pdf *.PDF"), ("*", "*")],
    )
    return [Path(n) for n in names or ()]


@dataclass
class Options:
    """What the user chose in the options window."""

    confirmed: bool = False
    out_dir: Path | None = None
    remove_unsigned: bool = False


def ask_options(root: tk.Tk, plans: list[FilePlan], lang: str) -> Options:
    """The files, where to save, and the visible "remove unsigned" choice (off by default)."""
    win = tk.Toplevel(root)
    win.title(t("options_title", lang))
    choice = Options()
    frame = ttk.Frame(win, padding=12)
    frame.pack(fill="both", expand=True)
    ttk.Label(frame, text=t("files", lang), font=("TkDefaultFont", 10, "bold")).pack(anchor="w")
    for plan in plans:
        name = render_untrusted_middle(plan.source.name, 60)  # the end tells files apart
        if plan.problem is None:
            kind = PROFILE_TEXT.get(plan.profile, plan.profile).split(" / ")
            line = f"  ✓ {name} — {kind[-1] if lang == 'en' else kind[0]}"
        else:
            why = plan.problem.message_en if lang == "en" else plan.problem.message_vi
            line = f"  ✗ {name} — {t('cannot', lang)}: {why}"
        # Long enough for a problem's whole sentence; wrapped, not cut.
        ttk.Label(frame, text=render_untrusted(line, 600), wraplength=640).pack(anchor="w")
    ttk.Separator(frame).pack(fill="x", pady=8)
    ttk.Label(frame, text=t("where", lang)).pack(anchor="w")
    where = tk.StringVar(win, "beside")
    folder = tk.StringVar(win, "")
    ttk.Radiobutton(frame, text=t("beside", lang), variable=where, value="beside").pack(anchor="w")
    row = ttk.Frame(frame)
    row.pack(anchor="w", fill="x")
    ttk.Radiobutton(row, text=t("folder", lang), variable=where, value="folder").pack(side="left")
    ttk.Label(row, textvariable=folder).pack(side="left", padx=4)

    def pick() -> None:
        tk_dialogs_in(root, lang)
        chosen = filedialog.askdirectory(parent=win, title=t("pick", lang))
        if chosen:
            folder.set(chosen)
            where.set("folder")

    ttk.Button(row, text=t("pick", lang), command=pick).pack(side="left")
    remove = tk.BooleanVar(win, False)
    ttk.Checkbutton(frame, text=t("remove", lang), variable=remove).pack(anchor="w", pady=(8, 0))
    buttons = ttk.Frame(frame)
    buttons.pack(anchor="e", pady=(12, 0))

    def sign(_event: Any = None) -> None:
        choice.confirmed = True
        choice.remove_unsigned = bool(remove.get())
        if where.get() == "folder" and folder.get():
            choice.out_dir = Path(folder.get())
        win.destroy()

    def cancel(_event: Any = None) -> None:
        win.destroy()

    signable = any(p.problem is None for p in plans)
    ok = ttk.Button(buttons, text=t("sign", lang), command=sign)
    ok.pack(side="left", padx=4)
    if not signable:
        ok.state(["disabled"])
    ttk.Button(buttons, text=t("cancel", lang), command=cancel).pack(side="left")
    if signable:
        win.bind("<Return>", sign)
    win.bind("<Escape>", cancel)
    win.protocol("WM_DELETE_WINDOW", cancel)
    _focus(win)
    root.wait_window(win)
    return choice


def _focus(win: tk.Toplevel) -> None:
    win.lift()
    win.attributes("-topmost", True)  # above the browser or Explorer that started it
    win.after(300, lambda: win.attributes("-topmost", False))
    win.focus_force()


def run_with_progress(
    root: tk.Tk,
    lang: str,
    work: Callable[[queue.Queue[tuple[int, int, str]], threading.Event], Any],
) -> Any:
    """Run ``work`` in a thread with a progress window; its result (or exception) returned.
    ``work`` gets the progress queue and an event set when the process is asked to stop
    (SIGTERM at logout, SIGHUP, Ctrl-C): it ends after the file it is on, and the result window
    still says what was done. While the window is up those signals only set the event: an
    exception raised in Tk's callbacks would be swallowed by tkinter, and the window left
    waiting for a poll that never comes."""
    win = tk.Toplevel(root)
    win.title(t("progress_title", lang))
    frame = ttk.Frame(win, padding=16)
    frame.pack(fill="both", expand=True)
    label = ttk.Label(frame, text=t("waiting", lang), width=70)
    label.pack(anchor="w")
    bar = ttk.Progressbar(frame, length=420, mode="determinate")
    bar.pack(pady=8)
    events: queue.Queue[tuple[int, int, str]] = queue.Queue()
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = work(events, stop)
        except BaseException as exc:  # handed to the caller on the main thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="kyso-filesign", daemon=True)
    thread.start()

    def poll() -> None:
        try:
            while not events.empty():
                done, total, name = events.get_nowait()
                label.configure(
                    text=t(
                        "progress",
                        lang,
                        done=done,
                        total=total,
                        name=render_untrusted_middle(name, 50),
                    )
                )
                bar.configure(maximum=max(total, 1), value=done)
        finally:
            # Whatever happened above, the window goes on polling or closes: never left
            # waiting for a poll that will not come (the process would hang on it).
            if thread.is_alive():
                win.after(100, poll)
            else:
                win.destroy()

    win.protocol("WM_DELETE_WINDOW", lambda: None)  # the signature is not stopped half-way
    win.after(100, poll)
    with _stop_signals_set(stop):
        root.wait_window(win)
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


@contextlib.contextmanager
def _stop_signals_set(stop: threading.Event) -> Iterator[None]:
    """SIGTERM, SIGHUP and SIGINT set ``stop`` for the block (main thread only), then the
    handlers from before are back."""
    names = ("SIGTERM", "SIGHUP", "SIGINT")
    numbers = [getattr(signal, n) for n in names if hasattr(signal, n)]
    previous: dict[int, Any] = {}
    try:
        for number in numbers:
            if signal.getsignal(number) is not signal.SIG_IGN:  # nohup: stays ignored
                previous[number] = signal.signal(number, lambda *_: stop.set())
    except ValueError:  # not the main thread: nothing to install
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def show_result(
    root: tk.Tk,
    lang: str,
    results: list[dict[str, Any]],
    folder: Path | None,
    open_folder: Callable[[Path], None],
) -> None:
    """Each file's outcome, and "Mở thư mục" for the signed files' folder."""
    win = tk.Toplevel(root)
    win.title(t("result_title", lang))
    frame = ttk.Frame(win, padding=12)
    frame.pack(fill="both", expand=True)
    failed = [r for r in results if not r.get("ok")]
    ttk.Label(
        frame,
        text=t("summary", lang, ok=len(results) - len(failed), failed=len(failed)),
        font=("TkDefaultFont", 10, "bold"),
    ).pack(anchor="w")
    for r in results:
        # Names lose their middle, never their end (thang10 / thang11: red team 41).
        name = render_untrusted_middle(Path(str(r.get("file", ""))).name, 60)
        if r.get("ok"):
            line = f"✓ {name} → {render_untrusted_middle(Path(str(r['output'])).name, 60)}"
            if r.get("removed_unsigned"):
                line += f" ({t('removed', lang)})"
            kept = r.get("original_kept")
            if isinstance(kept, dict):  # removal asked for and not done: say so, and why
                line += f" ⚠ {t('kept', lang)}: {kept.get('en' if lang == 'en' else 'vi', '')}"
        else:
            e = r.get("error", {})
            message = e.get("message_en" if lang == "en" else "message_vi", "")
            action = e.get("action_en" if lang == "en" else "action_vi", "")
            line = f"✗ {name}: [{e.get('code', '?')}] {message} → {action}"
        # The error's "what to do" and a kept original's reason are whole (wrapped, not cut).
        ttk.Label(frame, text=render_untrusted(line, 600), wraplength=640).pack(anchor="w")
    buttons = ttk.Frame(frame)
    buttons.pack(anchor="e", pady=(12, 0))
    if folder is not None:
        ttk.Button(buttons, text=t("open", lang), command=lambda: open_folder(folder)).pack(
            side="left", padx=4
        )
    close = ttk.Button(buttons, text=t("close", lang), command=win.destroy)
    close.pack(side="left")
    win.bind("<Return>", lambda _e: win.destroy())
    win.bind("<Escape>", lambda _e: win.destroy())
    _focus(win)
    root.wait_window(win)
