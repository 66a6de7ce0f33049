"""Which certificates the picker shows, which one it preselects, and when it is not needed.

Pure: certificates in, a :class:`CertificateChoice` (or the one certificate to use) out. A page
may say which certificate it wants (``certificate_filter``: the unit's MST, the issuer, the
registered thumbprints, valid ones only). That is a preference, never a permission: the user
still sees the certificate in the consent, and may pick another one in the picker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.tokens.certinfo import CertificateInfo
from agent.ui.api import CertificateChoice, CertificateOption, ProviderNote, SignInOption


@dataclass(frozen=True)
class CertificateFilter:
    """What the page wants: every given criterion must hold for a certificate to match."""

    mst: str = ""
    issuer: str = ""  # a part of the issuer's name, any case ("VNPT-CA", "Viettel-CA")
    thumbprints: frozenset[str] = frozenset()  # SHA-256, lowercase hex without ':'
    valid_only: bool = False  # hide certificates with a problem instead of showing them greyed

    @classmethod
    def from_params(cls, value: Mapping[str, Any] | None) -> CertificateFilter:
        """From the (schema-validated) ``certificate_filter`` param; None: no filter."""
        if not value:
            return cls()
        return cls(
            mst=str(value.get("mst") or "").strip(),
            issuer=str(value.get("issuer") or "").strip(),
            thumbprints=frozenset(
                str(t).replace(":", "").lower() for t in value.get("thumbprints") or ()
            ),
            valid_only=bool(value.get("valid_only", False)),
        )

    @property
    def active(self) -> bool:
        """True when the page named what it wants (valid_only alone names nothing)."""
        return bool(self.mst or self.issuer or self.thumbprints)

    def matches(self, cert: CertificateInfo) -> bool:
        """True when ``cert`` fits every criterion given."""
        if self.mst and (cert.mst or "").strip() != self.mst:
            return False
        if self.issuer and self.issuer.casefold() not in (
            f"{cert.issuer_cn or ''} {cert.issuer}".casefold()
        ):
            return False
        return not self.thumbprints or cert.thumbprint in self.thumbprints


@dataclass(frozen=True)
class Candidate:
    """A certificate on a token, or a remote credential, as the server lists it."""

    info: CertificateInfo
    token_label: str
    token_serial: str
    has_private_key: bool
    # A remote credential (ký số từ xa): its provider's display name; empty for a token.
    remote_provider: str = ""
    remote_disabled: bool = False  # the provider says the key or certificate cannot sign
    revoked: bool = False  # its CA says so (OCSP/CRL, cached or fetched before the picker)
    # Its CA could not be asked (offline, no answer): it signs, the consent says so, and the
    # picker prefers a certificate whose status is known.
    revocation_unknown: bool = False
    # The token shows, before login, that its private key may not sign (CKA_SIGN false).
    key_cannot_sign: bool = False
    # The token shows, before login, that the key under the certificate's id is another's
    # (TokenCertificate.key_mismatch): the signature would be refused with KEY_CERT_MISMATCH.
    key_mismatch: bool = False
    # Where the key is (agent.ui.api.CertificateKey.source): with the thumbprint, the row's
    # identity (one certificate may be on two tokens, or on a token and at a provider).
    source: tuple[str, ...] = ()


def option_for(candidate: Candidate, wanted: CertificateFilter) -> CertificateOption:
    """The picker row of a certificate: its token, and why it cannot be chosen."""
    problems = tuple(candidate.info.problems())
    if not candidate.has_private_key:
        problems += ("NO_PRIVATE_KEY",)
    elif candidate.key_cannot_sign:  # the key is there: say what is wrong with it
        problems += ("KEY_CANNOT_SIGN",)
    elif candidate.key_mismatch:
        problems += ("KEY_CERT_MISMATCH",)
    if candidate.remote_disabled:
        problems += ("REMOTE_DISABLED",)
    if candidate.revoked:
        problems += ("REVOKED",)
    return CertificateOption(
        candidate.info,
        candidate.token_label,
        candidate.token_serial,
        problems,
        matches=wanted.matches(candidate.info) if wanted.active else True,
        remote_provider=candidate.remote_provider,
        source=candidate.source,
    )


# RSA keys shorter than this still sign, but NIST and the Vietnamese CAs' own profiles moved
# to 2048 bits years ago: such a certificate is an old or odd one, never the default.
MIN_RSA_BITS = 2048


def caveats(candidate: Candidate) -> tuple[str, ...]:
    """What is wrong with a certificate that can still sign: its own warnings
    (``CertificateInfo.warnings``: two different MSTs...), ``SHORT_RSA_KEY`` and
    ``REVOCATION_UNKNOWN``. The picker preselects a certificate without any first."""
    info = candidate.info
    out = list(info.warnings())
    if info.key_type == "RSA" and info.key_size < MIN_RSA_BITS:
        out.append("SHORT_RSA_KEY")
    if candidate.revocation_unknown:
        out.append("REVOCATION_UNKNOWN")
    return tuple(out)


@dataclass(frozen=True)
class Plan:
    """What to do: ask with ``choice``, or use ``row`` without asking."""

    choice: CertificateChoice
    row: CertificateOption | None = None  # the one match: no picker (the consent shows it)

    @property
    def chosen(self) -> CertificateInfo | None:
        """The certificate of :attr:`row` (None: ask)."""
        return self.row.certificate if self.row else None

    @property
    def usable(self) -> tuple[CertificateInfo, ...]:
        """Certificates the user could sign with."""
        return tuple(o.certificate for o in self.choice.rows() if o.usable)


def _one_row_per_copy(options: Iterable[CertificateOption]) -> list[CertificateOption]:
    """The same copy (certificate and source) listed twice is one row, the first."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for option in options:
        key = (option.thumbprint, *option.source)
        if option.source and key in seen:
            continue
        seen.add(key)
        out.append(option)
    return out


