"""Reading the layers: the user's config.toml and the managed policy (TOML file or Windows
registry). The registry is read through a small reader interface so the mapping from registry
values to settings is tested without Windows.
"""

from __future__ import annotations

import logging
import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from agent.config import paths
from agent.config.settings import Settings, Source, merge_layers, parse_layer
from agent.errors import KysoError
from agent.files import read_regular

log = logging.getLogger(__name__)

LINUX_POLICY_FILE = "/etc/kyso/policy.toml"
POLICY_ENV = "KYSO_POLICY_FILE"
REGISTRY_KEY = r"SOFTWARE\Policies\Kyso\Agent"

# Registry value name -> setting. Lists are REG_MULTI_SZ values or, as Chrome does it, a subkey
# of the same name whose values "1", "2", ... hold one entry each.
REGISTRY_VALUES: dict[str, str] = {
    "AllowedOrigins": "allowed_origins",
    "SignHashOrigins": "sign_hash_origins",
    "TimestampUrl": "timestamp_url",
    "PdfLongTerm": "pdf_long_term",
    # One REG_SZ holding the seal table as a JSON object (thumbprint -> PNG path).
    "PdfSeals": "pdf_seals",
    "AllowUserOrigins": "allow_user_origins",
    "Pkcs11Modules": "pkcs11_modules",
    "Port": "port",
    "PortRange": "port_range",
    "PingPort": "ping_port",
    "PinCacheEnabled": "pin_cache.enabled",
    "PinCacheIdleSeconds": "pin_cache.idle_seconds",
    "Prompter": "prompter",
    "MaxDocumentBytes": "max_document_bytes",
    "MaxConnections": "max_connections",
    "MaxTcpConnections": "max_tcp_connections",
    "HeaderTimeoutSeconds": "header_timeout_seconds",
    "IdleTimeoutSeconds": "idle_timeout_seconds",
    "WsHeartbeatSeconds": "ws_heartbeat_seconds",
    "MaxQueue": "max_queue",
    "MaxPendingPerOrigin": "max_pending_per_origin",
    "PromptTimeoutSeconds": "prompt_timeout_seconds",
    "AllowHttpLocalhost": "allow_http_localhost",
    "MstMismatch": "mst_mismatch",
    # One REG_SZ holding the [[remote_providers]] list as JSON (a list of tables does not fit
    # REG_MULTI_SZ).
    "RemoteProviders": "remote_providers",
}
_REGISTRY_LISTS = {"AllowedOrigins", "SignHashOrigins", "Pkcs11Modules"}
_REGISTRY_NAMES = {name.lower(): name for name in REGISTRY_VALUES}


class RegistryReader(Protocol):
    """Reads one HKLM key: value name -> value, or None when the key does not exist."""

    def values(self, key: str) -> dict[str, Any] | None:
        """All values of ``key`` (REG_SZ -> str, REG_DWORD -> int, REG_MULTI_SZ -> list)."""
        ...


class WinregReader:
    """The real reader over ``winreg`` (Windows only)."""

    def values(self, key: str) -> dict[str, Any] | None:
        """Read every value of HKLM\\``key``."""
        return read_registry_values("HKLM", key)


def read_registry_values(hive: str, key: str) -> dict[str, Any] | None:
    """Every value of ``hive``\\``key`` ("HKLM" or "HKCU"), or None when the key does not
    exist or there is no registry (not Windows)."""
    if sys.platform != "win32":  # there is no registry to read (and no winreg module)
        return None
    import winreg

    root = winreg.HKEY_LOCAL_MACHINE if hive == "HKLM" else winreg.HKEY_CURRENT_USER
    try:
        handle = winreg.OpenKey(root, key)
    except OSError:
        return None
    out: dict[str, Any] = {}
    with handle:
        index = 0
        while True:
            try:
                name, value, _kind = winreg.EnumValue(handle, index)
            except OSError:
                break
            out[name] = value
            index += 1
    return out


def registry_policy(reader: RegistryReader, key: str = REGISTRY_KEY) -> dict[str, Any] | None:
    """The policy as raw setting values (before validation), or None when no policy is set."""
    values = reader.values(key)
    if values is None:
        return None
    raw: dict[str, Any] = {}
    for written, value in values.items():
        if written == "":  # the key's unnamed "(Default)" value: Group Policy never writes it
            continue
        # Windows matches value names without regard to case: so does the agent.
        name = _REGISTRY_NAMES.get(written.lower(), written)
        setting = REGISTRY_VALUES.get(name)
        if setting is None:
            raise KysoError(
                "POLICY_INVALID", {"path": "HKLM\\" + key, "detail": f"unknown value {name!r}"}
            )
        if name in _REGISTRY_LISTS and isinstance(value, str):
            # A REG_SZ with several entries: one per line or separated by ';'.
            value = [v.strip() for v in value.replace(";", "\n").splitlines() if v.strip()]
        raw[setting] = value
    for name in _REGISTRY_LISTS:
        sub = reader.values(key + "\\" + name)
        # The subkey there but empty: the list policy enabled with no entry, or disabled (Group
        # Policy clears its values): the administrator's empty list, not "not configured".
        if sub is not None:
            ordered = [
                sub[k]
                for k in sorted(
                    sub, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)
                )
            ]
            raw[REGISTRY_VALUES[name]] = list(raw.get(REGISTRY_VALUES[name], [])) + ordered
    return _nest(raw)


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if "." in key:
            table, sub = key.split(".", 1)
            out.setdefault(table, {})[sub] = value
        else:
            out[key] = value
    return out


