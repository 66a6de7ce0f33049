"""Kyso's signatures as other implementations see them (issue 12, point 4).

.NET SignedXml (mono), Java JSR 105 and Apache Santuario, xmlsec1 and signxml judge every
profile × key × hash × document shape they can; openssl and BouncyCastle judge sign-cms output.
docs/interop.md is the same results, written by tests/interop/make_matrix.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop import corpus, report, toolchain
from tests.interop.matrix import XML_VERIFIERS, Item
from tests.interop.suite import Results

pytestmark = pytest.mark.interop
VERIFIERS = [v.key for v in XML_VERIFIERS]


def _outcomes(interop: Results, verifier: str) -> list[tuple[corpus.Cell, str, str]]:
    out = []
    for cell in interop.cells:
        if cell.path is not None:
            judged = interop.xml[verifier][str(cell.path)]
            out.append(
                (cell, *report.outcome(verifier, report.cell_item(cell), judged, genuine=True))
            )
    return out


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_every_verifier_accepts_every_signed_document_it_can_judge(
    interop: Results, verifier: str
) -> None:
    outcomes = _outcomes(interop, verifier)
    failed = [(c.name, reason) for c, kind, reason in outcomes if kind == "FAIL"]
    assert not failed, f"{verifier} refused Kyso's signatures: {failed}"
    judged = [c for c, kind, _ in outcomes if kind in ("PASS", "KNOWN")]
    # N/A is for what a verifier cannot do, never a way to drop most of the matrix.
    assert len([c for c, kind, _ in outcomes if kind == "PASS"]) >= 8, outcomes
    assert any(c.shape == corpus.BIG for c in judged) or verifier == "jsr105-legacy"


def test_a_cell_that_is_not_judged_says_why(interop: Results) -> None:
    for verifier in VERIFIERS:
        for path, judged in interop.xml[verifier].items():
            assert (judged.verdict is None) == bool(judged.not_judged), (verifier, path)


def _dotnet_misread(cell: corpus.Cell) -> bool:
    return cell.profile in ("bhxh", "tax") and cell.shape in corpus.DOTNET_MISREAD_SHAPES


def test_what_kyso_refuses_to_sign_is_listed_with_its_reason(interop: Results) -> None:
    refused = [c for c in interop.cells if c.path is None]
    assert refused, "ECDSA with SHA-1 is expected to be refused and listed"
    for cell in refused:
        assert (cell.key, cell.hash_name) == ("ECDSA", "sha1") or _dotnet_misread(cell), cell
        assert cell.refused, cell  # Kyso's error code and detail, shown in the matrix
    # What .NET SignedXml reads differently: the .NET portals' profiles never sign it (the
    # generic profile does, and mono's refusal is a known failure in the matrix).
    for cell in interop.cells:
        if _dotnet_misread(cell) and (cell.key, cell.hash_name) != ("ECDSA", "sha1"):
            assert cell.path is None and cell.refused.startswith("XML_DOTNET_MISREAD"), cell
    # bhxh and tax refuse ECDSA and SHA-1 by default: signed with the explicit allow option.
    for cell in interop.cells:
        legacy = cell.key == "ECDSA" or cell.hash_name == "sha1"
        if cell.path is not None and cell.profile in ("bhxh", "tax"):
            assert bool(cell.signed_as) == legacy, cell


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_every_verifier_refuses_a_tampered_document_and_signing_time(
    interop: Results, verifier: str
) -> None:
    kinds = set()
    for tamper in interop.tampers:
        if tamper.path is None:
            assert tamper.base.profile == "generic" and tamper.missing
            continue
        cell = tamper.base
        item = Item(tamper.path, cell.key, cell.hash_name, cell.profile, cell.shape)
        kind, reason = report.outcome(
            verifier, item, interop.xml[verifier][str(tamper.path)], genuine=False
        )
        assert kind in ("PASS", "N/A"), f"{verifier} accepted {tamper.path.name}: {reason}"
        if kind == "PASS":
            # The refusal means something only if the untouched file was accepted.
            assert cell.path is not None
            base = interop.xml[verifier][str(cell.path)].verdict
            assert base is not None and base.valid, (verifier, cell.name, base)
            kinds.add(tamper.kind)
    if verifier != "jsr105-legacy":  # it judges SHA-1 only; the tampered files are SHA-256
        assert kinds == {"document", "signing-time"}, kinds


def test_round_5_shapes_are_refused_or_read_alike_by_every_verifier(interop: Results) -> None:
    """Outside round 5 (docs/interop.md, "Shapes the verifiers read differently"): an id the
    reference would use that not every verifier resolves to one element, XML 1.1 and names
    .NET's and Java's parsers cannot read are refused; what Kyso signs, every verifier
    accepts or fails on with a listed known failure."""
    assert {c.edge.shape for c in interop.edges} >= {
        "tax-id-empty",
        "tax-id-space",
        "tax-id-twin-xml-id",
        "tax-id-twin-namespaced-Id",
        "xml-1.1",
        "nonbmp-names",
    }
    for cell in interop.edges:
        if cell.edge.expect != corpus.SIGNED:
            assert cell.path is None, (cell.name, "signed; expected", cell.edge.expect)
            assert cell.refused.split(":")[0] == cell.edge.expect, (cell.name, cell.refused)
    signed = [c for c in interop.edges if c.path is not None]
    assert {c.edge.expect for c in signed} == {corpus.SIGNED}
    for verifier in VERIFIERS:
        for cell, kind, reason in report.edge_outcomes(interop, verifier):
            assert kind in ("PASS", "KNOWN", "N/A"), (verifier, cell.name, reason)
            if verifier in ("kyso", "xmlsec1"):  # libxml2's readers read every such file
                assert kind == "PASS", (verifier, cell.name, reason)


def test_signing_time_is_covered_by_the_signature(interop: Results) -> None:
    bhxh = next(c for c in interop.cells if c.path and c.profile == "bhxh" and not c.signed_as)
    assert bhxh.path is not None and corpus.has_signing_time(bhxh.path.read_bytes())


def test_kyso_refuses_every_signature_wrapping_file(interop: Results) -> None:
    # The raw verifiers' verdicts on these are information (docs/interop.md); Kyso's are not.
    for case in interop.wrapping:
        judged = interop.xml["kyso"][str(case.path)]
        assert judged.verdict is not None, case.path.name
        assert judged.verdict.valid == case.valid, (case.path.name, case.attack, judged)


def test_openssl_and_bouncycastle_verify_sign_cms_output_and_catch_tampering(
    interop: Results,
) -> None:
    assert {(c.key, c.attached, c.tampered) for c in interop.cms} == {
        (k, a, t) for k in corpus.KEYS for a in (False, True) for t in (False, True)
    }
    for case in interop.cms:
        for name in ("openssl", "bouncycastle"):
            verdict = case.verdicts[name]
            assert verdict.valid != case.tampered, (case.name, name, verdict)


def test_the_matrix_document_lists_every_cell_and_no_failure(interop: Results) -> None:
    text = report.render(interop)
    assert "**FAIL**" not in text
    assert set(corpus.SHAPE_DESCRIPTIONS) == set(corpus.SHAPES)  # every shape says what it is
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    for cell in interop.cells:
        shape = cell.shape.replace('xmlns=""', '`xmlns=""`')
        prefix = f"| {cell.profile} | {cell.key} | {cell.hash_name} | {shape}"
        assert any(r.startswith(prefix) for r in rows), prefix
    for verifier in XML_VERIFIERS:
        assert verifier.title in text


def test_verifier_builds_are_cached_by_source() -> None:
    first = toolchain.java_command("VerifyCmsBc")
    built = toolchain.CACHE.glob("VerifyCmsBc-*/.built")
    stamps = {p: p.stat().st_mtime_ns for p in built}
    assert toolchain.java_command("VerifyCmsBc") == first
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    classpath = first[first.index("-cp") + 1]
    assert any(classpath.startswith(str(p.parent)) for p in stamps)


def test_make_matrix_keeps_the_hand_written_part(interop: Results, tmp_path: Path) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "interop.md"
    assert "### Encodings" in report.hand_written(doc.read_text("utf-8"))
    hand = f"{report.HAND_BEGIN}\n\n## Checked by hand\n\nText.\n\n{report.HAND_END}"
    target = tmp_path / "interop.md"
    target.write_text(f"# old\n\n{hand}\n\n## Notes\n\n1. old note\n", "utf-8")
    report.write(interop, target)
    text = target.read_text("utf-8")
    assert text.count(hand) == 1 and text.index(hand) < text.index("## Notes")
    assert "old note" not in text and "## Signed documents" in text
