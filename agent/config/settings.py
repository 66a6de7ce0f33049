"""The agent's settings: what each one means, its default, and how layers are merged. Pure logic.

Layers, lowest first: built-in defaults, the user's ``config.toml``, the command line, and the
managed policy (``/etc/kyso/policy.toml`` or ``HKLM\\SOFTWARE\\Policies\\Kyso\\Agent``). The policy
is mandatory, as in Chrome: a value it sets cannot be changed by the user or the command line.
``allowed_origins`` is the exception: origins are added up over all layers, unless the policy
sets ``allow_user_origins = false`` (then only the policy's origins count, and unknown origins
are refused without asking the user). Every effective value remembers where it came from, which
``kyso-agent doctor`` shows.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from agent.errors import KysoError
from agent.remote.providers import parse_providers

Source = Literal["default", "user", "command line", "policy"]
LAYER_ORDER: tuple[Source, ...] = ("default", "user", "command line", "policy")

DEFAULT_PORT = 27443
FALLBACK_PORTS = (27444, 27445)
# Plain-http GET /v1/ping: lets the bridge tell "not running" from "certificate not trusted".
DEFAULT_PING_PORT = 27442
# A 50 MB dossier must fit: that is the decoded document; the base64 message is ~4/3 of it.
DEFAULT_MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
# Per listening socket. Four listeners (HTTPS and ping, IPv4 and IPv6) stay far below the usual
# 1 024-file limit, leaving room for tokens, logs and the token scan.
DEFAULT_MAX_TCP_CONNECTIONS = 128


_NOT_IN_ORIGIN = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028-\u202f\ufeff]")


_HOST_NAME = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?\.?$")  # "a.vn." is a name too
_IPV6_LITERAL = re.compile(r"^[0-9a-f:.]+$")


def _ascii_host(hostname: str, value: str) -> str:
    """The host as browsers send it: lower case ASCII."""
    host = hostname.lower()
    if not host:
        raise ValueError(f"{value!r} has no host")
    if not host.isascii():
        # Python's "idna" codec is IDNA 2003 (straße.vn -> strasse.vn, another domain), not the
        # UTS 46 browsers use: an internationalised name must be written as browsers send it.
        raise ValueError(f"{value!r}: write an internationalised host in its xn-- form")
    named = _HOST_NAME.match(host) and ".." not in host
    if not (named or (":" in host and _IPV6_LITERAL.match(host))):
        raise ValueError(f"{value!r} has a host name that is not valid")
    if named and (len(host.rstrip(".")) > 253 or any(len(label) > 63 for label in host.split("."))):
        # DNS's limits (RFC 1035): no browser can be on such a site, so no page can ask for it.
        raise ValueError(f"{value!r} has a host name longer than DNS allows")
    return host


def normalize_origin(value: str, *, allow_http_localhost: bool = False) -> str:
    """``scheme://host[:port]`` in lowercase without a default port; raises ValueError when the
    value is not an https origin (or, for developers, an http://localhost origin)."""
    if not isinstance(value, str) or not value or _NOT_IN_ORIGIN.search(value):
        # urlsplit silently drops tabs and newlines (WHATWG), so "https://por\ttal.vn" would
        # become another site's origin: any whitespace or control character is refused.
        raise ValueError(f"{value!r} is not an origin")
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    # "@", "?" and "#" never appear in an origin a browser sends; an empty user ("https://@h")
    # or a bare "?" would otherwise slip through urlsplit's parsed fields.
    if parts.path not in ("", "/") or "@" in parts.netloc or any(c in value for c in "?#"):
        raise ValueError(f"{value!r} is not an origin (it has a path, query or user)")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{value!r} has an invalid port") from exc
    after_host = parts.netloc.rpartition("]")[2]  # an IPv6 literal has colons of its own
    if ":" in after_host:
        # "h:", "h:0", "h:0443": no browser sends these; they are not the origin they look like.
        port_text = after_host.partition(":")[2]
        if not (port_text.isascii() and port_text.isdigit()) or port_text.startswith("0"):
            raise ValueError(f"{value!r} has an invalid port")
    host = _canonical_ip(_ascii_host(parts.hostname or "", value), value)
    if parts.netloc.startswith("[") and ":" not in host:  # "[v1.x]": not a host name
        raise ValueError(f"{value!r} is not an origin (only IPv6 addresses go in brackets)")
    if scheme == "http":
        if not (allow_http_localhost and host in ("localhost", "127.0.0.1", "::1")):
            raise ValueError(f"{value!r} is not https")
    elif scheme != "https":
        raise ValueError(f"{value!r} is not https")
    shown_host = f"[{host}]" if ":" in host else host
    default_port = 443 if scheme == "https" else 80
    suffix = f":{port}" if port is not None and port != default_port else ""
    return f"{scheme}://{shown_host}{suffix}"


def _canonical_ip(host: str, value: str) -> str:
    """An IP literal as browsers send it: IPv6 compressed (``[0:0:0:0:0:0:0:1]`` is
    ``[::1]``); IPv4 only as four decimal numbers. A host whose last label is a number is an
    IPv4 address to a browser ("2130706433" is 127.0.0.1): any other spelling of one is refused,
    since written in a setting it would never match the origin a browser sends."""
    if ":" in host:
        try:
            return _ipv6_text(ipaddress.IPv6Address(host))
        except ValueError as exc:
            raise ValueError(f"{value!r} has an invalid IPv6 address") from exc
    last = host.rstrip(".").rpartition(".")[2]
    if last and (last.isdigit() or last.startswith("0x")):
        try:
            canonical = str(ipaddress.IPv4Address(host))
        except ValueError:
            canonical = ""
        if canonical != host:
            raise ValueError(
                f"{value!r}: write the IP address as four decimal numbers, as browsers send it"
            )
    return host


def _ipv6_text(address: ipaddress.IPv6Address) -> str:
    """The address as the URL standard serialises it: eight hex groups, the first longest run
    of two or more zero groups as "::" (also for an IPv4-mapped address, which newer Pythons'
    str() writes with a dotted quad)."""
    groups = [int.from_bytes(address.packed[i : i + 2], "big") for i in range(0, 16, 2)]
    best_start, best_length = -1, 1
    start = None
    for index, group in enumerate([*groups, 1]):  # a sentinel ends a run at the end
        if group == 0 and start is None:
            start = index
        elif group != 0 and start is not None:
            if index - start > best_length:
                best_start, best_length = start, index - start
            start = None
    text = [f"{g:x}" for g in groups]
    if best_start < 0:
        return ":".join(text)
    head = ":".join(text[:best_start])
    tail = ":".join(text[best_start + best_length :])
    return f"{head}::{tail}"


# ---- field table ----------------------------------------------------------------------------


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):  # registry DWORDs
        return bool(v)
    raise ValueError("must be true or false")


