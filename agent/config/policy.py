"""Reading the layers: the user's config.toml and the managed policy (TOML file or Windows
registry). The registry is read through a small reader interface so the mapping from registry
values to settings is tested without Windows.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from agent.config import paths
from agent.config.settings import Settings, Source, merge_layers, parse_layer
from agent.errors import KysoError

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
    for name, value in values.items():
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
        if sub:
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
    """Where the Linux/macOS policy file is read from (``$KYSO_POLICY_FILE`` overrides)."""
    return Path(os.environ.get(POLICY_ENV) or LINUX_POLICY_FILE)


def user_config_file() -> Path:
    """The user's config.toml."""
    return paths.config_dir() / "config.toml"


def _read_toml(path: Path, code: str) -> dict[str, Any] | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KysoError(code, {"path": str(path), "detail": exc.strerror or str(exc)}) from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise KysoError(code, {"path": str(path), "detail": str(exc)}) from None


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
    return parse_layer(raw, code="POLICY_INVALID", path=where), where


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
        "user": parse_layer(user_raw, code="CONFIG_INVALID", path=str(user_path)),
        "command line": parse_layer(
            dict(command_line or {}), code="CONFIG_INVALID", path="(command line)"
        ),
    }
    policy, where = read_policy(registry)
    layers["policy"] = policy
    return merge_layers(layers, policy_path=where)


def document_limit() -> int:
    """The agent's ``max_document_bytes`` as config.toml and the managed policy set it: the
    most a document read whole may take, the same for a page's document, the desktop signer
    and the offline commands (one reading, so no path can use another limit)."""
    return load_settings({}).max_document_bytes
