"""Signing files on the desktop ("Ký tệp hồ sơ…"): what will be signed, where it goes, and the
one consent that lists every file. Pure planning, tested without a display.

The signing itself is the CLI's (``agent.cli.xml_cmd.sign_one``, with the same no-loss rules:
atomic writes, never over an existing file, an original removed only after its signed copy was
read back and checked); ``agent/cli/filesign_cmd.py`` wires the two together.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from agent.errors import KysoError, invalid_input
from agent.files import open_regular, output_name_problem_bilingual, read_within
from agent.signing.consent import ConsentItem
from agent.tokens.certinfo import CertificateInfo
from agent.ui.api import ConsentRequest
from agent.ui.untrusted import render_untrusted_middle

SUFFIX = "_signed"
# Shown as the "site" in the consent: the request comes from this computer, not from a page. The
# dialogs show an origin's printable ASCII only (anything else is tagged <U+XXXX>, so no page can
# pass for another): the local-file URL, which the summary line below it explains in words.
LOCAL_ORIGIN = "file://localhost"


@dataclass(frozen=True)
class FilePlan:
    """One file to sign: its kind and profile (detected from the file), and where it goes."""

    source: Path
    kind: str  # "xml" or "pdf"
    profile: str  # xml: bhxh | tax | generic; pdf: "pades"
    target: Path
    problem: KysoError | None = None  # unreadable, not XML/PDF...: shown, never signed
    sha256: str = ""  # what the consent showed: only these bytes are signed


def detect(source: Path) -> tuple[str, str]:
    """(kind, profile) from the file's content, not its name; KysoError when it is neither,
    DOCUMENT_TOO_LARGE for an XML file past
    :func:`agent.config.policy.document_limit` (it is read whole)."""
    try:
        with open_regular(source) as handle:  # a pipe or a device: refused, never waited on
            head = handle.read(1024)
            size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise invalid_input(
            f"cannot read {source.name}: {exc.strerror}",
            f"không đọc được tệp {source.name} ({exc.strerror})",
        ) from exc
    if head.startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return "pdf", "pades"  # streamed, never held whole: no limit
    from agent.config.policy import document_limit

    limit = document_limit()
    if size > limit:  # shown with this file now, not at the consent for every file
        raise KysoError("DOCUMENT_TOO_LARGE", {"size": size, "limit": limit})
    from agent.signing.xml.profiles import get_profile, guess_profile
    from agent.signing.xml.safe import parse_untrusted_file
    from agent.signing.xml.signer import check_signable

    tree = parse_untrusted_file(source)  # XML_MALFORMED / XML_UNSAFE... when not
    profile = guess_profile(tree.getroot()) or "generic"
    # No container, already signed, a .NET misread...: shown now, not after the PIN.
    check_signable(tree, get_profile(profile))
    return "xml", profile


def target_for(source: Path, out_dir: Path | None, suffix: str = SUFFIX) -> Path:
    """``name_signed.ext`` beside the original, or in ``out_dir``."""
    name = f"{source.stem}{suffix}{source.suffix}"
    return (out_dir / name) if out_dir is not None else source.with_name(name)


def plan_files(paths: list[Path], out_dir: Path | None = None) -> list[FilePlan]:
    """A plan per file, in the order chosen; each file once; problems kept, not raised."""
    plans: list[FilePlan] = []
    seen: set[Path] = set()
    for path in paths:
        # The name the user chose, not where a symlink leads: the signed copy goes beside it
        # and "remove unsigned" removes the link itself (as the CLI does), never its target.
        source = Path(path).expanduser().absolute()
        target = target_for(source, out_dir)
        try:
            same_file = source.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before 3.13)
            problem = invalid_input(
                f"{source.name} cannot be opened: {exc}",
                f"không mở được tệp {source.name} ({exc})",
            )
            plans.append(FilePlan(source, "?", "", target, problem))
            continue
        if same_file in seen:
            continue
        seen.add(same_file)
        try:
            kind, profile = detect(source)
        except KysoError as exc:
            plans.append(FilePlan(source, "?", "", target, exc))
            continue
        plans.append(FilePlan(source, kind, profile, target, _target_problem(source, target)))
    return plans


def _target_problem(source: Path, target: Path) -> KysoError | None:
    """Why the signed copy cannot go to ``target`` (it exists, its folder is a file, its name
    is too long for the disk), shown with the file and never signed; else None."""
    problem = output_name_problem_bilingual(target)
    if problem is not None:
        return invalid_input(
            f"the signed copy of {source.name} cannot be saved: {problem[0]}",
            f"không lưu được bản đã ký của {source.name}: {problem[1]}",
        )
    try:
        exists = target.exists()
    except OSError as exc:
        return KysoError("WRITE_FAILED", {"path": str(target), "detail": exc.strerror})
    # Not OUTPUT_EXISTS: its advice (-o, --force) is the command line's (red team 41).
    return KysoError("SIGNED_COPY_EXISTS", {"path": str(target)}) if exists else None


PROFILE_TEXT = {
    "bhxh": "hồ sơ BHXH / social insurance dossier",
    "tax": "tờ khai thuế / tax declaration",
    "generic": "XML",
    "pades": "PDF (PAdES)",
}


def consent_item(plan: FilePlan) -> ConsentItem:
    """The consent's line for one file: its name, what it is, and its SHA-256."""
    # Cut in the middle: a name's end (its extension, a month) tells two files apart.
    name = render_untrusted_middle(plan.source.name, 80)
    lines: list[tuple[str, str]] = [
        ("Loại / kind", PROFILE_TEXT.get(plan.profile, plan.profile)),
        ("Thư mục / folder", render_untrusted_middle(str(plan.source.parent), 80)),
        ("Lưu thành / saved as", render_untrusted_middle(plan.target.name, 80)),
    ]
    if plan.target.parent != plan.source.parent:  # "In this folder": say which (red team 41)
        where = render_untrusted_middle(str(plan.target.parent), 80)
        lines.append(("Lưu vào thư mục / saved in", where))
    digest = hashlib.sha256()
    document = b""
    if plan.kind == "pdf":  # streamed (50 MB); signing hashes it again and compares
        with open_regular(plan.source) as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                digest.update(chunk)
            lines = pdf_warnings(handle) + lines  # warnings first, where the XML summary is
    else:  # read once: the hash and the summary are of the same bytes
        document = _read_xml(plan.source)
        digest.update(document)
    mst = ""
    if plan.kind == "xml" and plan.profile != "generic":
        from agent.signing.xml.summary import summarize_xml

        try:
            summary = summarize_xml(document)
            lines = list(summary.lines) + lines
            mst = summary.mst
        except KysoError as exc:
            # Signing may still work, but the dialog cannot say what the file contains (e.g. a
            # field split by a comment): say so where the summary would be.
            lines.insert(0, ("Cảnh báo / warning", f"{exc.message_vi} / {exc.message_en}"))
    return ConsentItem(name, tuple(lines), digest.hexdigest(), mst=mst)


