"""The command line where a script or a person meets it at its edges (CLI QA round 38).

Each case used to end in a traceback, a wrong exit status or an error that blamed the wrong
thing: a stop signal while the command modules import; stdout closed after a signature was
made; a reader closing the pipe; ``KYSO_HOME`` naming a file; ``sign-files`` with no screen;
no PIN source and no terminal; a ``--tsa`` that is no http(s) address; a port out of range;
usage errors without a code.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.signing_xml.helpers import HOSO

ROOT = Path(__file__).resolve().parents[1]
CMD = [sys.executable, "-m", "agent.cli.main"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, KYSO_HOME=str(home), **extra)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "KYSO_PIN_FILE"):
        env.pop(name, None)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CMD, *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # no controlling terminal: nobody could be asked a PIN
    )


def _terminal_signals() -> None:
    """In the child: the stop signals as a terminal's process has them. Under nohup (a CI
    runner) SIGHUP is inherited ignored, and the CLI keeps an ignored signal ignored."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _importing_command_modules(pid: int) -> bool:
    """True once the process maps lxml: build_parser is importing the command modules (the
    handlers of main() are in place by then; the command itself has not started)."""
    try:
        return "lxml/etree" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/PID/maps")
@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
def test_a_stop_signal_while_the_cli_starts_is_a_clean_stop(
    tmp_path: Path, signum: int, status: int
) -> None:
    doc = tmp_path / "hoso.xml"
    doc.write_bytes(HOSO)
    proc = subprocess.Popen(
        [*CMD, "sign-xml", str(doc), "--pin-file", str(tmp_path / "none"), "--json"],
        cwd=ROOT,
        env=_env(tmp_path / "home"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_terminal_signals,
    )
    deadline = time.monotonic() + 60
    while not _importing_command_modules(proc.pid) and proc.poll() is None:
        assert time.monotonic() < deadline, "the CLI never started importing its commands"
        time.sleep(0.002)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err[-800:]
    assert proc.returncode == status, (proc.returncode, err[-400:])
    assert "interrupted" in err
    assert json.loads(out)["ok"] is False  # --json: still one object on stdout


def test_stdout_closed_after_signing_is_not_reported_as_unsigned(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    doc, out = tmp_path / "hoso.xml", tmp_path / "signed.xml"
    doc.write_bytes(HOSO)
    pin = tmp_path / "pin"
    pin.write_text(demo["tokens"][0]["user_pin"] + "\n")
    thumb = demo["certificates"]["org"]["thumbprint"]
    args = [*CMD, "sign-xml", str(doc), "-o", str(out), "--pin-file", str(pin)]
    args += ["--cert", thumb, "--json"]
    proc = subprocess.run(
        shlex.join(args) + " >&-",  # stdout closed, as a service wrapper may leave it
        shell=True,
        cwd=ROOT,
        env=_env(Path(os.environ["KYSO_HOME"])),
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    assert out.exists()
    assert "Traceback" not in proc.stderr, proc.stderr[-800:]
    assert proc.returncode == 0, proc.stderr[-800:]


def test_a_reader_closing_the_pipe_is_no_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    line = {
        "time": "2026-12-01T00:00:00+00:00",
        "channel": "cli",
        "file": "a.xml",
        "method": "sign-xml",
        "result": "OK",
        "sha256": "ab" * 32,
    }
    (home / "logs" / "audit.jsonl").write_text((json.dumps(line) + "\n") * 3000)
    proc = subprocess.run(
        f"{shlex.join([*CMD, 'audit', '--limit', '0'])} | head -1; echo status=${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        cwd=ROOT,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stderr == "", proc.stderr
    assert proc.stdout.strip().endswith("status=141"), proc.stdout[-200:]


@pytest.mark.parametrize("shape", ["a file", "under a file"])
def test_kyso_home_that_is_no_folder_is_one_clear_error(tmp_path: Path, shape: str) -> None:
    target = tmp_path / "home-is-a-file"
    target.write_text("")
    home = target if shape == "a file" else target / "kyso"
    for args in (["tokens", "--json"], ["audit", "--json"], ["sites", "list", "--json"]):
        result = _run(args, _env(home))
        error = json.loads(result.stdout)["error"]
        assert error["code"] == "STATE_DIR_UNUSABLE", (args, error)
        assert "KYSO_HOME" in error["action_en"] and "KYSO_HOME" in error["action_vi"]
        assert result.returncode == 2, args
    assert target.read_text() == ""  # nothing was written into or over it


def test_sign_files_without_a_screen_says_so_before_any_window(tmp_path: Path) -> None:
    for command in (["sign-files"], ["journal"]):
        result = _run(command, _env(tmp_path / "home"))
        assert result.returncode == 2, result.stderr
        assert "[PROMPTER_UNAVAILABLE]" in result.stderr and "sign-xml" in result.stderr
    bad = _run(["sign-files", "--prompter", "bogus"], _env(tmp_path / "home"))
    assert bad.returncode == 2 and "[INPUT_INVALID]" in bad.stderr and "scripted:" in bad.stderr


def test_no_pin_source_and_no_terminal_is_not_a_cancel(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    doc = tmp_path / "hoso.xml"
    doc.write_bytes(HOSO)
    thumb = demo["certificates"]["org"]["thumbprint"]
    result = _run(
        ["sign-cms", str(doc), "--cert", thumb, "--json"], _env(Path(os.environ["KYSO_HOME"]))
    )
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "INPUT_INVALID", error
    assert "--pin-file" in error["message_en"] and "--pin-file" in error["message_vi"]
    assert not (tmp_path / "hoso.xml.p7s").exists()


@pytest.mark.parametrize("command", ["sign-cms", "sign-pdf"])
@pytest.mark.parametrize("url", ["ftp://tsa.example/tsr", "notaurl", "http://"])
def test_a_tsa_that_is_no_http_address_is_refused_before_signing(
    tmp_path: Path, command: str, url: str
) -> None:
    doc = tmp_path / "doc"
    doc.write_bytes(b"%PDF-1.4\n" if command == "sign-pdf" else HOSO)
    result = _run([command, str(doc), "--tsa", url, "--json"], _env(tmp_path / "home"))
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "INPUT_INVALID" and "--tsa" in error["message_en"], error
    assert result.returncode == 2


@pytest.mark.parametrize("value", ["70000", "0", "-1", "abc"])
def test_demo_ports_out_of_range_are_usage_errors(tmp_path: Path, value: str) -> None:
    result = _run(["demo", "--port", f"={value}"[1:], "--json"], _env(tmp_path / "home"))
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "INPUT_INVALID" and "--port" in error["message_en"], error
    assert not (tmp_path / "home" / "demo").exists()  # nothing was started or made


def test_a_usage_error_without_json_has_the_code_and_both_languages(tmp_path: Path) -> None:
    result = _run(["audit", "--limit", "abc"], _env(tmp_path / "home"))
    assert result.returncode == 2
    assert result.stderr.startswith("usage: kyso-agent audit")  # argparse's usage line first
    assert re.search(
        r"^Lỗi \[INPUT_INVALID\]: Dữ liệu không hợp lệ: tham số --limit: giá trị 'abc' không "
        r"hợp lệ\.$",
        result.stderr,
        re.M,
    )  # argparse's English is said again in Vietnamese (CLI QA 38 F10)
    assert re.search(r"^Error \[INPUT_INVALID\]: Invalid input: .*--limit", result.stderr, re.M)
    assert "kyso-agent audit --help" in result.stderr


def test_the_progress_bar_is_drawn_on_a_terminal_and_only_there(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    """On a terminal the batch's bar redraws in place (real carriage returns); in a redirected
    stderr it is left out (its \\r used to land there as the text "\\u000d")."""
    files = []
    for name in ("a.xml", "b.xml"):
        (tmp_path / name).write_bytes(HOSO)
        files.append(str(tmp_path / name))
    pin = tmp_path / "pin"
    pin.write_text(demo["tokens"][0]["user_pin"] + "\n")
    thumb = demo["certificates"]["org"]["thumbprint"]
    env = _env(Path(os.environ["KYSO_HOME"]))
    base = [*CMD, "sign-xml", "--pin-file", str(pin), "--cert", thumb, "--suffix"]
    master, slave = os.openpty()
    try:
        proc = subprocess.run(
            [*base, "_tty", *files],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=slave,
            timeout=120,
        )
        os.close(slave)
        slave = -1
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
        if slave != -1:
            os.close(slave)
    assert proc.returncode == 0
    assert b"sign-xml: 100%" in shown and b"\r" in shown and b"\\u000d" not in shown
    redirected = _run([*base[3:], "_file", *files], env)
    assert redirected.returncode == 0, redirected.stderr
    assert "sign-xml:" not in redirected.stderr and "\\u000d" not in redirected.stderr


def test_a_broken_pipe_that_is_not_stdout_is_a_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only stdout's reader going away is the quiet 141 (review 37): another pipe breaking
    (a child process's) is reported like any unforeseen fault."""
    from agent.cli import audit_cmd
    from agent.cli.main import EXIT_INTERNAL, main

    def broken(args: Any) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setenv("KYSO_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(audit_cmd, "run_audit", broken)
    assert main(["audit", "--json"]) == EXIT_INTERNAL
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "INTERNAL_ERROR"


def test_sites_list_with_a_site_answers_for_that_site(tmp_path: Path) -> None:
    """CLI QA 38 F13: ``sites list https://x.vn`` ignored its ORIGIN and listed everything."""
    env = _env(tmp_path / "home")
    assert _run(["sites", "allow", "https://a.example.vn"], env).returncode == 0
    assert _run(["sites", "allow", "https://b.example.vn"], env).returncode == 0
    one = _run(["sites", "list", "https://a.example.vn/", "--json"], env)
    assert one.returncode == 0, one.stderr
    assert [r["origin"] for r in json.loads(one.stdout)["sites"]] == ["https://a.example.vn"]
    other = _run(["sites", "list", "https://c.example.vn"], env)
    assert other.returncode == 1
    assert "https://c.example.vn is not allowed" in other.stdout
    assert "b.example.vn" not in other.stdout


def test_audit_refuses_an_empty_site_filter(tmp_path: Path) -> None:
    """CLI QA 38 F13: ``audit --origin ''`` matched every record."""
    result = _run(["audit", "--origin", " ", "--json"], _env(tmp_path / "home"))
    assert result.returncode == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "INPUT_INVALID"
    assert "hãy nêu một trang" in error["message_vi"], error


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "No such file or directory"), ("{nope", "not valid JSON"), ("[]", "not a JSON object")],
)
def test_run_says_at_once_when_its_answers_file_cannot_be_used(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    """CLI QA 38 F14: ``run --prompter scripted:/nonexistent`` started and served, and the typo
    showed only as every request refused. The ready line now names the problem."""
    answers = tmp_path / "answers.json"
    if content is not None:
        answers.write_text(content, encoding="utf-8")
    args = ["run", "--headless", "--port", "0", "--ping-port", "0", "--json"]
    process = subprocess.Popen(
        [*CMD, *args, "--prompter", f"scripted:{answers}"],
        cwd=ROOT,
        env=_env(tmp_path / "home"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        ready = _first_json(process.stdout)
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert ready["scripted_prompter"] is True
    assert ready["scripted_answers_problem"] == problem


def _first_json(stream: Any) -> Any:
    """The first JSON value printed on ``stream`` (indented over lines, or on one)."""
    text = ""
    for line in stream:
        text += line
        with contextlib.suppress(ValueError):
            return json.loads(text)
    raise AssertionError(f"no JSON before the end: {text!r}")


def test_a_good_answers_file_is_not_reported(tmp_path: Path) -> None:
    from agent.ui.scripted import answers_problem

    answers = tmp_path / "answers.json"
    answers.write_text('{"consent": "deny"}', encoding="utf-8")
    assert answers_problem(answers) is None


def test_revoking_a_site_config_toml_allows_says_it_stays_allowed(tmp_path: Path) -> None:
    """Red team 40: ``sites revoke`` on a site config.toml allows said only "was not allowed
    (by you)", and the site went on signing."""
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text('allowed_origins = ["https://a.example.vn"]\n')
    result = _run(["sites", "revoke", "https://a.example.vn"], _env(home))
    assert result.returncode == 1
    assert "still allowed by config.toml" in result.stdout, result.stdout
    as_json = _run(["sites", "revoke", "https://a.example.vn", "--json"], _env(home))
    assert json.loads(as_json.stdout)["still_allowed_by"] == "config.toml"
