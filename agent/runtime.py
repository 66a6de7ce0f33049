"""Composition root: builds the token service from settings, environment and the demo."""

from __future__ import annotations

from agent.demo import tokens as demo_tokens
from agent.tokens.modules import candidate_modules
from agent.tokens.service import TokenService


def build_token_service(
    configured_modules: list[str] | tuple[str, ...] = (),
    *,
    use_demo: bool = True,
    include_builtin: bool = True,
    poll_interval: float = 1.0,
) -> TokenService:
    """A TokenService over every module Kyso should try, in the documented order."""
    demo_module = demo_tokens.activate() if use_demo else None
    candidates = candidate_modules(
        list(configured_modules), demo_module=demo_module, include_builtin=include_builtin
    )
    return TokenService(candidates, poll_interval=poll_interval)
