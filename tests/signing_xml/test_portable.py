"""Outside-verifier round 5: what Kyso signed but other verifiers could not read.

Each shape here was signed before and refused by one verifier or more (docs/interop.md, "Shapes
the verifiers read differently"): an empty or non-NCName id on the referenced element, an id
repeated through ``xml:id`` or a namespaced ``Id``, XML 1.1, names outside XML 1.0's fourth
edition. Now each is refused before any key is used (and, in the agent, before consent and PIN:
``check_portal_verifier``; in the CLI and the desktop: ``check_signable``).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from agent.cli.main import main
from agent.demo import pki
from agent.errors import KysoError
from agent.signing.signer import SoftwareSigner
from agent.signing.xml import (
    check_portal_verifier,
    check_signable,
    check_xml_signature,
    get_profile,
    parse_untrusted,
    sign_xml,
    sign_xml_file,
    summarize_xml,
)
from agent.signing.xml.portable import (
    VerifierRefusal,
    portable_name,
    portable_ncname,
    unportable_name,
)
from agent.signing.xml.safe import parse_untrusted_file
from agent.tokens.algorithms import SignatureAlgorithm
from tests.conftest import cert_thumbprint, pin_asks

from .helpers import PIN, xmlsec_verify

_CA = pki.TestCA.create()
_KEY = rsa.generate_private_key(65537, 2048)
TAX_NS = "http://kekhaithue.gdt.gov.vn/TKhaiThue"
BODY = "<TTinChung><TenNNT>Công ty Hòa Bình</TenNNT><mst>0109876543</mst></TTinChung>"


class _Counting(SoftwareSigner):
    """A software key that counts its signatures: a refusal must come before any."""

    calls = 0

    async def sign(self, data: bytes, algorithm: SignatureAlgorithm) -> bytes:
        self.calls += 1
        return await super().sign(data, algorithm)


def _signer() -> _Counting:
    return _Counting(_KEY, _CA.issue(pki.PROFILES[0], _KEY.public_key(), 0x79))


def _tax(hs_attrs: str = "", after: str = "", body: str = BODY) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<HSoThueDTu xmlns="{TAX_NS}">\n'
        f"  <HSoKhaiThue{hs_attrs}>{body}</HSoKhaiThue>{after}\n  <CKyDTu/>\n</HSoThueDTu>\n"
    ).encode()


def _hoso(body: str, decl: str = '<?xml version="1.0" encoding="utf-8"?>\n') -> bytes:
    return (
        f"{decl}<Hoso>\n  <NoiDung><MaSoThue>0101234567</MaSoThue>{body}</NoiDung>\n"
        "  <CKy_Dvi/>\n</Hoso>\n"
    ).encode()


def _generic(body: str, decl: str = '<?xml version="1.0" encoding="utf-8"?>\n') -> bytes:
    return f"{decl}<ThongBao>\n  <NoiDung>{body}</NoiDung>\n</ThongBao>\n".encode()


def _refused_everywhere(
    doc: bytes, profile: str, code: str, tmp_path: Path, *, agent: bool = True, **options: Any
) -> KysoError:
    """The same refusal from every way in: the agent's pre-consent check (``agent``: the
    profile's portals are .NET's), the CLI's and the desktop's pre-PIN check, sign_xml and
    sign_xml_file, none of them using the key."""
    errors: list[KysoError] = []
    if agent:
        with pytest.raises(VerifierRefusal) as err:
            check_portal_verifier(doc, profile, **options)
        errors.append(err.value)
    path = tmp_path / "doc.xml"
    path.write_bytes(doc)
    with pytest.raises(KysoError) as err:
        check_signable(parse_untrusted_file(path), get_profile(profile, **options))
    errors.append(err.value)
    signer = _signer()
    with pytest.raises(KysoError) as err:
        asyncio.run(sign_xml(doc, signer, profile, **options))
    errors.append(err.value)
    with pytest.raises(KysoError) as err:
        asyncio.run(sign_xml_file(path, signer, profile, **options))
    errors.append(err.value)
    assert signer.calls == 0
    assert {e.code for e in errors} == {code}, errors
    assert len({str(e.details) for e in errors}) == 1, errors
    return errors[0]


# --- the id the reference uses --------------------------------------------------------------


def test_an_empty_id_is_refused_instead_of_a_second_id_beside_it(tmp_path: Path) -> None:
    """It was ``<HSoKhaiThue id="" id="HSoKhaiThue-…">``: not XML, and the CLI said signed."""
    err = _refused_everywhere(_tax(' id=""'), "tax", "XML_REFERENCE_ID_UNUSABLE", tmp_path)
    assert "attribute id of <HSoKhaiThue> = ''" in err.message_en


@pytest.mark.parametrize(
    ("written", "value", "refused_by"),
    [
        ("ID 1", "ID 1", "kyso, xmlsec1, mono, JSR 105"),
        (" X ", " X ", "kyso, xmlsec1, mono, JSR 105"),
        ("a&apos;b&quot;c", "a'b\"c", "kyso, xmlsec1, mono, JSR 105"),
        ("1", "1", "mono: Malformed reference element"),
        ("a:b", "a:b", "mono"),
        ("a%20b", "a%20b", "mono"),
        ("#x", "#x", "signxml, mono, JSR 105"),
        ("x\u203f", "x\u203f", "mono: XmlConvert.VerifyNCName, fourth edition"),
        ("\U00020000", "\U00020000", "mono"),
    ],
)
def test_an_id_that_is_not_an_ncname_is_refused_naming_it(
    tmp_path: Path, written: str, value: str, refused_by: str
) -> None:
    err = _refused_everywhere(
        _tax(f' id="{written}"'), "tax", "XML_REFERENCE_ID_UNUSABLE", tmp_path
    )
    detail = err.message_en
    assert f"attribute id of <HSoKhaiThue> = {value!r}" in detail, refused_by
    assert "NCName" in detail and ".NET" in detail


def test_the_value_is_shown_inert() -> None:
    with pytest.raises(VerifierRefusal) as err:
        check_portal_verifier(_tax(' id="a&#x202E;b&#x2028;c&#x200B;' + "x" * 100 + '"'), "tax")
    detail = err.value.message_en
    assert not {"\u202e", "\u2028", "\u200b"} & set(detail)
    assert "\\u202e" in detail and "\\u2028" in detail and "\\u200b" in detail
    assert "…" in detail and "x" * 40 not in detail


@pytest.mark.parametrize(
    ("hs_attrs", "after"),
    [
        (' id="X"', '\n  <PLuc xml:id="X"/>'),  # xmlsec1: duplicate ID; signxml: ambiguous
        (' id="X"', '\n  <PLuc xmlns:w="urn:w" w:Id="X"/>'),  # signxml: digest mismatch
        (' id="X"', '\n  <PLuc Id="X"/>'),
        (' id="X"', '\n  <PLuc><Sub xmlns:w="urn:w" w:ID="X"/></PLuc>'),
    ],
)
def test_an_id_carried_twice_in_any_id_attribute_is_refused(
    tmp_path: Path, hs_attrs: str, after: str
) -> None:
    err = _refused_everywhere(_tax(hs_attrs, after), "tax", "XML_REFERENCE_ID_UNUSABLE", tmp_path)
    assert "2 elements carry it" in err.message_en
    assert "thuộc tính id của <HSoKhaiThue>" in err.message_vi


def test_the_generic_reference_option_follows_the_same_rule(tmp_path: Path) -> None:
    doc = _generic('<P Id="p 1">x</P><Q Id="X">y</Q><R xml:id="X"/>')
    for reference, code in (
        ("#p 1", "XML_REFERENCE_ID_UNUSABLE"),
        ("#X", "XML_REFERENCE_ID_UNUSABLE"),
    ):
        err = _refused_everywhere(doc, "generic", code, tmp_path, agent=False, reference=reference)
        assert "reference option" in str(err.details)


@pytest.mark.parametrize("value", ["Tờ_khai", "_x", "ID_1", "a.b-c", "x·y", "HSoKhaiThue-1"])
def test_an_ncname_id_is_used_as_it_is(value: str) -> None:
    signed = asyncio.run(
        sign_xml(_tax(f' id="{value}"', '\n  <PLuc id="other"/>'), _signer(), "tax")
    )
    assert f'URI="#{value}"'.encode() in signed
    assert check_xml_signature(signed).references[0] == f"#{value}"


def test_a_missing_id_is_added_and_an_id_elsewhere_is_left_alone() -> None:
    signed = asyncio.run(sign_xml(_tax(' Id="OTHER"', '\n  <PLuc xml:id="P1"/>'), _signer(), "tax"))
    new_id = etree.fromstring(signed)[0].get("id")
    assert new_id and new_id.startswith("HSoKhaiThue-") and portable_ncname(new_id)
    check_xml_signature(signed)


@pytest.mark.parametrize(
    "decoy", ['<PLuc xml:id="{v}"/>', '<PLuc xmlns:w="urn:w" w:Id="{v}"/>', '<PLuc ID="{v}"/>']
)
def test_the_verifier_counts_the_same_id_attributes(decoy: str) -> None:
    """A twin id added after signing, outside the signed element (its digest still holds):
    which element does ``#v`` name? Kyso's verifier now sees the twin as the signer does."""
    signed = asyncio.run(sign_xml(_tax(' id="HS1"'), _signer(), "tax"))
    check_xml_signature(signed)
    twin = signed.replace(b"\n  <CKyDTu>", b"\n  " + decoy.format(v="HS1").encode() + b"<CKyDTu>")
    assert twin != signed
    with pytest.raises(KysoError) as err:
        check_xml_signature(twin)
    assert err.value.code == "SIGNATURE_INVALID"
    assert "matches 2 elements" in err.value.details["detail"]


