"""Local TLS for the loopback agent: a per-install CA whose key is destroyed after it signs one
server certificate for 127.0.0.1, ::1 and localhost, plus trust-store installation (see
:mod:`agent.localtls.truststore`)."""

from agent.localtls.plan import Action
from agent.localtls.store import (
    CaBundle,
    ServerCertificate,
    default_directory,
    ensure_server_certificate,
    load_ca_bundle,
    load_server_certificate,
    ssl_context,
)

__all__ = [
    "Action",
    "CaBundle",
    "ServerCertificate",
    "default_directory",
    "ensure_server_certificate",
    "load_ca_bundle",
    "load_server_certificate",
    "ssl_context",
]
