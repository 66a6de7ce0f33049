"""Account mail over SMTP, and the demo's embedded SMTP sink with its mailbox.

The portal always sends real SMTP (smtplib in a worker thread). For demos and tests the
portal also runs an aiosmtpd server on its own event loop that stores every message in the
``mail`` table, shown at /hop-thu ("Hộp thư").
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import smtplib
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from portal_stub.config import PortalConfig
from portal_stub.db import Database
from portal_stub.errors import PortalError

log = logging.getLogger(__name__)


# Python's header folder splits a long Vietnamese subject into RFC 2047 encoded words with the
# space between two words left outside them, as folding white space, which readers drop:
# "…điện tử của…" arrived as "…điện tửcủa…". Lines of up to 998 characters (RFC 5322's hard
# limit) keep a subject in one encoded word, spaces inside it.
_POLICY = email.policy.SMTP.clone(max_line_length=998)


def compose(config: PortalConfig, to: str, subject: str, body: str) -> EmailMessage:
    """A UTF-8 plain-text message from the portal."""
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = f"Cổng giao dịch BHXH điện tử <{config.mail_from}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def _send_blocking(host: str, port: int, msg: EmailMessage, to: str) -> None:
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        # The envelope names the one address given, never what a parser finds in To:.
        smtp.send_message(msg, to_addrs=[to])


async def send_mail(config: PortalConfig, to: str, subject: str, body: str) -> None:
    """Send one message through the configured SMTP server (never blocks the loop)."""
    try:
        msg = compose(config, to, subject, body)
        await asyncio.to_thread(_send_blocking, config.smtp_host, config.smtp_port, msg, to)
    except (OSError, smtplib.SMTPException, ValueError, AttributeError, TypeError) as exc:
        log.error("mail to %s failed: %s", to, exc)
        raise PortalError(
            "INTERNAL", {"detail": f"không gửi được thư tới {to} ({exc.__class__.__name__})"}
        ) from exc


class MailboxHandler:
    """aiosmtpd handler: store each message in the mailbox table."""

    def __init__(self, db: Database, clock: Any) -> None:
        self.db = db
        self.clock = clock

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the message; always accept (it is a sink)."""
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body_part = msg.get_body(preferencelist=("plain",)) if hasattr(msg, "get_body") else None
        body = body_part.get_content() if body_part is not None else ""
        self.db.run(
            "INSERT INTO mail (mail_from, rcpt_to, subject, body, received_at) VALUES (?, ?, ?, ?, ?)",
            (
                envelope.mail_from or "",
                ", ".join(envelope.rcpt_tos),
                str(msg.get("Subject", "")),
                body,
                self.clock().isoformat(),
            ),
        )
        return "250 Message accepted for delivery"


async def start_sink(config: PortalConfig, db: Database) -> asyncio.AbstractServer:
    """Run the SMTP sink on the current loop at config.smtp_host:smtp_port (0 = any port,
    written back into the config so the sender finds it)."""
    loop = asyncio.get_running_loop()
    handler = MailboxHandler(db, config.clock)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="hop-thu.kyso.test", enable_SMTPUTF8=True),
        host=config.smtp_host,
        port=config.smtp_port,
    )
    config.smtp_port = server.sockets[0].getsockname()[1]
    return server
