"""A file certified with changes allowed (DocMDP P=2 form filling and signing, P=3 also
comments) stays validly certified after Kyso signs it: an invisible signature or one in an
existing empty field is signed; a NEW visible signature field, which pyHanko's diff policy
judges to break the certification ("only allowed after an approval signature"), is refused
before the consent and the PIN, whether placed by page and box or by an anchor, in sign.pdf,
sign.batch and the CLI. The same holds after an approval whose field /Lock sets /P.

The certified inputs are made by pyHanko with a software key holding an ordinary signing
certificate from the demo issuing CA. pyHanko's validation (docmdp_ok), poppler's pdfsig and
Kyso's verify-pdf judge the results.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from agent.errors import KysoError
from agent.signing.pdf import PdfSignOptions, Placement, inspect_pdf, sign_pdf
from agent.signing.pdf.sign import choose_field, resolve_anchor
from agent.signing.pdf.verify import verify_pdf
from tests.conftest import cert_thumbprint, pin_asks
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf, pdfsig
from tests.signing_pdf.test_field_locks import field, form, lock, sign_field

EMPTY = "ChuKyGiamDoc"
BOX = (40.0, 60.0, 250.0, 135.0)
ANCHOR = "Nguoi ky"  # make_pdf's line on every page


def certified(demo: dict[str, Any], permission: int) -> bytes:
    """make_pdf(2) with an empty field «ChuKyGiamDoc» on page 1, certified by pyHanko with
    DocMDP ``permission``: a software key with an ordinary signing certificate from the demo
    issuing CA (so the certification is intact and trusted, and only DocMDP can fault it)."""
    import tempfile

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import MDPPerm, SigFieldSpec, append_signature_field

    from agent.demo import pki

    writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf(2)))
    append_signature_field(writer, SigFieldSpec("CertSig"))
    append_signature_field(writer, SigFieldSpec(EMPTY, on_page=0, box=(300, 600, 560, 680)))
    ca = pki.TestCA.load(Path(demo["ca"]["issuing"]).parent)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    org = next(p for p in pki.PROFILES if p.name == "org")
    cert = ca.issue(org, key.public_key(), serial=0x5EED0000 + permission)
    with tempfile.TemporaryDirectory() as work:
        key_file, cert_file = Path(work, "key.pem"), Path(work, "cert.pem")
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        signer = signers.SimpleSigner.load(
            str(key_file), str(cert_file), ca_chain_files=ca_files(demo)
        )
    assert signer is not None
    meta = signers.PdfSignatureMetadata(
        field_name="CertSig", certify=True, docmdp_permissions=MDPPerm(permission)
    )
    out = io.BytesIO()
    signers.PdfSigner(meta, signer).sign_pdf(writer, output=out)
    return out.getvalue()


def ca_files(demo: dict[str, Any]) -> tuple[str, str]:
    """The demo issuing and root CA certificates (PEM files)."""
    return (demo["ca"]["issuing"], demo["ca"]["root"])


def docmdp_verdicts(demo: dict[str, Any], data: bytes) -> dict[str, bool | None]:
    """pyHanko's validation of every signature: field name → docmdp_ok (False: a later
    revision made a change the signature's DocMDP level forbids)."""
    from pyhanko.keys import load_certs_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    roots = list(load_certs_from_pemder([demo["ca"]["root"]]))
    others = list(load_certs_from_pemder([demo["ca"]["issuing"]]))
    verdicts = {}
    for sig in PdfFileReader(io.BytesIO(data)).embedded_signatures:
        context = ValidationContext(
            trust_roots=roots, other_certs=others, allow_fetching=False, revocation_mode="soft-fail"
        )
        status = validate_pdf_signature(sig, context)
        assert status.intact and status.valid, sig.field_name
        verdicts[sig.field_name] = status.docmdp_ok
    return verdicts


