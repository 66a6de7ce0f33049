"""Enveloped XML-DSig with a token key, spliced into the original bytes.

How a dossier is signed:

1. parse it safely once and find the profile's container (never guess);
2. stream libxml2's canonical form of what the signature covers into the hash (the document
   does not change when the signature is added: the enveloped transform takes it out again);
3. find the container's tags in the original bytes (for a file: read after the tree is freed);
4. on the event loop, build the small ``<Signature>`` from those digests (:mod:`.dsig`) and
   sign its canonical SignedInfo with one ``await`` on the :class:`Signer` (the token worker);
5. splice the serialized signature into the ORIGINAL bytes at the container, so encoding, the
   XML declaration, namespaces, comments and whitespace elsewhere stay byte for byte.

Steps 1–3 run in one worker thread call, so the event loop stays free while a 50 MB file is
parsed and hashed; step 4 hands off once more, to the token worker, and nothing else (a
document over 4 MiB is spliced on a thread too, so the copy does not hold up the event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import re
import uuid
from pathlib import Path
from typing import Any

from lxml import etree

from agent.errors import KysoError, invalid_input
from agent.signing.signer import Signer
from agent.signing.xml.c14n import digest_document, digest_element
from agent.signing.xml.dotnet import dotnet_misreads, may_misread
from agent.signing.xml.dsig import build_signature
from agent.signing.xml.locate import Locator, element_key
from agent.signing.xml.model import Plan, Prepared, Reference
from agent.signing.xml.namespaces import (
    RelativeNamespaceScan,
    declares_xml_prefix,
    may_declare_relative_namespace,
    refuse_relative_namespaces,
    refuse_xml_prefix,
)
from agent.signing.xml.portable import (
    NonAsciiCharacters,
    VerifierRefusal,
    check_reference_id,
    elements_with_id,
    refuse_dotnet_encoding,
    refuse_unportable_names,
)
from agent.signing.xml.profiles import DS_NS, ENVELOPED, Placement, XmlProfile, get_profile
from agent.signing.xml.safe import (
    DECLARATION_WINDOW,
    DEFAULT_MAX_BYTES,
    declared_encoding,
    parse_untrusted,
    parse_untrusted_file,
)
from agent.tokens.algorithms import KeyKind

_DS = f"{{{DS_NS}}}"
_CHUNK = 1 << 20  # a file's bytes read at a time for its characters, never whole
XML_NS = "http://www.w3.org/XML/1998/namespace"
_XML_ATTRS = "*[@*[namespace-uri()='" + XML_NS + "']]"


def _refuse_inherited_attributes(element: etree._Element, *, itself: bool = True) -> None:
    """XML_INHERITED_ATTRIBUTE naming the first xml:lang / xml:space / xml:base on
    ``element`` (unless ``itself`` is False) or an ancestor (verifiers carry them into the
    signature differently). A referenced element's own are ordinary attributes of the
    subset every verifier canonicalises alike; only its ancestors' are inherited into it."""
    axis = "ancestor-or-self::" if itself else "ancestor::"
    carriers = element.xpath(axis + _XML_ATTRS)
    if not carriers:
        return
    carrier = carriers[0]
    name = next(k for k in carrier.attrib if k.startswith(f"{{{XML_NS}}}"))
    # A verifier refusal: the agent's check before the consent raises it for the portals.
    raise VerifierRefusal(
        "XML_INHERITED_ATTRIBUTE",
        {
            "attribute": f"xml:{etree.QName(name).localname}"[:40],
            "element": etree.QName(carrier).localname[:40],
        },
    )


def _find_child(root: etree._Element, local: str, profile: XmlProfile) -> etree._Element:
    """The root's single child element called ``local``; error if missing or repeated."""
    found = [c for c in root.iterchildren(etree.Element) if etree.QName(c).localname == local]
    if not found:
        raise KysoError("XML_CONTAINER_MISSING", {"container": local, "profile": profile.name})
    if len(found) > 1:
        raise KysoError("XML_CONTAINER_AMBIGUOUS", {"container": local, "count": len(found)})
    return found[0]


