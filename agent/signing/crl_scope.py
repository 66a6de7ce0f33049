"""Whether a CRL may be used for a certificate, and whether it lists all of its revocations.

A CRL signed by the right CA can still be the wrong one to prove "good": a delta CRL (only the
changes since a base), a partition for another distribution point, a CRL for some reasons
only, for CA or attribute certificates only, an indirect CRL, or one with a critical extension
Kyso does not know (RFC 5280 §5.2, §5.3, §6.3.3). :func:`unusable_crl` says why a CRL may not
be used for a certificate at all, :func:`partial_crl` why not being listed in it proves
nothing. Pure rules over cryptography's parsed objects; :mod:`agent.signing.revinfo` applies
them.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography import x509
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

# CRL extensions Kyso knows (RFC 5280 §5.2): the IDP and the delta indicator are judged below,
# the others do not change what a listing means. A critical one outside this set: "MUST NOT use".
_KNOWN_CRL_EXTENSIONS = frozenset(
    {
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.CRL_NUMBER,
        ExtensionOID.DELTA_CRL_INDICATOR,
        ExtensionOID.ISSUING_DISTRIBUTION_POINT,
        ExtensionOID.FRESHEST_CRL,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
    }
)
# Entry extensions that do not change whom an entry is about (certificateIssuer does: indirect).
_KNOWN_ENTRY_EXTENSIONS = frozenset(
    {
        CRLEntryExtensionOID.CRL_REASON,
        CRLEntryExtensionOID.INVALIDITY_DATE,
        x509.ObjectIdentifier("2.5.29.23"),  # holdInstructionCode (no name in cryptography)
    }
)


def unusable_crl(
    extensions: x509.Extensions,
    entry_extensions: list[x509.Extension[x509.ExtensionType]],
    cert: x509.Certificate,
) -> str | None:
    """Why this CRL may not be used for ``cert`` at all (RFC 5280 §5.2, §5.3, §6.3.3 (b)(2)),
    or None."""
    if any(e.critical and e.oid not in _KNOWN_CRL_EXTENSIONS for e in extensions):
        return "a critical extension Kyso does not know"
    if any(e.critical and e.oid not in _KNOWN_ENTRY_EXTENSIONS for e in entry_extensions):
        return "the entry has a critical extension Kyso does not know"
    try:
        scope = extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return None
    if scope.indirect_crl:
        return "an indirect CRL (not supported)"
    if scope.only_contains_attribute_certs:
        return "a CRL of attribute certificates"
    is_ca = _is_ca(cert)
    if scope.only_contains_ca_certs and not is_ca:
        return "a CRL of CA certificates only"
    if scope.only_contains_user_certs and is_ca:
        return "a CRL of end-entity certificates only"
    return None


def partial_crl(
    extensions: x509.Extensions, cert: x509.Certificate, issuer: x509.Certificate
) -> str | None:
    """Why this CRL does not list every revoked certificate of ``cert``'s distribution point
    for every reason (RFC 5280 §5.2.4, §6.3.3 (b)(2)(i), (d)), or None when it does."""
    try:
        extensions.get_extension_for_class(x509.DeltaCRLIndicator)
        return "a delta CRL (only the changes since a base CRL)"
    except x509.ExtensionNotFound:
        pass
    points = _distribution_points(cert)
    if any(point.reasons for point in points):
        return "the certificate's CRLs are split by reason (not supported)"
    try:
        scope = extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return None  # a complete CRL: every certificate of this CA, every reason
    if scope.only_some_reasons:
        return "a CRL for some reasons only"
    named = _point_names(scope.full_name, scope.relative_name, issuer.subject)
    if named:
        ours = [
            name
            for point in points
            if point.crl_issuer is None
            for name in _point_names(point.full_name, point.relative_name, issuer.subject)
        ]
        if not points:  # no CRL DP: the CA's own name stands for it (RFC 5280 §6.3.3)
            ours = [x509.DirectoryName(issuer.subject)]
        if not any(name in named for name in ours):
            return "a CRL for another distribution point"
    return None


def _distribution_points(cert: x509.Certificate) -> list[x509.DistributionPoint]:
    try:
        return list(cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value)
    except x509.ExtensionNotFound:
        return []


def _point_names(
    full_name: Iterable[x509.GeneralName] | None,
    relative_name: x509.RelativeDistinguishedName | None,
    crl_issuer: x509.Name,
) -> list[x509.GeneralName]:
    """A distribution point's names; a relative name is under the CRL issuer's name."""
    if full_name:
        return list(full_name)
    if relative_name is not None:
        return [x509.DirectoryName(x509.Name([*crl_issuer.rdns, relative_name]))]
    return []


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False