def plan_choice(
    origin: str,
    candidates: Iterable[Candidate],
    wanted: CertificateFilter | None = None,
    sign_ins: Iterable[SignInOption] = (),  # remote providers to offer "Sign in to …" for
    providers_missing: Iterable[ProviderNote] = (),  # remote providers loading or unreachable
) -> Plan:
    """Rows grouped by token (label, then serial), then remote credentials grouped by provider,
    matches first within a group, newest certificate first; preselected: among the usable
    matches (else the usable rows), a token's before a remote credential's, one without
    :func:`caveats` before one with, then the one that expires last; skip the picker when
    exactly one usable certificate matches what the page asked for."""
    wanted = wanted or CertificateFilter()
    caveated: dict[str, bool] = {}
    rows = []
    for c in candidates:
        option = option_for(c, wanted)
        caveated.setdefault(option.key.text, bool(caveats(c)))
        rows.append(option)
    options = _one_row_per_copy(rows)
    if wanted.valid_only:
        options = [o for o in options if o.usable]
    options.sort(key=lambda o: o.certificate.not_after, reverse=True)
    options.sort(
        key=lambda o: (
            bool(o.remote_provider),  # the tokens in the user's hand first
            o.remote_provider,
            o.token_label,
            o.token_serial,
            o.source[:-1],  # a token's (module, serial) or a provider's rows together
            not o.matches,
            not o.usable,
        )
    )
    matching = [o for o in options if o.usable and o.matches]
    usable = [o for o in options if o.usable]
    # The newest of them, on a token before a remote credential: a unit's renewal on a new
    # token, beside the old certificate still valid on the old one, is what Enter should pick.
    # But a clean one before any with a caveat: an odd certificate that happens to run to 2100
    # (a test or foreign one, a 1024-bit key) must not be what Enter signs with (red team 22).
    preselect = (
        max(
            matching or usable,
            key=lambda o: (
                not o.remote_provider,
                not caveated[o.key.text],
                o.certificate.not_after,
            ),
        ).key.text
        if usable
        else ""
    )
    choice = CertificateChoice(
        origin,
        tuple(o.certificate for o in options),
        tuple(options),
        preselected=preselect,
        filtered=wanted.active,
        sign_ins=tuple(sign_ins),
        providers_missing=tuple(providers_missing),
    )
    if wanted.active and len(matching) == 1:
        return Plan(choice, matching[0])
    return Plan(choice)
