"""Run the whole interop suite once: sign the corpus on SoftHSM2, let every verifier judge it.

Used by the tests (tests/interop/conftest.py, once per session) and by make_matrix.py, which
writes docs/interop.md from the same results.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.signing.cms import sign_cms
from agent.signing.signer import TokenSigner
from agent.tokens.pin import StaticPinProvider
from tests.interop import corpus, toolchain
from tests.interop.corpus import Cell, EdgeCell
from tests.interop.matrix import Item, Judged, judge_all
from tests.interop.toolchain import Verdict

WRAPPING = Path(__file__).resolve().parents[1] / "fixtures" / "xml" / "wrapping"
CMS_DATA = "Tờ khai D02-TS kỳ 11/2026 — Công ty TNHH Kyso\r\n".encode() * 50


@dataclass
class Tamper:
    """A signed file changed after signing: every verifier must call it INVALID."""

    kind: str  # "document" or "signing-time"
    base: Cell
    path: Path | None
    missing: str = ""  # why there is no such file (no SigningTime in the generic profile)


@dataclass
class CmsCase:
    """One sign-cms output and the verdicts of openssl and BouncyCastle."""

    key: str
    attached: bool
    tampered: bool
    sig: Path
    data: Path | None
    verdicts: dict[str, Verdict] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """A stable label."""
        mode = "attached" if self.attached else "detached"
        return f"{self.key}-{mode}" + ("-tampered" if self.tampered else "")


@dataclass(frozen=True)
class WrapCase:
    """A file of the signature-wrapping corpus (tests/fixtures/xml/wrapping/manifest.json)."""

    path: Path
    profile: str | None
    attack: str
    valid: bool  # what Kyso must say: only the baselines are valid


def wrapping_cases() -> list[WrapCase]:
    """The wrapping corpus, from its manifest; files the manifest does not name are judged
    too (profile guessed from the root, expected invalid unless named ``valid-*``)."""
    if not WRAPPING.is_dir():
        return []
    listed: dict[str, dict[str, Any]] = {}
    manifest = WRAPPING / "manifest.json"
    if manifest.exists():
        listed = {f["file"]: f for f in json.loads(manifest.read_text("utf-8")).get("files", [])}
    cases = []
    for path in sorted(WRAPPING.glob("*.xml")):
        entry = listed.get(path.name, {})
        cases.append(
            WrapCase(
                path,
                entry.get("profile") or _guess_profile(path),
                entry.get("attack", ""),
                entry.get("expect", "valid" if path.name.startswith("valid") else "invalid")
                == "valid",
            )
        )
    return cases


@dataclass
class Results:
    """Everything the matrix document and the tests need."""

    cells: list[Cell]
    tampers: list[Tamper]
    wrapping: list[WrapCase]
    xml: dict[str, dict[str, Judged]]  # verifier → path → Judged
    cms: list[CmsCase]
    versions: dict[str, str]
    edges: list[EdgeCell] = field(default_factory=list)  # round 5's shapes


def _item(cell: Cell, path: Path) -> Item:
    return Item(path, cell.key, cell.hash_name, cell.profile, cell.shape)


async def _sign_cms(service: Any, demo: dict[str, Any], out: Path) -> list[CmsCase]:
    cases = []
    data_path = out / "cms-data.txt"
    data_path.write_bytes(CMS_DATA)
    changed = out / "cms-data-tampered.txt"
    changed.write_bytes(CMS_DATA.replace(b"11/2026", b"12/2026", 1))
    for key, name in corpus.KEYS.items():
        cert = demo["certificates"][name]
        pin = next(t["user_pin"] for t in demo["tokens"] if t["label"] == cert["token"])
        async with service.open_key(cert["thumbprint"], StaticPinProvider(pin)) as session:
            signer = TokenSigner(session)
            for attached in (False, True):
                der = await sign_cms(signer, data=CMS_DATA, detached=not attached)
                sig = out / f"cms-{key}-{'attached' if attached else 'detached'}.p7s"
                sig.write_bytes(der)
                cases.append(CmsCase(key, attached, False, sig, None if attached else data_path))
                if attached:
                    # Change one byte of the embedded content (the DER lengths stay the same).
                    bad = out / f"cms-{key}-attached-tampered.p7s"
                    assert der.count(b"11/2026") >= 1
                    bad.write_bytes(der.replace(b"11/2026", b"12/2026", 1))
                    cases.append(CmsCase(key, True, True, bad, None))
                else:
                    cases.append(CmsCase(key, False, True, sig, changed))
    return cases


def _openssl_cms(case: CmsCase) -> Verdict:
    cmd = ["openssl", "cms", "-verify", "-noverify", "-binary", "-inform", "DER"]
    cmd += ["-in", str(case.sig), "-out", "/dev/null"]
    if case.data is not None:
        cmd += ["-content", str(case.data)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    return Verdict(proc.returncode == 0, "" if proc.returncode == 0 else last[:200])


def _judge_cms(cases: list[CmsCase]) -> None:
    for case in cases:
        case.verdicts["openssl"] = _openssl_cms(case)
    bc = toolchain.java_command("VerifyCmsBc")
    # One JVM per batch; a tampered detached case reuses the genuine signature file, so the
    # two are judged in separate batches (the verdicts are keyed by the signature's path).
    for batch in ([c for c in cases if not c.tampered], [c for c in cases if c.tampered]):
        items = [str(c.sig) + (f"::{c.data}" if c.data else "") for c in batch]
        verdicts = toolchain.run_batch(bc, items)
        for case in batch:
            case.verdicts["bouncycastle"] = verdicts[str(case.sig)]


def _versions() -> dict[str, str]:
    def first_line(cmd: list[str]) -> str:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        except OSError as exc:
            return f"missing ({exc.strerror})"
        return ((proc.stdout + proc.stderr).strip().splitlines() or ["?"])[0]

    from importlib.metadata import version

    dpkg = ["dpkg-query", "-W", "-f=${Version}"]
    return {
        "xmlsec1": first_line(["xmlsec1", "--version"]),
        "signxml": version("signxml"),
        "mono": first_line(["mono", "--version"]),
        "java": first_line(["java", "-version"]),
        "libxml-security-java": first_line([*dpkg, "libxml-security-java"]),
        "libbcprov-java": first_line([*dpkg, "libbcprov-java"]),
        "libmono-i18n4.0-all": first_line([*dpkg, "libmono-i18n4.0-all"]),
        "openssl": first_line(["openssl", "version"]),
    }


async def run(service: Any, demo: dict[str, Any], out: Path) -> Results:
    """Sign everything into ``out`` and collect every verifier's verdicts."""
    out.mkdir(parents=True, exist_ok=True)
    cells = corpus.all_cells()
    for cell in cells:
        await corpus.sign_cell(service, demo, cell, out / "signed")
    items = [_item(c, c.path) for c in cells if c.path is not None]

    tampers: list[Tamper] = []
    (out / "tampered").mkdir(exist_ok=True)
    for cell in cells:
        if cell.shape != "xsi" or cell.hash_name != "sha256" or cell.path is None:
            continue
        signed = cell.path.read_bytes()
        doc = out / "tampered" / f"{cell.name}-document.xml"
        doc.write_bytes(corpus.tampered_document(signed))
        tampers.append(Tamper("document", cell, doc))
        items.append(_item(cell, doc))
        if corpus.has_signing_time(signed):
            when = out / "tampered" / f"{cell.name}-signing-time.xml"
            when.write_bytes(corpus.tampered_signing_time(signed))
            tampers.append(Tamper("signing-time", cell, when))
            items.append(_item(cell, when))
        else:
            tampers.append(Tamper("signing-time", cell, None, "no SigningTime (generic profile)"))

    wrapping = wrapping_cases()
    for case in wrapping:
        items.append(Item(case.path, "RSA", "sha256", case.profile, "wrapping"))

    edges = [EdgeCell(edge) for edge in corpus.edges()]
    for edge_cell in edges:
        await corpus.sign_edge(service, demo, edge_cell, out / "edges")
        if edge_cell.path is not None:
            items.append(edge_item(edge_cell))

    cms_cases = await _sign_cms(service, demo, out)
    _judge_cms(cms_cases)
    return Results(cells, tampers, wrapping, judge_all(items), cms_cases, _versions(), edges)


def edge_item(cell: EdgeCell) -> Item:
    """The verifier input for a signed edge (RSA, SHA-256; its shape names the known failures)."""
    assert cell.path is not None
    return Item(cell.path, "RSA", "sha256", cell.edge.profile, cell.edge.shape)


def _guess_profile(path: Path) -> str | None:  # type: ignore[return]
    from lxml import etree

    from agent.signing.xml.profiles import suggest_profile

    try:
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False)).getroot()
    except etree.XMLSyntaxError:
        return None
    return suggest_profile(etree.QName(root).localname)
