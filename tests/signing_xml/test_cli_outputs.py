"""sign-xml plans every output before the PIN: two dossiers with one name, an output over
another input or over its own, and the signed file's permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import pin_asks

from .helpers import HOSO, sign_xml_cli


def _tree(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root``: a file's bytes, a link's target."""
    return {
        str(p.relative_to(root)): os.readlink(p) if p.is_symlink() else p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_symlink() or p.is_file()
    }


def _month(month: str) -> bytes:
    return HOSO.replace(b"<NoiDung>", f"<NoiDung><!-- HS-THANG-{month} -->".encode(), 1)


@pytest.mark.parametrize(
    "extra", [(), ("--force",), ("--remove-unsigned",), ("--force", "--remove-unsigned")]
)
def test_two_dossiers_with_one_name_into_one_out_dir_are_refused_before_the_pin(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
    extra: tuple[str, ...],
) -> None:
    """thang10/hoso.xml and thang11/hoso.xml → out/hoso_signed.xml: the second used to replace
    the first's signed copy (--force) after its original was removed (--remove-unsigned)."""
    asked = pin_asks(monkeypatch)
    root = files["dir"]
    october, november = root / "thang10" / "hoso.xml", root / "thang11" / "hoso.xml"
    for path, month in ((october, "10"), (november, "11")):
        path.parent.mkdir()
        path.write_bytes(_month(month))
    out = root / "out"
    out.mkdir()
    (out / "other_signed.xml").write_bytes(b"from before the run")
    before = _tree(root)
    code, report = sign_xml_cli(
        demo, files, "--out-dir", str(out), *extra, capsys=capsys, inputs=(october, november)
    )
    assert code == 2 and report["error"]["code"] == "INPUT_INVALID", report
    detail = report["error"]["details"]["detail"]
    assert str(october) in detail and str(november) in detail
    assert str(out / "hoso_signed.xml") in detail
    assert asked == [] and _tree(root) == before  # nothing written, nothing removed


@pytest.mark.parametrize("layout", ["beside", "out-dir", "symlink", "hardlink"])
def test_an_output_over_another_input_is_refused_before_the_pin(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
    layout: str,
) -> None:
    """a.xml → a_signed.xml while a_signed.xml (or the file it links to) is signed too: with
    --force a.xml's signed copy used to replace that other dossier."""
    asked = pin_asks(monkeypatch)
    root = files["dir"]
    files["b"].write_bytes(_month("11"))
    extra: tuple[str, ...] = ()
    other = root / "a_signed.xml"
    if layout == "beside":
        other.write_bytes(_month("12"))
    elif layout == "out-dir":
        other = root / "out" / "a_signed.xml"
        other.parent.mkdir()
        other.write_bytes(_month("12"))
        extra = ("--out-dir", str(other.parent))
    elif layout == "symlink":
        other.symlink_to(files["b"])
        other = files["b"]
    else:
        os.link(files["b"], other)
        other = files["b"]
    before = _tree(root)
    code, report = sign_xml_cli(
        demo,
        files,
        "--force",
        "--remove-unsigned",
        *extra,
        capsys=capsys,
        inputs=(files["a"], other),
    )
    assert code == 2 and report["error"]["code"] == "INPUT_INVALID", report
    detail = report["error"]["details"]["detail"]
    assert str(files["a"]) in detail and str(other) in detail
    assert asked == [] and _tree(root) == before


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
def test_an_output_on_its_own_input_with_remove_unsigned_is_refused_before_the_pin(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
    link: str,
) -> None:
    asked = pin_asks(monkeypatch)
    out = files["a"] if link == "same" else files["dir"] / "a-link.xml"
    if link == "symlink":
        out.symlink_to(files["a"])
    elif link == "hardlink":
        os.link(files["a"], out)
    before = _tree(files["dir"])
    code, report = sign_xml_cli(
        demo,
        files,
        "-o",
        str(out),
        "--force",
        "--remove-unsigned",
        capsys=capsys,
        inputs=(files["a"],),
    )
    assert code == 2 and report["error"]["code"] == "INPUT_INVALID", report
    assert "replace the original" in report["error"]["details"]["detail"]
    assert asked == [] and _tree(files["dir"]) == before


@pytest.mark.parametrize(
    ("mode", "mask", "expected"),
    [(0o600, 0o022, 0o600), (0o640, 0o022, 0o640), (0o644, 0o022, 0o644), (0o644, 0o077, 0o600)],
)
def test_a_signed_dossier_gets_the_originals_permissions_limited_by_the_umask(
    demo: dict[str, Any],
    files: dict[str, Path],
    capsys: Any,
    mode: int,
    mask: int,
    expected: int,
) -> None:
    """Dossiers hold ID numbers and wages: a private original is never signed into a file
    other users of a terminal server can read."""

    files["a"].chmod(mode)
    old = os.umask(mask)
    try:
        code, report = sign_xml_cli(demo, files, capsys=capsys, inputs=(files["a"],))
    finally:
        os.umask(old)
    assert code == 0, report
    signed = files["dir"] / "a_signed.xml"
    assert stat.S_IMODE(signed.stat().st_mode) == expected
