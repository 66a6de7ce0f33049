"""auth.challenge: a Web eID 1.0 authentication token bound to the origin the agent saw."""

from __future__ import annotations

from typing import Any

from agent import __version__
from agent.server.commands.base import Command, Prepared, run_signing
from agent.server.consent import challenge_item
from agent.server.context import CallContext
from agent.signing.challenge import create_auth_token
from agent.signing.signer import Signer


class AuthChallenge(Command):
    """Sign H(origin) ‖ H(nonce) after the user agreed to sign in on that origin."""

    method = "auth.challenge"
    signs = True

    async def run(self, ctx: CallContext, params: dict[str, Any]) -> Any:
        """Return the token dict (unverifiedCertificate, algorithm, signature, format...)."""
        prepared = Prepared((challenge_item(ctx.origin),), params["nonce"])
        return await run_signing(
            ctx,
            action=self.method,
            thumbprint=params.get("certificate"),
            certificate_filter=params.get("certificate_filter"),
            prepared=prepared,
            sign=self._sign,
            purpose="auth",
        )

    @staticmethod
    async def _sign(signer: Signer, prepared: Prepared, ctx: CallContext) -> Any:
        # The origin is the connection's, never a parameter: a page cannot sign for another site.
        return await create_auth_token(
            signer, origin=ctx.origin, nonce=prepared.payload, app_version=__version__
        )
