"""Existing signature fields: what signing one locks (/Lock, /SV /LockDocument) is in the consent
with the field's page, corner and picture; a lock an earlier signature set refuses a further
signature before any prompt; seed values (/SV) the request does not meet are refused before the
consent instead of failing after the PIN (or, for a timestamp, making pyHanko contact the server
the file names).

The forms are made with pyHanko's own field writer; the earlier signatures are Kyso's, on the
SoftHSM2 demo tokens; pyHanko's diff analysis (the verifier the portal stand-in uses) says what
a later signature would break.
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import replace
from typing import Any

import pytest

from agent.errors import KysoError
from agent.server.consent import pdf_item
from agent.signing.pdf import PdfSignOptions, Placement, inspect_pdf, sign_pdf
from agent.signing.pdf.fields import LOCK_LABEL
from agent.signing.pdf.sign import choose_field
from tests.conftest import cert_thumbprint
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf

LOCKS_DOCUMENT = "ký vào ô này sẽ khoá tài liệu"


def form(*fields: dict[str, Any], pages: int = 2) -> bytes:
    """A PDF with empty signature fields added by pyHanko: each dict holds SigFieldSpec's
    arguments (name, page index, box, lock, seed values)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field

    writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf(pages)))
    for spec in fields:
        append_signature_field(writer, SigFieldSpec(**spec))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def lock(action: str, names: tuple[str, ...] = (), p: int | None = None) -> dict[str, Any]:
    from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec, MDPPerm

    spec = FieldMDPSpec(FieldMDPAction(action), list(names) or None)
    return {"field_mdp_spec": spec, **({"doc_mdp_update_value": MDPPerm(p)} if p else {})}


def seed(**values: Any) -> dict[str, Any]:
    from pyhanko.sign.fields import SigSeedValueSpec

    return {"seed_value_dict": SigSeedValueSpec(**values)}


def field(name: str, page: int = 0, box: tuple[int, int, int, int] = (50, 50, 250, 120)) -> Any:
    return {"sig_field_name": name, "on_page": page, "box": box}


async def sign_field(token_service: Any, demo: Any, data: bytes, name: str | None) -> bytes:
    async with token_signer(token_service, demo, "org") as signer:
        return (await sign_pdf(data, signer, PdfSignOptions(field_name=name))).document