def _read_xml(source: Path) -> bytes:
    """The whole XML file, never more than :func:`agent.config.policy.document_limit` in
    memory: one that grew past it since it was planned is DOCUMENT_TOO_LARGE (found by reading
    one byte more, the size said before the read is not trusted to stay), before the PIN."""
    from agent.config.policy import document_limit

    limit = document_limit()
    with open_regular(source, max_bytes=limit) as handle:
        return read_within(handle, limit)


def pdf_warnings(handle: BinaryIO) -> list[tuple[str, str]]:
    """The consent's warnings for the PDF open in ``handle``: each kind of active content it
    holds (JavaScript, a program, the network...), as the web consent names them, and each
    earlier signature the file was changed after; a file
    Kyso cannot read, or one an earlier signature locks, says so instead (signing it will then
    be refused with the same error)."""
    from agent.signing.pdf import PdfSignOptions, inspect_pdf
    from agent.signing.pdf.active import warning_lines
    from agent.signing.pdf.inspect import changed_after_lines
    from agent.signing.pdf.sign import choose_field

    try:
        facts = inspect_pdf(handle, digest=False)
        choose_field(facts, PdfSignOptions())  # locked by an earlier signature: said now
    except KysoError as exc:
        return [("Cảnh báo / warning", f"{exc.message_vi} / {exc.message_en}")]
    return [*changed_after_lines(facts.signatures), *warning_lines(facts.active_content)]


def readable_items(
    plans: list[FilePlan],
) -> tuple[list[tuple[FilePlan, ConsentItem]], list[tuple[FilePlan, KysoError]]]:
    """Each signable plan with its consent line, and the plans whose file cannot be read now
    (gone, replaced by a folder, grown past the limit since it was chosen): that file's error,
    never the whole batch's."""
    readable: list[tuple[FilePlan, ConsentItem]] = []
    failed: list[tuple[FilePlan, KysoError]] = []
    for plan in plans:
        if plan.problem is not None:
            continue
        try:
            readable.append((plan, consent_item(plan)))
        except KysoError as exc:
            failed.append((plan, exc))
    return readable, failed


def consent_request(
    plans: list[FilePlan],
    certificate: CertificateInfo | None,
    items: tuple[ConsentItem, ...] | None = None,
) -> ConsentRequest:
    """One consent listing every file that will be signed (``items``: their lines, when
    :func:`readable_items` made them already)."""
    if items is None:
        items = tuple(consent_item(p) for p in plans if p.problem is None)
    count = len(items)
    return ConsentRequest(
        LOCAL_ORIGIN,
        "sign.files",
        f"Ký {count} tệp trên máy này bằng USB token",
        f"Sign {count} file(s) on this computer with your USB token",
        certificate,
        items,
    )


def result_folder(plans: list[FilePlan]) -> Path | None:
    """The folder "Mở thư mục" opens: where the signed files went (the first one's)."""
    return plans[0].target.parent if plans else None
