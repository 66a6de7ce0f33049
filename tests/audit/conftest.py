"""The agent half of the audit tests runs a real agent: reuse the server tests' harness."""

from tests.server.conftest import (  # noqa: F401  (fixtures, registered by being imported)
    agent,
    answers,
    client_ssl,
    harness,
    prompter,
    server_cert,
)
