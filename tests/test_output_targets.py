"""agent.cli.targets: every output of a run planned before anything is signed.

Two inputs to one output, an output over another input (or the input itself), the same file
twice: refused with both names, before a token is opened. The CLI commands are tested in
tests/signing_*/ (with the demo token); here the rules and the desktop signer's use of them.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from agent.cli.targets import check_targets, same_file
from agent.errors import KysoError


def _refused(pairs: list[tuple[Path, Path]], **kwargs: bool) -> str:
    with pytest.raises(KysoError) as caught:
        check_targets(pairs, **kwargs)
    assert caught.value.code == "INPUT_INVALID"
    return str(caught.value.details["detail"])


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    for name in ("thang10", "thang11", "out"):
        (tmp_path / name).mkdir()
    (tmp_path / "thang10" / "hoso.xml").write_bytes(b"<Hoso>10</Hoso>")
    (tmp_path / "thang11" / "hoso.xml").write_bytes(b"<Hoso>11</Hoso>")
    return tmp_path


def test_two_inputs_to_one_output_are_refused_naming_both(folders: Path) -> None:
    a, b = folders / "thang10" / "hoso.xml", folders / "thang11" / "hoso.xml"
    out = folders / "out" / "hoso_signed.xml"
    detail = _refused([(a, out), (b, out)])
    assert str(a) in detail and str(b) in detail and str(out) in detail
    # The output folder written another way (a relative path, a symbolic link) is the same one.
    os.symlink(folders / "out", folders / "link")
    detail = _refused([(a, out), (b, folders / "link" / ".." / "out" / "hoso_signed.xml")])
    assert str(a) in detail and str(b) in detail
    detail = _refused([(a, out), (b, folders / "link" / "hoso_signed.xml")])
    assert str(b) in detail
    check_targets([(a, out), (b, folders / "out" / "hoso_signed-2.xml")])  # distinct: fine


def test_names_differing_only_in_case_or_normalisation_clash_in_one_folder(folders: Path) -> None:
    a, b = folders / "thang10" / "hoso.xml", folders / "thang11" / "hoso.xml"
    detail = _refused(
        [(a, folders / "out" / "HOSO_signed.xml"), (b, folders / "out" / "hoso_signed.xml")]
    )
    assert "HOSO_signed.xml" in detail and "hoso_signed.xml" in detail
    nfc, nfd = "h\u1ed3 s\u01a1.xml", "ho\u0302\u0300 so\u031b.xml"  # "hồ sơ" composed / not
    _refused([(a, folders / "out" / nfc), (b, folders / "out" / nfd)])
    # In two folders the same name is two files.
    check_targets([(a, a.with_name("hoso_signed.xml")), (b, b.with_name("hoso_signed.xml"))])


def test_an_output_over_another_input_is_refused_even_through_links(tmp_path: Path) -> None:
    a, b = tmp_path / "a.xml", tmp_path / "a_signed.xml"
    a.write_bytes(b"<a/>")
    b.write_bytes(b"<b/>")
    detail = _refused([(a, b), (b, tmp_path / "a_signed_signed.xml")])
    assert "a.xml" in detail and str(b) in detail and "another file" in detail
    # The other input reached through a symbolic link or a hard link.
    other = tmp_path / "other.xml"
    other.write_bytes(b"<o/>")
    soft, hard = tmp_path / "soft.xml", tmp_path / "hard.xml"
    soft.symlink_to(other)
    os.link(other, hard)
    for target in (soft, hard):
        detail = _refused([(a, target), (other, tmp_path / "o_signed.xml")])
        assert str(other) in detail


def test_the_output_on_its_own_input_only_when_allowed(tmp_path: Path) -> None:
    a = tmp_path / "a.xml"
    a.write_bytes(b"<a/>")
    link = tmp_path / "link.xml"
    link.symlink_to(a)
    for target in (a, link, tmp_path / "." / "a.xml"):
        assert "replace the original" in _refused([(a, target)])
        check_targets([(a, target)], own_input=True)  # sign-xml in place, --force
    if sys.platform == "darwin" or os.path.exists(str(a).upper()):  # a case-insensitive disk
        assert "replace the original" in _refused([(a, tmp_path / "A.XML")])


def test_the_same_file_twice_is_refused(tmp_path: Path) -> None:
    a = tmp_path / "a.xml"
    a.write_bytes(b"<a/>")
    again = tmp_path / "sub" / ".." / "a.xml"
    (tmp_path / "sub").mkdir()
    detail = _refused([(a, tmp_path / "x.xml"), (again, tmp_path / "y.xml")])
    assert "given twice" in detail


def test_same_file(tmp_path: Path) -> None:
    a = tmp_path / "a"
    a.write_bytes(b"")
    (tmp_path / "l").symlink_to(a)
    assert same_file(a, tmp_path / "l") and same_file(
        tmp_path / "new", tmp_path / "x" / ".." / "new"
    )
    assert not same_file(a, tmp_path / "b")


def test_a_large_run_is_checked_quickly(tmp_path: Path) -> None:
    sources = []
    for n in range(2000):
        path = tmp_path / f"{n}.xml"
        path.write_bytes(b"")
        sources.append(path)
    started = time.perf_counter()
    check_targets([(s, tmp_path / "out" / f"{s.stem}_signed.xml") for s in sources])
    assert time.perf_counter() - started < 2.0


async def test_the_desktop_signer_refuses_two_files_to_one_folder_before_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.cli import compose
    from agent.cli.filesign_cmd import sign_plans
    from agent.ui.filesign import plan_files
    from agent.ui.filesign_view import Options
    from tests.signing_xml.helpers import HOSO

    def no_token(*args: object, **kwargs: object) -> None:
        raise AssertionError("the token was opened")

    monkeypatch.setattr(compose, "build_token_service", no_token)
    for month in ("thang10", "thang11"):
        (tmp_path / month).mkdir()
        (tmp_path / month / "hoso.xml").write_bytes(
            HOSO.replace(b"<Hoso", b"<!-- " + month.encode() + b" --><Hoso", 1)
        )
    out = tmp_path / "out"
    options = Options(confirmed=True, out_dir=out, remove_unsigned=True)
    plans = plan_files([tmp_path / "thang10" / "hoso.xml", tmp_path / "thang11" / "hoso.xml"], out)
    assert [p.problem for p in plans] == [None, None]
    with pytest.raises(KysoError) as caught:
        await sign_plans(plans, options, prompter=None)  # type: ignore[arg-type]
    assert caught.value.code == "INPUT_INVALID"
    assert (
        "thang10" in caught.value.details["detail"] and "thang11" in caught.value.details["detail"]
    )
    assert not out.exists()
    assert b"thang10" in (tmp_path / "thang10" / "hoso.xml").read_bytes()


def test_an_output_under_a_too_long_folder_name_is_reported_not_raised(tmp_path: Path) -> None:
    """Path.exists raises ENAMETOOLONG on such a folder: the case the check is there for."""
    from agent.files import name_too_long, output_name_problem

    target = tmp_path / ("a" * 300) / "o.pdf"
    problem = output_name_problem(target)
    assert problem is not None and "longer than the disk allows" in problem
    assert name_too_long(target) is not None
    deep = Path("/" + "/".join(["c" * 200] * 30)) / "o.pdf"  # over PATH_MAX as a whole
    assert output_name_problem(deep) is not None
    assert output_name_problem(tmp_path / "missing" / "deeper" / "o.pdf") is None


def test_one_missing_folder_is_made_but_not_a_tree(tmp_path: Path) -> None:
    """CLI QA 38 F12: ``-o /nonexist/dir/o.xml`` made the whole tree, even at /, and the
    signed dossier landed where nobody looked. One missing folder (``--out-dir signed``) is
    still made; two are refused before the PIN, in both languages."""
    from agent.cli.targets import check_output_name
    from agent.errors import KysoError

    check_output_name(tmp_path / "a.xml", tmp_path / "signed" / "a.xml")
    with pytest.raises(KysoError) as refused:
        check_output_name(tmp_path / "a.xml", tmp_path / "no" / "such" / "a.xml")
    assert refused.value.code == "INPUT_INVALID"
    assert f"{tmp_path / 'no'} does not exist" in refused.value.message_en
    assert f"thư mục {tmp_path / 'no'} chưa có" in refused.value.message_vi
    assert not (tmp_path / "no").exists()
