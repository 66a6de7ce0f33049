""" "Ký tệp hồ sơ…" says in its consent when the certificate's revocation status could not be
checked (offline, responder blocked), as the agent's consent does: the tray starts it without
a terminal, so a line on stderr alone reaches nobody."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli.filesign_cmd import sign_plans
from agent.demo.responder import DemoResponder
from agent.signing.certstatus import UNKNOWN_LINE
from agent.ui.api import ConsentRequest
from agent.ui.filesign import plan_files
from agent.ui.filesign_view import Options
from agent.ui.scripted import ScriptedPrompter
from tests.conftest import cert_thumbprint
from tests.pki_responder import clear_status_cache
from tests.signing_pdf.conftest import make_pdf
from tests.signing_xml.helpers import HOSO, PIN


class Remembers(ScriptedPrompter):
    """The scripted user, keeping the consent it was shown."""

    def __init__(self, answers: Path) -> None:
        super().__init__(answers)
        self.requests: list[ConsentRequest] = []

    async def consent(self, request: ConsentRequest) -> bool:
        self.requests.append(request)
        return await super().consent(request)


async def _consent_lines(tmp_path: Path, demo: dict[str, Any]) -> list[tuple[Any, ...]]:
    answers = tmp_path / "answers.json"
    certificate = cert_thumbprint(demo, "org")
    answers.write_text(json.dumps({"consent": "allow", "pin": PIN, "certificate": certificate}))
    folder = tmp_path / "hoso"
    folder.mkdir()
    (folder / "600.xml").write_bytes(HOSO)
    (folder / "hop-dong.pdf").write_bytes(make_pdf(1))
    prompter = Remembers(answers)
    plans = plan_files(sorted(folder.iterdir()))
    results = await sign_plans(plans, Options(confirmed=True, out_dir=None), prompter)
    assert all(r["ok"] for r in results), results
    (request,) = prompter.requests
    assert len(request.items) == 2
    return [item.lines for item in request.items]


async def test_an_unknown_status_is_a_line_in_every_files_consent(
    tmp_path: Path, demo: dict[str, Any]
) -> None:
    clear_status_cache()  # nothing listens on the demo's OCSP/CRL port: unknown
    for lines in await _consent_lines(tmp_path, demo):
        assert lines[0] == UNKNOWN_LINE


@pytest.mark.usefixtures("demo")
async def test_a_good_status_adds_no_line(tmp_path: Path, demo: dict[str, Any]) -> None:
    clear_status_cache()
    with DemoResponder(demo):
        shown = await _consent_lines(tmp_path, demo)
    clear_status_cache()
    assert all(UNKNOWN_LINE not in lines for lines in shown)