# --- XML 1.1 ------------------------------------------------------------------------------


XML11 = '<?xml version="1.1" encoding="utf-8"?>\n'


@pytest.mark.parametrize("profile", ["bhxh", "tax", "generic"])
@pytest.mark.parametrize(
    "decl", [XML11, "<?xml version='1.1'?>\n", '<?xml version="1.5" encoding="utf-8"?>\n']
)
def test_an_xml_version_other_than_1_0_is_refused_for_every_profile(
    tmp_path: Path, profile: str, decl: str
) -> None:
    doc = {
        "bhxh": _hoso("<A>a\u0085b\u2028c</A>", decl),
        "generic": _generic("<A>a\u0085b\u2028c</A>", decl),
        "tax": _tax().replace(b'<?xml version="1.0" encoding="utf-8"?>\n', decl.encode()),
    }[profile]
    path = tmp_path / "v.xml"
    path.write_bytes(doc)
    for read in (lambda: parse_untrusted(doc), lambda: parse_untrusted_file(path)):
        with pytest.raises(KysoError) as err:
            read()
        assert err.value.code == "XML_VERSION_UNSUPPORTED" and err.value.details[
            "version"
        ].startswith("1.")
    signer = _signer()
    for sign in (sign_xml(doc, signer, profile), sign_xml_file(path, signer, profile)):
        with pytest.raises(KysoError) as err:
            asyncio.run(sign)
        assert err.value.code == "XML_VERSION_UNSUPPORTED"
    assert signer.calls == 0
    with pytest.raises(KysoError) as err:  # the consent summary: sign.xml, sign.cms, batch
        summarize_xml(doc)
    assert err.value.code == "XML_VERSION_UNSUPPORTED"


