"""``--force`` replaces an earlier file only once its new signed copy is recorded and read back
(docs/security.md, threat table): sign-cms, sign-pdf and sign-xml ``-o OUT --force`` over an OUT
that holds the user's only copy of something. The audit record failing after the write (the log
turned into a folder midway), a read-back that fails, Ctrl-C, a rename that fails and a kill -9
at any point all leave the earlier OUT byte for byte as it was; the error says so
(``earlier_kept``, and a line on stderr). The new copy waits at a temporary name meanwhile, so
a crash never leaves a signed file without its record either. (The desktop signer never
replaces a file: tests/audit/test_cli_audit_unavailable.py, tests/ui.)"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import agent.audit
import agent.files
import agent.signing.pdf.readback
from agent.cli import xml_cmd
from agent.cli.common import SignatureAudit
from agent.cli.main import main
from agent.errors import KysoError
from agent.signing.cms import verify_cms
from agent.signing.pdf.readback import check_signed_pdf
from agent.signing.trust import TrustStore
from agent.signing.xml import check_xml_signature
from tests.audit.conftest import break_log
from tests.conftest import cert_thumbprint
from tests.signing_pdf.conftest import make_pdf
from tests.signing_xml.helpers import HOSO, PIN

REPO = Path(__file__).resolve().parents[2]
OLD = b"PRECIOUS: last year's signed copy, the only one there is"
PDF = make_pdf(1, text="HOP DONG")
CMS_CONTENT = "Thư gửi cơ quan BHXH\n".encode()
KEPT_EN = "(which --force was to replace) was kept as it was"

# command → (its input, its output OUT, more options); --remove-unsigned where it exists: the
# original must stay too whenever OUT is not replaced.
COMMANDS: dict[str, tuple[str, str, list[str]]] = {
    "sign-cms": ("thu.txt", "thu.p7s", []),
    "sign-pdf": ("hopdong.pdf", "hopdong_ky.pdf", ["--remove-unsigned"]),
    "sign-xml": ("d01.xml", "d01_ky.xml", ["--remove-unsigned"]),
}
ORIGINALS = {"thu.txt": CMS_CONTENT, "hopdong.pdf": PDF, "d01.xml": HOSO}
READ_BACK = ["sign-pdf", "sign-xml"]  # the commands that read their copy back


@pytest.fixture
def work(tmp_path: Path, demo: dict[str, Any]) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (tmp_path / "pin").write_text(PIN + "\n")
    for name, data in ORIGINALS.items():
        (folder / name).write_bytes(data)
    for _, out, _ in COMMANDS.values():
        (folder / out).write_bytes(OLD)  # what --force is asked to replace
    return folder


def _argv(command: str, demo: dict[str, Any], work: Path) -> list[str]:
    source, out, more = COMMANDS[command]
    pin = str(work.parent / "pin")
    who = ["--cert", cert_thumbprint(demo, "org"), "--pin-file", pin, "--json"]
    return [command, str(work / source), "-o", str(work / out), "--force", *more, *who]


def _out(command: str, work: Path) -> Path:
    return work / COMMANDS[command][1]


def _listing(folder: Path) -> list[str]:
    """Every name in the folder, hidden temporary files included."""
    return sorted(p.name for p in folder.iterdir())


BEFORE = sorted([*ORIGINALS, *(out for _, out, _ in COMMANDS.values())])


def _records(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [(r["file"], r["result"]) for r in map(json.loads, lines)]


def _at_the_record(monkeypatch: pytest.MonkeyPatch, out: Path, then: Any = None) -> list[bytes]:
    """What OUT holds when the signed copy's OK record is written (the order under test: the
    earlier file is still there); ``then(stored)`` runs right after the record."""
    seen: list[bytes] = []
    real = SignatureAudit.record

    def record(self: SignatureAudit, file: Any, result: str, digests: Any = None) -> bool:
        if result == "OK":
            seen.append(out.read_bytes())
        stored = real(self, file, result, digests)
        if result == "OK" and then is not None:
            then(stored)
        return stored

    monkeypatch.setattr(SignatureAudit, "record", record)
    return seen


def _report(capsys: pytest.CaptureFixture[str], command: str) -> tuple[dict[str, Any], str]:
    """(the error, or sign-xml's one result entry; stderr)."""
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    if command == "sign-xml":
        (entry,) = report["results"]
        return entry.get("error") or entry, captured.err
    return report.get("error") or report, captured.err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_force_replaces_the_earlier_file_only_once_the_copy_is_recorded(
    command: str,
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = _out(command, work)
    seen = _at_the_record(monkeypatch, out)
    assert main(_argv(command, demo, work)) == 0
    capsys.readouterr()
    assert seen == [OLD]  # recorded while the earlier file was still in place
    data = out.read_bytes()
    source = COMMANDS[command][0]
    if command == "sign-cms":
        ca = demo["ca"]
        trust = TrustStore.from_files([ca["chain"]], [ca["crl"], ca["root_crl"]])
        assert verify_cms(data, trust, data=CMS_CONTENT).signer
        assert _listing(work) == BEFORE  # nothing beside it: no temporary, no aside
    else:
        if command == "sign-xml":
            assert check_xml_signature(data).signer
        else:
            check_signed_pdf(io.BytesIO(data), original=(len(PDF), hashlib.sha256(PDF).hexdigest()))
        # the original removed only after the copy replaced the earlier file
        assert _listing(work) == sorted(set(BEFORE) - {source})
    assert _records(log_path) == [(source, "OK")]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_record_that_fails_after_the_write_keeps_the_earlier_file(
    command: str,
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The red-team case: the log becomes a folder once the copy is written; the copy has no
    record, so it is deleted, and the file --force was replacing is still there, whole."""
    out = _out(command, work)
    _at_the_record(monkeypatch, out)
    real = SignatureAudit.record

    def break_first(self: SignatureAudit, file: Any, result: str, digests: Any = None) -> bool:
        if result == "OK":
            break_log(log_path)
        return real(self, file, result, digests)

    monkeypatch.setattr(SignatureAudit, "record", break_first)
    assert main(_argv(command, demo, work)) in (1, 2)
    error, err = _report(capsys, command)
    assert out.read_bytes() == OLD  # the file --force was replacing: whole
    assert error["code"] == "AUDIT_UNAVAILABLE"
    assert error["details"]["output"] == str(out) and error["details"]["output_removed"]
    assert error["details"]["earlier_kept"] == str(out)
    assert f"The earlier {out} {KEPT_EN}" in err
    assert _listing(work) == BEFORE  # no copy left, not even at a temporary name
    for name, data in ORIGINALS.items():
        assert (work / name).read_bytes() == data


@pytest.mark.parametrize("command", READ_BACK)
def test_a_read_back_that_fails_keeps_the_earlier_file(
    command: str,
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The copy on disk does not check: it is set aside as OUT.unverified (recorded: the key
    did sign), and OUT is still the earlier file, not the unchecked copy, not nothing."""
    out = _out(command, work)

    def failing(*args: Any, **kw: Any) -> Any:
        raise KysoError("SIGNATURE_INVALID", {"detail": "the bytes on disk changed"})

    if command == "sign-pdf":
        monkeypatch.setattr(agent.signing.pdf.readback, "check_signed_pdf", failing)
    else:
        monkeypatch.setattr(xml_cmd, "check_xml_signature", failing)
    assert main(_argv(command, demo, work)) in (1, 2)
    error, err = _report(capsys, command)
    aside = work / f"{out.name}.unverified"
    assert out.read_bytes() == OLD  # not the unchecked copy, not nothing
    assert error["code"] == "READBACK_FAILED"
    assert error["details"]["set_aside"] == str(aside) and error["details"]["output"] == str(out)
    assert error["details"]["earlier_kept"] == str(out)
    assert KEPT_EN in err
    assert aside.read_bytes() != OLD  # the new copy, out of the way
    assert _listing(work) == sorted([*BEFORE, aside.name])
    assert _records(log_path) == [(COMMANDS[command][0], "OK")]


@pytest.mark.parametrize("command", READ_BACK)
def test_ctrl_c_during_the_read_back_keeps_the_earlier_file(
    command: str,
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = _out(command, work)

    def interrupted(*args: Any, **kw: Any) -> Any:
        raise KeyboardInterrupt  # a second Ctrl-C, during the read-back

    if command == "sign-pdf":
        monkeypatch.setattr(agent.signing.pdf.readback, "check_signed_pdf", interrupted)
    else:
        monkeypatch.setattr(xml_cmd, "check_xml_signature", interrupted)
    assert main(_argv(command, demo, work)) == 130
    captured = capsys.readouterr()
    aside = work / f"{out.name}.unverified"
    assert out.read_bytes() == OLD
    assert f"so it was renamed {aside}; do not submit it" in captured.err
    assert f"The earlier {out} {KEPT_EN}" in captured.err
    assert _listing(work) == sorted([*BEFORE, aside.name])
    if command == "sign-xml":  # the interrupted report: not "signed → OUT"
        (entry,) = json.loads(captured.out)["results"]
        assert not entry["ok"] and entry["error"]["code"] == "USER_CANCELLED"
        assert entry["error"]["details"]["earlier_kept"] == str(out)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_ctrl_c_at_the_record_keeps_the_earlier_file(
    command: str,
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Interrupted right after the copy's record: it never replaces the earlier file."""
    out = _out(command, work)

    def interrupt(stored: bool) -> None:
        raise KeyboardInterrupt

    _at_the_record(monkeypatch, out, then=interrupt)
    assert main(_argv(command, demo, work)) == 130
    assert out.read_bytes() == OLD
    assert f"The earlier {out} {KEPT_EN}" in capsys.readouterr().err
    assert _listing(work) == BEFORE
    for name, data in ORIGINALS.items():
        assert (work / name).read_bytes() == data


class _FailingReplace:
    """``os`` for agent.files, whose replace() over ``target`` fails (a disk gone read-only,
    a file locked by another program)."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def replace(self, src: Any, dst: Any) -> None:
        if Path(dst) == self.target:
            raise OSError(30, "Read-only file system")
        os.replace(src, dst)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_rename_that_fails_keeps_the_earlier_file(
    command: str,
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = _out(command, work)
    monkeypatch.setattr(agent.files, "os", _FailingReplace(out))
    assert main(_argv(command, demo, work)) in (1, 2)
    error, _ = _report(capsys, command)
    assert out.read_bytes() == OLD
    assert error["code"] == "WRITE_FAILED" and error["details"]["path"] == str(out)
    assert _listing(work) == BEFORE


_KILLER = """
import os, signal, sys
from agent.cli import common
from agent.cli.main import main

real = common.SignatureAudit.record
when = sys.argv[1]

def record(self, file, result, digests=None):
    if result == "OK" and when == "before-record":
        os.kill(os.getpid(), signal.SIGKILL)
    stored = real(self, file, result, digests)
    if result == "OK" and when == "after-record":
        os.kill(os.getpid(), signal.SIGKILL)
    return stored

common.SignatureAudit.record = record
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.timeout(180)
@pytest.mark.parametrize("when", ["before-record", "after-record"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_kill_at_any_point_leaves_the_earlier_file_and_no_unrecorded_signature(
    command: str, when: str, demo: dict[str, Any], work: Path, tmp_path: Path
) -> None:
    """kill -9 once the copy is written, before or after its record: OUT is still the
    earlier file; the signed bytes are only in a temporary file beside it (hidden, never
    under a signed file's name), and only the one killed after its record has one."""
    killer = tmp_path / "killer.py"
    killer.write_text(_KILLER)
    log = agent.audit.default_path()  # the session's state root: the demo tokens are there
    before = len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0
    proc = subprocess.run(
        [sys.executable, str(killer), when, *_argv(command, demo, work)],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    out = _out(command, work)
    assert out.read_bytes() == OLD
    left = sorted(set(_listing(work)) - set(BEFORE))
    assert len(left) == 1 and left[0].startswith(f".{out.name}.") and left[0].endswith(".tmp")
    records = [json.loads(r) for r in log.read_text(encoding="utf-8").splitlines()[before:]]
    results = [r["result"] for r in records]
    assert results == ([] if when == "before-record" else ["OK"])