def _covered_by(root: etree._Element, uri: str | None) -> list[etree._Element] | None:
    """The elements a Reference URI points at in this document: None for the whole document
    (``""``, ``#xpointer(/)``, or a same-document form not understood here: assume the
    worst), [] for another document."""
    if uri is None:
        return None  # an application-defined default: may well be this document
    if uri == "":
        return None
    if not uri.startswith("#"):
        return []  # a detached reference to another resource
    fragment = uri[1:]
    if fragment.startswith("xpointer("):
        match = re.fullmatch(r"xpointer\(id\(['\"]([^'\"]*)['\"]\)\)", fragment)
        if match is None:
            return None
        fragment = match.group(1)
    # Any attribute an implementation may take for an id: Id/ID/id in any namespace, xml:id.
    return elements_with_id(root, fragment)


def _refuse_covering_signatures(root: etree._Element, container: etree._Element) -> None:
    """XML_ALREADY_SIGNED when a signature elsewhere in the document covers the container:
    the whole document, the container, one of its ancestors, or a part inside it. Ours would
    change what that signature covers and break it. A signature over another part only (the
    root's other children) is left alone."""
    guarded = {container, *container.iterancestors()}
    for signature in root.iter(f"{_DS}Signature"):
        for ref in signature.iterfind(f"{_DS}SignedInfo/{_DS}Reference"):
            targets = _covered_by(root, ref.get("URI"))
            if targets is None or any(
                t in guarded or container in t.iterancestors() for t in targets
            ):
                holder = signature.getparent()
                where = etree.QName(holder if holder is not None else signature).localname
                raise KysoError("XML_ALREADY_SIGNED", {"container": where})


def _refuse_misread(covered: etree._Element, profile: XmlProfile) -> None:
    """XML_DOTNET_MISREAD when the profile's portals verify with .NET SignedXml and it would
    digest the covered part differently (a correct signature, refused at the portal)."""
    if not profile.dotnet_verifier:
        return
    found = dotnet_misreads(covered)
    if found is not None:
        raise VerifierRefusal(
            "XML_DOTNET_MISREAD",
            {"profile": profile.name, "detail_vi": found[0], "detail_en": found[1]},
        )


def check_signable(tree: etree._ElementTree, profile: XmlProfile) -> None:
    """Refuse (KysoError), before any PIN, a document ``profile`` would not sign: no container,
    already signed, a covering signature, what the portal's verifier would misread, a name its
    parser cannot read, an id that not every verifier resolves to one element..."""
    _plan(tree, profile, digests=False)


def _reference_target(
    root: etree._Element, placement: Placement, ref_id: str | None, plan: Plan, profile: XmlProfile
) -> tuple[etree._Element, str]:
    """The element the content reference points at and its id, which every verifier must
    resolve to that one element (:mod:`.portable`); an id is added when the element has none."""
    if ref_id is not None:  # the generic profile's reference option
        where = ("tùy chọn reference", "the reference option")
        return check_reference_id(root, ref_id, where), ref_id
    target = _find_child(root, placement.reference_element or "", profile)
    local = etree.QName(target).localname
    existing = target.get(placement.id_attribute)
    if existing is None:
        new_id = f"{local}-{uuid.uuid4().hex[:12]}"  # the profile's ASCII name: an NCName
        attr = f' {placement.id_attribute}="{new_id}"'.encode("ascii")
        plan.add_attribute = (element_key(target), attr)
        target.set(placement.id_attribute, new_id)
        return target, new_id
    # An id already there (even empty) is used as it is: a second one would be spliced beside
    # it (id="" id="…" is not XML), and rewriting it would change what the software wrote.
    attr_name = placement.id_attribute
    where = (f"thuộc tính {attr_name} của <{local}>", f"attribute {attr_name} of <{local}>")
    check_reference_id(root, existing, where)
    return target, existing


