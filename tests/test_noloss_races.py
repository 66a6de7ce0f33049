"""No signature file beside its document that is not of it, and no file deleted that Kyso did not
write (no-loss QA, stop 36). Real SoftHSM2 token, the real commands."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agent.audit import AuditLog
from agent.cli.common import SignatureAudit
from agent.cli.main import main
from agent.signing.signer import TokenSigner
from agent.tokens.pin import StaticPinProvider
from tests.conftest import cert_thumbprint
from tests.signing_xml.helpers import HOSO, PIN


def _make_pdf() -> bytes:
    from tests.signing_pdf.conftest import make_pdf

    return make_pdf()


# --------------------------------------------------------------------------------------------
# 1. sign-files (desktop), PDF: a signed copy whose audit record fails is "removed" by its
#    FINAL name, not by its staged temporary file: whatever is at that name is deleted.
# --------------------------------------------------------------------------------------------
async def test_filesign_pdf_unrecorded_copy_never_deletes_another_file_at_its_name(
    tmp_path: Path, demo: dict[str, Any], token_service: Any
) -> None:
    from agent.cli.filesign_cmd import _sign_pdf
    from agent.ui.filesign import FilePlan

    source = tmp_path / "hopdong.pdf"
    source.write_bytes(_make_pdf())
    target = tmp_path / "hopdong_signed.pdf"
    precious = b"a file saved at this name meanwhile (another run, the user)"

    class FailingAudit(SignatureAudit):
        """The log fails for the signed copy's record (disk full), while another program
        has just saved a file under the signed copy's name."""

        def result(self, entry: dict[str, Any]) -> bool:
            if entry.get("ok"):
                target.write_bytes(precious)
                return False
            return True

    audit = FailingAudit("sign-files", "xml", log=AuditLog(tmp_path / "audit.jsonl"))
    plan = FilePlan(source, "pdf", "pades", target)
    options = SimpleNamespace(remove_unsigned=False, out_dir=None)
    thumb = cert_thumbprint(demo, "org")
    async with token_service.open_key(thumb, StaticPinProvider(PIN)) as key:
        entry = await _sign_pdf(plan, TokenSigner(key), options, audit)
    assert entry["ok"] is False and entry["error"]["code"] == "AUDIT_UNAVAILABLE"
    # The file someone else put at that name must survive: only our own copy may be deleted.
    assert target.exists(), "the unrelated file at the signed copy's name was deleted"
    assert target.read_bytes() == precious
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# --------------------------------------------------------------------------------------------
# 2. sign-cms (detached): the file changes while the PIN is asked; the .p7s written beside it
#    is for the old content: exit 0, ok: true, and the signature does not match the file.
# --------------------------------------------------------------------------------------------
def test_sign_cms_detached_refuses_when_the_file_changed_before_the_signature(
    tmp_path: Path, demo: dict[str, Any], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "hoso.xml"
    data.write_bytes(HOSO)
    pin = tmp_path / "pin"
    pin.write_text(PIN + "\n")
    original_get_pin = StaticPinProvider.get_pin

    async def user_saves_while_pin_is_asked(self: Any, request: Any) -> str | None:
        data.write_bytes(HOSO.replace(b"0101234567", b"0109999999"))  # the corrected file
        return await original_get_pin(self, request)

    monkeypatch.setattr(StaticPinProvider, "get_pin", user_saves_while_pin_is_asked)
    code = main(
        [
            "sign-cms",
            str(data),
            "--cert",
            cert_thumbprint(demo, "org"),
            "--pin-file",
            str(pin),
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    # Signed, but not written: a .p7s beside the corrected file would not verify against it.
    assert code != 0 and report["error"]["code"] == "INPUT_INVALID", report
    assert "changed while it was being signed" in report["error"]["message_en"]
    assert "thay đổi trong lúc ký" in report["error"]["message_vi"]
    assert not Path(str(data) + ".p7s").exists()


_FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from agent.audit import AuditLog, AuditRecord

log = AuditLog(Path(sys.argv[1]))
assert log.write(AuditRecord(origin=None, method="sign-xml", result="OK", channel="cli"))
size = log.path.stat().st_size
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
# Room for part of the next record only: the kernel writes what fits, then refuses.
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 60, resource.RLIM_INFINITY))
record = AuditRecord(
    origin=None, method="sign-xml", result="OK", channel="cli", file="a.xml", sha256="ab" * 32
)
print("stored" if log.write(record) else "not stored")
"""


def test_a_record_the_disk_cannot_hold_leaves_no_torn_line(tmp_path: Path) -> None:
    """A real short write then EFBIG (a file-size limit, as a full disk gives ENOSPC): the
    record is not stored, and the part written is taken back: no half "signed" line stays in
    the log for every later reading (`kyso-agent audit`) to stumble on."""
    import subprocess
    import sys

    path = tmp_path / "audit.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "not stored"
    lines = path.read_bytes().splitlines()
    assert len(lines) == 1 and all(json.loads(line)["result"] == "OK" for line in lines)
    assert path.read_bytes().endswith(b"\n")


def test_sign_xml_log_never_says_signed_for_a_copy_that_was_deleted(
    tmp_path: Path, demo: dict[str, Any], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk is full for a.xml's record only: its copy is deleted (no signature without its
    record). The narrowest seam: the log's append fails once, then works."""
    monkeypatch.setattr("agent.audit.default_path", lambda: tmp_path / "audit.jsonl")
    for name in ("a.xml", "b.xml"):
        (tmp_path / name).write_bytes(HOSO)
    (tmp_path / "pin").write_text(PIN + "\n")
    real_append = AuditLog._append
    state = {"records": 0}

    def flaky(self: AuditLog, line: bytes, *, reserve: int = 0) -> None:
        if line:
            state["records"] += 1
            if state["records"] == 1:  # the first record (a.xml's "signed"): disk full
                raise OSError(errno.ENOSPC, "No space left on device")
        real_append(self, line, reserve=reserve)  # space freed again

    monkeypatch.setattr(AuditLog, "_append", flaky)
    code = main(
        [
            "sign-xml",
            str(tmp_path / "a.xml"),
            str(tmp_path / "b.xml"),
            "--cert",
            cert_thumbprint(demo, "org"),
            "--pin-file",
            str(tmp_path / "pin"),
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    a = next(r for r in report["results"] if r["file"].endswith("a.xml"))
    assert code == 1 and a["ok"] is False and a["error"]["code"] == "AUDIT_UNAVAILABLE"
    assert a["error"]["details"]["output_removed"] is True
    assert not (tmp_path / "a_signed.xml").exists()
    records = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    about_a = [r for r in records if r.get("file") == "a.xml"]
    # No "signed" record for a copy that no longer exists (its line, pending while the disk
    # was full, was taken back), and the file's last word is what happened to it.
    assert [r["result"] for r in about_a] == ["AUDIT_UNAVAILABLE"], about_a
    assert [r["result"] for r in records if r.get("file") == "b.xml"] == ["OK"]


def test_no_hardlink_fallback_leaves_no_empty_file_at_the_output_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAT, exFAT, some shares: no hard links, so the name is reserved with an empty file and
    the copy renamed over it; a rename that fails (stick pulled) took the empty file along as
    a "signed" copy. Faked at the two calls vfat answers differently (no vfat in this kernel)."""
    from agent.files import stage_write

    target = tmp_path / "hoso_signed.xml"
    staged = stage_write(target, b"<signed/>")

    def no_links(src: Any, dst: Any, *a: Any, **k: Any) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")  # vfat's answer to link()

    real_replace = os.replace

    def rename_fails(src: Any, dst: Any, *a: Any, **k: Any) -> None:
        if Path(dst) == target:
            raise OSError(errno.EIO, "Input/output error")  # USB stick pulled, share dropped
        real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "link", no_links)
    monkeypatch.setattr(os, "replace", rename_fails)
    with pytest.raises(OSError):
        staged.place()
    staged.discard()
    assert not target.exists(), f"an empty placeholder was left: {target.stat().st_size} bytes"


def test_remove_unsigned_never_deletes_a_version_saved_after_the_last_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--remove-unsigned: an editor's save (a new file renamed over the name) right after
    Kyso's last look is kept: the name is moved aside, the file moved checked, and put back."""
    from agent.cli import inputs
    from agent.cli.inputs import ReadFile, removal_refusal

    source = tmp_path / "hoso.xml"
    source.write_bytes(HOSO)
    read = ReadFile.of(os.stat(source), hashlib.sha256(HOSO).hexdigest())
    corrected = HOSO.replace(b"11/2026", b"12/2026")
    real_lstat = os.lstat
    saved = {"done": False}

    def lstat_then_editor_saves(path: Any, *a: Any, **k: Any) -> os.stat_result:
        result = real_lstat(path, *a, **k)
        if Path(path) == source and not saved["done"]:
            saved["done"] = True
            new = tmp_path / ".hoso.xml.swp"
            new.write_bytes(corrected)
            os.replace(new, source)  # the editor's atomic save
        return result

    monkeypatch.setattr(inputs.os, "lstat", lstat_then_editor_saves)
    kept = removal_refusal(source, read)
    monkeypatch.setattr(inputs.os, "lstat", real_lstat)
    assert saved["done"]
    assert source.exists() and source.read_bytes() == corrected, (
        "the corrected version saved after the check was deleted",
        kept,
    )
    assert kept is not None and "saved again" in kept["en"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".removing")] == []
