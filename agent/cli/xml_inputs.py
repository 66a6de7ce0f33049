"""The dossiers sign-xml reads: which are worth the PIN, and the consented bytes read bounded.

Every check signing would make later is made before the PIN (:func:`precheck_files`). A file
read whole for the desktop signer (the bytes its consent showed) is read within
``max_document_bytes`` (config.toml, the policy; the agent's own limit), never more.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.cli.document_commands import failed_entry
from agent.cli.inputs import ReadFile, changed_after_consent, check_input, read_checked
from agent.cli.output import one_line
from agent.errors import KysoError
from agent.signing.xml import check_signable
from agent.signing.xml.profiles import XmlProfile
from agent.signing.xml.safe import DEFAULT_MAX_BYTES, parse_untrusted_file


def precheck_files(
    files: list[Path], profile: XmlProfile, outputs: Mapping[Path, Path] | None = None
) -> tuple[list[Path], list[dict[str, Any]]]:
    """(the files worth the PIN, the result entries of the others). Each file must be a
    regular file (a FIFO would hang the run, /dev/zero fill the memory), within the size limit,
    well-formed, safe, and hold what ``profile`` signs (its container, not already signed...),
    and its signed copy's name in ``outputs`` (given without --force) must be free:
    everything signing would refuse later, said before the PIN. One stream parse per file."""
    todo: list[Path] = []
    refused: list[dict[str, Any]] = []
    for source in files:
        try:
            size = check_input(source)
            if size > DEFAULT_MAX_BYTES:
                raise KysoError("XML_TOO_LARGE", {"size": size, "limit": DEFAULT_MAX_BYTES})
            check_signable(parse_untrusted_file(source), profile)
            if outputs is not None and outputs[source].exists():
                raise KysoError("OUTPUT_EXISTS", {"path": str(outputs[source])})
        except KysoError as exc:
            refused.append(failed_entry(source, exc))
            sys.stderr.write(
                f"Không ký / not signed: {one_line(source)}: [{exc.code}] "
                f"{one_line(exc.message_vi)} / {one_line(exc.message_en)}\n"
            )
            continue
        todo.append(source)
    return todo, refused


def read_consented(source: Path, consented: str) -> tuple[bytes, ReadFile]:
    """The whole file the consent showed with the SHA-256 ``consented``, and what was read:
    within ``max_document_bytes`` (DOCUMENT_TOO_LARGE past it, also when the file grew after
    the consent: never read whole into memory), the same bytes (INPUT_INVALID otherwise,
    before the token signs)."""
    from agent.config.policy import document_limit

    document, read = read_checked(source, max_bytes=document_limit())
    if read.sha256 != consented:
        raise changed_after_consent(source)
    return document, read