def _plan(
    tree: etree._ElementTree,
    profile: XmlProfile,
    *,
    digests: bool = True,
    misread: bool = True,
    characters: set[str] | None = None,
    relative_namespaces: bool = True,
    xml_prefix: bool = False,
) -> Plan:
    """Check the document against the profile and digest what the signature covers (with
    ``digests=False`` only check it: the digests are left empty; ``misread=False`` skips the
    .NET misreading check, for a document known to hold no TAB or CR reference;
    ``characters``: the document's non-ASCII characters, when its bytes were at hand;
    ``relative_namespaces=False``: a pass over its bytes found no relative namespace URI;
    ``xml_prefix``: its bytes declare the xml prefix, which only the bytes show)."""
    # C14N stops on a relative namespace URI: refused here, before the PIN, for every profile.
    refuse_relative_namespaces(tree, maybe=relative_namespaces)
    root = tree.getroot()
    placement: Placement = profile.placement_for(root)
    container = root if not placement.container else _find_child(root, placement.container, profile)
    if container.find(f"{_DS}Signature") is not None:
        raise KysoError("XML_ALREADY_SIGNED", {"container": etree.QName(container).localname})
    _refuse_covering_signatures(root, container)
    # libxml2 through lxml cannot carry inherited xml:lang/xml:space into the canonical
    # SignedInfo the way xmlsec1 and other verifiers do; refuse instead of signing wrongly.
    _refuse_inherited_attributes(container)
    if profile.dotnet_verifier:
        if xml_prefix:  # wherever it is declared, mono's C14N writes it out (interop 39)
            refuse_xml_prefix(profile.name)
        # .NET's parser refuses the whole file over such a name, or an encoding name it lacks.
        refuse_dotnet_encoding(tree.docinfo.encoding, profile.name)
        refuse_unportable_names(tree, profile.name, characters)
    plan = Plan(container.tag, dict(container.nsmap), element_key(container), [])
    ref_id = profile.extra.get("reference_id")
    if not (placement.reference_element or ref_id):
        if misread:
            _refuse_misread(root, profile)
        digest = digest_document(tree, profile.c14n, profile.hash_name) if digests else b""
        plan.references.append(Reference("", (ENVELOPED, profile.c14n), digest))
        return plan
    target, ref_id = _reference_target(root, placement, ref_id, plan, profile)
    _refuse_inherited_attributes(target, itself=False)
    if misread:
        _refuse_misread(target, profile)
    covers_container = container is target or target in container.iterancestors()
    transforms = (ENVELOPED, profile.c14n) if covers_container else (profile.c14n,)
    digest = digest_element(target, profile.c14n, profile.hash_name) if digests else b""
    plan.references.append(Reference(f"#{ref_id}", transforms, digest))
    return plan


def _locate(data: bytes, plan: Plan) -> Prepared:
    """Find the plan's elements in the original bytes."""
    encoding = declared_encoding(data[:DECLARATION_WINDOW])
    locator = Locator(data, encoding)
    prepared = Prepared(plan, encoding, locator.span(plan.container_key))
    if plan.add_attribute is not None:
        key, attr = plan.add_attribute
        # Right after the element's name, before any attribute: xmlsec1 takes the first
        # attribute of the id's local name (any namespace: w:id="W1") as the element's id.
        at = locator.span(key).start + 1 + len(key.qname.encode(encoding))
        prepared.edits.append((at, at, attr))
    return prepared


def _prepare_bytes(data: bytes, profile: XmlProfile, max_bytes: int) -> Prepared:
    """Plan from the parsed bytes, free the tree, locate the plan in the bytes (a thread)."""
    tree = parse_untrusted(data, max_bytes=max_bytes)
    plan = _plan(
        tree,
        profile,
        characters=_characters(data, profile),
        relative_namespaces=may_declare_relative_namespace(data),
        xml_prefix=declares_xml_prefix(data),
    )
    del tree
    _trim_heap()  # the tree is gone: hand its memory back before the signed copy is made
    return _locate(data, plan)


def _prepare_file(path: Path, profile: XmlProfile, max_bytes: int) -> tuple[bytes, Prepared]:
    """Plan from the file parsed in chunks, then read its bytes once the tree is freed (so the
    two are never in memory at once) and locate the plan in them (a thread). A file that
    changes meanwhile is refused."""
    try:
        before = path.stat()
        tree = parse_untrusted_file(path, max_bytes=max_bytes)
        characters, namespaces = _file_facts(path, profile)
        plan = _plan(
            tree,
            profile,
            characters=characters,
            relative_namespaces=namespaces.finish(),
            xml_prefix=namespaces.xml_prefix,
        )
        del tree
        _trim_heap()
        document = path.read_bytes()
        after = path.stat()
    except OSError as exc:
        raise invalid_input(
            f"cannot read {path}: {exc.strerror}", f"không đọc được {path} ({exc.strerror})"
        ) from exc
    if (before.st_size, before.st_mtime_ns, before.st_ino) != (
        after.st_size,
        after.st_mtime_ns,
        after.st_ino,
    ) or len(document) != after.st_size:
        raise invalid_input(
            f"{path} changed while it was being signed", f"tệp {path} đã thay đổi trong lúc ký"
        )
    return document, _locate(document, plan)