def test_xml_1_0_without_or_with_a_declaration_is_read() -> None:
    for decl in ("", '<?xml version="1.0"?>\n', "<?xml version='1.0' standalone='yes'?>\n"):
        assert parse_untrusted(_hoso("", decl)).docinfo.xml_version == "1.0"


# --- names ----------------------------------------------------------------------------------


# Names libxml2 reads (XML 1.0, fifth edition) and mono's and Java's parsers do not (fourth
# edition): checked against both in docs/interop.md ("nonbmp-names", "bmp-fifth-names").
FIFTH_ONLY = [
    ("element", "<𠀀>t</𠀀>", "𠀀"),
    ("attribute", '<A 𠀀="x">t</A>', "𠀀"),
    ("namespace prefix", '<A xmlns:𠀀="urn:x">t</A>', "𠀀"),
    ("element", "<Tiền₫>1</Tiền₫>", "Tiền₫"),
    ("element", "<ȡ/>", "ȡ"),
    ("attribute", '<A xmlns:p="urn:p" p:㐀="1"/>', "㐀"),
    ("processing instruction", "<?Ⰰ x?>", "Ⰰ"),
]


@pytest.mark.parametrize("profile", ["bhxh", "tax"])
@pytest.mark.parametrize(("kind", "content", "name"), FIFTH_ONLY, ids=[c[1] for c in FIFTH_ONLY])
def test_the_net_portals_refuse_names_their_parser_cannot_read(
    tmp_path: Path, profile: str, kind: str, content: str, name: str
) -> None:
    # For tax the name sits outside the signed HSoKhaiThue: .NET cannot parse the file at all.
    doc = _hoso(content) if profile == "bhxh" else _tax(after=f"\n  <PLuc>{content}</PLuc>")
    err = _refused_everywhere(doc, profile, "XML_NAME_UNPORTABLE", tmp_path)
    assert f"the {kind} name {name!r}" in err.message_en
    assert f"'{profile}' portal's .NET XML reader" in err.message_en