def _refused(facts: Any, options: PdfSignOptions) -> str:
    with pytest.raises(KysoError) as err:
        choose_field(facts, options)
    assert err.value.code == "PDF_CERTIFIED_NO_NEW_FIELD", err.value
    said = err.value.to_dict()
    return " ".join(str(said[k]) for k in ("message_en", "action_en", "message_vi", "action_vi"))


@pytest.mark.parametrize("permission", [2, 3])
def test_a_new_visible_field_after_a_certification_allowing_changes_is_refused(
    demo, permission: int
) -> None:
    doc = certified(demo, permission)
    facts = inspect_pdf(doc, size_of_pages=(1,))
    detail = _refused(facts, PdfSignOptions(placement=Placement(1, BOX)))
    assert f"DocMDP P={permission}" in detail and f"«{EMPTY}»" in detail, detail
    assert "invisibly" in detail and "không hiển thị" in detail
    # By anchor: refused whether the anchor is already a placement or not yet resolved.
    by_anchor = PdfSignOptions(anchor=ANCHOR)
    assert resolve_anchor(doc, by_anchor).placement is not None
    _refused(facts, resolve_anchor(doc, by_anchor))
    _refused(facts, by_anchor)
    # What keeps the certification: an invisible signature, the existing empty field.
    assert choose_field(facts, PdfSignOptions()) == ("KysoSignature", False)
    assert choose_field(facts, PdfSignOptions(field_name=EMPTY)) == (EMPTY, True)
    # A new invisible field under a name of one's own is no new visible field either.
    assert choose_field(facts, PdfSignOptions(field_name="KyThem")) == ("KyThem", False)


async def test_what_kyso_signs_after_a_certification_keeps_it_and_the_refusal_is_needed(
    demo, token_service, tmp_path: Path
) -> None:
    doc = await asyncio.to_thread(certified, demo, 2)  # pyHanko's sync API runs its own loop
    facts = inspect_pdf(doc, size_of_pages=(1,))
    visible = PdfSignOptions(placement=Placement(1, BOX))
    async with token_signer(token_service, demo, "org") as signer:
        invisible = await sign_pdf(doc, signer, PdfSignOptions())
        in_field = await sign_pdf(doc, signer, PdfSignOptions(field_name=EMPTY))
        # Kyso's refusal hidden: the visible field pyHanko would have added breaks CertSig.
        blind = replace(facts, earlier_locks=())
        forced = await sign_pdf(doc, signer, visible, facts=blind)
    for result in (invisible, in_field):
        verdicts = await asyncio.to_thread(docmdp_verdicts, demo, result.document)
        assert verdicts == {"CertSig": True, result.field_name: True}
        out = tmp_path / f"{result.field_name}.pdf"
        out.write_bytes(result.document)
        report = pdfsig(out)
        assert report.count("Signature is Valid") == 2, report
    assert in_field.visible and not invisible.visible
    verdicts = await asyncio.to_thread(docmdp_verdicts, demo, forced.document)
    assert verdicts["CertSig"] is False


async def test_verify_pdf_faults_a_change_the_certification_forbids_on_docmdp_alone(
    demo, token_service, trust, monkeypatch
) -> None:
    """A file certified "no changes" (P=1), then signed in its empty field by a signer that
    ignores P=1 (pyHanko and Kyso both refuse; another program may not). The later signature
    fills its own field, which form filling allows: nothing but the certification's DocMDP
    permissions faults the certifying signature, so this is what checks that verdict."""
    import pyhanko.sign.validation as validation

    doc = await asyncio.to_thread(certified, demo, 1)
    facts = inspect_pdf(doc, size_of_pages=(1,))
    assert facts.locked_by_certification
    careless = replace(facts, earlier_locks=(), locked_by_certification=False)
    monkeypatch.setattr(validation, "read_certification_data", lambda _reader: None)
    async with token_signer(token_service, demo, "org") as signer:
        later = await sign_pdf(doc, signer, PdfSignOptions(field_name=EMPTY), facts=careless)
    monkeypatch.undo()
    reports = {r.field_name: r for r in await verify_pdf(later.document, trust)}
    cert_sig = reports["CertSig"]
    assert cert_sig.intact and cert_sig.trusted and cert_sig.timestamp_valid
    assert cert_sig.fields_changed_after == () and cert_sig.modification_level == "form_filling"
    assert cert_sig.docmdp_ok is False and not cert_sig.valid
    assert cert_sig.problem == "changed after a certification that does not permit it"
    assert reports[EMPTY].valid  # the later signature itself is sound


