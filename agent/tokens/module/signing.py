"""Signing with a session's key: the mechanism planned once per kind of signature, the input
prepared for it, and the session's first signature verified before it leaves (key proof)."""

from __future__ import annotations

import logging
from typing import Any

import pkcs11
import pkcs11.exceptions as p11e

from agent.errors import KysoError
from agent.tokens.algorithms import SignatureAlgorithm, digest, ecdsa_raw_to_der
from agent.tokens.failures import translate
from agent.tokens.mechanisms import Input, MechanismPlan, digest_info, plan_signature
from agent.tokens.model import SessionHandle
from agent.tokens.module.keys import KeyHandle, Unproven
from agent.tokens.module.library import LoadedLibrary

log = logging.getLogger(__name__)


class Signing(LoadedLibrary):
    """Signatures by the key of an open session (:mod:`agent.tokens.module.sessions`)."""

    async def sign(
        self,
        handle: SessionHandle,
        algorithm: SignatureAlgorithm,
        payload: bytes,
        *,
        is_digest: bool,
    ) -> bytes:
        """Sign ``payload`` (the data, or its digest when ``is_digest``) with the session's key."""
        return await self.worker.run(self._w_sign, handle, algorithm, payload, is_digest)

    def _w_sign(
        self, handle: SessionHandle, algorithm: SignatureAlgorithm, payload: bytes, is_digest: bool
    ) -> bytes:
        if handle.closed:
            raise KysoError("TOKEN_ERROR", {"detail": "session closed"})
        plan = handle.plans.get((algorithm, is_digest))
        if plan is None:
            plan = handle.plans[(algorithm, is_digest)] = plan_signature(
                algorithm, handle.token.mechanisms, have_data=not is_digest
            )
        data = _prepare_input(plan, algorithm, payload, is_digest)
        if isinstance(handle, KeyHandle) and handle.unproven is not None:
            # The session's first signature proves the key (see keys.find_key).
            return self._w_sign_proving(
                handle, handle.unproven, plan, data, algorithm, payload, is_digest
            )
        return self._w_sign_with(handle, handle._key, plan, data)

    def _w_sign_with(
        self, handle: SessionHandle, key: Any, plan: MechanismPlan, data: bytes
    ) -> bytes:
        if not isinstance(key, pkcs11.SignMixin):
            # find_key offers only keys that may sign; should another path hand one over, say
            # so instead of an AttributeError (INTERNAL_ERROR) after the consent and the PIN.
            raise KysoError(
                "KEY_NOT_FOUND", {"detail": handle.token.label, "reason": "key_may_not_sign"}
            )
        try:
            signature = key.sign(data, mechanism=plan.mechanism, mechanism_param=plan.param)
        except p11e.PKCS11Error as exc:
            raise translate(exc, removed=not self._w_present(handle.token)) from exc
        return ecdsa_raw_to_der(signature) if plan.ecdsa_raw_output else bytes(signature)

    def _w_sign_proving(
        self,
        handle: KeyHandle,
        unproven: Unproven,
        plan: MechanismPlan,
        data: bytes,
        algorithm: SignatureAlgorithm,
        payload: bytes,
        is_digest: bool,
    ) -> bytes:
        """Sign with each candidate key in turn until a signature verifies with the
        certificate's public key; that key signs for the rest of the session. None does:
        KEY_CERT_MISMATCH, and no signature by a wrong key ever leaves this method."""
        from agent.tokens.keymatch import mismatch, signature_verifies

        while unproven.candidates:
            key = unproven.candidates[0]
            signature = self._w_sign_with(handle, key, plan, data)
            if signature_verifies(
                unproven.cert_key, algorithm, payload, signature, is_digest=is_digest
            ):
                handle._key = key
                handle.unproven = None
                return signature
            log.warning(
                "a key under CKA_ID %s on %s is not the certificate's key",
                unproven.cert.key_id.hex(),
                handle.token.label,
            )
            unproven.candidates.pop(0)  # never tried again in this session
        raise mismatch(unproven.cert)


def _prepare_input(
    plan: MechanismPlan, algorithm: SignatureAlgorithm, payload: bytes, is_digest: bool
) -> bytes:
    if plan.input is Input.DATA:
        return payload
    value = payload if is_digest else digest(algorithm, payload)
    return digest_info(algorithm, value) if plan.input is Input.DIGEST_INFO else value
