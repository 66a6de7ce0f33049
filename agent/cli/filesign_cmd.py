"""``kyso-agent sign-files``: the desktop file signer for people who never open a terminal.

Started by the tray ("Ký tệp hồ sơ…"), Explorer's "Ký số bằng Kyso" and the Linux desktop
action. Windows: choose files (several at once), see each file's detected profile, choose where
the signed files go and whether to remove the unsigned ones, one consent listing every file and
the PIN (through the same Prompter as the agent's), progress, then the result with "Mở thư mục".

The signing is ``sign-xml``'s own: :func:`agent.cli.xml_cmd.sign_batch` per file, with the same
no-loss rules and audit records; this module only plans and asks. Also here: the tray's hooks
(:func:`desktop_hooks`), which start these programs as their own processes so a file dialog
never blocks the agent.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.cli.output import internal_error
from agent.errors import KysoError

if TYPE_CHECKING:
    from agent.config.settings import Settings
    from agent.files import StagedFile
    from agent.tokens.model import TokenCertificate
    from agent.ui.api import Prompter
    from agent.ui.filesign import FilePlan
    from agent.ui.filesign_view import Options

log = logging.getLogger(__name__)

HELP = """\
Ký tệp hồ sơ bằng cửa sổ, không cần dòng lệnh / sign dossier files with windows, no terminal.

  kyso-agent sign-files                      choose the files in a dialog
  kyso-agent sign-files a.xml b.xml          these files (Explorer / file manager "Sign with Kyso")

The profile (BHXH, tax, generic XML) comes from each file. Signed files are saved beside the
originals (name_signed.xml) or in a chosen folder, never over an existing file.
"""

# After these the key session is gone: the remaining files cannot be signed either.
_STOPS = ("TOKEN_REMOVED", "PIN_INCORRECT", "PIN_LOCKED", "USER_CANCELLED")


def register(sub: Any) -> None:
    """Add ``sign-files`` and ``journal``."""
    p = sub.add_parser(
        "sign-files",
        help="sign dossier files with windows (no terminal needed)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="*", metavar="FILE", type=Path)
    p.add_argument("--language", choices=("vi", "en"), default=None, help="window language")
    p.add_argument(
        "--prompter",
        metavar="KIND",
        type=_prompter_arg,
        help="dialog (default) | scripted:FILE",
    )
    p.add_argument(
        "--module", action="append", default=[], metavar="PATH", help="extra PKCS#11 module"
    )
    p.set_defaults(func=run_sign_files)
    j = sub.add_parser("journal", help="show the recent signatures in a window")
    j.add_argument("--language", choices=("vi", "en"), default=None)
    j.set_defaults(func=run_journal)


def _language(args: argparse.Namespace) -> str:
    if args.language:
        return str(args.language)
    from agent.ui.tray_prefs import load_preferences

    return load_preferences().language


def xml_args(plan: FilePlan, options: Options) -> argparse.Namespace:
    """sign-xml's options for one planned file (the profile detected from it)."""
    return argparse.Namespace(
        profile=plan.profile,
        force=False,  # never over an existing file
        remove_unsigned=options.remove_unsigned,
        hash="sha256",
        c14n=None,
        allow_ecdsa=False,
        allow_sha1=False,
        reference=None,
        container=None,
        output=None,
        out_dir=options.out_dir,
        suffix="_signed",
        json=True,  # no terminal progress bar
        consented_sha256=plan.sha256 or None,  # only the bytes the consent showed are signed
    )


async def _certificate(service: Any, prompter: Prompter) -> TokenCertificate:
    """The one usable certificate, or the one the user picks in the agent's picker."""
    from agent.cli.tokens_cmd import revocation_statuses
    from agent.server.certificate_choice import plan_choice
    from agent.server.commands.base import candidate, chosen_copy
    from agent.ui.api import CertificateOption
    from agent.ui.filesign import LOCAL_ORIGIN

    listed = await service.list_certificates()
    shown = [c for c in listed if not c.info.is_ca]
    # As the agent's picker does: a revoked certificate is greyed, never preselected (it would
    # be refused only after the user chose it).
    statuses = await revocation_statuses(listed)
    # Rows keyed by certificate AND token: a backup copy on a second token is its own row.
    plan = plan_choice(
        LOCAL_ORIGIN,
        (candidate(c, s.status if (s := statuses.get(c.thumbprint)) else "") for c in shown),
    )
    if not plan.usable:
        tokens = await service.list_tokens()
        raise KysoError("CERT_NOT_FOUND" if tokens else "TOKEN_NOT_FOUND", {"thumbprint": ""})
    choice = plan.row or await prompter.choose_certificate(plan.choice)
    if not isinstance(choice, CertificateOption):  # cancelled (no sign-in rows offered here)
        raise KysoError("USER_CANCELLED")
    cert: TokenCertificate = chosen_copy(choice, shown)  # type: ignore[assignment]
    return cert


