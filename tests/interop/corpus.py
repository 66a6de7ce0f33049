"""The documents the interop suite signs: every profile × key × hash × document shape.

Documents are built from one template per profile with the shape's twist (a default namespace,
``xmlns=""``, xsi declarations, Vietnamese names and text, CRLF line ends, ``&#13;`` character
references in text and attributes, ``&#9;`` in an attribute, ``&#10;``/``&#13;`` in an attribute,
comments, processing instructions before and after the root, a BOM, 20 MB) and signed with
Kyso's real ``sign_xml`` on the SoftHSM2 demo tokens; ``with-comments`` is the comments document
signed with C14N WithComments. A combination Kyso refuses to sign is kept as a cell with Kyso's
error as its reason, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import KysoError
from agent.signing.signer import TokenSigner
from agent.signing.xml import sign_xml
from agent.tokens.pin import StaticPinProvider

PROFILES = ("bhxh", "tax", "generic")
KEYS = {"RSA": "org", "ECDSA": "ec"}  # key type → demo certificate
HASHES = ("sha256", "sha1")
SHAPES = (
    "default-ns",
    'xmlns=""',
    "xsi",
    "vietnamese",
    "crlf",
    "cr-ref",
    "tab-ref-attr",
    "newline-ref-attr",
    "comments",
    "with-comments",
    "pi-outside-root",
    "bom",
)
# Shapes .NET SignedXml digests differently from C14N (it re-parses the covered part: a TAB
# reference in an attribute, a CR reference in text): bhxh and tax refuse them
# (XML_DOTNET_MISREAD), generic signs them.
DOTNET_MISREAD_SHAPES = ("cr-ref", "tab-ref-attr")
# Profile options a shape is signed with (besides the profile's own).
SHAPE_OPTIONS: dict[str, dict[str, str]] = {"with-comments": {"c14n": "c14n-comments"}}
# What each shape adds to the profile's template (shown above the matrix).
SHAPE_DESCRIPTIONS = {
    "default-ns": "the root in a default namespace",
    'xmlns=""': 'the signed part undeclares the default namespace (`xmlns=""`)',
    "xsi": "xsi/xsd declarations, `xsi:nil`, `xsi:type`",
    "vietnamese": "Vietnamese element and attribute names, NFD text, entity and character "
    "references",
    "crlf": "CRLF line ends",
    "cr-ref": "`&#13;` in text and `&#13;&#10;` in an attribute",
    "tab-ref-attr": "`&#9;` in an attribute (a raw TAB in text)",
    "newline-ref-attr": "`&#10;`, `&#13;` and `&#13;&#10;` in attributes",
    "comments": "comments before, inside and after the root",
    "with-comments": "the comments document signed with C14N 1.0 WithComments",
    "pi-outside-root": "processing instructions before and after the root",
    "bom": "a UTF-8 byte order mark",
}
BIG = "20MB"
# The 20 MB cells are few on purpose (2 cores, 9 engineers): one per key type.
BIG_CELLS = (("bhxh", "RSA", "sha256"), ("tax", "ECDSA", "sha256"))
BIG_BYTES = 20 * 1024 * 1024

_LAYOUT = {
    # profile: (root, the element the signature covers or that holds the data, container)
    "bhxh": ("Hoso", "NoiDung", "CKy_Dvi"),
    "tax": ("HSoThueDTu", "HSoKhaiThue", "CKyDTu"),
    "generic": ("ThongBao", "NoiDung", None),
}
TAX_NS = "http://kekhaithue.gdt.gov.vn/TKhaiThue"
DEFAULT_NS = "urn:kyso:interop:mac-dinh"
TAMPER_FROM, TAMPER_TO = b"<MaSoThue>0101234567</MaSoThue>", b"<MaSoThue>0101234568</MaSoThue>"
_SIGNING_TIME = re.compile(rb"(<(?:[\w.-]+:)?SigningTime\b[^>]*>)(\d{4})")


def _rows(count: int) -> str:
    names = ("Nguyễn Văn An", "Trần Thị Bích Ngọc", "Lê Hoàng Cường", "Phạm Thu Dung")
    return "".join(
        f"\n    <NguoiLaoDong><STT>{i}</STT><HoTen>{names[i % 4]}</HoTen>"
        f"<MucLuong>{6_000_000 + i % 50 * 100_000}</MucLuong></NguoiLaoDong>"
        for i in range(1, count + 1)
    )


# An address row added to the body by the shapes about line ends and control characters.
_ADDRESS = {
    "crlf": '\n    <DiaChi Dong2="tầng 3, phòng 301">Số 1\nPhố Huế</DiaChi>',
    # A carriage return that survives parsing: written as a character reference.
    "cr-ref": '\n    <DiaChi Dong2="tầng 3&#13;&#10;phòng 301">Số 1&#13;\nPhố Huế</DiaChi>',
    # A TAB in an attribute survives parsing only as a reference (a raw one becomes a space).
    "tab-ref-attr": '\n    <DiaChi Dong2="tầng 3&#9;phòng 301">Số 1\tPhố Huế</DiaChi>',
    "newline-ref-attr": (
        '\n    <DiaChi Dong2="tầng 3&#13;&#10;phòng 301&#10;" Dong3="&#13;">Phố Huế</DiaChi>'
    ),
}


def document(profile: str, shape: str) -> bytes:
    """An unsigned document for ``profile`` with the twist named by ``shape``."""
    root, main, container = _LAYOUT[profile]
    root_attrs = f' xmlns="{TAX_NS}"' if profile == "tax" else ""
    main_attrs, before, inside, after, body = "", "", "", "", _rows(2)
    ten = "Công ty TNHH Kyso"
    if shape == "default-ns" and profile != "tax":
        root_attrs = f' xmlns="{DEFAULT_NS}"'
    elif shape == 'xmlns=""':
        root_attrs = f' xmlns="{TAX_NS if profile == "tax" else DEFAULT_NS}"'
        main_attrs = ' xmlns=""'
    elif shape == "xsi":
        root_attrs += (
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
            ' xsi:noNamespaceSchemaLocation="ho-so.xsd"'
        )
        body += '\n    <GhiChu xsi:nil="true"/><SoTien xsi:type="xsd:decimal">1500000</SoTien>'
    elif shape == "vietnamese":
        ten = (
            "Công ty Hòa Bình &amp; Hoà Bình (NFD: Ho\u0300a) &lt;Việt Nam&gt; ơ ư Đ đ ễ ỵ &#7871;"
        )
        main_attrs = ' MôTả="Tờ khai &quot;điều chỉnh&quot; — Quý III"'
        body += "\n    <TênĐơnVị>Chi nhánh Đà Nẵng</TênĐơnVị>"
    elif shape in ("comments", "with-comments"):
        before = "<!-- Xuất từ phần mềm kê khai -->\n"
        after = "\n<!-- hết tệp -->"
        body += "\n    <!-- kỳ kê khai 11/2026 --><KyKeKhai>11/2026<!-- tháng --></KyKeKhai>"
        inside = "<!-- chữ ký đặt ở đây -->"
    elif shape == BIG:
        per_row = len(_rows(100).encode()) / 100
        body = _rows(int(BIG_BYTES / per_row))
    elif shape == "pi-outside-root":
        before = '<?xml-stylesheet type="text/xsl" href="ho-so.xsl"?>\n'
        after = "\n<?kyso-ghi-chu hết tệp?>"
    body += _ADDRESS.get(shape, "")
    holder = f"\n  <{container}>{inside}</{container}>" if container else ""
    text = (
        f'<?xml version="1.0" encoding="utf-8"?>\n{before}<{root}{root_attrs}>\n'
        f"  <{main}{main_attrs}>\n    <TenDonVi>{ten}</TenDonVi>"
        f"<MaSoThue>0101234567</MaSoThue>{body}\n  </{main}>{holder}\n</{root}>{after}\n"
    )
    data = text.encode("utf-8")
    if shape == "crlf":
        data = data.replace(b"\n", b"\r\n")
    if shape == "bom":
        data = b"\xef\xbb\xbf" + data
    return data


@dataclass
class Cell:
    """One signed document of the matrix (or the reason Kyso would not sign it)."""

    profile: str
    key: str
    hash_name: str
    shape: str
    path: Path | None = None
    signed_as: str = ""  # the allow options it needed, when the profile refuses by default
    refused: str = ""  # Kyso's error code and detail when it refused to sign
    verdicts: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """A stable, file-name-safe label."""
        shape = self.shape.replace('xmlns=""', "xmlns-empty")
        return f"{self.profile}-{self.key}-{self.hash_name}-{shape}"


def all_cells() -> list[Cell]:
    """Every cell of the matrix, in the order the document lists them."""
    cells = [Cell(p, k, h, s) for p in PROFILES for k in KEYS for h in HASHES for s in SHAPES]
    cells += [Cell(p, k, h, BIG) for p, k, h in BIG_CELLS]
    return cells


async def _sign(service: Any, demo: dict[str, Any], key: str, doc: bytes, **opts: Any) -> bytes:
    cert = demo["certificates"][KEYS[key]]
    pin = next(t["user_pin"] for t in demo["tokens"] if t["label"] == cert["token"])
    async with service.open_key(cert["thumbprint"], StaticPinProvider(pin)) as session:
        return await sign_xml(doc, TokenSigner(session), **opts)


# Kyso's refusal → the profile option that explicitly allows it (agent.signing.xml.profiles).
_ALLOW = {"XML_ECDSA_NOT_ACCEPTED": "allow_ecdsa", "XML_SHA1_NOT_ACCEPTED": "allow_sha1"}


def _refusal(exc: KysoError) -> str:
    detail = exc.details.get("detail") or exc.details.get("detail_en", "")
    return f"{exc.code}: {detail}".rstrip(": ")


async def sign_cell(service: Any, demo: dict[str, Any], cell: Cell, out: Path) -> None:
    """Sign the cell's document into ``out``; a refusal is recorded in ``cell.refused``.

    bhxh and tax refuse ECDSA and SHA-1 by default (their portals' verifiers cannot check
    them): such a cell is signed with the profile's explicit allow option and says so, so the
    verifiers still judge that key and hash over that document. What Kyso refuses even then
    (ECDSA with SHA-1, in every profile) is a cell with Kyso's error as its reason.
    """
    doc = document(cell.profile, cell.shape)
    opts: dict[str, Any] = {"profile": cell.profile, "hash": cell.hash_name}
    opts.update(SHAPE_OPTIONS.get(cell.shape, {}))
    notes: list[str] = []
    signed = b""
    for _ in range(3):  # at most: allow_ecdsa, then allow_sha1
        try:
            signed = await _sign(service, demo, cell.key, doc, **opts)
            break
        except KysoError as exc:
            option = _ALLOW.get(exc.code)
            if option is None or option in opts:
                cell.refused = _refusal(exc)
                return
            opts[option] = True
            notes.append(f"{option} ({cell.profile} refuses by default: {exc.code})")
    else:
        cell.refused = "refused after every allow option"
        return
    cell.signed_as = "; ".join(notes)
    out.mkdir(parents=True, exist_ok=True)
    cell.path = out / f"{cell.name}.xml"
    cell.path.write_bytes(signed)


def tampered_document(signed: bytes) -> bytes:
    """The signed document with one digit of the signed MST changed."""
    assert signed.count(TAMPER_FROM) == 1, "the MST must appear once to be tampered with"
    return signed.replace(TAMPER_FROM, TAMPER_TO)


def tampered_signing_time(signed: bytes) -> bytes:
    """The signed document with the year of its SigningTime moved one year on."""
    match = _SIGNING_TIME.search(signed)
    assert match is not None, "no SigningTime to tamper with"
    year = str(int(match.group(2)) + 1).encode()
    return signed[: match.start(2)] + year + signed[match.end(2) :]


def has_signing_time(signed: bytes) -> bool:
    """Whether the signature carries a SigningTime property."""
    return _SIGNING_TIME.search(signed) is not None


# --- shapes the verifiers read differently (outside-verifier round 5) ----------------------------
# Each document was signed by Kyso once and refused by one verifier or more (``why``). Kyso must
# now refuse it with ``expect`` (an error code, before any key use), or, where it is right and a
# verifier is not, sign it: then every verifier accepts it or fails with a listed known failure.
SIGNED = "signed"
_EDGE_BODY = "<TenDonVi>Công ty TNHH Kyso</TenDonVi><MaSoThue>0101234567</MaSoThue>"
_XML_1_1 = '<?xml version="1.1" encoding="utf-8"?>\n'
# Names libxml2 reads (XML 1.0 fifth edition) and .NET's and Java's parsers do not (fourth).
NONBMP_NAMES = '<𠀀 𠀁="x">t</𠀀>'
FIFTH_EDITION_NAMES = '<Tiền₫ ȡ="1">t</Tiền₫>'


@dataclass(frozen=True)
class Edge:
    """One document shape of the round, in one profile, and what Kyso must do with it."""

    shape: str
    profile: str
    document: bytes
    expect: str  # an error code, or SIGNED
    why: str  # what the verifiers said when Kyso signed it
    options: tuple[tuple[str, str], ...] = ()


@dataclass
class EdgeCell:
    """An :class:`Edge` after signing: the signed file, or Kyso's refusal."""

    edge: Edge
    path: Path | None = None
    refused: str = ""  # the error code and detail

    @property
    def name(self) -> str:
        """A stable, file-name-safe label."""
        return f"edge-{self.edge.profile}-{self.edge.shape}".replace(".", "_")


