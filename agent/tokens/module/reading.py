"""What the module's slots hold, read without logging in: tokens, and the certificates on each.

Certificates are cached per token until the token is removed. With each certificate comes what
the token shows, before any login, about its key: whether a key object carries its CKA_ID (or,
on a token that needs a login, may once the PIN is entered: :attr:`TokenCertificate.key_hidden`),
whether every such object shows another public key (:attr:`TokenCertificate.key_mismatch`) or
says the key may not sign (:attr:`TokenCertificate.key_cannot_sign`).

A certificate object Kyso cannot read (an unknown key algorithm such as GOST or SM2, bytes that
are no certificate, attributes the token will not give) is skipped on its own, logged once and
counted for ``doctor`` (:meth:`TokenReading.unreadable`): it never hides the token's others.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pkcs11.exceptions as p11e
from cryptography.exceptions import UnsupportedAlgorithm
from pkcs11 import Attribute, ObjectClass, TokenFlag

from agent.tokens.certinfo import CertificateInfo, parse_certificate
from agent.tokens.chain import issuer_chain
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
        self._w_forget_removed({cache_key(t) for t in tokens})
        return tokens

    def _w_forget_removed(self, present: set[tuple[str, int, str, str]]) -> None:
        """Drop what was read of tokens no longer present (certificates, skipped objects)."""
        for cache in (self._cert_cache, self._unreadable):
            for key in [k for k in cache if k not in present]:
                del cache[key]

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
        certs: list[TokenCertificate] = []
        skipped: list[str] = []
        complete = True
        try:
            with token.open(attribute_mapper=ATTRIBUTE_MAPPER) as session:
                keys = _visible_keys(session)
                for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
                    try:
                        certs.append(_read_certificate(obj, info, keys))
                    except Exception as exc:  # this object only: the token's others stay listed
                        if isinstance(exc, p11e.PKCS11Error):
                            if not self._w_present(info):
                                raise  # pulled out while read: the token's failure
                            complete = False  # maybe passing: read again at the next listing
                        log.debug("certificate object skipped on %s", info.label, exc_info=True)
                        skipped.append(unreadable_reason(exc))
        except p11e.PKCS11Error as exc:
            raise translate(exc, removed=not self._w_present(info)) from exc
        certs = with_chains(certs)
        self._w_note_unreadable(info, tuple(skipped))
        if complete:
            self._cert_cache[cache_key(info)] = certs
        return certs

    def _w_note_unreadable(self, info: TokenInfo, skipped: tuple[str, ...]) -> None:
        """Keep why ``info``'s listing skipped objects; log it when that changed (once per
        token while it stays in, not at every listing)."""
        key = cache_key(info)
        if skipped and self._unreadable.get(key) != skipped:
            log.warning(
                "%d certificate object(s) on %s could not be read and are not listed: %s",
                len(skipped),
                info.label,
                ", ".join(skipped),
            )
        if skipped:
            self._unreadable[key] = skipped
        else:
            self._unreadable.pop(key, None)

    def unreadable(self, info: TokenInfo) -> tuple[str, ...]:
        """Why certificate objects were skipped by the last listing of ``info`` (one
        :func:`unreadable_reason` each; empty when every one was read)."""
        return self._unreadable.get(cache_key(info), ())


def unreadable_reason(exc: BaseException) -> str:
    """A stable word for why a certificate object could not be read (doctor words it)."""
    if isinstance(exc, UnsupportedAlgorithm):
        return "unsupported_key_algorithm"  # GOST, SM2, explicit EC parameters...
    if isinstance(exc, p11e.PKCS11Error):
        return "token_refused"
    if isinstance(exc, ValueError):
        return "not_a_certificate"
    return "unreadable"


def _read_certificate(
    obj: Any, info: TokenInfo, keys: dict[bytes, list[tuple[ObjectClass, Any]]]
) -> TokenCertificate:
    """One certificate object, with what the token shows of its key before login."""
    der = bytes(obj[Attribute.VALUE])
    key_id = bytes(obj[Attribute.ID])
    parsed = parse_certificate(der)
    seen = keys.get(key_id, [])
    if parsed.is_ca:
        has_key = hidden = False
    else:
        # Before login a private key is usually invisible; with no public half stored beside
        # it (a PKCS#12 import) nothing shows it. Only a token that needs no login shows all.
        hidden = not seen and info.login_required
        has_key = bool(seen) or hidden
    return TokenCertificate(
        token=info,
        info=parsed,
        label=_label(obj),
        key_id=key_id,
        has_private_key=has_key,
        key_mismatch=bool(seen) and not parsed.is_ca and _shows_another_key(parsed, seen),
        key_hidden=hidden,
        key_cannot_sign=bool(seen) and not parsed.is_ca and _may_not_sign(seen),
    )


def _label(obj: Any) -> str:
    """The object's label, a display name only: one the token will not give is empty (its
    bytes are decoded leniently by ATTRIBUTE_MAPPER, so invalid UTF-8 shows U+FFFD)."""
    try:
        return obj[Attribute.LABEL] or ""
    except (p11e.PKCS11Error, ValueError):
        return ""


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


def _may_not_sign(keys: list[tuple[ObjectClass, Any]]) -> bool:
    """True when every visible private key under the id has CKA_SIGN false. Only the private
    key's own flag says so: a public half with CKA_VERIFY false says nothing of what the
    private key may do (tokens set public-key flags loosely), and refusing on it would leave
    a working key no way to sign. An attribute the token does not show counts as "may sign"
    (signing settles it)."""
    private = [obj for cls, obj in keys if cls == ObjectClass.PRIVATE_KEY]
    return bool(private) and all(_flag(obj, Attribute.SIGN) is False for obj in private)


def _flag(obj: Any, attribute: Any) -> bool | None:
    """A key object's boolean attribute; None when the token does not give it."""
    try:
        value = obj[attribute]
    except Exception:  # refused, not implemented, unreadable: unknown, never "may not sign"
        return None
    return value if isinstance(value, bool) else None


def with_chains(certs: list[TokenCertificate]) -> list[TokenCertificate]:
    """Each certificate with the token's own CA certificates that lead from it towards its
    root (Vietnamese CAs store the issuing CA beside the user's certificate): the chain its
    CMS and PDF signatures carry (agent.tokens.chain)."""
    cas = [c.info.der for c in certs if c.info.is_ca]
    if not cas:
        return certs
    return [c if c.info.is_ca else replace(c, chain=issuer_chain(c.info.der, cas)) for c in certs]