def broken_by_later_revisions(data: bytes) -> list[str]:
    """The signatures pyHanko's diff policy says a later revision broke (field names)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, SuspiciousModification

    broken = []
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    for sig in PdfFileReader(io.BytesIO(data)).embedded_signatures:
        sig.compute_integrity_info()
        verdict = sig.evaluate_modifications(DEFAULT_DIFF_POLICY)
        if isinstance(verdict, SuspiciousModification | Exception):
            broken.append(sig.field_name)
    return broken


# --- the field's own lock, in the consent ------------------------------------------------------


async def test_a_field_locking_the_document_says_so_with_its_place_and_the_next_is_refused(
    demo, agent
) -> None:
    requests: list[Any] = []
    answer = agent.prompter.consent

    async def consent(request: Any) -> bool:
        requests.append(request)
        return await answer(request)

    agent.prompter.consent = consent
    doc = form({**field("KyDuyet", page=1, box=(330, 700, 560, 780)), **lock("/All", p=1)})
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    b64 = base64.b64encode(doc).decode()
    result = await client.call(
        "sign.pdf", {"document": b64, "certificate": org, "field": "KyDuyet"}
    )
    (item,) = requests[0].items
    lines = dict(item.lines)
    where = lines["Chữ ký hiển thị / visible signature"]
    assert "«KyDuyet»" in where and "trang 2" in where and "trên bên phải" in where, where
    assert LOCKS_DOCUMENT in lines[LOCK_LABEL] and "nobody can sign" in lines[LOCK_LABEL]
    assert item.preview_png is not None  # the page with the field's box, as for a new stamp
    signed = base64.b64decode(result["document"])
    assert inspect_pdf(signed).locked_by_certification
    # The next signer is stopped before any prompt, with the code a certification gets.
    prompts = len(agent.prompter.prompts)
    again = await client.request("sign.pdf", {"document": result["document"], "certificate": org})
    assert again["error"]["data"]["code"] == "PDF_CERTIFIED_NO_CHANGES"
    assert len(agent.prompter.prompts) == prompts


def _lock_document() -> dict[str, Any]:
    from pyhanko.sign.fields import SeedLockDocument

    return seed(lock_document=SeedLockDocument.LOCK)  # /SV /LockDocument true, no /Lock


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: lock("/All"), "khoá mọi ô của biểu mẫu"),
        (lambda: lock("/Include", ("Ke toan", "Giam doc")), "khoá các ô «Ke toan», «Giam doc»"),
        (lambda: lock("/Exclude", ("Giam doc",)), "khoá mọi ô trừ «Giam doc»"),
        (_lock_document, LOCKS_DOCUMENT),
    ],
)
def test_what_signing_the_field_locks_is_named(make: Any, expected: str) -> None:
    facts = inspect_pdf(form({**field("F1"), **make()}))
    item = pdf_item(facts, None, None, "F1")
    locks = [value for label, value in item.lines if label == LOCK_LABEL]
    assert len(locks) == 1 and expected in locks[0], locks
    # A certification locks everything already, and says so in its own line.
    certified = pdf_item(facts, None, None, "F1", certify=True)
    assert LOCK_LABEL not in dict(certified.lines)


async def test_a_seed_value_lock_really_locks_the_document(demo, token_service) -> None:
    """The consent's claim, checked on pyHanko's output: /SV /LockDocument true gives the
    approval signature DocMDP P=1, so Kyso counts the result as locked."""
    doc = form({**field("F1"), **_lock_document()})
    signed = await sign_field(token_service, demo, doc, "F1")
    assert inspect_pdf(signed).locked_by_certification


# --- locks set by earlier signatures -----------------------------------------------------------


async def test_earlier_field_locks_refuse_exactly_what_they_lock(demo, token_service) -> None:
    """/Include locks the fields named, /Exclude all others (a new field too), /All every field:
    pyHanko calls the earlier signature broken in exactly those cases."""
    cases = [
        (lock("/Include", ("F2",)), {"F2"}),
        (lock("/Exclude", ("F2",)), {"new"}),
        (lock("/All"), {"F2", "new"}),
    ]
    for spec, refused in cases:
        doc = form({**field("F1"), **spec}, field("F2", box=(300, 50, 500, 120)))
        signed = await sign_field(token_service, demo, doc, "F1")
        facts = inspect_pdf(signed)
        for target in ("F2", "new"):
            options = PdfSignOptions(field_name=None if target == "new" else target)
            if target in refused:
                with pytest.raises(KysoError) as err:
                    choose_field(facts, options)
                assert err.value.code == "PDF_CERTIFIED_NO_CHANGES", (spec, target)
                # Signed anyway (the lock hidden from Kyso): pyHanko calls F1 broken.
                blind = replace(facts, earlier_locks=(), locked_by_certification=False)
                async with token_signer(token_service, demo, "org") as signer:
                    later = await sign_pdf(signed, signer, options, facts=blind)
                assert broken_by_later_revisions(later.document) == ["F1"], (spec, target)
            else:
                choose_field(facts, options)


async def test_an_earlier_signature_whose_field_lock_set_p1_locks_the_file(
    demo, token_service
) -> None:
    doc = form(
        {**field("F1"), **lock("/Include", ("F1",), p=1)}, field("F2", box=(300, 50, 500, 120))
    )
    signed = await sign_field(token_service, demo, doc, "F1")
    facts = inspect_pdf(signed)
    assert facts.locked_by_certification
    with pytest.raises(KysoError) as err:
        choose_field(facts, PdfSignOptions(field_name="F2"))
    assert err.value.code == "PDF_CERTIFIED_NO_CHANGES"


# --- seed values the request does not meet -----------------------------------------------------


def _refusal(doc: bytes, **options: Any) -> str:
    facts = inspect_pdf(doc)
    with pytest.raises(KysoError) as err:
        choose_field(facts, PdfSignOptions(field_name="F1", **options))
    assert err.value.code == "PDF_FIELD_REQUIREMENTS", err.value
    return str(err.value.details.get("detail", ""))


def test_seed_values_the_request_does_not_meet_are_refused_before_the_consent() -> None:
    from pyhanko.sign.fields import (
        MDPPerm,
        SeedSignatureType,
        SigSeedSubFilter,
        SigSeedValFlags,
    )

    reasons = form({**field("F1"), **seed(flags=SigSeedValFlags.REASONS, reasons=["Duyệt chi"])})
    assert "Duyệt chi" in _refusal(reasons)
    assert "Duyệt chi" in _refusal(reasons, reason="Đồng ý")
    choose_field(inspect_pdf(reasons), PdfSignOptions(field_name="F1", reason="Duyệt chi"))
    certifying = form({**field("F1"), **seed(seed_signature_type=SeedSignatureType(MDPPerm(1)))})
    assert "certification" in _refusal(certifying)
    choose_field(inspect_pdf(certifying), PdfSignOptions(field_name="F1", certify=True))
    approval = form({**field("F1"), **seed(seed_signature_type=SeedSignatureType(None))})
    assert "approval" in _refusal(approval, certify=True)
    adobe = form(
        {
            **field("F1"),
            **seed(
                flags=SigSeedValFlags.SUBFILTER,
                subfilters=[SigSeedSubFilter.ADOBE_PKCS7_DETACHED],
            ),
        }
    )
    assert "SubFilter" in _refusal(adobe)
    digest = form(
        {**field("F1"), **seed(flags=SigSeedValFlags.DIGEST_METHOD, digest_methods=["sha512"])}
    )
    assert "sha512" in _refusal(digest)


def test_a_required_timestamp_never_sends_pyhanko_to_the_files_server() -> None:
    """Without a timestamp authority of Kyso's, pyHanko would ask the one the file names."""
    doc = form(
        {
            **field("F1"),
            **seed(timestamp_server_url="http://tsa.attacker.example/", timestamp_required=True),
        }
    )
    assert "timestamp" in _refusal(doc)
    ours = PdfSignOptions(field_name="F1", timestamp_url="http://tsa.kyso.test/")
    assert choose_field(inspect_pdf(doc), ours) == ("F1", True)