def _edge_tax(hs_attrs: str = "", after: str = "", decl: str = "") -> bytes:
    decl = decl or '<?xml version="1.0" encoding="utf-8"?>\n'
    return (
        f'{decl}<HSoThueDTu xmlns="{TAX_NS}">\n  <HSoKhaiThue{hs_attrs}>{_EDGE_BODY}</HSoKhaiThue>'
        f"{after}\n  <CKyDTu/>\n</HSoThueDTu>\n"
    ).encode()


def _edge_bhxh(body: str = "", decl: str = "") -> bytes:
    decl = decl or '<?xml version="1.0" encoding="utf-8"?>\n'
    return (
        f"{decl}<Hoso>\n  <NoiDung>{body}{_EDGE_BODY}</NoiDung>\n  <CKy_Dvi/>\n</Hoso>\n".encode()
    )


def _edge_generic(body: str = "", decl: str = "") -> bytes:
    decl = decl or '<?xml version="1.0" encoding="utf-8"?>\n'
    return f"{decl}<ThongBao>\n  <NoiDung>{body}{_EDGE_BODY}</NoiDung>\n</ThongBao>\n".encode()


_REFUSED_BY_ALL_BUT_SIGNXML = "Kyso's own check, xmlsec1, mono and JSR 105 refused it"
_NOT_NCNAME_FOR_DOTNET = (
    'mono: "Malformed reference element" (SignedXml finds only an id that is an NCName)'
)


