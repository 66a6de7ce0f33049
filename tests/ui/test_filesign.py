""" "Ký tệp hồ sơ…": planning (profile from each file, where the signed files go), one consent for
every file, the CLI's no-loss signing, and the real windows under Xvfb driven with the keyboard,
each step photographed, the signed files checked by xmlsec1."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent.audit import AuditLog
from agent.cli.filesign_cmd import journal_rows, sign_plans
from agent.ui.filesign import LOCAL_ORIGIN, consent_request, plan_files
from agent.ui.filesign_view import Options
from agent.ui.scripted import ScriptedPrompter
from agent.ui.tray_journal import journal_cells
from tests.conftest import cert_thumbprint
from tests.signing_pdf.conftest import make_pdf, pdfsig
from tests.signing_xml.helpers import HOSO, PIN, TAX, xmlsec_verify
from tests.ui.conftest import ARTIFACTS

REPO = Path(__file__).resolve().parents[2]
# xmlsec1 must be told which attribute is an ID for the tax profile's URI="#..." reference.
ID_ATTRS = {"to-khai": ("--id-attr:id", "HSoKhaiThue")}


@pytest.fixture
def dossiers(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "hoso"
    folder.mkdir()
    files = {
        "bhxh": folder / "600-bao-tang.xml",
        "tax": folder / "to-khai.xml",
        "broken": folder / "hong.xml",
        "pdf": folder / "hop-dong.pdf",
    }
    files["pdf"].write_bytes(make_pdf(1))
    files["bhxh"].write_bytes(HOSO)
    files["tax"].write_bytes(TAX)
    files["broken"].write_bytes(b"<Hoso><unclosed></Hoso>")
    return files


def answers(tmp_path: Path, demo: dict[str, Any], **extra: Any) -> Path:
    path = tmp_path / "answers.json"
    data = {"consent": "allow", "pin": PIN, "certificate": cert_thumbprint(demo, "org"), **extra}
    path.write_text(json.dumps(data))
    return path


def test_the_profile_comes_from_each_file_and_problems_are_shown(dossiers, tmp_path) -> None:
    chosen = [dossiers[k] for k in ("bhxh", "tax", "broken", "pdf", "bhxh")]
    plans = plan_files(chosen)
    assert [(p.source.name, p.kind, p.profile) for p in plans] == [
        ("600-bao-tang.xml", "xml", "bhxh"),
        ("to-khai.xml", "xml", "tax"),
        ("hong.xml", "?", ""),
        ("hop-dong.pdf", "pdf", "pades"),
    ]  # each file once
    assert plans[2].problem is not None and plans[2].problem.code == "XML_MALFORMED"
    assert plans[0].target == dossiers["bhxh"].with_name("600-bao-tang_signed.xml")
    out = tmp_path / "da-ky"
    assert plan_files([dossiers["tax"]], out)[0].target == out / "to-khai_signed.xml"
    # A signed file already there is never overwritten: shown as a problem before anything.
    dossiers["bhxh"].with_name("600-bao-tang_signed.xml").write_bytes(b"old")
    again = plan_files([dossiers["bhxh"]])[0]
    assert again.problem is not None and again.problem.code == "SIGNED_COPY_EXISTS"


def test_one_consent_lists_every_file_with_its_hash(dossiers) -> None:
    import hashlib

    plans = plan_files([dossiers["bhxh"], dossiers["tax"], dossiers["broken"]])
    request = consent_request(plans, None)
    assert request.origin == LOCAL_ORIGIN and request.action == "sign.files"
    assert [i.title for i in request.items] == ["600-bao-tang.xml", "to-khai.xml"]
    assert request.items[0].sha256 == hashlib.sha256(HOSO).hexdigest()
    assert request.summary_vi == "Ký 2 tệp trên máy này bằng USB token"
    assert ("Mã số thuế", "0101234567") in request.items[0].lines  # checked against the cert
    from agent.ui.text import consent_text

    text = consent_text(request)  # a local file is not signed "for a website"
    assert text.question_vi == "Ký 2 tệp dưới đây, trên máy tính này?"
    assert "trang web" not in text.question_vi and "website" not in text.question_en


def test_a_file_the_summary_cannot_read_says_so_in_the_consent(dossiers) -> None:
    """A dossier whose MST is split by a comment: the dialog cannot say which unit it is for,
    and says that instead of showing nothing about it."""
    split = HOSO.replace(b"0101234567", b"0101234567<!-- -->999", 1)
    assert split != HOSO
    dossiers["bhxh"].write_bytes(split)
    (item,) = consent_request(plan_files([dossiers["bhxh"]]), None).items
    warning = dict(item.lines).get("Cảnh báo / warning", "")
    assert "MaSoThue" in warning and "differ from what is signed" in warning


async def test_signed_files_verify_and_unsigned_go_only_after_readback(
    demo, dossiers, tmp_path, xmlsec1
) -> None:
    plans = plan_files([dossiers[k] for k in ("bhxh", "tax", "broken", "pdf")])
    prompter = ScriptedPrompter(answers(tmp_path, demo))
    steps: list[tuple[int, int, str]] = []
    options = Options(confirmed=True, out_dir=None, remove_unsigned=True)
    results = await sign_plans(plans, options, prompter, progress=lambda *a: steps.append(a))
    by_name = {Path(r["file"]).name: r for r in results}
    assert by_name["hong.xml"]["error"]["code"] == "XML_MALFORMED"
    for name in ("600-bao-tang.xml", "to-khai.xml"):
        result = by_name[name]
        assert result["ok"] and result["removed_unsigned"], result
        signed = Path(result["output"])
        check = xmlsec_verify(xmlsec1, demo, signed, *ID_ATTRS.get(signed.stem[:-7], ()))
        assert check.returncode == 0, check.stderr
    pdf = by_name["hop-dong.pdf"]
    assert pdf["ok"] and pdf["removed_unsigned"], pdf
    assert "Signature is Valid" in pdfsig(Path(pdf["output"]))  # poppler, independently
    assert not dossiers["bhxh"].exists() and dossiers["broken"].exists()
    # One consent listing both files, one PIN for the batch.
    kinds = [p.kind for p in prompter.prompts]
    assert kinds.count("consent") == 1 and kinds.count("pin") == 1
    assert steps[0] == (0, 3, "600-bao-tang.xml") and steps[-1] == (3, 3, "")
    records, _ = AuditLog().read()
    mine = [r for r in records if r.get("method") == "sign-files"]
    assert {r["file"]: r["result"] for r in mine[:3]} == {
        "600-bao-tang.xml": "OK",
        "to-khai.xml": "OK",
        "hop-dong.pdf": "OK",
    }
    # The journal shows them with Vietnam time and the certificate.
    rows = journal_cells(journal_rows(mine[:2]))
    assert rows[0][2] in ("hop-dong.pdf", "to-khai.xml") and "+07" not in rows[0][0]
    assert rows[0][5]  # the signer's name


async def test_a_refused_consent_signs_nothing_and_keeps_every_file(demo, dossiers, tmp_path):
    plans = plan_files([dossiers["bhxh"]])
    prompter = ScriptedPrompter(answers(tmp_path, demo, consent="deny"))
    options = Options(confirmed=True, remove_unsigned=True)
    from agent.errors import KysoError

    with pytest.raises(KysoError) as caught:
        await sign_plans(plans, options, prompter)
    assert caught.value.code == "USER_CANCELLED"
    assert dossiers["bhxh"].read_bytes() == HOSO
    assert not dossiers["bhxh"].with_name("600-bao-tang_signed.xml").exists()
    assert [p.kind for p in prompter.prompts] == ["certificate", "consent"]  # no PIN asked


# --- the real windows, under Xvfb ------------------------------------------------------------


def xdotool() -> str:
    binary = shutil.which("xdotool")
    if binary is None:
        pytest.fail("xdotool is missing: install the Debian package xdotool")
    return binary


def wait_window(title: str, proc: subprocess.Popen[str], timeout: float = 60) -> str:
    """The id of the visible window called ``title`` (waits for it)."""
    deadline = time.monotonic() + timeout
    while True:
        # xdotool's regex does not take UTF-8 titles: find Kyso's windows, compare names here.
        found = subprocess.run(
            [xdotool(), "search", "--onlyvisible", "--name", "^Kyso"],
            capture_output=True,
            text=True,
        ).stdout.split()
        for window in found:
            name = subprocess.run(
                [xdotool(), "getwindowname", window], capture_output=True, text=True
            ).stdout.strip()
            if name == title:
                return window
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"sign-files ended before {title!r}: {out}\n{err}")
        assert time.monotonic() < deadline, f"no window {title!r}"
        time.sleep(0.1)


def photo(window: str, name: str) -> Path:
    """Save a window's picture as test-artifacts/ui/NAME.png."""
    from PIL import ImageGrab

    geometry = subprocess.run(
        [xdotool(), "getwindowgeometry", "--shell", window], capture_output=True, text=True
    ).stdout
    values = dict(line.split("=", 1) for line in geometry.split())
    x, y, w, h = (int(values[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=os.environ["DISPLAY"]).save(path)
    return path


def gone(window: str) -> bool:
    return subprocess.run([xdotool(), "getwindowname", window], capture_output=True).returncode != 0


def press(window: str, key: str, timeout: float = 30) -> None:
    """Press ``key`` in ``window`` until the window closes (a key sent before Tk has focused
    the new window is lost; the press that closes it makes the release fail: no check)."""
    deadline = time.monotonic() + timeout
    while not gone(window):
        assert time.monotonic() < deadline, f"{key} did not close the window"
        subprocess.run([xdotool(), "key", "--window", window, key], capture_output=True)
        answered = time.monotonic() + 1
        while not gone(window) and time.monotonic() < answered:
            time.sleep(0.05)
    # The press that closed the window left its key down on the display (the release failed):
    # let go, or the X server repeats it into the next test's windows.
    subprocess.run([xdotool(), "keyup", key], capture_output=True)


def test_a_user_signs_two_files_with_the_windows(xvfb, demo, dossiers, tmp_path, xmlsec1) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "sign-files", "--language", "vi",
         "--prompter", f"scripted:{answers(tmp_path, demo)}",
         str(dossiers["bhxh"]), str(dossiers["tax"])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        options = wait_window("Kyso — Ký tệp hồ sơ", proc)
        assert photo(options, "filesign-1-options").stat().st_size > 0
        press(options, "Return")  # "Ký": beside the originals, unsigned files kept
        result = wait_window("Kyso — Kết quả ký", proc)
        assert photo(result, "filesign-2-result").stat().st_size > 0
        press(result, "Return")  # "Đóng"
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    for source in (dossiers["bhxh"], dossiers["tax"]):
        assert source.exists()  # kept: "remove unsigned" was not ticked
        signed = source.with_name(f"{source.stem}_signed.xml")
        check = xmlsec_verify(xmlsec1, demo, signed, *ID_ATTRS.get(source.stem, ()))
        assert check.returncode == 0, check.stderr


def test_sign_files_is_a_registered_command() -> None:
    from agent.cli.main import build_parser

    args = build_parser().parse_args(["sign-files", "a.xml", "--language", "en"])
    assert isinstance(args, argparse.Namespace) and args.files == [Path("a.xml")]


async def test_the_file_signers_picker_greys_a_revoked_certificate(demo) -> None:
    """'Ký tệp hồ sơ…' lists the tokens' certificates as the agent's picker does: the revoked
    one (alike but for its serial) is greyed and never preselected."""
    from agent.cli.compose import build_token_service
    from agent.cli.filesign_cmd import _certificate
    from agent.demo.responder import DemoResponder
    from agent.errors import KysoError
    from tests.pki_responder import clear_status_cache

    class Recording:
        choice: Any = None

        async def choose_certificate(self, request: Any) -> None:
            self.choice = request
            return None  # the user closes the picker

    clear_status_cache()
    prompter = Recording()
    with DemoResponder(demo), pytest.raises(KysoError) as refused:
        async with build_token_service() as service:
            await _certificate(service, prompter)  # type: ignore[arg-type]
    assert refused.value.code == "USER_CANCELLED"
    revoked = cert_thumbprint(demo, "revoked")
    preselected = prompter.choice.default_row()  # rows are keyed by certificate and token
    assert preselected is not None and preselected.key.text == prompter.choice.preselected
    assert preselected.thumbprint != revoked
    rows = {o.certificate.thumbprint: o for o in prompter.choice.rows()}
    assert rows[revoked].problems == ("REVOKED",) and not rows[revoked].usable
    clear_status_cache()


async def test_a_symlink_chosen_on_the_desktop_is_signed_beside_itself_and_its_target_kept(
    demo, dossiers, tmp_path
) -> None:
    """The user picked a link (a desktop shortcut to a shared folder): the signed copy goes
    beside the link, and "remove unsigned" removes the link, never the file it points to."""
    desk = tmp_path / "desk"
    desk.mkdir()
    links = {"xml": desk / "link.xml", "pdf": desk / "link.pdf"}
    links["xml"].symlink_to(dossiers["bhxh"])
    links["pdf"].symlink_to(dossiers["pdf"])
    plans = plan_files([links["xml"], links["pdf"], dossiers["bhxh"]])  # the target once more
    assert [p.source for p in plans] == [links["xml"], links["pdf"]]  # one file, one plan
    assert [p.target.parent for p in plans] == [desk, desk]
    options = Options(confirmed=True, out_dir=None, remove_unsigned=True)
    results = await sign_plans(plans, options, ScriptedPrompter(answers(tmp_path, demo)))
    assert all(r["ok"] and r["removed_unsigned"] for r in results), results
    assert (desk / "link_signed.xml").is_file() and (desk / "link_signed.pdf").is_file()
    assert not links["xml"].is_symlink() and not links["pdf"].is_symlink()
    assert dossiers["bhxh"].read_bytes() == HOSO  # the shared originals are untouched
    assert dossiers["pdf"].is_file()


def test_a_symlink_loop_among_the_chosen_files_is_that_files_problem(dossiers, tmp_path) -> None:
    """A link pointing at itself crashed the whole window before it opened (RuntimeError
    from resolve()): now that file is shown with its problem, the others as usual."""
    loop = tmp_path / "vong-lap.xml"
    loop.symlink_to(loop)
    plans = plan_files([loop, dossiers["bhxh"]])
    assert [p.source.name for p in plans] == ["vong-lap.xml", dossiers["bhxh"].name]
    assert plans[0].problem is not None and plans[0].problem.code == "INPUT_INVALID"
    assert plans[1].problem is None


async def test_an_unforeseen_fault_on_a_pdf_is_its_error_and_the_others_are_signed(
    demo, dossiers, tmp_path, monkeypatch
) -> None:
    """The PDF path let anything but a KysoError end the whole run (no result window, earlier
    originals already removed); the XML path made it that file's INTERNAL_ERROR. Both do now."""
    import agent.cli.pdf_cmd as pdf_cmd

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a library's own failure")

    monkeypatch.setattr(pdf_cmd, "sign_pdf_file", broken)  # imported by name at each call
    plans = plan_files([dossiers[k] for k in ("bhxh", "pdf", "tax")])
    prompter = ScriptedPrompter(answers(tmp_path, demo))
    options = Options(confirmed=True, out_dir=None, remove_unsigned=True)
    results = await sign_plans(plans, options, prompter)
    by_name = {Path(r["file"]).name: r for r in results}
    assert by_name["hop-dong.pdf"]["error"]["code"] == "INTERNAL_ERROR"
    assert by_name["600-bao-tang.xml"]["ok"] and by_name["to-khai.xml"]["ok"]
    assert dossiers["pdf"].exists()  # never removed unsigned


async def test_a_file_gone_after_it_was_chosen_is_its_own_error_not_the_batchs(
    demo, dossiers, tmp_path
) -> None:
    """Deleted between the options window and the consent: every file got "cannot read …"
    and the broken one lost its own XML_MALFORMED (an outside desktop round)."""
    plans = plan_files([dossiers[k] for k in ("bhxh", "tax", "broken")])
    dossiers["tax"].unlink()
    prompter = ScriptedPrompter(answers(tmp_path, demo))
    options = Options(confirmed=True, out_dir=None, remove_unsigned=False)
    results = await sign_plans(plans, options, prompter)
    by_name = {Path(r["file"]).name: r for r in results}
    assert by_name["hong.xml"]["error"]["code"] == "XML_MALFORMED"
    assert by_name["to-khai.xml"]["error"]["code"] == "INPUT_INVALID"
    assert by_name["600-bao-tang.xml"]["ok"], by_name
    consent = [p for p in prompter.prompts if p.kind == "consent"]
    assert len(consent) == 1  # asked once, for the file that is there
    records, _ = AuditLog().read()
    newest = [(r["file"], r["result"]) for r in records[:2]]  # newest first: this run's two
    assert newest == [("600-bao-tang.xml", "OK"), ("to-khai.xml", "INPUT_INVALID")], newest