@pytest.mark.parametrize(("kind", "content", "name"), FIFTH_ONLY, ids=[c[1] for c in FIFTH_ONLY])
def test_generic_signs_such_names(kind: str, content: str, name: str) -> None:
    """Well-formed XML 1.0 (fifth edition): whoever takes a generic document must read it
    first, signed or not; libxml2's readers (xmlsec1, Kyso) verify it (docs/interop.md)."""
    signed = asyncio.run(sign_xml(_generic(content), _signer(), "generic"))
    check_xml_signature(signed)
    assert unportable_name(parse_untrusted(signed)) == (kind, name)


@pytest.mark.parametrize("profile", ["bhxh", "tax"])
def test_vietnamese_names_and_any_text_are_signed(profile: str) -> None:
    content = (
        '<TênĐơnVị MôTả="Tờ khai — “quý” 😀 𠀀">Tiếng Việt (NFD: Ho\u0300a) 1.000 ₫ 𝔘 ȡ</TênĐơnVị>'
        '<?kyso-ghi-chú ₫?><X a="&#x20000;">&#x1F600;</X>'
    )
    doc = _hoso(content) if profile == "bhxh" else _tax(body=BODY + content)
    check_portal_verifier(doc, profile)
    signed = asyncio.run(sign_xml(doc, _signer(), profile))
    check_xml_signature(signed)


def test_fourth_edition_names_are_what_mono_and_java_read() -> None:
    # The probes of docs/interop.md, where mono's XmlConvert/XmlDocument and Java's
    # DocumentBuilder gave these answers.
    for name in ("A", "Tờ_khai", "ĐơnVị", "x·y", "a\u0300", "_x", "a.b-c", "a:b"):
        assert portable_name(name), name
    for name in ("ȡx", "㐀x", "Ⰰx", "x‿", "ˆx", "Ϳx", "\U00020000x", "\u0300x", "1a", "-x", ""):
        assert not portable_name(name), name
    assert not portable_ncname("a:b") and portable_ncname("ab")


def test_check_portal_verifier_leaves_other_refusals_to_signing() -> None:
    """No container: sign_xml's refusal, as before (a batch item then fails alone)."""
    doc = _hoso("<𠀀/>").replace(b"<CKy_Dvi/>", b"")
    check_portal_verifier(doc, "bhxh")
    check_portal_verifier(_generic("<𠀀/>"), "generic")
    with pytest.raises(KysoError) as err:
        asyncio.run(sign_xml(doc, _signer(), "bhxh"))
    assert err.value.code == "XML_CONTAINER_MISSING"