def _int_range(lo: int, hi: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"must be a whole number from {lo} to {hi}")
        return v

    return check


def _port(v: Any) -> int | None:
    # 0 asks the OS for a free port (tests); None means the documented default with fallbacks.
    return None if v is None else _int_range(0, 65535)(v)


def _port_range(v: Any) -> str:
    # "LO-HI": a terminal server's per-machine range; each user's agent takes one port of it.
    if not isinstance(v, str):
        raise ValueError("must be 'LO-HI', for example '27450-27549', or empty")
    if not v.strip():
        return ""
    lo_text, sep, hi_text = v.strip().partition("-")
    try:
        lo, hi = int(lo_text), int(hi_text)
    except ValueError:
        raise ValueError("must be 'LO-HI', for example '27450-27549', or empty") from None
    if not sep or not 1024 <= lo <= hi <= 65535 or hi - lo >= 4096:
        raise ValueError("must be 'LO-HI' with 1024 <= LO <= HI <= 65535, at most 4096 ports")
    return f"{lo}-{hi}"


def _str_list(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list | tuple) or not all(isinstance(i, str) and i for i in v):
        raise ValueError("must be a list of strings")
    return tuple(v)


def _origins(v: Any) -> tuple[str, ...]:
    # http://localhost is only acceptable with the developer switch, checked when merging.
    return tuple(normalize_origin(o, allow_http_localhost=True) for o in _str_list(v))


def _http_url(v: Any) -> str:
    # The agent fetches it itself: only an administrator or the user sets it, never a page.
    if not isinstance(v, str):
        raise ValueError("must be a URL")
    if not v:
        return v
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{v!r} is not an http(s) URL")
    if not parts.hostname or any(c.isspace() or not c.isprintable() for c in v):
        raise ValueError(f"{v!r} is not a usable address (no host, or a space or control in it)")
    try:
        parts.port  # noqa: B018 - a port that is no number or past 65535: refused now, not at signing
    except ValueError:
        raise ValueError(f"{v!r} has no valid port") from None
    return v


