"""One state root: every file Kyso writes lives under these directories.

With ``$KYSO_HOME`` set (tests, demos, portable use) everything goes below it; otherwise the
platform's usual per-user directories from platformdirs are used.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import platformdirs

APP_NAME = "kyso"
APP_AUTHOR = "Kyso"


def kyso_home() -> Path | None:
    """The ``$KYSO_HOME`` override, or None when the platform directories are used."""
    value = os.environ.get("KYSO_HOME")
    return Path(value).expanduser().resolve() if value else None


def check_kyso_home() -> None:
    """With ``$KYSO_HOME`` set: make sure it is a folder (created if missing), so a mistyped
    value is one clear error (STATE_DIR_UNUSABLE) at start, not a NotADirectoryError wherever
    a command first writes."""
    home = kyso_home()
    if home is None:
        return
    from agent.errors import KysoError

    try:
        if home.exists() and not home.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a folder")
        # Made when missing; an existing folder may be read-only (a prepared, shared one):
        # the commands that only read (verify-*, tokens, doctor) still work there.
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        details = {"path": str(home), "detail": reason}
        if isinstance(exc, NotADirectoryError):
            details["detail_vi"] = "đó là một tệp, hoặc nằm trong một tệp, không phải thư mục"
        elif isinstance(exc, PermissionError):
            details["detail_vi"] = "không có quyền ghi"
        raise KysoError("STATE_DIR_UNUSABLE", details) from None


def _dir(sub: str, platform_path: str) -> Path:
    home = kyso_home()
    path = home / sub if home else Path(platform_path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Where the user's config.toml lives."""
    return _dir("config", platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))


def data_dir() -> Path:
    """Where generated material lives (local TLS certificates, pairing approvals)."""
    return _dir("data", platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def log_dir() -> Path:
    """Where the agent log and the audit log live."""
    return _dir("logs", platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))


def demo_dir() -> Path:
    """Where the demo PKI and the private SoftHSM2 token store live."""
    return _dir("demo", os.path.join(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR), "demo"))