async def sign_plans(
    plans: list[FilePlan],
    options: Options,
    prompter: Prompter,
    *,
    modules: list[str] | tuple[str, ...] = (),
    progress: Any = None,
    stopping: Callable[[], bool] | None = None,
    mst_policy: str = "warn",
) -> list[dict[str, Any]]:
    """Consent once for every file, PIN once, then sign each file with sign-xml's code.

    ``progress`` gets (done, total, file name); once ``stopping()`` is true (the process was
    asked to stop), no further file is signed: each gets USER_CANCELLED, recorded. Files with
    a planning problem are reported with it and never signed. ``mst_policy`` is the settings'
    ``mst_mismatch``: under "refuse" a dossier for another unit than the certificate's is
    refused before the consent, as the agent does."""
    from agent.cli.common import SignatureAudit
    from agent.cli.compose import build_token_service
    from agent.cli.tokens_cmd import check_signing_certificate
    from agent.signing.certstatus import consent_items
    from agent.signing.consent import check_mst
    from agent.signing.signer import TokenSigner
    from agent.signing.xml.profiles import get_profile
    from agent.ui.filesign import consent_request, readable_items, target_for

    results: list[dict[str, Any]] = [
        {"file": str(p.source), "ok": False, "error": p.problem.to_dict()}
        for p in plans
        if p.problem is not None
    ]
    todo = [
        p.__class__(p.source, p.kind, p.profile, target_for(p.source, options.out_dir))
        for p in plans
        if p.problem is None
    ]
    # Two files with one name from two folders into one chosen folder, a name too long for
    # the disk: refused before the certificate and the PIN, as in sign-xml (agent.cli.targets).
    from agent.cli.targets import check_targets

    check_targets([(p.source, p.target) for p in todo])
    for plan in todo:
        if plan.target.exists():
            raise KysoError("SIGNED_COPY_EXISTS", {"path": str(plan.target)})
    if not todo:
        return results
    audit = SignatureAudit("sign-files", "xml")
    with audit.covering([p.source for p in todo]):
        # No signature without its record: refused before the certificate picker, the
        # consent and the PIN (the result window shows AUDIT_UNAVAILABLE for every file).
        audit.require()
        async with build_token_service(list(modules)) as service:
            cert = await _certificate(service, prompter)
            status = await check_signing_certificate(service, cert, allow_invalid=False)
            audit.certificate = cert
            for plan in todo:  # an EC key for a BHXH/tax portal: refused before the PIN
                if plan.kind == "xml":
                    get_profile(plan.profile).check_algorithms(ecdsa=cert.info.key_type == "EC")
            readable, unreadable = readable_items(todo)
            for plan, exc in unreadable:  # gone since it was chosen: its error, not the batch's
                entry = {"file": str(plan.source), "ok": False, "error": exc.to_dict()}
                audit.result(entry)
                results.append(entry)
            if not readable:
                return results
            # Revocation status unknown (offline, responder blocked): every file's consent says
            # so, as the agent's does; the stderr line is lost under the tray.
            items = tuple(item for _, item in readable)
            if status is not None:
                items = consent_items(items, status)
            check_mst(mst_policy, cert.info, items)
            request = consent_request([p for p, _ in readable], cert.info, items)
            if not await prompter.consent(request):
                raise KysoError("USER_CANCELLED")
            # Each file is signed only while it holds the bytes whose SHA-256 was shown.
            todo = [replace(p, sha256=i.sha256) for p, i in readable]
            async with service.open_key(cert, prompter) as key:
                results += await _sign_each(
                    todo, TokenSigner(key), options, audit, progress, stopping
                )
    return results


