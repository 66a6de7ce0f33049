"""The interop matrix: which verifier judges which signed file, and the verdicts.

A verifier judges a file when it can; when it cannot (an algorithm it does not implement, a
policy that refuses it), the cell says why instead of being skipped. Every verifier judges
signature validity with the certificate embedded in the signature: the trust decision (chain,
CRL, the portal's rules) is Kyso's and is tested in tests/signing_xml and tests/portal.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from tests.interop import toolchain
from tests.interop.corpus import DOTNET_MISREAD_SHAPES, SIGNED, edges
from tests.interop.toolchain import Verdict

DS = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(frozen=True)
class Item:
    """A file for the XML verifiers, with what it is: key type, hash, and Kyso's profile."""

    path: Path
    key: str
    hash_name: str
    profile: str | None  # the profile it was signed with (None: guess from the root)
    shape: str = ""  # the document shape (tests/interop/corpus.py), "" for other files


@dataclass(frozen=True)
class XmlVerifier:
    """One independent XML-DSig implementation."""

    key: str
    title: str
    cannot_judge: Callable[[Item], str | None]
    run: Callable[[list[Item]], dict[str, Verdict]]


def _always(_: Item) -> str | None:
    return None


def _no_ecdsa(item: Item) -> str | None:
    if item.key == "ECDSA":
        return "SignedXml has no ecdsa-sha* SignatureDescription (mono / .NET Framework)"
    return None


def _sha1_refused(item: Item) -> str | None:
    if item.hash_name == "sha1":
        return (
            "JDK 17 secure validation refuses SHA-1: judged in the 'secure validation off' column"
        )
    return None


def _sha1_only(item: Item) -> str | None:
    return (
        None
        if item.hash_name == "sha1"
        else "used only for SHA-1 (secure validation on judges the rest)"
    )


