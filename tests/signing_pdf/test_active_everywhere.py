"""Active content is named wherever a PDF is signed, not only in the web consent: the desktop
"Ký tệp" consent, ``kyso-agent sign-pdf``'s output, and the portal stand-in, which refuses any
kind of it in an attachment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from agent.signing.pdf.active import LAUNCH, WARNINGS
from agent.ui.filesign import FilePlan, consent_item
from tests.signing_pdf.conftest import make_pdf
from tests.signing_pdf.test_active_content import _amend, _annotate, _d


def launching() -> bytes:
    """A clean PDF but for a link that launches a program (no JavaScript, no embedded file)."""
    launch = _d(S="/Launch", F="cmd.exe", Win=_d(F="cmd.exe", P="/c calc"))
    return _amend(lambda w, r, p: _annotate(w, p, _d(Subtype="/Link", A=launch)))


def _plan(tmp_path: Path, data: bytes) -> FilePlan:
    source = tmp_path / "hopdong.pdf"
    source.write_bytes(data)
    return FilePlan(source, "pdf", "pades", tmp_path / "hopdong_signed.pdf")


def test_the_desktop_consent_names_active_content(tmp_path: Path) -> None:
    lines = consent_item(_plan(tmp_path, launching())).lines
    assert lines[0][0] == "Cảnh báo / warning"
    assert WARNINGS[LAUNCH][0] in lines[0][1] and WARNINGS[LAUNCH][1] in lines[0][1]
    clean = consent_item(_plan(tmp_path, make_pdf(1))).lines
    assert "Cảnh báo / warning" not in dict(clean)


def test_the_desktop_consent_says_when_a_pdf_cannot_be_read(tmp_path: Path) -> None:
    lines = consent_item(_plan(tmp_path, b"%PDF-1.7\nbroken\n%%EOF\n")).lines
    label, text = lines[0]
    assert label == "Cảnh báo / warning" and "PDF" in text and " / " in text


def test_sign_pdf_prints_each_kind_of_active_content(demo, tmp_path, capsys) -> None:
    doc = tmp_path / "hopdong.pdf"
    doc.write_bytes(launching())
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    org = demo["certificates"]["org"]["thumbprint"]
    code = main(["sign-pdf", str(doc), "--cert", org, "--pin-file", str(pin)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert WARNINGS[LAUNCH][0] in err and WARNINGS[LAUNCH][1] in err


@pytest.mark.parametrize("make", [launching, lambda: make_pdf(1)])
def test_the_portal_refuses_an_attachment_with_any_active_content(make: Any) -> None:
    from portal_stub.attachments import Attachment, _facts
    from portal_stub.errors import PortalError

    data = make()
    if make is launching:
        with pytest.raises(PortalError) as err:
            _facts(Attachment("giayto.pdf", data))
        assert err.value.key == "ATTACHMENT_ACTIVE_CONTENT"
        assert "chạy chương trình" in str(err.value.details)
    else:
        assert _facts(Attachment("giayto.pdf", data)).pages == 1
