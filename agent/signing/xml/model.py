"""The small records passed between the phases of XML signing (tree → bytes → signature)."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.signing.xml.locate import ElementKey, ElementSpan


@dataclass
class Reference:
    """One ds:Reference: URI, transforms and the digest already computed."""

    uri: str
    transforms: tuple[str, ...]
    digest: bytes


@dataclass
class Plan:
    """What the tree said, kept after the tree is freed: where the signature goes (as an
    element key into the bytes), the namespaces in scope there and the reference digests."""

    container_tag: str
    container_nsmap: dict[str | None, str]
    container_key: ElementKey
    references: list[Reference]
    # An id attribute to add to the referenced element: (its key, ' id="…"').
    add_attribute: tuple[ElementKey, bytes] | None = None


@dataclass
class Prepared:
    """The plan located in the bytes: ready to splice."""

    plan: Plan
    encoding: str
    container_span: ElementSpan
    edits: list[tuple[int, int, bytes]] = field(default_factory=list)  # (start, end, new bytes)
