"""What each cell of the matrix should be, and docs/interop.md rendered from the results.

A cell is PASS (the verifier accepts a correct signature, or refuses a tampered one), FAIL,
or N/A with the reason the verifier cannot judge it. Expected verdicts: a genuine signature is
VALID except where :data:`tests.interop.matrix.KNOWN_FAILURES` names the verifier's own bug; a
tampered file is INVALID for every verifier.
"""

from __future__ import annotations

from pathlib import Path

from tests.interop import corpus
from tests.interop.matrix import XML_VERIFIERS, Item, Judged, known_failure
from tests.interop.suite import Results, edge_item

COMMAND = ".venv/bin/python tests/interop/make_matrix.py"
# The hand-written sections (checks made elsewhere, by other tests or by hand) sit between these
# markers before the notes; make_matrix.py carries them over from the file it rewrites.
HAND_BEGIN = "<!-- hand-written: begin (make_matrix.py keeps this part as it is) -->"
HAND_END = "<!-- hand-written: end -->"


def cell_item(cell: corpus.Cell) -> Item:
    """The verifier input for a signed cell."""
    assert cell.path is not None
    return Item(cell.path, cell.key, cell.hash_name, cell.profile, cell.shape)


def outcome(verifier: str, item: Item, judged: Judged, *, genuine: bool) -> tuple[str, str]:
    """``(PASS|FAIL|KNOWN|N/A, reason)`` for one verdict.

    KNOWN: a listed verifier bug made it refuse a correct file (and it still does).
    """
    if judged.verdict is None:
        return "N/A", judged.not_judged
    verdict = judged.verdict
    known = known_failure(verifier, item) if genuine else None
    if known:
        if verdict.valid:
            return "FAIL", f"now VALID, update KNOWN_FAILURES: {known.reason}"
        if known.symptom not in verdict.reason:
            return "FAIL", f"not the known failure ({known.symptom}): {verdict.reason}"
        return "KNOWN", known.reason
    if genuine:
        return ("PASS", "") if verdict.valid else ("FAIL", verdict.reason)
    return ("PASS", verdict.reason) if not verdict.valid else ("FAIL", "accepted")


class _Notes:
    """Numbered footnotes, one per distinct reason."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def ref(self, text: str) -> str:
        if text not in self.items:
            self.items.append(text)
        return f"[{self.items.index(text) + 1}]"


def _mark(kind: str, reason: str, notes: _Notes) -> str:
    if kind == "PASS":
        return "PASS"
    if kind == "KNOWN":
        return f"FAIL (known) {notes.ref(reason)}"
    if kind == "N/A":
        return f"N/A {notes.ref(reason)}"
    return f"**FAIL** {notes.ref(reason)}"


def hand_written(text: str) -> str:
    """The hand-written part of a rendered matrix, markers included ("" when there is none)."""
    start, end = text.find(HAND_BEGIN), text.find(HAND_END)
    if start < 0 or end < start:
        return ""
    return text[start : end + len(HAND_END)]


def _wrapping_lines(results: Results, keys: list[str], notes: _Notes) -> list[str]:
    """The signature wrapping corpus's section: raw verdicts, for information."""
    lines = ["", "## Signature wrapping corpus", ""]
    if not results.wrapping:
        lines.append("No files under `tests/fixtures/xml/wrapping/` when this was generated.")
    else:
        lines += [
            "Raw verdicts, for information: many raw verifiers accept a wrapped signature by",
            "design (they check what the signature references, not what the portal reads);",
            "that is why Kyso checks which element is signed. Kyso must refuse every attack",
            "and accept the `valid-*` baselines (the tests assert it).",
            "",
            "| file | attack | " + " | ".join(v.title for v in XML_VERIFIERS) + " |",
            "|" + "---|" * (2 + len(keys)),
        ]
        for case in results.wrapping:
            row = []
            for k in keys:
                judged = results.xml[k][str(case.path)]
                if judged.verdict is None:
                    row.append(f"N/A {notes.ref(judged.not_judged)}")
                else:
                    row.append("VALID" if judged.verdict.valid else "INVALID")
            attack = case.attack or ("baseline" if case.valid else "")
            lines.append(f"| {case.path.name} | {attack} | " + " | ".join(row) + " |")
    return lines


def edge_outcomes(results: Results, verifier: str) -> list[tuple[corpus.EdgeCell, str, str]]:
    """``(edge, PASS|FAIL|KNOWN|N/A, reason)`` for each signed edge."""
    return [
        (
            cell,
            *outcome(
                verifier, edge_item(cell), results.xml[verifier][str(cell.path)], genuine=True
            ),
        )
        for cell in results.edges
        if cell.path is not None
    ]