def _seals(v: Any) -> tuple[tuple[str, str], ...]:
    # [pdf_seals] "<certificate SHA-256 thumbprint>" = "/path/seal.png"; from the registry the
    # same table as a JSON object. Thumbprints are kept as lower-case hex without separators.
    if isinstance(v, str):
        if not v.strip():
            return ()
        try:
            v = json.loads(v)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg}") from None
    if not isinstance(v, Mapping):
        raise ValueError("must be a table: certificate thumbprint = path of a PNG seal")
    seals = []
    for key, path in v.items():
        thumbprint = str(key).replace(":", "").replace(" ", "").lower()
        if not re.fullmatch(r"[0-9a-f]{64}", thumbprint):
            raise ValueError(f"{key!r} is not a SHA-256 certificate thumbprint")
        if not isinstance(path, str) or not path.strip():
            raise ValueError(f"the seal of {key!r} must be a file path")
        seals.append((thumbprint, path))
    return tuple(seals)


def prompter_spec(v: Any) -> str:
    """``v`` when it names a prompter (``dialog``, ``terminal``, ``scripted:FILE``), else
    ValueError saying what may be given (also argparse's ``type=`` for ``--prompter``)."""
    if not isinstance(v, str) or not (
        v in ("dialog", "terminal") or (v.startswith("scripted:") and len(v) > len("scripted:"))
    ):
        raise ValueError("must be 'dialog', 'terminal' or 'scripted:/path/to/answers.json'")
    return v


def _mst_mismatch(v: Any) -> str:
    if v not in ("warn", "refuse"):
        raise ValueError("must be 'warn' or 'refuse'")
    return str(v)


@dataclass(frozen=True)
class FieldSpec:
    """One setting: its parser/validator, default and a one-line explanation."""

    parse: Callable[[Any], Any]
    default: Any
    help: str


FIELDS: dict[str, FieldSpec] = {
    "allowed_origins": FieldSpec(_origins, (), "https origins allowed without asking"),
    "sign_hash_origins": FieldSpec(
        _origins, (), "origins allowed to call sign.hash (raw hash signing; off for all by default)"
    ),
    "timestamp_url": FieldSpec(
        _http_url,
        "",
        "RFC 3161 timestamp authority for PDF (PAdES-B-T) and CMS (CAdES-T); empty: none",
    ),
    "pdf_long_term": FieldSpec(
        _bool,
        False,
        "PDF: PAdES-B-LT (certificates and revocation answers in the file) when a timestamp "
        "authority is set and the chain's revocation data can be fetched; B-T otherwise",
    ),
    "pdf_seals": FieldSpec(
        _seals,
        (),
        'PDF: a seal image per certificate, [pdf_seals] "<SHA-256 thumbprint>" = "seal.png" '
        "(PNG, transparency kept), drawn in visible signatures",
    ),
    "allow_user_origins": FieldSpec(
        _bool, True, "users may approve new origins (false: only the policy's list counts)"
    ),
    "pkcs11_modules": FieldSpec(_str_list, (), "extra PKCS#11 module paths to load"),
    "port": FieldSpec(_port, None, f"listening port (default {DEFAULT_PORT}, then 27444, 27445)"),
    "port_range": FieldSpec(
        _port_range,
        "",
        "terminal servers: 'LO-HI', each user's agent takes a free port of it (first choice from "
        "the user's id), unless 'port' is set; empty: the default port and its fallbacks",
    ),
    "ping_port": FieldSpec(
        _int_range(0, 65535),
        DEFAULT_PING_PORT,
        f"plain-http GET /v1/ping for the page's diagnosis (default {DEFAULT_PING_PORT}; 0: off)",
    ),
    "pin_cache.enabled": FieldSpec(_bool, False, "keep the token logged in between signatures"),
    "pin_cache.idle_seconds": FieldSpec(
        _int_range(10, 8 * 3600), 300, "log out after this many idle seconds"
    ),
    "prompter": FieldSpec(prompter_spec, "dialog", "dialog, terminal or scripted:FILE"),
    "max_document_bytes": FieldSpec(
        _int_range(1024, 2**31), DEFAULT_MAX_DOCUMENT_BYTES, "largest document accepted"
    ),
    "max_connections": FieldSpec(_int_range(1, 10_000), 64, "open WebSocket connections"),
    "max_tcp_connections": FieldSpec(
        _int_range(8, 4096),
        DEFAULT_MAX_TCP_CONNECTIONS,
        "open TCP connections per listening socket (the ping's: an eighth, at least 4); never "
        "more than an eighth of the open-file limit",
    ),
    "header_timeout_seconds": FieldSpec(
        _int_range(1, 300),
        10,
        "a new connection must finish TLS, then its request headers, each within this many seconds",
    ),
    "idle_timeout_seconds": FieldSpec(
        _int_range(1, 3600), 15, "an HTTP connection waiting for its next request is closed"
    ),
    "ws_heartbeat_seconds": FieldSpec(
        _int_range(2, 600), 30, "WebSocket ping interval; no pong within half of it closes it"
    ),
    "max_queue": FieldSpec(_int_range(0, 1000), 4, "operations waiting per token before BUSY"),
    "max_pending_per_origin": FieldSpec(
        _int_range(1, 1000), 1, "signing requests one origin may have waiting or running"
    ),
    "prompt_timeout_seconds": FieldSpec(
        _int_range(1, 3600), 120, "how long a question waits for the user"
    ),
    "allow_http_localhost": FieldSpec(
        _bool, False, "developers only: accept http://localhost origins"
    ),
    "mst_mismatch": FieldSpec(
        _mst_mismatch,
        "warn",
        "the document's MST differs from the certificate's: warn (red, in the consent) or refuse",
    ),
    "remote_providers": FieldSpec(
        parse_providers,
        (),
        "remote signing services (CSC API v2): [[remote_providers]] tables with name, base_url, "
        "client_id, auth_flow",
    ),
}
_TABLES = ("pin_cache",)


