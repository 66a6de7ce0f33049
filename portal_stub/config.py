"""Portal settings and the clock seam (tests move time instead of sleeping)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The real clock (aware UTC)."""
    return dt.datetime.now(dt.UTC)


@dataclass
class PortalConfig:
    """Everything the app factory needs.

    ``public_origin`` is the origin users' browsers see (scheme://host[:port]); authentication
    tokens must be signed for exactly this origin. ``smtp`` is where account mail goes; when
    ``smtp_sink`` is true the portal runs its own SMTP sink there and shows received mail at
    /hop-thu. ``max_attachments`` / ``max_attachment_bytes`` bound the signed PDFs (scanned
    papers) filed with one dossier. ``process_interval`` > 0 lets the simulated BHXH office move dossiers along on its
    own every that many seconds; ``debug_hooks`` enables /api/v1/debug/* (advance processing).
    """

    db_path: str | Path = ":memory:"
    trust_paths: list[str | Path] = field(default_factory=list)
    crl_paths: list[str | Path] = field(default_factory=list)
    public_origin: str = "http://127.0.0.1:8600"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8625
    smtp_sink: bool = True
    mail_from: str = "khongtraloi@kekhai.kyso.test"
    process_interval: float = 0.0
    debug_hooks: bool = False
    max_upload_bytes: int = 64 * 1024 * 1024
    max_attachments: int = 10  # PDF attachments per dossier
    max_attachment_bytes: int = 10 * 1024 * 1024  # per attachment
    challenge_ttl: dt.timedelta = dt.timedelta(minutes=5)
    session_ttl: dt.timedelta = dt.timedelta(hours=8)  # idle time, from the last request
    session_max_age: dt.timedelta = dt.timedelta(hours=12)  # from the log-in, however used
    clock: Clock = utc_now

    @property
    def secure_cookies(self) -> bool:
        """Cookies get Secure when the public origin is https."""
        return self.public_origin.startswith("https://")
