"""A form field that is no signature field (a text field "Họ tên", or one a form author happened
to call "KysoSignature") and a signature of the same name: pyHanko refuses to sign such a field
("exists but is not a /Sig field"), and it said so only inside the signing, after the consent
and the PIN. Now the inspection lists the form's other fields: a signature asked for under one
of their names is refused before any prompt, and Kyso never gives a new field such a name.

The forms are real PDFs: pyHanko's writer adds the text fields as a form author's tool does
(a field merged with its widget, in /AcroForm /Fields and the page's /Annots); poppler reads
them, and pdfsig verifies what Kyso signs beside them."""

from __future__ import annotations

import base64
import io
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from agent.errors import KysoError
from agent.signing.pdf import PdfSignOptions, inspect_pdf, sign_pdf
from agent.signing.pdf.sign import choose_field
from tests.conftest import cert_thumbprint, pin_asks
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf, pdfsig

NAME = "Họ tên"


def with_text_fields(
    document: bytes, *names: str, group: str = "", members: tuple[str, ...] = ()
) -> bytes:
    """``document`` with a filled text field per name on page 1, and ``members`` under a node
    ``group`` of no type of its own (as form tools group fields: "group.member")."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name, pdf_string
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(document))
    page_ref = writer.root["/Pages"].raw_get("/Kids")[0]
    page = page_ref.get_object()
    annots = generic.ArrayObject()
    top = generic.ArrayObject()

    def text_field(name: str, parent: Any = None) -> Any:
        n = len(annots)
        field = generic.DictionaryObject(
            {
                pdf_name("/FT"): pdf_name("/Tx"),
                pdf_name("/T"): pdf_string(name),
                pdf_name("/V"): pdf_string(f"Nguyễn Văn {n}"),
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (72, 600 - 40 * n, 300, 625 - 40 * n)]
                ),
                pdf_name("/P"): page_ref,
                pdf_name("/F"): generic.NumberObject(4),
            }
        )
        if parent is not None:
            field[pdf_name("/Parent")] = parent
        ref = writer.add_object(field)
        annots.append(ref)
        return ref

    for name in names:
        top.append(text_field(name))
    if group:
        node = generic.DictionaryObject({pdf_name("/T"): pdf_string(group)})
        node_ref = writer.add_object(node)
        node[pdf_name("/Kids")] = generic.ArrayObject(text_field(m, node_ref) for m in members)
        top.append(node_ref)
    page[pdf_name("/Annots")] = annots
    writer.update_container(page)
    writer.root[pdf_name("/AcroForm")] = generic.DictionaryObject(
        {pdf_name("/Fields"): top, pdf_name("/DA"): pdf_string("/Helv 10 Tf 0 g")}
    )
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _poppler_reads(data: bytes, tmp_path: Path) -> None:
    """poppler opens the form (a PDF readers open, not a test artefact)."""
    path = tmp_path / "form.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, timeout=60)
    assert info.returncode == 0 and "AcroForm" in info.stdout, info.stdout + info.stderr


def test_the_inspection_lists_the_forms_other_fields(tmp_path: Path) -> None:
    doc = with_text_fields(make_pdf(1), NAME, "MST")
    _poppler_reads(doc, tmp_path)
    assert inspect_pdf(doc).other_fields == {NAME: "/Tx", "MST": "/Tx"}
    grouped = with_text_fields(make_pdf(1), group="nguoi_ky", members=("ten",))
    # A node holding fields has no type of its own: pyHanko refuses that name too.
    assert inspect_pdf(grouped).other_fields == {"nguoi_ky": "", "nguoi_ky.ten": "/Tx"}


@pytest.mark.parametrize("name", [NAME, "nguoi_ky", "nguoi_ky.ten"])
def test_a_signature_named_like_another_field_is_refused_when_chosen(name: str) -> None:
    doc = with_text_fields(make_pdf(1), NAME, group="nguoi_ky", members=("ten",))
    with pytest.raises(KysoError) as err:
        choose_field(inspect_pdf(doc), PdfSignOptions(field_name=name))
    assert err.value.code == "PDF_FIELD_REQUIREMENTS"
    assert err.value.details["field"] == name
    assert "not a signature field" in err.value.details["detail"]


async def test_a_new_field_is_never_named_like_a_text_field(
    demo: Any, token_service: Any, tmp_path: Path
) -> None:
    """A form whose author called a text field "KysoSignature": the new signature field is
    KysoSignature2 (before: PDF_SIGN_FAILED from pyHanko once the PIN was typed)."""
    doc = with_text_fields(make_pdf(1), "KysoSignature")
    facts = inspect_pdf(doc)
    assert choose_field(facts, PdfSignOptions()) == ("KysoSignature2", False)
    async with token_signer(token_service, demo, "org") as signer:
        result = await sign_pdf(doc, signer, PdfSignOptions(), facts=facts)
    assert result.field_name == "KysoSignature2"
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(result.document)
    report = pdfsig(signed)
    assert "Signature Field Name: KysoSignature2" in report, report
    assert "Signature Validation: Signature is Valid." in report, report
    assert inspect_pdf(result.document).other_fields == {"KysoSignature": "/Tx"}


def test_the_cli_refuses_before_the_pin(
    demo: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    asked = pin_asks(monkeypatch)
    source = tmp_path / "to-khai.pdf"
    source.write_bytes(with_text_fields(make_pdf(1), NAME))
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    argv = ["sign-pdf", str(source), "--cert", cert_thumbprint(demo, "org"), "--json"]
    assert main([*argv, "--pin-file", str(pin), "--field", NAME]) != 0
    captured = capsys.readouterr()
    assert "PDF_FIELD_REQUIREMENTS" in captured.out + captured.err, captured
    assert asked == [] and not (tmp_path / "to-khai_signed.pdf").exists()


async def test_the_agent_refuses_before_any_prompt(demo: Any, agent: Any) -> None:
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    document = base64.b64encode(with_text_fields(make_pdf(1), "HoTen")).decode()
    reply = await client.request(
        "sign.pdf", {"document": document, "certificate": org, "field": "HoTen"}
    )
    assert reply["error"]["data"]["code"] == "PDF_FIELD_REQUIREMENTS", reply
    items = [{"kind": "pdf", "document": document, "field": "HoTen"}]
    reply = await client.request("sign.batch", {"items": items, "certificate": org})
    assert "PDF_FIELD_REQUIREMENTS" in str(reply["error"]), reply
    assert agent.prompter.prompts == []