def policy_file() -> Path:
    """Where the Linux/macOS policy is read from: /etc/kyso/policy.toml, or
    ``$KYSO_POLICY_FILE`` (tests, staging) only on a machine that has no policy there
    (:func:`_override_allowed`)."""
    override = os.environ.get(POLICY_ENV)
    if override and _override_allowed(Path(override)):
        return Path(override)
    return Path(LINUX_POLICY_FILE)


def _override_allowed(path: Path) -> bool:
    """``$KYSO_POLICY_FILE`` is the user's to set, so it never replaces an administrator's
    policy: once /etc/kyso/policy.toml exists (a link or anything else there included) the
    variable is ignored. Which other file it names cannot make it safe: root's files the user
    may point at include the shipped example and empty ones (an empty policy), and a link the
    user owns can be switched between a check and the read."""
    if path == Path(LINUX_POLICY_FILE) or not _policy_may_exist():
        return True
    log.warning(
        "%s=%s ignored: the administrator's policy %s applies",
        POLICY_ENV,
        path,
        LINUX_POLICY_FILE,
    )
    return False


def _policy_may_exist() -> bool:
    """Whether /etc/kyso/policy.toml exists, or might: a folder the user may not search
    (``lexists`` says False there) hides an administrator's policy, it does not remove it."""
    try:
        os.lstat(LINUX_POLICY_FILE)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def user_config_file() -> Path:
    """The user's config.toml."""
    return paths.config_dir() / "config.toml"


# A settings file is a few KB; past this it is not one (a link to /dev/zero, a log).
SETTINGS_FILE_MAX_BYTES = 1024 * 1024


def _read_toml(path: Path, code: str) -> dict[str, Any] | None:
    """The TOML table in ``path``; None when there is no file. ``code`` (CONFIG_INVALID or
    POLICY_INVALID, naming the file) for anything else: not a regular file (a FIFO is never
    waited on), over SETTINGS_FILE_MAX_BYTES, unreadable, not TOML, nested past reason."""
    try:
        data = read_regular(path, max_bytes=SETTINGS_FILE_MAX_BYTES)
    except KysoError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            return None
        detail = exc.details.get("detail") or (
            f"larger than {SETTINGS_FILE_MAX_BYTES // 1024} KB: not a settings file"
        )
        raise KysoError(code, {"path": str(path), "detail": detail}) from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        # ValueError: an integer of thousands of digits; RecursionError: [[[[... nested
        detail = f"{type(exc).__name__}: {str(exc)[:200]}"
        raise KysoError(code, {"path": str(path), "detail": detail}) from None


def _parsed(raw: Mapping[str, Any], code: str, where: str) -> dict[str, Any]:
    """:func:`parse_layer`, whose JSON values (pdf_seals, remote_providers) may be nested
    past Python's limits: ``code`` naming the file, not INTERNAL_ERROR."""
    try:
        return parse_layer(raw, code=code, path=where)
    except (RecursionError, ValueError) as exc:
        detail = f"{type(exc).__name__}: {str(exc)[:200]}"
        raise KysoError(code, {"path": where, "detail": detail}) from None


def read_policy(reader: RegistryReader | None = None) -> tuple[dict[str, Any], str | None]:
    """The validated policy layer and where it came from (None when there is none)."""
    if sys.platform == "win32" or reader is not None:
        raw = registry_policy(reader or WinregReader())
        where = "HKLM\\" + REGISTRY_KEY
    else:
        path = policy_file()
        raw = _read_toml(path, "POLICY_INVALID")
        where = str(path)
    if raw is None:
        return {}, None
    return _parsed(raw, "POLICY_INVALID", where), where


def load_settings(
    command_line: Mapping[str, Any] | None = None,
    *,
    registry: RegistryReader | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Defaults, then config.toml, then the command line, then the managed policy."""
    user_path = config_file or user_config_file()
    user_raw = _read_toml(user_path, "CONFIG_INVALID") or {}
    layers: dict[Source, dict[str, Any]] = {
        "user": _parsed(user_raw, "CONFIG_INVALID", str(user_path)),
        "command line": _parsed(dict(command_line or {}), "CONFIG_INVALID", "(command line)"),
    }
    policy, where = read_policy(registry)
    layers["policy"] = policy
    return merge_layers(layers, policy_path=where)


def document_limit() -> int:
    """The agent's ``max_document_bytes`` as config.toml and the managed policy set it: the
    most a document read whole may take, the same for a page's document, the desktop signer
    and the offline commands (one reading, so no path can use another limit)."""
    return load_settings({}).max_document_bytes
