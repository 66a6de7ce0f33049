"""Builds the token service from the module list the caller hands in.

Which modules to try is the composition root's business (``agent.cli.compose``): it reads the
settings and, for the demo, activates the demo tokens and passes their module path in. This
module knows nothing of the demo, the server or the UI.
"""

from __future__ import annotations

from agent.tokens.modules import candidate_modules
from agent.tokens.service import TokenService


def build_token_service(
    configured_modules: list[str] | tuple[str, ...] = (),
    *,
    demo_module: str | None = None,
    include_builtin: bool = True,
    poll_interval: float = 1.0,
) -> TokenService:
    """A TokenService over every module Kyso should try, in the documented order (configured,
    ``$KYSO_PKCS11_MODULE``, the demo module when given, the built-in table)."""
    candidates = candidate_modules(
        list(configured_modules), demo_module=demo_module, include_builtin=include_builtin
    )
    return TokenService(candidates, poll_interval=poll_interval)
