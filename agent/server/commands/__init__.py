"""Protocol v1 methods, one small command object each, grouped by module."""

from __future__ import annotations

from agent.server.commands.auth import AuthChallenge
from agent.server.commands.base import Command
from agent.server.commands.batch import SignBatch
from agent.server.commands.info import AgentInfo, CertificatesList, TokensList
from agent.server.commands.sign import SignCms, SignHash, SignPdf, SignXml


def command_table() -> dict[str, Command]:
    """Method name -> command, for the dispatcher."""
    commands: list[Command] = [
        AgentInfo(),
        TokensList(),
        CertificatesList(),
        AuthChallenge(),
        SignXml(),
        SignCms(),
        SignHash(),
        SignPdf(),
        SignBatch(),
    ]
    return {c.method: c for c in commands}
