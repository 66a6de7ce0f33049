"""What the module's slots hold, read without logging in: tokens, and the certificates on each.

Certificates are cached per token until the token is removed. With each certificate comes what
the token shows, before any login, about its key: whether a key object carries its CKA_ID, and
whether every such object shows another public key (:attr:`TokenCertificate.key_mismatch`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pkcs11.exceptions as p11e
from pkcs11 import Attribute, ObjectClass, TokenFlag

from agent.tokens.certinfo import CertificateInfo, parse_certificate
from agent.tokens.failures import translate
from agent.tokens.model import TokenCertificate, TokenInfo
from agent.tokens.module.keys import (
    ATTRIBUTE_MAPPER,
    PRIVATE_KEY_FACTS,
    PUBLIC_KEY_FACTS,
    key_facts,
)
from agent.tokens.module.library import LoadedLibrary, cache_key

log = logging.getLogger(__name__)


class TokenReading(LoadedLibrary):
    """Listing tokens and their certificates (public objects: no PIN)."""

    async def scan(self, *, rediscover: bool = False) -> list[TokenInfo]:
        """The tokens present now. Slots that error out are treated as empty (token pulled).

        ``rediscover`` (the hot-plug monitor's periodic pass) also re-initialises a module with a
        fixed slot list, so that a re-inserted token appears; ordinary listings on a request's
        path never pay for that (it reloads every token the module has)."""
        return await self.worker.run(self._w_scan, rediscover)

    def _w_scan(self, rediscover: bool) -> list[TokenInfo]:
        if self._lib is None:
            return []
        if rediscover and self.candidate.reinitialize_to_rescan and self._open_sessions == 0:
            self._lib.reinitialize()
        elif self._has_slot_events:
            try:
                while True:
                    self._lib.wait_for_slot_event(blocking=False)
            except Exception:  # NoEvent ends the drain; any other error means "rescan anyway"
                pass
        tokens = []
        seen: set[tuple[int, bytes, str]] = set()
        for slot in self._lib.get_slots(token_present=True):
            info = self._w_slot_token(slot, seen)
            if info is not None:
                tokens.append(info)
        for identity in set(self._mechanism_cache) - seen:  # removed or replaced tokens
            del self._mechanism_cache[identity]
        present = {cache_key(t) for t in tokens}
        for key in list(self._cert_cache):
            if key not in present:
                del self._cert_cache[key]
        return tokens

    def _w_slot_token(self, slot: Any, seen: set[tuple[int, bytes, str]]) -> TokenInfo | None:
        """The initialised token in ``slot`` (its identity added to ``seen``), or None."""
        try:
            token = slot.get_token()
            if not token.flags & TokenFlag.TOKEN_INITIALIZED:
                return None
            identity = (slot.slot_id, token.serial, token.label)
            mechanisms = self._mechanism_cache.get(identity)
            if mechanisms is None:
                mechanisms = frozenset(slot.get_mechanisms())
                self._mechanism_cache[identity] = mechanisms
        except p11e.PKCS11Error:
            return None
        seen.add(identity)
        state, protected, login_required = self._token_state(token)
        return TokenInfo(
            module=self.path,
            slot_id=slot.slot_id,
            label=token.label,
            serial=token.serial.decode(errors="replace"),
            manufacturer=token.manufacturer_id,
            model=token.model,
            pin_state=state,
            protected_path=protected,
            login_required=login_required,
            mechanisms=mechanisms,
        )

    async def certificates(self, token: TokenInfo) -> list[TokenCertificate]:
        """Certificates on ``token`` (cached until the token is removed)."""
        return await self.worker.run(self._w_certificates, token)

    def _w_certificates(self, info: TokenInfo) -> list[TokenCertificate]:
        cached = self._cert_cache.get(cache_key(info))
        if cached is not None:
            # The certificates do not change while the token stays in, but the token's state
            # does (PIN flags, slot id after re-initialisation): hand out the fresh TokenInfo.
            return [c if c.token == info else replace(c, token=info) for c in cached]
        token = self._w_find_token(info)
        try:
            with token.open(attribute_mapper=ATTRIBUTE_MAPPER) as session:
                keys = _visible_keys(session)
                certs = []
                for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
                    der = bytes(obj[Attribute.VALUE])
                    key_id = bytes(obj[Attribute.ID])
                    try:
                        parsed = parse_certificate(der)
                    except ValueError:
                        log.warning("unparsable certificate on %s", info.label)
                        continue
                    has_key = key_id in keys and not parsed.is_ca
                    certs.append(
                        TokenCertificate(
                            token=info,
                            info=parsed,
                            label=obj[Attribute.LABEL] or "",
                            key_id=key_id,
                            has_private_key=has_key,
                            key_mismatch=has_key and _shows_another_key(parsed, keys[key_id]),
                        )
                    )
        except p11e.PKCS11Error as exc:
            raise translate(exc, removed=not self._w_present(info)) from exc
        self._cert_cache[cache_key(info)] = certs
        return certs


def _visible_keys(session: Any) -> dict[bytes, list[tuple[ObjectClass, Any]]]:
    """The key objects a session without login sees, by CKA_ID. Private keys are usually
    private objects, invisible before login; the public key generated with them carries the
    same CKA_ID, so either one counts."""
    keys: dict[bytes, list[tuple[ObjectClass, Any]]] = {}
    for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
        for obj in session.get_objects({Attribute.CLASS: cls}):
            keys.setdefault(bytes(obj[Attribute.ID]), []).append((cls, obj))
    return keys


def _shows_another_key(parsed: CertificateInfo, keys: list[tuple[ObjectClass, Any]]) -> bool:
    """True when every key object under the certificate's CKA_ID shows a public key that is not
    the certificate's: signing with it would be refused (KEY_CERT_MISMATCH). Read only for
    the listing; signing judges the private key itself (:func:`~.keys.find_key`)."""
    from agent.tokens.keymatch import listing_mismatch

    cert_key = parsed.certificate.public_key()
    facts = [
        key_facts(obj, PRIVATE_KEY_FACTS if cls == ObjectClass.PRIVATE_KEY else PUBLIC_KEY_FACTS)
        for cls, obj in keys
    ]
    return listing_mismatch(cert_key, facts)