async def test_an_approval_whose_field_lock_sets_p2_is_kept_the_same_way(
    demo, token_service
) -> None:
    """pyHanko reads a field /Lock /P as that approval signature's DocMDP level: a new visible
    field after it breaks it just as after a certification."""
    doc = form(
        {**field("F1"), **lock("/Include", ("F1",), p=2)}, field("F2", box=(300, 50, 500, 120))
    )
    signed = await sign_field(token_service, demo, doc, "F1")
    facts = inspect_pdf(signed, size_of_pages=(1,))
    visible = PdfSignOptions(placement=Placement(1, BOX))
    assert "«F2»" in _refused(facts, visible)
    choose_field(facts, PdfSignOptions())
    choose_field(facts, PdfSignOptions(field_name="F2"))
    async with token_signer(token_service, demo, "org") as signer:
        blind = replace(facts, earlier_locks=())
        forced = await sign_pdf(signed, signer, visible, facts=blind)
    verdicts = await asyncio.to_thread(docmdp_verdicts, demo, forced.document)
    assert verdicts["F1"] is False


async def test_the_agent_refuses_it_before_any_prompt_in_single_calls_and_batches(
    demo, agent
) -> None:
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    document = base64.b64encode(await asyncio.to_thread(certified, demo, 2)).decode()
    placements = [{"page": 1, "box": list(BOX)}, {"anchor": ANCHOR}]
    for placement in placements:
        params = {"document": document, "certificate": org, "placement": placement}
        reply = await client.request("sign.pdf", params)
        assert reply["error"]["data"]["code"] == "PDF_CERTIFIED_NO_NEW_FIELD", reply
        items = [{"kind": "pdf", "document": document, "placement": placement}]
        reply = await client.request("sign.batch", {"items": items, "certificate": org})
        assert "error" in reply and "PDF_CERTIFIED_NO_NEW_FIELD" in json.dumps(reply), reply
    assert agent.prompter.prompts == []
    result = await client.call(
        "sign.pdf", {"document": document, "certificate": org, "field": EMPTY}
    )
    assert result["visible"] and result["field"] == EMPTY
    signed = base64.b64decode(result["document"])
    verdicts = await asyncio.to_thread(docmdp_verdicts, demo, signed)
    assert verdicts == {"CertSig": True, EMPTY: True}


def test_the_cli_refuses_it_before_the_pin(demo, tmp_path: Path, capsys, monkeypatch) -> None:
    asked = pin_asks(monkeypatch)
    doc = tmp_path / "hopdong.pdf"
    doc.write_bytes(certified(demo, 3))
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    org = demo["certificates"]["org"]["thumbprint"]
    base = ["sign-pdf", str(doc), "--cert", org, "--pin-file", str(pin), "--json"]
    for where in (["--page", "1", "--box", "40,60,250,135"], ["--anchor", ANCHOR]):
        capsys.readouterr()
        code = main([*base, *where])
        captured = capsys.readouterr()
        assert code != 0 and "PDF_CERTIFIED_NO_NEW_FIELD" in captured.out + captured.err
        assert EMPTY in captured.out + captured.err
    assert asked == [] and not (tmp_path / "hopdong_signed.pdf").exists()
    assert main([*base, "--field", EMPTY]) == 0
    signed = (tmp_path / "hopdong_signed.pdf").read_bytes()
    assert docmdp_verdicts(demo, signed) == {"CertSig": True, EMPTY: True}