async def _sign_each(
    todo: list[FilePlan],
    signer: Any,
    options: Options,
    audit: Any,
    progress: Any,
    stopping: Callable[[], bool] | None = None,
) -> list[dict[str, Any]]:
    """Each planned file in turn with one logged-in key; after an error that ends the key
    session (token pulled, PIN refused) the rest are reported with it, not tried. Once a
    record cannot be stored nothing more is signed: the rest get AUDIT_UNAVAILABLE. Once
    ``stopping()`` is true, the rest get USER_CANCELLED (recorded), not tried."""
    from agent.cli.xml_cmd import refuse_unrecorded, sign_batch

    results: list[dict[str, Any]] = []
    for index, plan in enumerate(todo):
        if audit.failed:  # a record failed: the next signature would have none either
            results += refuse_unrecorded([p.source for p in todo[index:]], audit)
            break
        if stopping is not None and stopping():  # logout or shutdown: stop between files
            stopped = KysoError("USER_CANCELLED").to_dict()
            for rest in todo[index:]:
                entry = {"file": str(rest.source), "ok": False, "error": stopped}
                audit.result(entry)
                results.append(entry)
            break
        if progress is not None:
            progress(index, len(todo), plan.source.name)
        if plan.kind == "pdf":
            done = [await _sign_pdf(plan, signer, options, audit)]
        else:
            audit.profile = plan.profile
            done = await sign_batch([plan.source], signer, xml_args(plan, options), audit)
        results += done
        error = done[-1].get("error") or {}
        if error.get("code") in _STOPS:
            for rest in todo[index + 1 :]:
                entry = {"file": str(rest.source), "ok": False, "error": error}
                audit.result(entry)
                results.append(entry)
            break
    if progress is not None:
        progress(len(todo), len(todo), "")
    return results


async def _sign_pdf(plan: FilePlan, signer: Any, options: Options, audit: Any) -> dict[str, Any]:
    """sign-pdf's no-loss path for one file; the outcome recorded like sign-xml's: a signed
    copy's record as soon as it is written (deleted when that record fails), before its
    read-back and the removal of the original."""
    from agent.cli.common import copy_deleted
    from agent.cli.pdf_cmd import sign_pdf_file

    recorded: list[dict[str, Any]] = []

    def written(entry: dict[str, Any], copy: StagedFile) -> None:
        recorded.append(entry)
        if not audit.result(entry):
            raise audit.unrecorded(copy)  # no signature without its record

    audit.profile, audit.kind = None, "pdf"
    try:
        try:
            entry = await sign_pdf_file(
                plan.source,
                plan.target,
                signer,
                remove_unsigned=options.remove_unsigned,
                consented=plan.sha256 or None,
                written=written,
            )
        except KysoError as exc:
            entry = {"file": str(plan.source), "ok": False, "error": exc.to_dict()}
        except Exception as exc:  # a fault not foreseen: this file's INTERNAL_ERROR, as for XML
            log.debug("signing %s failed unexpectedly", plan.source, exc_info=True)
            entry = (
                dict(recorded[0])
                if recorded  # its signed copy is written and recorded: signed
                else {"file": str(plan.source), "ok": False, "error": internal_error(exc).to_dict()}
            )
        # A failure before the copy was written, or a copy deleted because its record was
        # lost (its line taken back): the failure's own record.
        if not recorded or copy_deleted(entry):
            audit.result(entry)
    finally:
        audit.kind = "xml"
    return entry