def _edge_lines(results: Results, keys: list[str], notes: _Notes) -> list[str]:
    """Round 5's shapes: refused by Kyso (as it must), or signed and judged (RSA, SHA-256)."""
    lines = [
        "",
        "## Shapes the verifiers read differently (outside round 5)",
        "",
        "Each shape was signed by Kyso once and refused by a verifier (the note after the shape",
        "says which). Kyso now refuses it before any key use, with the code shown (the agent",
        "before consent and PIN), or signs it where Kyso is right and a verifier is not (then",
        "the verifier's refusal is a listed known failure). RSA, SHA-256.",
        "",
        "| profile | shape | " + " | ".join(v.title for v in XML_VERIFIERS) + " |",
        "|" + "---|" * (2 + len(keys)),
    ]
    for cell in results.edges:
        edge = cell.edge
        label = f"| {edge.profile} | {edge.shape} {notes.ref(edge.why)}"
        if cell.path is None:
            refused = notes.ref(f"`{cell.refused}`")
            expected = cell.refused.split(":")[0] == edge.expect
            mark = f"refused {refused}" if expected else f"**FAIL** refused {refused}"
            lines.append(f"{label} | {mark} | " + " | ".join(["—"] * (len(keys) - 1)) + " |")
            continue
        item = edge_item(cell)
        marks = [
            _mark(*outcome(k, item, results.xml[k][str(cell.path)], genuine=True), notes)
            for k in keys
        ]
        if edge.expect != corpus.SIGNED:
            marks[0] = f"**FAIL** signed, expected {edge.expect}"
        lines.append(label + " | " + " | ".join(marks) + " |")
    return lines


def render(results: Results, hand: str = "") -> str:
    """docs/interop.md for these results, with ``hand`` (see :func:`hand_written`) before the
    notes."""
    notes = _Notes()
    keys = [v.key for v in XML_VERIFIERS]
    head = "| profile | key | hash | shape | " + " | ".join(v.title for v in XML_VERIFIERS) + " |"
    rule = "|" + "---|" * (4 + len(keys))
    lines = [
        "# Interoperability matrix",
        "",
        f"Generated by `{COMMAND}` (the same code the interop tests run, `-m interop`): every",
        "document is signed by Kyso's `sign_xml` on a SoftHSM2 demo token, then judged by each",
        "independent verifier with the certificate embedded in the signature. The trust decision",
        "(chain, CRL, MST, registered certificate) is Kyso's and is not part of this matrix.",
        "",
        "PASS: a genuine signature accepted / a tampered one refused. N/A: the verifier cannot",
        "judge the cell (reason in the notes). FAIL (known): a listed bug of that verifier (the",
        "other verifiers accept the same bytes); the tests assert it still fails, so a fixed",
        "verifier shows up. FAIL in bold would be a Kyso interoperability bug: the tests fail on it.",
        "",
        "Versions: " + "; ".join(f"{k}: {v}" for k, v in results.versions.items()) + ".",
        "",
        "## Signed documents",
        "",
        "Shapes (tests/interop/corpus.py): "
        + "; ".join(f"{name}: {text}" for name, text in corpus.SHAPE_DESCRIPTIONS.items())
        + f"; {corpus.BIG}: 20 MB of rows.",
        "",
        head,
        rule,
    ]
    for cell in results.cells:
        shape = cell.shape.replace('xmlns=""', '`xmlns=""`')
        label = f"| {cell.profile} | {cell.key} | {cell.hash_name} | {shape}"
        if cell.signed_as:
            label += " " + notes.ref(f"signed with {cell.signed_as}")
        if cell.path is None:
            lines.append(label + " | " + " | ".join(["—"] * len(keys)) + " |")
            # In backticks: Kyso's detail may name an element (<DiaChi>) or a reference (&#9;).
            refused = notes.ref(f"`{cell.refused}`")
            lines[-1] = lines[-1].replace("| —", f"| not signed {refused}", 1)
            continue
        item = cell_item(cell)
        marks = [
            _mark(*outcome(k, item, results.xml[k][str(cell.path)], genuine=True), notes)
            for k in keys
        ]
        lines.append(label + " | " + " | ".join(marks) + " |")

    lines += ["", "## Tampered after signing (every verifier must refuse)", "", head, rule]
    for tamper in results.tampers:
        cell = tamper.base
        label = f"| {cell.profile} | {cell.key} | {cell.hash_name} | {tamper.kind} changed"
        if tamper.path is None:
            lines.append(
                label + " | " + " | ".join([f"N/A {notes.ref(tamper.missing)}"] * len(keys)) + " |"
            )
            continue
        item = Item(tamper.path, cell.key, cell.hash_name, cell.profile, cell.shape)
        marks = [
            _mark(*outcome(k, item, results.xml[k][str(tamper.path)], genuine=False), notes)
            for k in keys
        ]
        lines.append(label + " | " + " | ".join(marks) + " |")

    lines += _edge_lines(results, keys, notes)
    lines += _wrapping_lines(results, keys, notes)

    lines += [
        "",
        "## CMS (`sign-cms` output)",
        "",
        "| key | form | openssl cms -verify | BouncyCastle |",
        "|---|---|---|---|",
    ]
    for case in results.cms:
        form = ("attached" if case.attached else "detached") + (
            ", content tampered" if case.tampered else ""
        )
        marks = []
        for name in ("openssl", "bouncycastle"):
            v = case.verdicts[name]
            ok = v.valid != case.tampered
            marks.append("PASS" if ok else f"**FAIL** {notes.ref(v.reason or 'accepted')}")
        lines.append(f"| {case.key} | {form} | " + " | ".join(marks) + " |")

    if hand:
        lines += ["", hand]
    lines += ["", "## Notes", ""]
    lines += [f"{i}. {text}" for i, text in enumerate(notes.items, 1)]
    return "\n".join(lines) + "\n"


def write(results: Results, target: Path) -> None:
    """Write the rendered matrix atomically, keeping the hand-written part of the old file."""
    from agent.files import atomic_write

    hand = hand_written(target.read_text("utf-8")) if target.exists() else ""
    atomic_write(target, render(results, hand).encode("utf-8"), overwrite=True)