def _characters(data: bytes, profile: XmlProfile) -> set[str] | None:
    """The document's non-ASCII characters, for the name check of a .NET portal's profile."""
    if not profile.dotnet_verifier:
        return None
    try:
        return NonAsciiCharacters.of(data, declared_encoding(data[:DECLARATION_WINDOW]))
    except LookupError:  # an encoding libxml2 knows and Python does not: read the tree instead
        return None


def _file_facts(path: Path, profile: XmlProfile) -> tuple[set[str] | None, RelativeNamespaceScan]:
    """:func:`_characters` of a file and its namespace scan (relative URIs, the xml prefix),
    in one read in chunks (never whole beside its tree)."""
    namespaces = RelativeNamespaceScan()
    with path.open("rb") as handle:
        collector = None
        if profile.dotnet_verifier:
            with contextlib.suppress(LookupError):  # as in _characters: the tree is read then
                collector = NonAsciiCharacters(declared_encoding(handle.read(DECLARATION_WINDOW)))
            handle.seek(0)
        while chunk := handle.read(_CHUNK):
            namespaces.write(chunk)
            if collector is not None:
                collector.write(chunk)
    return (collector.finish() if collector is not None else None), namespaces


def _trim_heap() -> None:
    """Give the freed tree's memory back to the OS (glibc keeps it in the worker thread's
    arena otherwise, and the signed copy would stack on top of it). A no-op elsewhere."""
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            # The process's own symbols (glibc is loaded already): ctypes.util.find_library
            # would run ldconfig in a subprocess, 5 ms of a 1 MB dossier's 30 ms.
            _MALLOC_TRIM = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError, TypeError):  # not glibc; Windows has no CDLL(None)
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM: Any = None


def _splice(data: bytes, prepared: Prepared, signature: bytes) -> bytes:
    """The original bytes with the signature (and any added id attribute) inserted."""
    span = prepared.container_span
    edits = list(prepared.edits)
    if span.self_closing:
        name = data[span.start + 1 : span.attribute_insert_at].split()[0]
        edits.append(
            (span.start_tag_end - 2, span.start_tag_end, b">" + signature + b"</" + name + b">")
        )
    else:
        assert span.end_tag_start is not None
        edits.append((span.end_tag_start, span.end_tag_start, signature))
    edits.sort()
    view = memoryview(data)
    parts: list[bytes | memoryview] = []
    pos = 0
    for start, end, new in edits:
        parts += [view[pos:start], new]
        pos = end
    parts.append(view[pos:])
    return b"".join(parts)


def _profile_for(
    signer: Signer, name: str, options: dict[str, Any], tsa: str | None, wanted: bool | None
) -> tuple[XmlProfile, str | None]:
    """The profile with its options and the timestamp authority to ask (if any), after
    checking its verifiers can check this key/hash and that a required timestamp can be had
    (before any work: the user learns it before the PIN dialog's signature, not after)."""
    prof = get_profile(name, **options)
    prof.check_algorithms(ecdsa=signer.key_kind is KeyKind.EC)
    return prof, prof.timestamp_url(tsa, wanted)


def check_portal_verifier(
    document: bytes, profile: str = "bhxh", *, max_bytes: int = DEFAULT_MAX_BYTES, **options: Any
) -> None:
    """Raise a :class:`~.portable.VerifierRefusal` when the profile's portals (.NET SignedXml)
    would refuse what :func:`sign_xml` signs in ``document``; no key, no digest. The agent calls
    it before consent and PIN: the user is never asked to sign a file the portal would refuse.
    XML_DOTNET_MISREAD: .NET would misread the covered part; XML_NAME_UNPORTABLE: a name
    .NET's parser cannot read; XML_REFERENCE_ID_UNUSABLE: the id the reference would use is
    not an NCName, or more than one element carries it.

    The document's other refusals (no container, already signed, ...) are left to
    :func:`sign_xml`, where they have always been (a ``sign.batch`` item then fails alone)."""
    prof = get_profile(profile, **options)
    relative = may_declare_relative_namespace(document)
    if not prof.dotnet_verifier and not relative:
        return
    if prof.dotnet_verifier and declares_xml_prefix(document):
        refuse_xml_prefix(prof.name)
    # A second parse (the summary's tree is not at hand): the names and the referenced id are
    # read from the tree. The .NET misreading check runs only where a byte search finds the
    # character references it is about.
    try:
        tree = parse_untrusted(document, max_bytes=max_bytes)
        if not prof.dotnet_verifier:  # a generic document: only what Kyso cannot sign at all
            refuse_relative_namespaces(tree)
            return
        characters = _characters(document, prof)
        _plan(
            tree,
            prof,
            digests=False,
            misread=may_misread(document),
            characters=characters,
            relative_namespaces=relative,
        )
    except VerifierRefusal:
        raise
    except KysoError:
        pass  # left to sign_xml