def edges() -> list[Edge]:
    """Every shape of the round, in the profiles it was tried with."""
    tax_ids = (
        ("tax-id-empty", "", 'Kyso wrote `id="" id="HSoKhaiThue-…"`: not XML at all'),
        ("tax-id-space", "ID 1", _REFUSED_BY_ALL_BUT_SIGNXML),
        ("tax-id-spaces-around", " X ", _REFUSED_BY_ALL_BUT_SIGNXML),
        ("tax-id-quotes", "a&apos;b&quot;c", _REFUSED_BY_ALL_BUT_SIGNXML),
        ("tax-id-digit", "1", _NOT_NCNAME_FOR_DOTNET),
        ("tax-id-colon", "a:b", _NOT_NCNAME_FOR_DOTNET),
        ("tax-id-percent", "a%20b", _NOT_NCNAME_FOR_DOTNET),
        ("tax-id-hash", "#x", "signxml (`##x` is no xs:anyURI), mono and JSR 105 refused it"),
        (
            "tax-id-fifth-edition",
            "x‿",
            "not in the round: mono's XmlConvert.VerifyNCName reads fourth-edition names and "
            "refuses it, so SignedXml cannot find the element",
        ),
    )
    found = [
        Edge(shape, "tax", _edge_tax(f' id="{value}"'), "XML_REFERENCE_ID_UNUSABLE", why)
        for shape, value, why in tax_ids
    ]
    found += [
        Edge(
            "tax-id-twin-xml-id",
            "tax",
            _edge_tax(' id="X"', '\n  <PLuc xml:id="X"/>'),
            "XML_REFERENCE_ID_UNUSABLE",
            'xmlsec1: "duplicate ID attribute"; signxml: ambiguous reference (2 nodes)',
        ),
        Edge(
            "tax-id-twin-namespaced-Id",
            "tax",
            _edge_tax(' id="X"', '\n  <PLuc xmlns:w="urn:w" w:Id="X"/>'),
            "XML_REFERENCE_ID_UNUSABLE",
            "signxml: digest mismatch (it took the other element)",
        ),
        Edge(
            "tax-id-vietnamese",
            "tax",
            _edge_tax(' id="Tờ_khai"', '\n  <PLuc xml:id="P1"/>'),
            SIGNED,
            "every verifier accepted it (an NCName; another id elsewhere)",
        ),
        Edge(
            "generic-reference-space",
            "generic",
            _edge_generic('<P Id="p 1">x</P>'),
            "XML_REFERENCE_ID_UNUSABLE",
            _REFUSED_BY_ALL_BUT_SIGNXML.replace(", mono", ""),
            (("reference", "#p 1"),),
        ),
    ]
    for profile, make in (("bhxh", _edge_bhxh), ("tax", None), ("generic", _edge_generic)):
        doc = _edge_tax(decl=_XML_1_1) if make is None else make(decl=_XML_1_1)
        found.append(
            Edge(
                "xml-1.1",
                profile,
                doc,
                "XML_VERSION_UNSUPPORTED",
                "mono: \"Version number '1.1' is invalid\"",
            )
        )
    found.append(
        Edge(
            "xml-1.1-nel",
            "bhxh",
            _edge_bhxh("<A>a\u0085b\u2028c</A>", _XML_1_1),
            "XML_VERSION_UNSUPPORTED",
            "JSR 105 and Santuario: digest mismatch (XML 1.1 reads NEL and U+2028 as a line "
            "feed, libxml2 keeps them); mono refuses version 1.1",
        )
    )
    for shape, names in (
        ("nonbmp-names", NONBMP_NAMES),
        ("fifth-edition-names", FIFTH_EDITION_NAMES),
    ):
        why = (
            "signxml, mono, JSR 105 and Santuario could not parse the file"
            if shape == "nonbmp-names"
            else "not in the round: mono's and Java's parsers refuse ₫ and ȡ in a name as they "
            "refuse 𠀀 (fourth-edition names); see the generic row"
        )
        found.append(Edge(shape, "bhxh", _edge_bhxh(names), "XML_NAME_UNPORTABLE", why))
        tax = _edge_tax(after=f"\n  <PLuc>{names}</PLuc>")
        found.append(Edge(shape, "tax", tax, "XML_NAME_UNPORTABLE", why))
        found.append(Edge(shape, "generic", _edge_generic(names), SIGNED, why))
    return found


async def sign_edge(service: Any, demo: dict[str, Any], cell: EdgeCell, out: Path) -> None:
    """Sign the edge's document (RSA, SHA-256) into ``out``, or record Kyso's refusal."""
    edge = cell.edge
    try:
        signed = await _sign(
            service, demo, "RSA", edge.document, profile=edge.profile, **dict(edge.options)
        )
    except KysoError as exc:
        cell.refused = _refusal(exc)
        return
    out.mkdir(parents=True, exist_ok=True)
    cell.path = out / f"{cell.name}.xml"
    cell.path.write_bytes(signed)