def _id_attr_args(path: Path) -> list[str]:
    """xmlsec1 needs ``--id-attr`` for every ``#id`` a Reference points at outside ds:*."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, huge_tree=True))
    args: list[str] = []
    for ref in tree.iter(f"{{{DS}}}Reference"):
        uri = ref.get("URI") or ""
        if not uri.startswith("#"):
            continue
        for el in tree.xpath("//*[@Id=$v or @ID=$v or @id=$v]", v=uri[1:]):
            qname = etree.QName(el)
            if qname.namespace == DS:
                continue  # xmlsec1 knows the ds:* Id attributes itself
            attr = next(a for a in ("Id", "ID", "id") if el.get(a) == uri[1:])
            node = f"{qname.namespace}:{qname.localname}" if qname.namespace else qname.localname
            args += [f"--id-attr:{attr}", node]
    return args


def run_xmlsec1(items: list[Item]) -> dict[str, Verdict]:
    """``xmlsec1 --verify`` per file, with the key of the embedded certificate (--insecure:
    the certificate itself is not judged here)."""
    verdicts = {}
    for item in items:
        proc = subprocess.run(
            [
                "xmlsec1",
                "--verify",
                "--enabled-key-data",
                "x509",
                "--insecure",
                *_id_attr_args(item.path),
                str(item.path),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        reason = "" if proc.returncode == 0 else _xmlsec_reason(proc.stderr) or last
        verdicts[str(item.path)] = Verdict(proc.returncode == 0, reason)
    return verdicts


def _xmlsec_reason(stderr: str) -> str:
    for line in stderr.splitlines():
        if "error=" in line or "status=" in line:
            return line.strip()[:200]
    return ""


def run_signxml(items: list[Item]) -> dict[str, Verdict]:
    """signxml's XMLVerifier (schema validation on, as its users get it), any number of
    references, SHA-1 allowed, with the embedded certificate as the key.

    ``excise_empty_xmlns_declarations`` is signxml's own switch for a Signature in the default
    namespace (signxml 5.2 puts ``xmlns=""`` on SignedInfo's children otherwise and refuses
    every such signature: signxml issue #275, fixed upstream by PR #286 after 5.2).
    """
    from signxml import DigestAlgorithm, SignatureConfiguration, SignatureMethod, XMLVerifier

    config = SignatureConfiguration(
        expect_references=True,
        signature_methods=frozenset(SignatureMethod),
        digest_algorithms=frozenset(DigestAlgorithm),
    )
    parser = etree.XMLParser(resolve_entities=False, huge_tree=True)
    verdicts = {}
    for item in items:
        try:
            data = item.path.read_bytes()
            root = etree.fromstring(data, parser)
            cert = root.find(f".//{{{DS}}}X509Certificate")
            if cert is None or not cert.text:
                raise ValueError("no X509Certificate")
            verifier = XMLVerifier()
            verifier.excise_empty_xmlns_declarations = True
            verifier.verify(data, x509_cert=cert.text.strip(), expect_config=config, parser=parser)
            verdicts[str(item.path)] = Verdict(True)
        except Exception as exc:  # any refusal (parse error, digest, schema) is the verdict
            verdicts[str(item.path)] = Verdict(False, f"{type(exc).__name__}: {exc}"[:200])
    return verdicts


def run_kyso(items: list[Item]) -> dict[str, Verdict]:
    """Kyso's own cryptographic check (``check_xml_signature``), for comparison."""
    from agent.errors import KysoError
    from agent.signing.xml import check_xml_signature

    verdicts = {}
    for item in items:
        try:
            check_xml_signature(item.path.read_bytes(), profile=item.profile)
            verdicts[str(item.path)] = Verdict(True)
        except KysoError as exc:
            verdicts[str(item.path)] = Verdict(False, f"{exc.code}: {exc.details}"[:200])
    return verdicts


def _batch(
    command: Callable[[], list[str]], *flags: str
) -> Callable[[list[Item]], dict[str, Verdict]]:
    def run(items: list[Item]) -> dict[str, Verdict]:
        return toolchain.run_batch([*command(), *flags], [str(i.path) for i in items])

    return run


XML_VERIFIERS: tuple[XmlVerifier, ...] = (
    XmlVerifier("kyso", "Kyso check_xml_signature", _always, run_kyso),
    XmlVerifier("xmlsec1", "xmlsec1 --verify", _always, run_xmlsec1),
    XmlVerifier("signxml", "signxml XMLVerifier", _always, run_signxml),
    XmlVerifier("dotnet", ".NET SignedXml (mono)", _no_ecdsa, _batch(toolchain.dotnet_command)),
    XmlVerifier(
        "jsr105",
        "Java JSR 105",
        _sha1_refused,
        _batch(lambda: toolchain.java_command("VerifyXmlJsr105")),
    ),
    XmlVerifier(
        "jsr105-legacy",
        "Java JSR 105, secure validation off",
        _sha1_only,
        _batch(lambda: toolchain.java_command("VerifyXmlJsr105"), "--no-secure-validation"),
    ),
    XmlVerifier(
        "santuario",
        "Apache Santuario",
        _always,
        _batch(lambda: toolchain.java_command("VerifyXmlSantuario")),
    ),
)


@dataclass(frozen=True)
class KnownFailure:
    """A verifier's own bug that makes it refuse a correct signature (the other verifiers
    accept the same file). Listed so the matrix says why; the test asserts it still fails,
    so a fixed verifier shows up as a change to make here."""

    verifier: str
    applies: Callable[[Item], bool]
    reason: str
    symptom: str  # in the verifier's refusal, so a different failure is not taken for this one


# Round 5's shapes Kyso signs although some verifiers cannot read them (generic only: the .NET
# portals' profiles refuse them).
_SIGNED_EDGES = {e.shape for e in edges() if e.expect == SIGNED}
_FOURTH_EDITION = (
    "a name XML 1.0 allows only since its fifth edition (2008: outside the BMP, or letters "
    "Unicode added after 2.0, such as ₫ and ȡ); {who} still reads names by the fourth "
    "edition's tables and refuses the whole file. Kyso's generic profile signs it (the "
    "document is well-formed XML 1.0; whoever takes it must read it first, signed or not); "
    "bhxh and tax refuse it before the PIN"
)


def _fifth_edition_names(item: Item) -> bool:
    return item.shape in _SIGNED_EDGES and item.shape.endswith("names")


KNOWN_FAILURES: tuple[KnownFailure, ...] = (
    KnownFailure(
        "signxml",
        lambda i: i.shape == "vietnamese",
        "signxml re-serializes the payload with lxml's default ASCII output: a non-ASCII element "
        "or attribute name (TênĐơnVị, MôTả) becomes a character reference (`M&#244;T&#7843;`), "
        "which XML forbids in names, and the re-parse fails",
        "XMLSyntaxError",
    ),
    KnownFailure(
        "signxml",
        lambda i: i.shape == 'xmlns=""' and i.profile != "tax",
        "the excise switch signxml needs for an unprefixed Signature (#275) also deletes the "
        'document\'s own `xmlns=""` from the digest input (a `URI=""` reference covers it; the tax '
        "profile's #id reference starts below it)",
        "InvalidDigest",
    ),
    KnownFailure(
        "signxml",
        lambda i: i.shape == "pi-outside-root" and i.profile != "tax",
        'signxml resolves `URI=""` to the root element, not the document: the processing '
        "instructions before and after it, which C14N of the document keeps, are left out of "
        "the digest (the tax profile's #id reference covers an element only)",
        "InvalidDigest",
    ),
    KnownFailure(
        "signxml",
        lambda i: i.shape == "with-comments",
        'signxml keeps comments under a #WithComments transform after a `URI=""` or `#id` '
        "reference; XML-DSig removes comment nodes from such same-document references first",
        "InvalidDigest",
    ),
    KnownFailure(
        "dotnet",
        # bhxh and tax refuse these documents (XML_DOTNET_MISREAD): only generic signs them.
        lambda i: i.shape in DOTNET_MISREAD_SHAPES and i.profile == "generic",
        "mono's SignedXml (like .NET Framework's) writes the covered part out and parses it "
        "again before C14N: a TAB written as `&#9;` in an attribute comes back as a space, a CR "
        "written as `&#13;` in text as a line feed (LF and CR references in attributes, written "
        "back as references, and CRLF line ends are fine); bhxh and tax refuse such files "
        "(XML_DOTNET_MISREAD)",
        "CheckSignature returned false",
    ),
    KnownFailure(
        "signxml",
        _fifth_edition_names,
        "signxml re-serializes the payload with lxml's ASCII output: a non-ASCII name becomes a "
        "character reference, which XML forbids in names (as in the vietnamese shape)",
        "XMLSyntaxError",
    ),
    KnownFailure(
        "dotnet",
        _fifth_edition_names,
        _FOURTH_EDITION.format(who="mono's XmlReader"),
        "XmlException",
    ),
    KnownFailure(
        "jsr105",
        _fifth_edition_names,
        _FOURTH_EDITION.format(who="Java's Xerces"),
        "SAXParseException",
    ),
    KnownFailure(
        "santuario",
        _fifth_edition_names,
        _FOURTH_EDITION.format(who="Java's Xerces"),
        "SAXParseException",
    ),
)


def known_failure(verifier: str, item: Item) -> KnownFailure | None:
    """The bug that makes ``verifier`` refuse this correct file, if there is one."""
    for known in KNOWN_FAILURES:
        if known.verifier == verifier and known.applies(item):
            return known
    return None


@dataclass(frozen=True)
class Judged:
    """A verifier's verdict on one file, or why it could not judge it."""

    verdict: Verdict | None
    not_judged: str = ""


def judge_all(items: list[Item]) -> dict[str, dict[str, Judged]]:
    """Every XML verifier over every item it can judge: ``{verifier: {path: Judged}}``."""
    results: dict[str, dict[str, Judged]] = {}
    for verifier in XML_VERIFIERS:
        todo, out = [], {}
        for item in items:
            reason = verifier.cannot_judge(item)
            if reason:
                out[str(item.path)] = Judged(None, reason)
            else:
                todo.append(item)
        for path, verdict in verifier.run(todo).items():
            out[path] = Judged(verdict)
        results[verifier.key] = out
    return results
