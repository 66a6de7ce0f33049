"""XML dossiers: safe parsing, enveloped XML-DSig signing by profile, verification, summaries.

Public API: :func:`sign_xml`, :func:`sign_xml_file`, :func:`check_signable`,
:func:`check_portal_verifier`,
:func:`verify_xml`, :func:`check_xml_signature`, :class:`XmlVerification`, :func:`summarize_xml`,
:func:`parse_untrusted`, :data:`PROFILES`.

Verification loads libxmlsec (about 15 MB resident): it is imported on first use, so signing
alone, in the agent or the ``sign-xml`` benchmark, does not carry it.
"""

from typing import TYPE_CHECKING, Any

from agent.signing.xml.profiles import PROFILES, XmlProfile, get_profile
from agent.signing.xml.safe import parse_untrusted
from agent.signing.xml.signer import (
    check_portal_verifier,
    check_signable,
    sign_xml,
    sign_xml_file,
)
from agent.signing.xml.summary import summarize_xml

if TYPE_CHECKING:
    from agent.signing.xml.verify import XmlVerification, check_xml_signature, verify_xml

_VERIFY = ("XmlVerification", "check_xml_signature", "verify_xml")


def __getattr__(name: str) -> Any:
    if name in _VERIFY:
        from agent.signing.xml import verify

        return getattr(verify, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PROFILES",
    "XmlProfile",
    "XmlVerification",
    "check_portal_verifier",
    "check_signable",
    "check_xml_signature",
    "get_profile",
    "parse_untrusted",
    "sign_xml",
    "sign_xml_file",
    "summarize_xml",
    "verify_xml",
]
