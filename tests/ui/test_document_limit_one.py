"""One reading of ``max_document_bytes`` for every file read whole outside a page's request:
the desktop signer (its planning and its consent's read), ``sign-xml``'s consented read and
``sign-cms``'s input all take :func:`agent.config.policy.document_limit`. Three copies of the
lookup had been written; a fourth reader, or a change to one of them (a command-line override,
another default), would have given one path another limit."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import agent.config.policy
from agent.cli.cms_cmd import _read_signed_file
from agent.cli.xml_inputs import read_consented
from agent.errors import KysoError
from agent.ui.filesign import _read_xml, detect
from tests.signing_xml.helpers import HOSO

LIMIT = 100


def test_every_whole_file_reader_takes_the_one_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(HOSO) > LIMIT
    dossier = tmp_path / "hoso.xml"
    dossier.write_bytes(HOSO)
    consented = hashlib.sha256(HOSO).hexdigest()
    # The one function, changed: every reader follows it (none reads the settings itself).
    monkeypatch.setattr(agent.config.policy, "document_limit", lambda: LIMIT)
    readers = {
        "filesign.detect": lambda: detect(dossier),
        "filesign._read_xml": lambda: _read_xml(dossier),
        "xml_inputs.read_consented": lambda: read_consented(dossier, consented),
        "cms_cmd._read_signed_file": lambda: _read_signed_file(dossier),
    }
    refused = {}
    for name, read in readers.items():
        with pytest.raises(KysoError) as err:
            read()
        refused[name] = (err.value.code, err.value.details["limit"])
    assert refused == dict.fromkeys(readers, ("DOCUMENT_TOO_LARGE", LIMIT))


def test_the_limit_is_the_settings_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text("max_document_bytes = 4096\n")
    monkeypatch.setattr(agent.config.policy, "user_config_file", lambda: config)
    assert agent.config.policy.document_limit() == 4096