def test_an_existing_field_is_signed_where_it_is_never_where_asked() -> None:
    doc = form(field("F1"))
    facts = inspect_pdf(doc, size_of_pages=(2,))
    for options in (
        PdfSignOptions(field_name="F1", placement=Placement(2, (300, 300, 500, 370))),
        PdfSignOptions(field_name="F1", anchor="Giám đốc"),
    ):
        with pytest.raises(KysoError) as err:
            choose_field(facts, options)
        assert err.value.code == "PDF_PLACEMENT_INVALID"


def test_a_hidden_or_unplaced_field_is_not_called_visible() -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    doc = form(field("F1"), field("F2", box=(300, 50, 500, 120)))
    writer = IncrementalPdfFileWriter(io.BytesIO(doc))
    for ref in writer.root["/AcroForm"]["/Fields"]:
        widget = ref.get_object()
        if widget["/T"] == "F1":
            widget["/F"] = generic.NumberObject(2 | 4)  # Hidden (and Print)
            writer.update_container(widget)
    out = io.BytesIO()
    writer.write(out)
    facts = inspect_pdf(out.getvalue())
    shown = dict(pdf_item(facts, None, None, "F1").lines)["Chữ ký hiển thị / visible signature"]
    assert "không hiển thị" in shown and "trang" not in shown
    placed = dict(pdf_item(facts, None, None, "F2").lines)["Chữ ký hiển thị / visible signature"]
    assert "trang 1 / page 1" in placed and "dưới bên phải" in placed


def test_the_cli_says_what_the_field_locks_and_the_desktop_warns_of_the_locked_result(
    demo, tmp_path, capsys
) -> None:
    from agent.cli.main import main
    from agent.ui.filesign import FilePlan, consent_item

    source = tmp_path / "hopdong.pdf"
    source.write_bytes(form({**field("KyDuyet"), **lock("/All", p=1)}))
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    org = demo["certificates"]["org"]["thumbprint"]
    argv = ["sign-pdf", str(source), "--field", "KyDuyet", "--cert", org, "--pin-file", str(pin)]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 0 and LOCKS_DOCUMENT in err, err
    signed = tmp_path / "hopdong_signed.pdf"
    plan = FilePlan(signed, "pdf", "pades", tmp_path / "again.pdf")
    label, text = consent_item(plan).lines[0]
    assert label == "Cảnh báo / warning" and "khoá" in text and "locks" in text


def test_a_field_with_two_widgets_is_refused_before_the_consent() -> None:
    """pyHanko signs a field with exactly one widget: two failed after the PIN."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    doc = form({**field("F1"), "combine_annotation": False})
    writer = IncrementalPdfFileWriter(io.BytesIO(doc))
    sig_field = writer.root["/AcroForm"]["/Fields"][0].get_object()
    kid = sig_field["/Kids"][0].get_object()
    twin = generic.DictionaryObject({**kid, generic.pdf_name("/Rect"): kid["/Rect"]})
    sig_field["/Kids"].append(writer.add_object(twin))
    writer.update_container(sig_field)
    out = io.BytesIO()
    writer.write(out)
    assert "2 widgets" in _refusal(out.getvalue())