def _prompter_arg(value: str) -> str:
    from agent.config.settings import prompter_spec

    try:
        return prompter_spec(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _need_screen() -> None:
    """PROMPTER_UNAVAILABLE before any window when there is no screen to show one on (over
    SSH, in a service): the command's whole point is its windows."""
    from agent.ui.dialogs import display_available

    if not display_available():
        raise KysoError(
            "PROMPTER_UNAVAILABLE",
            {
                "prompter": "dialog",
                "detail": "there is no screen here ($DISPLAY / $WAYLAND_DISPLAY); in a "
                "terminal, sign with 'kyso-agent sign-xml', 'sign-pdf' or 'sign-cms'",
            },
        )


def _tk_root() -> Any:
    """A hidden Tk root, or PROMPTER_UNAVAILABLE with Tk's reason (a display that refuses)."""
    import tkinter as tk

    _need_screen()
    try:
        root = tk.Tk()
    except tk.TclError as exc:
        raise KysoError(
            "PROMPTER_UNAVAILABLE", {"prompter": "dialog", "detail": str(exc)}
        ) from None
    root.withdraw()
    return root


def desktop_settings(
    prompter: str | None, modules: list[str] | tuple[str, ...] = ()
) -> tuple[str, list[str], str]:
    """(prompter, PKCS#11 modules, mst_mismatch) for the file signer, from the settings as the
    agent reads them: the managed policy's prompter wins over ``prompter`` (the command line's),
    its modules come before ``modules``, and its ``mst_mismatch`` applies. Without either, the
    dialogs: a prompter config.toml names is the agent's, not this window program's."""
    from agent.config.policy import load_settings

    settings = load_settings({"prompter": prompter} if prompter else {})
    chosen = settings.sources.get("prompter") in ("command line", "policy")
    return (
        settings.prompter if chosen else "dialog",
        [*settings.pkcs11_modules, *modules],
        settings.mst_mismatch,
    )


def run_sign_files(args: argparse.Namespace) -> int:
    """The windows, in order; exit 0 when every chosen file was signed. The settings apply
    as in the agent: the managed policy's prompter, token modules and ``mst_mismatch``."""

    from agent.cli.compose import make_prompter
    from agent.ui import filesign_view as view
    from agent.ui.filesign import plan_files, result_folder
    from agent.ui.tray_control import open_folder

    prompter_spec, modules, mst_policy = desktop_settings(args.prompter, args.module)
    lang = _language(args)
    root = _tk_root()
    prompter: Any = None
    try:
        files = list(args.files) or view.ask_files(root, lang)
        if not files:
            return 1
        plans = plan_files(files)
        options = view.ask_options(root, plans, lang)
        if not options.confirmed:
            return 1
        plans = plan_files(files, options.out_dir)
        prompter = make_prompter(prompter_spec)

        def work(events: Any, stop: Any) -> list[dict[str, Any]]:
            def progress(done: int, total: int, name: str) -> None:
                events.put((done, total, name))

            try:
                return asyncio.run(
                    sign_plans(
                        plans,
                        options,
                        prompter,
                        modules=modules,
                        progress=progress,
                        stopping=stop.is_set,
                        mst_policy=mst_policy,
                    )
                )
            except KysoError as exc:
                return [{"file": str(p.source), "ok": False, "error": exc.to_dict()} for p in plans]
            except Exception as exc:  # a fault not foreseen: the window still says it
                log.exception("signing the chosen files failed")
                error = internal_error(exc).to_dict()
                return [{"file": str(p.source), "ok": False, "error": error} for p in plans]

        results = view.run_with_progress(root, lang, work)
        outputs = [Path(r["output"]) for r in results if r.get("ok")]
        folder = outputs[0].parent if outputs else options.out_dir or result_folder(plans)
        view.show_result(root, lang, results, folder, open_folder)
        return 0 if results and all(r.get("ok") for r in results) else 1
    finally:
        # The dialog prompter's Tk lives on its own thread: ended there, or the interpreter's
        # exit deletes it from this thread and Tcl aborts the process (SIGABRT).
        if prompter is not None and hasattr(prompter, "close"):
            prompter.close()
        root.destroy()


def journal_rows(records: list[dict[str, Any]]) -> list[list[str]]:
    """``kyso-agent audit``'s rows (Vietnam time, site or file, action, outcome, signer,
    SHA-256), newest first: the same formatting, so the window and the terminal agree."""
    from agent.cli.audit_cmd import _row, vietnam_tz

    tz = vietnam_tz()
    return [_row(r, tz) for r in records]


def run_journal(args: argparse.Namespace) -> int:
    """The recent signatures (audit log) in a window, times in Vietnam time."""
    from agent.audit import AuditLog
    from agent.ui.tray_journal import show_journal

    _need_screen()
    records, _skipped = AuditLog().read()
    show_journal(journal_rows(records[:500]), _language(args))
    return 0


def _spawn(*argv: str) -> None:
    """Start ``kyso-agent ARGV`` as its own process (never waited for by the agent)."""
    command = [sys.executable, "-m", "agent.cli", *argv]
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)
    subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        creationflags=flags,
        env=os.environ.copy(),
    )


async def start_tray(agent: Any, on_quit: Any) -> Any:
    """The tray for a running agent with its desktop hooks, or None (headless; never raises:
    an agent without a tray still works)."""
    import logging

    from agent.ui.tray import attach_tray

    try:
        return await attach_tray(agent, on_quit, desktop_hooks(agent))
    except Exception:
        logging.getLogger(__name__).warning("tray unavailable; running headless", exc_info=True)
        return None


def desktop_hooks(agent: Any, settings: Settings | None = None) -> Any:
    """The tray's hooks for a running agent: file signing, the journal, the PIN cache, the
    certificate directory (the tray lists the remote credentials from it)."""
    from agent import __version__
    from agent.ui.tray_control import TrayHooks

    core = _core(agent)
    if settings is None:
        from agent.config.settings import Settings

        settings = core.settings if core is not None else Settings()
    locked = settings.sources.get("pin_cache.enabled") == "policy"

    def set_pin_cache(enabled: bool) -> None:
        if core is not None:
            core.keys.set_pin_cache(enabled)

    return TrayHooks(
        sign_files=lambda lang: _spawn("sign-files", "--language", lang),
        journal=lambda lang: _spawn("journal", "--language", lang),
        set_pin_cache=set_pin_cache if core is not None else None,
        pin_cache=settings.pin_cache.enabled,
        pin_cache_locked=locked,
        version=__version__,
        certificates=core.certs if core is not None else None,
        user_sites=settings.allow_user_origins,
    )


def _core(agent: Any) -> Any:
    from agent.server.app import CORE_KEY

    try:
        return agent.runner.app[CORE_KEY]
    except Exception:
        return None
