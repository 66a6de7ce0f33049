"""--remove-unsigned deletes only the file that was read and signed. A corrected version saved
over the original while the PIN is asked (an editor writes a new file and renames it over the
old one), or the original edited in place, is kept with a warning: nothing is lost."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from agent.cli import xml_cmd
from agent.cli.inputs import ReadFile, still_holds
from agent.cli.main import main
from agent.tokens.pin import StaticPinProvider
from tests.conftest import cert_thumbprint
from tests.signing_pdf.conftest import make_pdf
from tests.signing_xml.helpers import HOSO, PIN

CORRECTED = HOSO.replace(b"<MaThuTuc>600</MaThuTuc>", b"<MaThuTuc>612</MaThuTuc>")


@pytest.fixture
def work(tmp_path: Path, demo: dict[str, Any]) -> Path:
    (tmp_path / "pin").write_text(PIN + "\n")
    return tmp_path


def _who(demo: dict[str, Any], work: Path) -> list[str]:
    return ["--cert", cert_thumbprint(demo, "org"), "--pin-file", str(work / "pin"), "--json"]


def _save_over(path: Path, data: bytes) -> None:
    """What an editor's "save" does: a new file renamed over the old one."""
    new = path.with_name(path.name + ".new")
    new.write_bytes(data)
    os.replace(new, path)


def test_sign_pdf_keeps_a_corrected_version_saved_while_the_pin_is_asked(
    demo: dict[str, Any], work: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = work / "report.pdf"
    old, fixed = make_pdf(1, text="BAN CU old"), make_pdf(1, text="BAN SUA corrected")
    report.write_bytes(old)
    original = StaticPinProvider.get_pin

    async def save_while_asked(self: Any, request: Any) -> str | None:
        _save_over(report, fixed)  # the user saves the corrected version meanwhile
        return await original(self, request)

    monkeypatch.setattr(StaticPinProvider, "get_pin", save_while_asked)
    argv = ["sign-pdf", str(report), "--remove-unsigned", *_who(demo, work)]
    assert main(argv) == 0
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert result["removed_unsigned"] is False
    assert report.read_bytes() == fixed  # the corrected version is still there
    signed = Path(result["output"]).read_bytes()
    assert signed.startswith(old)  # the signed copy is of what was read before the PIN
    assert "changed after it was read for signing" in out.err


def test_sign_xml_keeps_an_original_replaced_before_its_removal(
    demo: dict[str, Any], work: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replaced between the signing and the removal (here: during the read-back)."""
    dossier = work / "hoso.xml"
    dossier.write_bytes(HOSO)
    real = xml_cmd.check_xml_signature

    def replaced_meanwhile(*args: Any, **kw: Any) -> Any:
        _save_over(dossier, CORRECTED)
        return real(*args, **kw)

    monkeypatch.setattr(xml_cmd, "check_xml_signature", replaced_meanwhile)
    assert main(["sign-xml", str(dossier), "--remove-unsigned", *_who(demo, work)]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["ok"] and result["removed_unsigned"] is False
    assert dossier.read_bytes() == CORRECTED


def test_an_original_edited_in_place_with_its_time_put_back_is_not_removed(tmp_path: Path) -> None:
    """Same inode, same size, same mtime (a coarse-clock disk, or a tool restoring it): the
    bytes decide."""
    import hashlib

    path = tmp_path / "hoso.xml"
    path.write_bytes(HOSO)
    st = os.stat(path)
    read = ReadFile.of(st, hashlib.sha256(HOSO).hexdigest())
    assert still_holds(path, read)
    with path.open("r+b") as handle:  # in place: same inode
        handle.write(b"<!-- 0 -->")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_ino == st.st_ino and os.stat(path).st_size == st.st_size
    assert not still_holds(path, read)
    path.write_bytes(HOSO + b" ")  # another size
    assert not still_holds(path, read)


def test_a_symlink_input_unchanged_removes_the_link_and_keeps_its_target(
    demo: dict[str, Any], work: Path, capsys: Any
) -> None:
    """--remove-unsigned on a link removes the link (as rm would), never the file behind it."""
    target, link = work / "kho" / "hoso.xml", work / "hoso-link.xml"
    target.parent.mkdir()
    target.write_bytes(HOSO)
    link.symlink_to(target)
    assert main(["sign-xml", str(link), "--remove-unsigned", *_who(demo, work)]) == 0
    out = capsys.readouterr()
    result = json.loads(out.out)["results"][0]
    assert result["ok"] and result["removed_unsigned"] is True, out.err
    assert not link.is_symlink() and not link.exists()
    assert target.read_bytes() == HOSO  # the target is untouched
    assert "changed after it was read" not in out.err
    assert f"Removed the link {link}; the file it points to was kept" in out.err


def test_sign_pdf_through_a_symlink_removes_the_link_only(
    demo: dict[str, Any], work: Path, capsys: Any
) -> None:
    target, link = work / "that.pdf", work / "link.pdf"
    target.write_bytes(make_pdf(1, text="QUA LIEN KET"))
    before = target.read_bytes()
    link.symlink_to(target)
    assert main(["sign-pdf", str(link), "--remove-unsigned", *_who(demo, work)]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["removed_unsigned"] is True, out.err
    assert not link.is_symlink() and target.read_bytes() == before


def test_a_symlink_repointed_before_the_removal_is_kept_with_a_warning(
    demo: dict[str, Any], work: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, other, link = work / "hoso.xml", work / "khac.xml", work / "link.xml"
    target.write_bytes(HOSO)
    other.write_bytes(CORRECTED)
    link.symlink_to(target)
    real = xml_cmd.check_xml_signature

    def repointed_meanwhile(*args: Any, **kw: Any) -> Any:
        link.unlink()
        link.symlink_to(other)
        return real(*args, **kw)

    monkeypatch.setattr(xml_cmd, "check_xml_signature", repointed_meanwhile)
    assert main(["sign-xml", str(link), "--remove-unsigned", *_who(demo, work)]) == 0
    out = capsys.readouterr()
    result = json.loads(out.out)["results"][0]
    assert result["ok"] and result["removed_unsigned"] is False
    assert link.resolve() == other.resolve()
    assert target.read_bytes() == HOSO and other.read_bytes() == CORRECTED
    assert "changed after it was read for signing" in out.err


def test_a_link_swapped_for_another_path_to_the_same_file_is_kept(tmp_path: Path) -> None:
    """The link itself is part of what was read: a new link, even to the same file, or a link
    put where a plain file was read, is not removed."""
    import hashlib

    from agent.cli.inputs import read_checked

    target, link = tmp_path / "hoso.xml", tmp_path / "link.xml"
    target.write_bytes(HOSO)
    link.symlink_to(target)
    _, read = read_checked(link)
    assert read.same_identity(os.stat(target)) and still_holds(link, read)
    relative = tmp_path / "link.new"
    relative.symlink_to("hoso.xml")  # another link text, same file
    os.replace(relative, link)
    assert not still_holds(link, read)
    plain = ReadFile.of(os.stat(target), hashlib.sha256(HOSO).hexdigest())
    assert not still_holds(link, plain)  # read as a plain file, a link there now
