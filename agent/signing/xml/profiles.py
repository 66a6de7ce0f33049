"""Where a portal expects the signature and how it is made: one table of data, no code.

A new portal convention is a new :class:`XmlProfile` row. Each profile lists the document kinds
it signs (:class:`Placement`: the root element, the child that holds the signature, and what the
signature references). Pure data plus lookups; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from lxml import etree

from agent.errors import KysoError

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
C14N_1_0 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_1_0_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
# Canonicalization methods we can compute with libxml2 through lxml (C14N 1.1 is not exposed).
C14N_METHODS = {
    "c14n": C14N_1_0,
    "c14n-comments": C14N_1_0_COMMENTS,
    "exc-c14n": EXC_C14N,
    "exc-c14n-comments": EXC_C14N_COMMENTS,
}
HASHES = ("sha256", "sha1", "sha384", "sha512")


@dataclass(frozen=True)
class Placement:
    """One kind of document a profile signs.

    ``root`` is the document element's local name ("*" = any); ``container`` the local name of
    the root's child that receives the signature ("" = the root itself); ``reference_element``
    is None for ``Reference URI=""`` (the whole document, enveloped transform), or the local
    name of the root's child whose ``id_attribute`` the reference points at (added if missing).
    """

    root: str
    container: str
    reference_element: str | None = None
    id_attribute: str = "Id"
    description: str = ""


@dataclass(frozen=True)
class XmlProfile:
    """A portal's XML-DSig convention."""

    name: str
    description: str
    placements: tuple[Placement, ...]
    c14n: str = C14N_1_0
    hash_name: str = "sha256"
    signing_time: bool = True  # a signed SignatureProperties/SigningTime object
    subject_name: bool = True  # X509SubjectName beside X509Certificate in KeyInfo
    extra: dict[str, Any] = field(default_factory=dict)

    def placement_for(self, root: etree._Element) -> Placement:
        """The placement matching the document element, or XML_PROFILE_MISMATCH."""
        name = etree.QName(root).localname
        for placement in self.placements:
            if placement.root in ("*", name):
                return placement
        hint = suggest_profile(name)
        raise KysoError(
            "XML_PROFILE_MISMATCH",
            {
                "root": name,
                "profile": self.name,
                "hint_vi": f"Tệp này có vẻ hợp với kiểu ký '{hint}' (--profile {hint})."
                if hint
                else "",
                "hint_en": f"It looks like a '{hint}' document (--profile {hint})." if hint else "",
            },
        )


PROFILES: dict[str, XmlProfile] = {
    p.name: p
    for p in (
        XmlProfile(
            name="bhxh",
            description="BHXH dossier (Hoso → CKy_Dvi) and form files (ToKhai → Cky)",
            placements=(
                Placement("Hoso", "CKy_Dvi", description="hồ sơ BHXH (chữ ký đơn vị)"),
                Placement("ToKhai", "Cky", description="tờ khai BHXH"),
            ),
        ),
        XmlProfile(
            name="tax",
            description="Tax dossier (HSoThueDTu → CKyDTu, reference to HSoKhaiThue's id)",
            placements=(
                Placement(
                    "HSoThueDTu",
                    "CKyDTu",
                    reference_element="HSoKhaiThue",
                    id_attribute="id",
                    description="hồ sơ khai thuế điện tử",
                ),
            ),
        ),
        XmlProfile(
            name="generic",
            description="Enveloped signature at the end of the root element",
            placements=(Placement("*", "", description="tài liệu XML"),),
            signing_time=False,
        ),
    )
}


def suggest_profile(root_name: str) -> str | None:
    """The profile whose placements name this root element, if any."""
    for profile in PROFILES.values():
        if any(p.root == root_name for p in profile.placements):
            return profile.name
    return None


def get_profile(name: str, **options: Any) -> XmlProfile:
    """The profile called ``name``, adjusted by options.

    Options: ``hash`` (sha256, sha1 for legacy files, sha384, sha512), ``c14n`` (a key of
    :data:`C14N_METHODS`), ``signing_time`` (bool), and for ``generic`` only ``reference``
    ("" for the whole document, or "#id" / "id" for the element with that Id) and
    ``container`` (local name of a root child to hold the signature).
    """
    try:
        profile = PROFILES[name]
    except KeyError:
        raise KysoError(
            "XML_PROFILE_UNKNOWN", {"profile": name, "known": ", ".join(PROFILES)}
        ) from None
    unknown = set(options) - {"hash", "c14n", "signing_time", "reference", "container"}
    if unknown:
        raise KysoError(
            "INPUT_INVALID", {"detail": f"unknown XML signing option(s): {sorted(unknown)}"}
        )
    changes: dict[str, Any] = {}
    if options.get("hash") is not None:
        if options["hash"] not in HASHES:
            raise KysoError("INPUT_INVALID", {"detail": f"hash must be one of {', '.join(HASHES)}"})
        changes["hash_name"] = options["hash"]
    if options.get("c14n") is not None:
        if options["c14n"] not in C14N_METHODS:
            raise KysoError(
                "INPUT_INVALID", {"detail": f"c14n must be one of {', '.join(C14N_METHODS)}"}
            )
        changes["c14n"] = C14N_METHODS[options["c14n"]]
    if options.get("signing_time") is not None:
        changes["signing_time"] = bool(options["signing_time"])
    reference, container = options.get("reference"), options.get("container")
    if reference is not None or container is not None:
        if name != "generic":
            raise KysoError(
                "INPUT_INVALID",
                {"detail": "reference/container are options of the generic profile"},
            )
        ref = (reference or "").removeprefix("#")
        changes["placements"] = (
            Placement("*", container or "", reference_element=None, description="tài liệu XML"),
        )
        changes["extra"] = {"reference_id": ref} if ref else {}
    return replace(profile, **changes) if changes else profile
