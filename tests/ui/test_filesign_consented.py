""" "Ký tệp hồ sơ…" signs what the consent showed: each file is signed only while it holds the
bytes whose SHA-256 (and summary) the user agreed to. A file changed after the consent (a
colleague's edit on a shared folder, the export run again while the PIN window is open) is
refused before the token signs it, and kept, even with "remove the unsigned files"."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from agent.audit import AuditLog
from agent.cli.filesign_cmd import sign_plans
from agent.signing.xml import check_xml_signature
from agent.ui.filesign import consent_request, plan_files
from agent.ui.filesign_view import Options
from agent.ui.scripted import ScriptedPrompter
from tests.conftest import cert_thumbprint
from tests.signing_pdf.conftest import make_pdf
from tests.signing_xml.helpers import HOSO, PIN

CHANGED = HOSO.replace(b"<MaThuTuc>600</MaThuTuc>", b"<MaThuTuc>612</MaThuTuc>")


class ChangesAtThePin(ScriptedPrompter):
    """The scripted user, and a file rewritten while the PIN window is open."""

    def __init__(self, answers: Path, changes: dict[Path, bytes]) -> None:
        super().__init__(answers)
        self.changes = changes
        self.consented: dict[str, str] = {}

    async def consent(self, request: Any) -> bool:
        self.consented = {item.title: item.sha256 for item in request.items}
        return await super().consent(request)

    async def get_pin(self, request: Any) -> str | None:
        for path, data in self.changes.items():
            path.write_bytes(data)
        return await super().get_pin(request)


@pytest.fixture
def answers(tmp_path: Path, demo: dict[str, Any]) -> Path:
    path = tmp_path / "answers.json"
    certificate = cert_thumbprint(demo, "org")
    path.write_text(json.dumps({"consent": "allow", "pin": PIN, "certificate": certificate}))
    return path


async def test_a_file_changed_after_the_consent_is_not_signed_and_kept(
    tmp_path: Path, answers: Path
) -> None:
    folder = tmp_path / "hoso"
    folder.mkdir()
    xml, pdf, same = folder / "600.xml", folder / "hop-dong.pdf", folder / "khac.xml"
    xml.write_bytes(HOSO)
    pdf.write_bytes(make_pdf(1, text="So tien 1.000.000"))
    same.write_bytes(HOSO)
    changed_pdf = make_pdf(1, text="So tien 9.000.000")
    prompter = ChangesAtThePin(answers, {xml: CHANGED, pdf: changed_pdf})
    options = Options(confirmed=True, out_dir=None, remove_unsigned=True)
    results = await sign_plans(plan_files([xml, pdf, same]), options, prompter)
    by_name = {Path(r["file"]).name: r for r in results}
    for name in ("600.xml", "hop-dong.pdf"):
        error = by_name[name]["error"]
        assert error["code"] == "INPUT_INVALID", error
        assert "changed after you agreed" in error["message_en"]
        assert "đã thay đổi sau khi bạn đồng ý" in error["message_vi"]
    # Nothing was written for them, and the changed files are kept.
    assert xml.read_bytes() == CHANGED and pdf.read_bytes() == changed_pdf
    assert not (folder / "600_signed.xml").exists()
    assert not (folder / "hop-dong_signed.pdf").exists()
    # The unchanged file is signed as it was shown.
    assert by_name["khac.xml"]["ok"] and by_name["khac.xml"]["removed_unsigned"]
    assert prompter.consented["khac.xml"] == by_name["khac.xml"]["sha256"]
    signed = (folder / "khac_signed.xml").read_bytes()
    check_xml_signature(signed, profile="bhxh")
    records, _ = AuditLog().read()
    mine = {r["file"]: r["result"] for r in records[:3] if r.get("method") == "sign-files"}
    assert mine == {"600.xml": "INPUT_INVALID", "hop-dong.pdf": "INPUT_INVALID", "khac.xml": "OK"}


def test_the_summary_and_the_hash_come_from_one_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consent's summary is made from the very bytes it hashes: a file rewritten as soon
    as it was hashed (a seam at the hash) does not get another file's summary."""
    import types

    import agent.signing.xml.summary as summary
    import agent.ui.filesign as filesign

    path = tmp_path / "600.xml"
    path.write_bytes(HOSO)
    plans = plan_files([path])

    class RewrittenOnceHashed:
        def __init__(self) -> None:
            self.real = hashlib.sha256()

        def update(self, data: bytes) -> None:
            self.real.update(data)
            path.write_bytes(CHANGED)

        def hexdigest(self) -> str:
            return self.real.hexdigest()

    monkeypatch.setattr(filesign, "hashlib", types.SimpleNamespace(sha256=RewrittenOnceHashed))
    seen: list[bytes] = []
    real = summary.summarize_xml

    def remembered(data: bytes) -> Any:
        seen.append(data)
        return real(data)

    monkeypatch.setattr(summary, "summarize_xml", remembered)
    (item,) = consent_request(plans, None).items
    assert item.sha256 == hashlib.sha256(HOSO).hexdigest()
    assert seen == [HOSO]  # summarised: what was hashed, not the file as it is now
