"""What the token layer hands its callers: tokens, certificates and opaque session handles.

Plain data, no python-pkcs11: the server and the UI name these types without loading a PKCS#11
library (an idle agent loads its modules only when a page connects or a token is asked for).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.tokens.algorithms import SignatureAlgorithm
from agent.tokens.certinfo import CertificateInfo
from agent.tokens.pin import PinState

if TYPE_CHECKING:
    from pkcs11 import Mechanism

    from agent.tokens.mechanisms import MechanismPlan


@dataclass(frozen=True)
class TokenInfo:
    """A token present in a slot."""

    module: str
    slot_id: int
    label: str
    serial: str
    manufacturer: str
    model: str
    pin_state: PinState
    protected_path: bool  # PIN pad: the PIN is typed on the reader, not in Kyso
    login_required: bool
    mechanisms: frozenset[Mechanism] = field(repr=False, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        """Identity across slot renumbering: module and serial."""
        return (self.module, self.serial)

    def to_json(self) -> dict[str, Any]:
        """JSON form for the CLI and the protocol."""
        return {
            "label": self.label,
            "serial": self.serial,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "module": self.module,
            "slot_id": self.slot_id,
            "protected_path": self.protected_path,
            "pin_state": self.pin_state.tries_hint,
        }


@dataclass(frozen=True)
class TokenCertificate:
    """A certificate object on a token, with its parsed content and key presence."""

    token: TokenInfo
    info: CertificateInfo
    label: str
    key_id: bytes
    # False only when the key is certainly not there: a CA's certificate, or no key object
    # under the CKA_ID on a token that shows everything without login. True when a key object
    # (private, or its public half) carries the CKA_ID, or may once the PIN is entered
    # (key_hidden). The protocol's meaning: False = the agent refuses before any prompt.
    has_private_key: bool
    # Every key object seen under the CKA_ID without login shows another public key: signing
    # would be refused (KEY_CERT_MISMATCH). Not in to_json: the protocol's rows stay as they are.
    key_mismatch: bool = False
    # No key object carries the CKA_ID before login, but the token needs a login: private keys
    # are private objects (a PKCS#12 import writes no public key), so the key is looked for
    # after the PIN (KEY_NOT_FOUND then, from find_key), not refused before it.
    key_hidden: bool = False
    # The private key is visible without login and says it may not sign (CKA_SIGN false):
    # refused before any prompt (KEY_NOT_FOUND, reason "key_may_not_sign").
    key_cannot_sign: bool = False
    # The CA certificates stored on the token that lead from this one towards its root, the
    # root left out (agent.tokens.chain): what a CMS or PDF signature carries for verifiers
    # that trust only the root. Found when the token is listed. Not in to_json.
    chain: tuple[bytes, ...] = field(default=(), repr=False, compare=False)

    @property
    def thumbprint(self) -> str:
        """SHA-256 thumbprint, the identifier pages and the CLI use."""
        return self.info.thumbprint

    def to_json(self) -> dict[str, Any]:
        """JSON form: the certificate's fields plus which token holds it."""
        return {
            "token": self.token.label,
            "token_serial": self.token.serial,
            "module": self.token.module,
            "label": self.label,
            "key_id": self.key_id.hex(),
            "has_private_key": self.has_private_key,
            **self.info.to_json(),
        }


class SessionHandle:
    """An open, possibly logged-in session on one token. Opaque outside this module."""

    def __init__(self, session: Any, private_key: Any, token: TokenInfo) -> None:
        self._session = session
        self._key = private_key
        self.token = token
        self.closed = False
        # (algorithm, is_digest) -> plan: the token's mechanisms do not change during a
        # session, so each kind of signature is planned once, not on every call.
        self.plans: dict[tuple[SignatureAlgorithm, bool], MechanismPlan] = {}