def flatten(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``{"pin_cache": {"enabled": true}}`` -> ``{"pin_cache.enabled": true}``."""
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _TABLES and isinstance(value, Mapping):
            for sub, sub_value in value.items():
                flat[f"{key}.{sub}"] = sub_value
        else:
            flat[key] = value
    return flat


def parse_layer(raw: Mapping[str, Any], *, code: str, path: str) -> dict[str, Any]:
    """Validate one layer; unknown keys and bad values raise ``code`` (CONFIG_INVALID or
    POLICY_INVALID) naming the file and the key."""
    parsed: dict[str, Any] = {}
    for key, value in flatten(raw).items():
        spec = FIELDS.get(key)
        if spec is None:
            raise KysoError(code, {"path": path, "detail": f"unknown setting {key!r}"})
        try:
            parsed[key] = spec.parse(value)
        except ValueError as exc:
            raise KysoError(code, {"path": path, "detail": f"{key}: {exc}"}) from None
    return parsed


@dataclass(frozen=True)
class PinCache:
    """Whether the token stays logged in between signatures, and for how long when idle."""

    enabled: bool = False
    idle_seconds: int = 300


@dataclass(frozen=True)
class Settings:
    """The effective settings of one agent run. Build with :func:`merge_layers`."""

    allowed_origins: tuple[str, ...] = ()
    # sign.hash can forge any signature the key makes (an auth token for another site too), so
    # only origins an administrator or the user named may call it.
    sign_hash_origins: tuple[str, ...] = ()
    timestamp_url: str = ""
    pdf_long_term: bool = False
    pdf_seals: tuple[tuple[str, str], ...] = ()  # (thumbprint, PNG path)
    allow_user_origins: bool = True
    pkcs11_modules: tuple[str, ...] = ()
    port: int | None = None
    port_range: str = ""  # "LO-HI" on terminal servers; "" = the default port and fallbacks
    ping_port: int = DEFAULT_PING_PORT  # 0: no plain-http ping
    pin_cache: PinCache = field(default_factory=PinCache)
    prompter: str = "dialog"
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    max_connections: int = 64
    max_tcp_connections: int = DEFAULT_MAX_TCP_CONNECTIONS
    header_timeout_seconds: int = 10
    idle_timeout_seconds: int = 15
    ws_heartbeat_seconds: int = 30
    max_queue: int = 4
    max_pending_per_origin: int = 1
    prompt_timeout_seconds: int = 120
    allow_http_localhost: bool = False
    mst_mismatch: str = "warn"  # "warn" or "refuse": document MST differs from the certificate's
    # Validated provider tables (agent.remote.providers.providers_from makes objects of them).
    remote_providers: tuple[Mapping[str, Any], ...] = ()
    # setting name -> where its value came from; origin -> where it was allowed
    sources: Mapping[str, Source] = field(default_factory=dict, compare=False)
    origin_sources: Mapping[str, Source] = field(default_factory=dict, compare=False)
    policy_path: str | None = None

    @property
    def candidate_ports(self) -> tuple[int, ...]:
        """Ports to try in order: the configured one, or the default and its fallbacks."""
        return (self.port,) if self.port is not None else (DEFAULT_PORT, *FALLBACK_PORTS)

    @property
    def port_range_ports(self) -> range | None:
        """The terminal-server range as a ``range`` (None when not set)."""
        if not self.port_range:
            return None
        lo, hi = (int(p) for p in self.port_range.split("-"))
        return range(lo, hi + 1)

    @property
    def max_message_bytes(self) -> int:
        """Largest WebSocket message: a base64 document of the maximum size plus envelope."""
        return (self.max_document_bytes * 4) // 3 + 64 * 1024

    @property
    def scripted_prompter(self) -> bool:
        """True when answers come from a local file instead of a person."""
        return self.prompter.startswith("scripted:")

    def raw_hash_allowed(self, origin: str) -> bool:
        """True when configuration names ``origin`` for sign.hash.

        A bare hash can be anything the key could ever sign, an authentication token for
        another site included, so no page may ask for it unless an administrator or the user
        said so."""
        return origin in self.sign_hash_origins

    def value(self, key: str) -> Any:
        """A setting by its flat name (``pin_cache.enabled``)."""
        if key.startswith("pin_cache."):
            return getattr(self.pin_cache, key.split(".", 1)[1])
        return getattr(self, key)

    def describe(self) -> list[dict[str, Any]]:
        """Every setting with its value and source: what ``doctor`` prints."""
        rows = []
        for key, spec in FIELDS.items():
            value = self.value(key)
            rows.append(
                {
                    "setting": key,
                    "value": list(value) if isinstance(value, tuple) else value,
                    "source": self.sources.get(key, "default"),
                    "help": spec.help,
                }
            )
        return rows


def merge_layers(
    layers: Mapping[Source, Mapping[str, Any]], *, policy_path: str | None = None
) -> Settings:
    """Merge validated layers (from :func:`parse_layer`) into :class:`Settings`."""
    values: dict[str, Any] = {k: s.default for k, s in FIELDS.items()}
    sources: dict[str, Source] = {k: "default" for k in FIELDS}
    for source in LAYER_ORDER:
        for key, value in layers.get(source, {}).items():
            if key == "allowed_origins":
                continue
            values[key] = value
            sources[key] = source
    policy = layers.get("policy", {})
    if "port_range" in policy and values["port"] is not None and "port" not in policy:
        # The administrator's range (a terminal server's users each in their own ports): a
        # port the user or the command line names counts only inside it.
        lo, hi = (int(p) for p in str(values["port_range"]).split("-"))
        if not lo <= values["port"] <= hi:
            values["port"], sources["port"] = None, "policy"
    if not values["allow_user_origins"]:
        # The administrator decides which sites may do what: the user's (or the command
        # line's) sign.hash sites count no more than their allowed origins do.
        values["sign_hash_origins"] = policy.get("sign_hash_origins", ())
        sources["sign_hash_origins"] = "policy" if "sign_hash_origins" in policy else "default"
    origin_sources: dict[str, Source] = {}
    origin_layers = ("policy",) if not values["allow_user_origins"] else LAYER_ORDER[::-1]
    for source in origin_layers:
        for origin in layers.get(source, {}).get("allowed_origins", ()):
            origin_sources.setdefault(origin, source)
    if not values["allow_http_localhost"]:
        origin_sources = {o: s for o, s in origin_sources.items() if o.startswith("https://")}
    if origin_sources:
        present = {s for s in origin_sources.values()}
        sources["allowed_origins"] = next(s for s in LAYER_ORDER[::-1] if s in present)
    if "allowed_origins" in policy and not values["allow_user_origins"]:
        sources["allowed_origins"] = "policy"
    return Settings(
        allowed_origins=tuple(origin_sources),
        sign_hash_origins=values["sign_hash_origins"],
        timestamp_url=values["timestamp_url"],
        pdf_long_term=values["pdf_long_term"],
        pdf_seals=values["pdf_seals"],
        allow_user_origins=values["allow_user_origins"],
        pkcs11_modules=values["pkcs11_modules"],
        port=values["port"],
        port_range=values["port_range"],
        ping_port=values["ping_port"],
        pin_cache=PinCache(values["pin_cache.enabled"], values["pin_cache.idle_seconds"]),
        prompter=values["prompter"],
        max_document_bytes=values["max_document_bytes"],
        max_connections=values["max_connections"],
        max_tcp_connections=values["max_tcp_connections"],
        header_timeout_seconds=values["header_timeout_seconds"],
        idle_timeout_seconds=values["idle_timeout_seconds"],
        ws_heartbeat_seconds=values["ws_heartbeat_seconds"],
        max_queue=values["max_queue"],
        max_pending_per_origin=values["max_pending_per_origin"],
        prompt_timeout_seconds=values["prompt_timeout_seconds"],
        allow_http_localhost=values["allow_http_localhost"],
        mst_mismatch=values["mst_mismatch"],
        remote_providers=values["remote_providers"],
        sources=sources,
        origin_sources=origin_sources,
        policy_path=policy_path,
    )
