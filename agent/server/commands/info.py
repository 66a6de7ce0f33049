"""agent.info, tokens.list and certificates.list: read-only, no prompt."""

from __future__ import annotations

from typing import Any

from agent import __version__
from agent.server import PROTOCOL_VERSIONS
from agent.server.commands.base import Command, b64, usable
from agent.server.context import AgentCore, CallContext
from agent.tokens.model import TokenCertificate


def info(core: AgentCore, origin: str | None) -> dict[str, Any]:
    """The agent's identity and capabilities for ``origin`` (None: a local tool without one),
    also served at GET /v1/info. sign.hash is listed only where it is allowed."""
    settings = core.settings
    hash_allowed = origin is not None and settings.raw_hash_allowed(origin)
    return {
        "name": "Kyso",
        "version": __version__,
        "protocol": list(PROTOCOL_VERSIONS),
        "port": core.port,
        # Where GET http://127.0.0.1:PORT/v1/ping answers (null: off or its port was taken).
        "ping_port": core.ping_port,
        # Loud on purpose: a page (and its user) can see that nobody is being asked.
        "scripted_prompter": settings.scripted_prompter
        or core.services.prompter.name == "scripted",
        "prompter": core.services.prompter.name,
        "pin_cache": settings.pin_cache.enabled,
        "max_document_bytes": settings.max_document_bytes,
        "max_message_bytes": settings.max_message_bytes,
        "methods": [
            "agent.info",
            "tokens.list",
            "certificates.list",
            "auth.challenge",
            "sign.xml",
            "sign.cms",
            *(["sign.hash"] if hash_allowed else []),
            "sign.pdf",
            "sign.batch",
        ],
    }


class AgentInfo(Command):
    """agent.info: what /v1/info says, plus the origin the agent sees for this connection."""

    method = "agent.info"

    async def run(self, ctx: CallContext, params: dict[str, Any]) -> Any:
        """Return the agent's identity."""
        return {**info(ctx.core, ctx.origin), "origin": ctx.origin}


class TokensList(Command):
    """tokens.list: the tokens plugged in now."""

    method = "tokens.list"

    async def run(self, ctx: CallContext, params: dict[str, Any]) -> Any:
        """List tokens (module paths stay private to the machine)."""
        tokens = await ctx.core.services.tokens.list_tokens()
        out = []
        for token in tokens:
            data = token.to_json()
            data.pop("module", None)
            out.append(data)
        return {"tokens": out}


def _key_mismatch(cert: Any) -> bool:
    """The token shows, before any login, that the key under the certificate's CKA_ID is
    another's: signing with it will be refused (KEY_CERT_MISMATCH), so the listing says
    ``usable: false`` with that reason, as ``kyso-agent certs`` and ``doctor`` do."""
    return isinstance(cert, TokenCertificate) and cert.has_private_key and cert.key_mismatch


class CertificatesList(Command):
    """certificates.list: the certificates on present tokens, with the DER for the page."""

    method = "certificates.list"

    async def run(self, ctx: CallContext, params: dict[str, Any]) -> Any:
        """List certificates; ``usable`` says whether Kyso will sign with one.
        ``providers_missing``: the remote providers whose credentials are not in the list
        because their listing is still under way ("loading") or failed ("unreachable")."""
        directory = ctx.core.certs
        # The picker's budget: a slow or dead provider must not hold the page's list for its
        # whole timeout. Its listing goes on and fills the cache for the next call.
        certs = await directory.all(fresh=True, remote_budget=directory.remote_budget)
        out = []
        for cert in certs:
            data = cert.to_json()
            for private in ("module", "key_id", "label"):
                data.pop(private, None)
            if _key_mismatch(cert):
                data["problems"].append("KEY_CERT_MISMATCH")
            if isinstance(cert, TokenCertificate) and cert.key_cannot_sign:
                data["problems"].append("KEY_CANNOT_SIGN")  # usable() says false already
            data["usable"] = usable(cert) and not _key_mismatch(cert)
            data["certificate"] = b64(cert.info.der)
            out.append(data)
        remote = directory.remote  # None when no provider is configured
        missing = [
            {"provider": provider.name, "provider_label": provider.label, "state": state}
            for provider, state in (remote.missing() if remote is not None else ())
        ]
        return {"certificates": out, "providers_missing": missing}