async def sign_xml(
    document: bytes,
    signer: Signer,
    profile: str = "bhxh",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timestamp_url: str | None = None,
    timestamp: bool | None = None,
    **options: Any,
) -> bytes:
    """Sign ``document`` enveloped, the way ``profile`` says, and return the signed bytes.

    Options (see :func:`agent.signing.xml.profiles.get_profile`): ``hash`` ("sha256"; "sha1"
    for legacy RSA files), ``c14n``, ``signing_time``, ``allow_ecdsa`` / ``allow_sha1``,
    ``signature_timestamp``, and for ``generic`` ``reference`` and ``container``.
    ``timestamp_url`` is the agent's RFC 3161 authority and ``timestamp`` the call's wish
    (None: yes when there is one): where the profile asks for it, the signature gets an XAdES
    SignatureTimeStamp (:mod:`.xades`). Every byte outside the inserted
    ``<Signature>`` is kept (an empty container ``<X/>`` becomes ``<X>…</X>``; the tax profile
    may add an ``id`` to ``HSoKhaiThue``).

    Raises KysoError: XML_* for unsafe, malformed or unfit documents (XML_CONTAINER_MISSING,
    XML_ALREADY_SIGNED, XML_PROFILE_MISMATCH...), XML_ECDSA_NOT_ACCEPTED / XML_SHA1_NOT_ACCEPTED
    when the profile's portals cannot verify the result (bhxh, tax; unless ``allow_ecdsa`` /
    ``allow_sha1``), TIMESTAMP_NOT_CONFIGURED when the profile requires a timestamp and there
    is no ``timestamp_url``, TIMESTAMP_UNAVAILABLE when the authority does not answer, and the
    token's errors while signing.
    """
    prof, tsa = _profile_for(signer, profile, options, timestamp_url, timestamp)
    if not isinstance(document, bytes):
        document = bytes(document)
    prepared = await asyncio.to_thread(_prepare_bytes, document, prof, max_bytes)
    return await _signed(document, prepared, prof, signer, tsa)


async def sign_xml_file(
    path: str | Path,
    signer: Signer,
    profile: str = "bhxh",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timestamp_url: str | None = None,
    timestamp: bool | None = None,
    **options: Any,
) -> tuple[bytes, bytes]:
    """Like :func:`sign_xml` for a file; returns ``(original bytes, signed bytes)``.

    libxml2 is fed the file in chunks and the bytes are read only after the tree is freed, so a
    large dossier never has its bytes and its tree in memory at once (peak memory is the
    tree's, like xmlsec1's). A file that changes while it is being signed is refused.
    """
    prof, tsa = _profile_for(signer, profile, options, timestamp_url, timestamp)
    document, prepared = await asyncio.to_thread(_prepare_file, Path(path), prof, max_bytes)
    return document, await _signed(document, prepared, prof, signer, tsa)


# Copying more than this into the signed result (about 3 ms a MB here) would hold up the
# agent's other connections: larger documents are spliced on a thread.
_SPLICE_ON_LOOP_MAX = 4 * 1024 * 1024


async def _signed(
    document: bytes, prepared: Prepared, profile: XmlProfile, signer: Signer, tsa: str | None
) -> bytes:
    """Sign on the event loop (one hand-off, to the token worker), timestamp if asked, splice."""
    signature = await build_signature(prepared, profile, signer, tsa)
    if len(document) <= _SPLICE_ON_LOOP_MAX:
        return _splice(document, prepared, signature)
    return await asyncio.to_thread(_splice, document, prepared, signature)
