"""``kyso-agent demo`` (what ``./run.sh demo`` runs): the whole product on one machine.

It creates the demo tokens, starts the demo remote signing service and the agent (the user is asked in dialogs when a display
exists, otherwise in this terminal — never a scripted prompter), starts the portal stub as its
own process over HTTPS with its SMTP sink, offers to make Chromium trust the two local CAs,
prints what to do, and stops everything cleanly on Ctrl+C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.cli.common import tcp_port
from agent.errors import KysoError

log = logging.getLogger(__name__)

PORTAL_PORT = 8600
SMTP_PORT = 8625
PROCESS_INTERVAL = 20.0  # the simulated BHXH office moves dossiers along this often (seconds)

HELP = """\
Start the demo: demo USB tokens (SoftHSM2), the Kyso agent and the stand-in e-BHXH portal at
https://127.0.0.1:8600 with its mailbox. Open the portal in Chromium, register with token
KYSO DEMO 1 (PIN 123456), read the account mail at /hop-thu, log in, prepare and sign a dossier.

A demo remote signing service (ký số từ xa, CSC API) runs at http://127.0.0.1:8690: its
credentials appear in the certificate picker below the two tokens (remote PIN 246810; one-time
codes are printed here). --no-remote leaves it out.

The agent asks you in dialogs (or in this terminal without a display): which site may use the
token, what is being signed, and the PIN. Ctrl+C stops everything.
"""


def register(sub: Any) -> None:
    """Add ``demo`` (replaces the interim one from demo_cmd)."""
    p = sub.add_parser(
        "demo",
        help="run the demo: demo tokens, the agent and the portal stub (Ctrl+C stops)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=tcp_port, default=PORTAL_PORT, help="portal port (default 8600)")
    p.add_argument(
        "--smtp-port",
        type=tcp_port,
        default=SMTP_PORT,
        help="port of the demo SMTP sink (default 8625)",
    )
    p.add_argument(
        "--prompter",
        choices=["dialog", "terminal"],
        default=None,
        help="how the agent asks you (default: dialog with a display, else terminal)",
    )
    trust = p.add_mutually_exclusive_group()
    trust.add_argument(
        "--trust", action="store_true", help="make Chromium trust the demo CAs without asking"
    )
    trust.add_argument(
        "--no-trust", action="store_true", help="never touch the browser's trusted certificates"
    )
    p.add_argument("--fresh", action="store_true", help="start with an empty portal database")
    p.add_argument(
        "--no-remote",
        action="store_true",
        help="do not start the demo remote signing service (ký số từ xa) beside the tokens",
    )
    p.set_defaults(func=run_demo, json=False)


def choose_prompter(requested: str | None, environ: dict[str, str] | None = None) -> str:
    """dialog when a display exists (X11 or Wayland), terminal otherwise; an explicit choice wins."""
    if requested:
        return requested
    env = os.environ if environ is None else environ
    return "dialog" if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") else "terminal"


def _ask_yes(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        answer = input(f"{question} [C/k] (có/không, y/n): ").strip().lower()
    except EOFError:
        return False
    return answer in ("", "c", "co", "có", "y", "yes")


def _trust_browsers(portal_ca: Path, *, mode: str) -> list[str]:
    """Offer to trust the agent's local CA and the demo portal CA in the user's NSS database
    (Chromium/Chrome; the agent's CA also in Firefox profiles). Returns lines to print; when
    trust is not set up here, the exact commands to do it by hand."""
    from agent.cli.trust_cmd import render
    from agent.demo.portal_tls import nss_database, nss_has_ca, nss_trust_ca
    from agent.localtls.truststore import TrustState, run_trust

    status = run_trust("status")
    agent_trusted = bool(status.stores) and all(
        s.state is TrustState.TRUSTED for s in status.stores
    )
    nssdb = nss_database(Path.home())
    portal_trusted = nss_has_ca(nssdb)
    if agent_trusted and portal_trusted:
        return [
            "Trình duyệt đã tin cậy chứng thư của Kyso và của cổng thử nghiệm. / Browsers already trust both CAs."
        ]
    if mode == "never":
        return _manual_trust(portal_ca, agent_trusted, portal_trusted, "--no-trust")
    if mode == "ask" and not sys.stdin.isatty():
        reason = "không có terminal để hỏi / no terminal to ask"
        return _manual_trust(portal_ca, agent_trusted, portal_trusted, reason)
    if mode == "ask" and not _ask_yes(
        "Cho Chromium tin cậy chứng thư cục bộ của Kyso và của cổng thử nghiệm (chỉ trên máy này)?\n"
        "Let Chromium trust Kyso's local CA and the demo portal CA (this user only)?"
    ):
        return _manual_trust(portal_ca, agent_trusted, portal_trusted, "bỏ qua / skipped")
    lines = []
    if not agent_trusted:
        lines.append(render(run_trust("install")))
    if not portal_trusted:
        nss_trust_ca(nssdb, portal_ca)
        lines.append(f"Đã thêm 'Kyso Demo Portal CA' vào {nssdb} / added to {nssdb}")
    lines.append("Nếu Chromium đang mở, hãy đóng hẳn rồi mở lại. / Restart Chromium if it is open.")
    return lines


def _agent_command() -> str:
    """How to run this very kyso-agent from another shell (same KYSO_HOME, so the same CA)."""
    import shlex
    import shutil

    on_path = shutil.which("kyso-agent")
    command = "kyso-agent" if on_path else f"{shlex.quote(sys.executable)} -m agent.cli"
    home = os.environ.get("KYSO_HOME")
    if home and sys.platform != "win32":
        command = f"KYSO_HOME={shlex.quote(home)} {command}"
    elif home:
        command = f'set "KYSO_HOME={home}" && {command}'
    return command


def _manual_trust(
    portal_ca: Path, agent_trusted: bool, portal_trusted: bool, reason: str
) -> list[str]:
    """The commands to trust both CAs by hand, with this run's paths."""
    from agent.demo.portal_tls import nss_database
    from agent.demo.trust_steps import NssTarget, manual_trust_lines
    from agent.localtls import default_directory
    from agent.localtls.truststore_nss import discover

    chromium = nss_database(Path.home())
    targets = [NssTarget("Chromium / Google Chrome", chromium, (chromium / "cert9.db").exists())]
    targets += [
        NssTarget(db.label, db.path, db.exists)
        for db in discover(Path.home())
        if db.browser == "Firefox"
    ]
    return manual_trust_lines(
        agent_ca=default_directory() / "ca.pem",
        portal_ca=portal_ca.resolve(),
        targets=targets,
        agent_command=_agent_command(),
        agent_trusted=agent_trusted,
        portal_trusted=portal_trusted,
        windows=sys.platform == "win32",
        reason=reason,
    )


def _banner(url: str, prompter: str, agent_url: str) -> str:
    where = "trong cửa sổ Kyso" if prompter == "dialog" else "ngay trong cửa sổ dòng lệnh này"
    return f"""
==============================================================================
 Kyso demo đang chạy / is running
   Cổng BHXH thử nghiệm (portal):  {url}/
   Hộp thư thử nghiệm (mailbox):   {url}/hop-thu
   Kyso agent:                     {agent_url}
------------------------------------------------------------------------------
 1. Mở {url}/ bằng Chromium (Chrome). Nếu trình duyệt hỏi quyền
    truy cập mạng cục bộ, chọn «Cho phép» / allow local network access.
 2. "Đăng ký": điền thông tin đơn vị, mã số thuế 0101234567, bấm "Đăng ký".
    Kyso hỏi {where}: cho phép trang này ("Luôn cho phép"),
    chọn chứng thư "Công ty TNHH Giải pháp Kyso Việt Nam" (token KYSO DEMO 1),
    xác nhận, nhập mã PIN 123456.
 3. "Hộp thư (thử nghiệm)": đọc thư, lấy tên đăng nhập và mật khẩu; "Đăng nhập".
 4. "Lập hồ sơ (iBHXH)" → "Lập hồ sơ mới", nhập lao động, "Lấy số hồ sơ",
    "Ký và nộp" → "Nộp hồ sơ" → biên nhận; "Tra cứu" → "Tra cứu hồ sơ".
    Token KYSO DEMO 2 (PIN 654321) có chứng thư gia hạn: "Thay đổi thông tin".
 Ctrl+C để dừng / to stop.
==============================================================================
"""


async def run_demo(args: argparse.Namespace) -> int:
    """Start tokens, agent and portal; serve until Ctrl+C; stop both."""
    from agent.cli.compose import start_agent
    from agent.cli.demo_portal import start_portal
    from agent.config.paths import demo_dir
    from agent.config.policy import load_settings
    from agent.demo import tokens as demo_tokens
    from agent.demo.portal_tls import ensure_portal_certificate

    logging.getLogger("agent").setLevel(logging.WARNING)
    print("Đang chuẩn bị USB token thử nghiệm / preparing the demo tokens…", flush=True)
    manifest = await demo_tokens.init()
    demo_tokens.activate()
    responder = _start_responder(manifest)
    remote = None if args.no_remote else await _start_remote()
    prompter = choose_prompter(args.prompter)
    extra: dict[str, Any] = {"remote_providers": [remote.provider]} if remote else {}
    try:
        try:
            settings = load_settings({"prompter": prompter, **extra})
            agent = await start_agent(settings)
        except KysoError as exc:
            if prompter != "dialog" or exc.code != "PROMPTER_UNAVAILABLE":
                raise
            print(f"{exc.message_vi} → dùng dòng lệnh / using the terminal.", flush=True)
            prompter = "terminal"
            agent = await start_agent(load_settings({"prompter": prompter, **extra}))
    except BaseException:
        if remote is not None:
            await remote.close()
        raise
    portal = None
    try:
        tls_dir = demo_dir() / "portal-tls"
        tls = ensure_portal_certificate(tls_dir)
        mode = "always" if args.trust else "never" if args.no_trust else "ask"
        for line in _trust_browsers(tls.ca_cert_path, mode=mode):
            print(line, flush=True)
        db = demo_dir() / "portal.sqlite3"
        if args.fresh:
            db.unlink(missing_ok=True)
        ca = manifest["ca"]
        # The portal runs as its own program (python -m portal_stub.https_server): the agent
        # never imports it, and it needs the [portal] extra, which the agent does not.
        portal = await start_portal(
            tls_dir=tls_dir,
            port=args.port,
            db=str(db),
            trust=[ca["root"], ca["issuing"]],
            crls=[ca["crl"], ca["root_crl"]],
            smtp_sink_port=args.smtp_port,
            process_interval=PROCESS_INTERVAL,
        )
        print(_banner(portal.url, prompter, agent.url), flush=True)
        if remote is not None:
            print(_remote_banner(remote.running.url), flush=True)
        from agent.cli.filesign_cmd import start_tray
        from agent.ui.tray import detach_tray

        stop = asyncio.Event()
        tray = await start_tray(agent, stop.set)  # with a display: the same tray as `run`
        try:
            await _wait_for_stop(stop)
        finally:
            detach_tray(tray)
    finally:
        print("Đang dừng / stopping…", flush=True)
        if portal is not None:
            await portal.stop()
        await agent.stop()
        if remote is not None:
            await remote.close()
        if responder is not None:
            responder.stop()
    print("Đã dừng Kyso và cổng thử nghiệm. / Stopped.", flush=True)
    return 0


REMOTE_PROVIDER = "demo"
REMOTE_LABEL = "Ký số từ xa (thử nghiệm)"


@dataclass
class DemoRemote:
    """The running demo CSC service, the provider table for the agent, the "SMS" sender."""

    running: Any
    provider: dict[str, Any]
    sms: asyncio.Task[None]

    async def close(self) -> None:
        """Stop sending codes, then stop the service."""
        self.sms.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.sms
        await self.running.close()


async def _start_remote() -> DemoRemote | None:
    """The demo's remote signing service (a real CSC server, keys from the demo PKI) on
    127.0.0.1, and the provider table that points the agent at it. The demo goes on without
    it (the picker then shows the two USB tokens only)."""
    from agent.config.paths import demo_dir
    from agent.demo.manifest import paths
    from agent.demo.pki import TestCA
    from agent.demo.remote import CLIENT_ID, DEFAULT_PORT, start_service
    from agent.files import atomic_write

    secret_path = demo_dir() / "remote-client-secret"
    if not secret_path.exists():  # made once, kept: only this user can read it
        import secrets

        atomic_write(secret_path, secrets.token_urlsafe(24).encode(), mode=0o600)
    secret = secret_path.read_text(encoding="utf-8").strip()
    pki = paths()["pki"]
    try:
        running = await start_service(
            pki.parent / "remote", TestCA.load(pki), port=DEFAULT_PORT, client_secret=secret
        )
    except OSError as exc:
        print(
            f"Không chạy được dịch vụ ký số từ xa thử nghiệm trên cổng {DEFAULT_PORT} / "
            f"no demo remote signing service ({exc.strerror}); tiếp tục chỉ với USB token.",
            flush=True,
        )
        return None
    provider = {
        "name": REMOTE_PROVIDER,
        "display_name": REMOTE_LABEL,
        "base_url": running.url,
        "client_id": CLIENT_ID,
        "auth_flow": "client_credentials",
        "client_secret_file": str(secret_path),
    }
    return DemoRemote(running, provider, asyncio.create_task(_send_sms(running.server)))


async def _send_sms(server: Any) -> None:
    """Play the provider's SMS: whenever no one-time code is waiting (at start, and after one
    was used or refused), "send" a fresh one by printing it here."""
    while True:
        if server.state.current_otp is None:
            code = server.send_otp()
            print(
                f"[SMS thử nghiệm / demo SMS] Mã OTP ký số từ xa / remote signing OTP: {code}",
                flush=True,
            )
        await asyncio.sleep(0.5)


def _remote_banner(url: str) -> str:
    from agent.demo.remote import DEMO_PIN

    return f""" Ký số từ xa thử nghiệm / demo remote signing: {url}
   Khi chọn chứng thư, nhóm "Ký số từ xa: {REMOTE_LABEL}" nằm dưới hai USB token.
   Mã PIN ký số / remote PIN: {DEMO_PIN}. Chứng thư "Lê Minh Châu" cần thêm mã OTP:
   mã được "gửi SMS" bằng cách in ra ngay trong cửa sổ này.
   "Thay đổi thông tin" → "Đổi chứng thư số": chọn chứng thư "Công ty TNHH Giải pháp Kyso
   Việt Nam (ký từ xa)" để chuyển đơn vị sang ký số từ xa.
==============================================================================
"""


def _start_responder(manifest: dict[str, Any]) -> Any:
    """The demo PKI's OCSP/CRL responder on 127.0.0.1, so the agent can check revocation; the
    demo goes on without it (the consent then says the status is unknown)."""
    from agent.demo.pki import PKI_PORT_ENV
    from agent.demo.responder import DemoResponder

    if not manifest.get("responder"):
        print(
            "Token thử nghiệm này tạo bằng phiên bản cũ, chưa có OCSP/CRL: chạy 'kyso-agent "
            "demo-token reset' để tạo lại. / These demo tokens predate OCSP/CRL: run "
            "'kyso-agent demo-token reset' to remake them.",
            flush=True,
        )
        return None
    try:
        responder = DemoResponder(manifest).start()
    except KysoError as exc:
        print(
            f"Không chạy được máy chủ OCSP/CRL thử nghiệm / no demo OCSP/CRL responder: "
            f"{exc.message_vi} / {exc.message_en}\n"
            f"  Chọn cổng khác / pick another port: {PKI_PORT_ENV}=N kyso-agent demo-token reset",
            flush=True,
        )
        return None
    print(f"OCSP/CRL thử nghiệm / demo OCSP and CRLs: {responder.url}/", flush=True)
    return responder


async def _wait_for_stop(stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C raises instead
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