def test_sign_xml_refuses_each_such_file_before_the_pin(
    demo: dict[str, Any], tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI: every shape above is that file's error, nothing is asked, nothing written."""
    asked = pin_asks(monkeypatch)
    (tmp_path / "pin").write_text(PIN + "\n")
    bad = {
        "empty-id.xml": (_tax(' id=""'), "XML_REFERENCE_ID_UNUSABLE"),
        "space-id.xml": (_tax(' id="ID 1"'), "XML_REFERENCE_ID_UNUSABLE"),
        "twin-id.xml": (_tax(' id="X"', '\n  <PLuc xml:id="X"/>'), "XML_REFERENCE_ID_UNUSABLE"),
        "xml11.xml": (
            _tax().replace(b'version="1.0"', b'version="1.1"'),
            "XML_VERSION_UNSUPPORTED",
        ),
        "relative-ns.xml": (_tax(body=BODY + '<X xmlns="rel"/>'), "XML_NAMESPACE_RELATIVE"),
    }
    for name, (doc, _) in bad.items():
        (tmp_path / name).write_bytes(doc)
    capsys.readouterr()
    argv = ["sign-xml", *(str(tmp_path / n) for n in bad), "--profile", "tax"]
    argv += ["--cert", cert_thumbprint(demo, "org"), "--pin-file", str(tmp_path / "pin"), "--json"]
    assert main(argv) == 1 and asked == []
    report = json.loads(capsys.readouterr().out)
    codes = {Path(r["file"]).name: r["error"]["code"] for r in report["results"]}
    assert codes == {name: code for name, (_, code) in bad.items()}
    assert not list(tmp_path.glob("*_signed.xml"))


# --- relative namespace URIs ------------------------------------------------------------------


RELATIVE = [
    ("bhxh", _hoso('<r:A xmlns:r="relative/ns">1</r:A>'), "'xmlns:r'", "'relative/ns'"),
    ("tax", _tax(body=BODY + '<X xmlns="rel">1</X>'), "'xmlns'", "'rel'"),
    ("generic", _generic("<a:B xmlns:a = '../x'/>"), "'xmlns:a'", "'../x'"),
    # Built from a character reference: only the parsed value tells.
    ("generic", _generic('<a:B xmlns:a="rel&#47;x"/>'), "'xmlns:a'", "'rel/x'"),
    ("bhxh", _hoso('<a:B xmlns:a="#frag"/>'), "'xmlns:a'", "'#frag'"),
    # A look-alike in a comment whose "value" would swallow the real declaration.
    ("bhxh", _hoso('<!-- xmlns="urn:x --><r:A xmlns:r="rel">1</r:A>'), "'xmlns:r'", "'rel'"),
]


@pytest.mark.parametrize(("profile", "doc", "declaration", "uri"), RELATIVE)
def test_a_relative_namespace_uri_is_refused_before_the_pin_naming_it(
    profile: str, doc: bytes, declaration: str, uri: str, tmp_path: Path
) -> None:
    """C14N stops on it (libxml2, xmlsec1, Santuario): refused by every way in, the agent's
    pre-consent check included for every profile, never a traceback after the PIN."""
    error = _refused_everywhere(doc, profile, "XML_NAMESPACE_RELATIVE", tmp_path)
    assert error.details == {"declaration": declaration, "uri": uri}
    said = error.to_dict()
    assert "tương đối" in said["message_vi"] and "relative" in said["message_en"]
    assert said["action_vi"] and said["action_en"]


@pytest.mark.parametrize(
    "namespace", ["urn&#58;kyso", "a:b", "http://x.vn/ns?q=1#f", "urn:x:&amp;y", ""]
)
def test_absolute_namespace_uris_and_no_namespace_are_signed(namespace: str) -> None:
    element = f'<a:B xmlns:a="{namespace}"/>' if namespace else '<B xmlns=""/>'
    signed = asyncio.run(sign_xml(_generic(element), _signer(), "generic"))
    assert check_xml_signature(signed, profile="generic").references == ("",)


def test_the_pass_over_the_bytes_never_clears_a_relative_namespace() -> None:
    """The walk over the tree is skipped only when the bytes prove it useless; fed whole or in
    chunks split anywhere (a declaration across two reads), the answer is the same."""
    from agent.signing.xml.namespaces import (
        RelativeNamespaceScan,
        may_declare_relative_namespace,
        relative_namespace,
    )

    docs = [doc for _, doc, _, _ in RELATIVE] + [
        _generic('<a:B xmlns:a="urn:x"/>'),
        _generic('<a:B xmlns:a="urn&#58;x"/>'),
        _generic("<B xmlns=''/>"),
        _generic("<B>xmlns=&quot;rel&quot; in text</B>"),
        _hoso("<![CDATA[<r:A xmlns:r='rel'>]]>"),
    ]
    # Look-alikes before the real declaration, whose "value" would swallow it (the review
    # found each cleared the document): in another attribute, a comment, a PI, text.
    hidden = [
        b'<r a=\'xmlns="http://x\' xmlns:p="rel"><p:a/></r>',
        b"<r a=\"xmlns='urn:x\" xmlns:p='rel'><p:a/></r>",
        b'<r><!-- xmlns="urn:x --><p:a xmlns:p="rel"/></r>',
        b'<r><?pi xmlns="urn:x?><p:a xmlns:p="rel"/></r>',
        b"<r>xmlns='urn:x<p:a xmlns:p='rel'/></r>",
        b"<!-- xmlns='urn:x --><r xmlns:p='rel'><p:a/></r>",
    ]
    for doc in hidden:
        assert relative_namespace(parse_untrusted(doc)) is not None, doc
    for doc in docs + hidden:
        maybe = may_declare_relative_namespace(doc)
        if relative_namespace(parse_untrusted(doc)) is not None:
            assert maybe, doc
        for size in (1, 2, 3, 7, 16):
            scan = RelativeNamespaceScan()
            for start in range(0, len(doc), size):
                scan.write(doc[start : start + size])
            # In chunks a look-alike may end up "maybe" where the whole bytes are clear (the
            # cut at a "<"); never the other way round.
            assert scan.finish() or not maybe, (doc, size)
    assert not may_declare_relative_namespace(_generic('<a:B xmlns:a="urn:x"/>'))


def test_canonicalization_refusing_a_document_is_a_code_not_a_traceback() -> None:
    """Behind the checks: libxml2's C14N stopping on a document is XML_MALFORMED with its
    reason, whatever reached it (the checks above refuse what is known first)."""
    from agent.signing.xml.c14n import digest_document, digest_element

    tree = parse_untrusted(_generic('<a:B xmlns:a="rel"/>'))
    for digest in (
        lambda: digest_document(tree, "http://www.w3.org/TR/2001/REC-xml-c14n-20010315", "sha256"),
        lambda: digest_element(
            tree.getroot()[0], "http://www.w3.org/2001/10/xml-exc-c14n#", "sha256"
        ),
    ):
        with pytest.raises(KysoError) as err:
            digest()
        assert (
            err.value.code == "XML_MALFORMED" and "canonicalization" in err.value.details["detail"]
        )


# --- the id attribute's place: xmlsec1 takes the first attribute of that local name ---------


def _ca_files(directory: Path) -> dict[str, Any]:
    pem = serialization.Encoding.PEM
    (directory / "root.pem").write_bytes(_CA.root_cert.public_bytes(pem))
    (directory / "issuing.pem").write_bytes(_CA.issuing_cert.public_bytes(pem))
    return {"ca": {"root": str(directory / "root.pem"), "issuing": str(directory / "issuing.pem")}}


W_NS = ' xmlns:w="urn:kyso:other"'


def test_the_id_kyso_adds_comes_before_a_namesake_in_another_namespace(
    xmlsec1: str, tmp_path: Path
) -> None:
    """``<HSoKhaiThue w:id="W1">``: libxml2's xmlHasProp ignores namespaces, so xmlsec1 (told
    "id" is the id) took w:id, found no element for Kyso's id and said the file was broken,
    while .NET, Java and signxml said valid. Kyso's id now goes first."""
    signed = asyncio.run(sign_xml(_tax(W_NS + ' w:id="W1"'), _signer(), "tax"))
    start = re.search(rb"<HSoKhaiThue[^>]*>", signed)
    assert start is not None and start.group().startswith(b'<HSoKhaiThue id="HSoKhaiThue-')
    assert b'w:id="W1"' in start.group()
    path = tmp_path / "signed.xml"
    path.write_bytes(signed)
    result = xmlsec_verify(
        xmlsec1, _ca_files(tmp_path), path, "--id-attr:id", f"{TAX_NS}:HSoKhaiThue"
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("attrs", "shown_name"),
    [(W_NS + ' w:id="W1" id="X"', "'w:id'"), (' xml:id="Q" id="X"', "'xml:id'")],
)
def test_an_existing_id_after_a_namesake_is_refused_naming_it(
    attrs: str, shown_name: str, tmp_path: Path
) -> None:
    """The id already written is used as it is (never rewritten), so one that xmlsec1 would
    not find is refused before the PIN, by every way in."""
    error = _refused_everywhere(_tax(attrs), "tax", "XML_REFERENCE_ID_UNUSABLE", tmp_path)
    assert shown_name in error.details["detail_en"] and "xmlsec1" in error.details["detail_vi"]


def test_an_existing_id_before_its_namesake_is_used() -> None:
    signed = asyncio.run(sign_xml(_tax(' id="X"' + W_NS + ' w:id="W1"'), _signer(), "tax"))
    assert check_xml_signature(signed).references[0] == "#X"
