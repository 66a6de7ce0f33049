"""One loaded PKCS#11 module. The only code in Kyso that calls python-pkcs11.

Every method whose name starts with ``_w_`` runs on the module's worker thread; the public
async methods queue them there. Objects from python-pkcs11 never leave this file: callers get
plain dataclasses and opaque session handles.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pkcs11
import pkcs11.exceptions as p11e
from pkcs11 import Attribute, KeyType, ObjectClass, TokenFlag
from pkcs11.attributes import AttributeMapper, handle_bytes
from pkcs11.util.ec import encode_named_curve_parameters
from pkcs11.util.rsa import encode_rsa_public_key

from agent.errors import KysoError
from agent.tokens.algorithms import SignatureAlgorithm, digest, ecdsa_raw_to_der
from agent.tokens.certinfo import parse_certificate
from agent.tokens.failures import translate
from agent.tokens.mechanisms import Input, MechanismPlan, digest_info, plan_signature
from agent.tokens.model import SessionHandle, TokenCertificate, TokenInfo
from agent.tokens.modules import ModuleCandidate
from agent.tokens.pin import PinState
from agent.tokens.token_lock import TokenLock
from agent.tokens.worker import ModuleWorker

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

    from agent.tokens.keymatch import KeyFacts

log = logging.getLogger(__name__)

_CKR_OK = 0x0
_CKR_USER_NOT_LOGGED_IN = 0x101

# CKA_PUBLIC_KEY_INFO (PKCS#11 2.40): a private key's own statement of its public key. Newer
# than python-pkcs11's table, so its sessions get a mapper that reads it as bytes.
_CKA_PUBLIC_KEY_INFO: Any = 0x129
_MAPPER = AttributeMapper()
_MAPPER.register_handler(_CKA_PUBLIC_KEY_INFO, *handle_bytes)
# What a private key may show of its public half, read in one C_GetAttributeValue.
_KEY_FACTS = [
    Attribute.KEY_TYPE,
    Attribute.MODULUS,
    Attribute.PUBLIC_EXPONENT,
    Attribute.EC_PARAMS,
    _CKA_PUBLIC_KEY_INFO,
]


def _flags_state(flags: int) -> tuple[PinState, bool, bool]:
    f = TokenFlag(flags)
    state = PinState(
        count_low=bool(f & TokenFlag.USER_PIN_COUNT_LOW),
        final_try=bool(f & TokenFlag.USER_PIN_FINAL_TRY),
        locked=bool(f & TokenFlag.USER_PIN_LOCKED),
    )
    return (
        state,
        bool(f & TokenFlag.PROTECTED_AUTHENTICATION_PATH),
        bool(f & TokenFlag.LOGIN_REQUIRED),
    )


# What a login asks for on a PIN-pad reader (protected authentication path): C_Login with no
# PIN, the reader collects it.
PIN_PAD: Any = pkcs11.PROTECTED_AUTH

_REGISTRY: dict[str, Pkcs11Module] = {}
_REGISTRY_LOCK = threading.Lock()


class Pkcs11Module:
    """A PKCS#11 module with its own worker thread.

    A module is initialised once per process (a second C_Initialize is ignored and the first
    C_Finalize would pull the module from under every other user), so instances are shared:
    :meth:`acquire` and :meth:`release` count the users.
    """

    @classmethod
    async def acquire(cls, candidate: ModuleCandidate) -> Pkcs11Module:
        """The process-wide instance for this module path, loaded on first use."""
        with _REGISTRY_LOCK:
            module = _REGISTRY.get(candidate.path)
            if module is None:
                module = _REGISTRY[candidate.path] = cls(candidate)
            module._refs += 1
        try:
            await module.worker.run(module._w_load)
        except BaseException:
            await module.release()
            raise
        return module

    async def release(self) -> None:
        """Drop one user; the last one finalises the module and stops its thread."""
        with _REGISTRY_LOCK:
            self._refs -= 1
            last = self._refs == 0
            if last and _REGISTRY.get(self.path) is self:
                del _REGISTRY[self.path]
        if last:
            await self.close()

    def __init__(self, candidate: ModuleCandidate) -> None:
        self._refs = 0
        self.candidate = candidate
        self.path = candidate.path
        self.worker = ModuleWorker(candidate.vendor)
        self._lib: Any = None
        self._open_sessions = 0
        self._has_slot_events = False
        self.description = ""
        self._cert_cache: dict[tuple[str, str], list[TokenCertificate]] = {}
        self._token_locks: dict[tuple[str, str], TokenLock] = {}
        self._token_locks_guard = threading.Lock()

    def token_lock(self, token_key: tuple[str, str]) -> TokenLock:
        """The one lock for key sessions on this token in this process (login is per process)."""
        with self._token_locks_guard:
            return self._token_locks.setdefault(token_key, TokenLock())

    # ---- lifecycle ---------------------------------------------------------------------------
    def _w_load(self) -> None:
        if self._lib is not None:
            return
        try:
            self._lib = pkcs11.lib(self.path)
        except Exception as exc:
            raise KysoError(
                "MODULE_LOAD_FAILED",
                {"module": self.path, "detail": f"{type(exc).__name__}: {exc}"},
            ) from exc
        self.description = f"{self._lib.manufacturer_id} {self._lib.library_description}".strip()
        try:
            self._lib.wait_for_slot_event(blocking=False)
            self._has_slot_events = True
        except p11e.NoEvent:
            self._has_slot_events = True
        except Exception:  # FunctionNotSupported and friends: fall back to polling
            self._has_slot_events = False

    async def close(self) -> None:
        """Finalise the module and stop its thread."""
        try:
            await self.worker.run(self._w_close)
        finally:
            self.worker.close()

    def _w_close(self) -> None:
        if self._lib is not None:
            try:
                self._lib.finalize()
            except Exception:  # already finalised or the module is broken: nothing to keep
                log.debug("finalize failed for %s", self.path, exc_info=True)
            self._lib = None

    # ---- discovery ---------------------------------------------------------------------------
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
        for slot in self._lib.get_slots(token_present=True):
            try:
                token = slot.get_token()
                mechanisms = frozenset(slot.get_mechanisms())
            except p11e.PKCS11Error:
                continue
            if not token.flags & TokenFlag.TOKEN_INITIALIZED:
                continue
            state, protected, login_required = _flags_state(token.flags)
            tokens.append(
                TokenInfo(
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
            )
        present = {t.key for t in tokens}
        for key in list(self._cert_cache):
            if key not in present:
                del self._cert_cache[key]
        return tokens

    def _w_find_token(self, info: TokenInfo) -> Any:
        for slot in self._lib.get_slots(token_present=True):
            try:
                token = slot.get_token()
            except p11e.PKCS11Error:
                continue
            if token.serial.decode(errors="replace") == info.serial and token.label == info.label:
                return token
        raise KysoError("TOKEN_REMOVED", {"detail": info.label})

    async def certificates(self, token: TokenInfo) -> list[TokenCertificate]:
        """Certificates on ``token`` (cached until the token is removed)."""
        return await self.worker.run(self._w_certificates, token)

    def _w_certificates(self, info: TokenInfo) -> list[TokenCertificate]:
        cached = self._cert_cache.get(info.key)
        if cached is not None:
            # The certificates do not change while the token stays in, but the token's state
            # does (PIN flags, slot id after re-initialisation): hand out the fresh TokenInfo.
            return [c if c.token == info else replace(c, token=info) for c in cached]
        token = self._w_find_token(info)
        try:
            with token.open() as session:
                key_ids = set()
                # Private keys are usually private objects, invisible before login; the public
                # key generated with them carries the same CKA_ID, so either one counts.
                for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
                    for obj in session.get_objects({Attribute.CLASS: cls}):
                        key_ids.add(bytes(obj[Attribute.ID]))
                certs = []
                for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
                    der = bytes(obj[Attribute.VALUE])
                    key_id = bytes(obj[Attribute.ID])
                    try:
                        parsed = parse_certificate(der)
                    except ValueError:
                        log.warning("unparsable certificate on %s", info.label)
                        continue
                    certs.append(
                        TokenCertificate(
                            token=info,
                            info=parsed,
                            label=obj[Attribute.LABEL] or "",
                            key_id=key_id,
                            has_private_key=key_id in key_ids and not parsed.is_ca,
                        )
                    )
        except p11e.PKCS11Error as exc:
            raise translate(exc, removed=not self._w_present(info)) from exc
        self._cert_cache[info.key] = certs
        return certs

    def _w_present(self, info: TokenInfo) -> bool:
        try:
            self._w_find_token(info)
            return True
        except KysoError:
            return False

    async def pin_state(self, info: TokenInfo) -> PinState:
        """The token's PIN flags read now (they change after each wrong PIN)."""
        return await self.worker.run(self._w_pin_state, info)

    def _w_pin_state(self, info: TokenInfo) -> PinState:
        return _flags_state(self._w_find_token(info).flags)[0]

    # ---- sessions and signing ----------------------------------------------------------------
    async def open_session(self, cert: TokenCertificate, pin: str | None) -> SessionHandle:
        """Open a session, log in (``pin`` None = PIN pad or no login needed), find the key.

        Safe to cancel: the login already queued on the worker still runs, and a session
        nobody will receive is logged out and closed (a leaked login would keep the token
        logged in and stop hot-plug re-initialisation)."""
        abandoned = threading.Event()
        call = asyncio.ensure_future(
            self.worker.run(self._w_open_session_for, cert, pin, abandoned)
        )
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            abandoned.set()
            call.add_done_callback(self._close_abandoned)
            raise

    def _w_open_session_for(
        self, cert: TokenCertificate, pin: str | None, abandoned: threading.Event
    ) -> SessionHandle:
        handle = self._w_open_session(cert, pin)
        if abandoned.is_set():  # the caller went away while we were logging in
            self._w_close_session(handle)
        return handle

    def _close_abandoned(self, call: asyncio.Future[SessionHandle]) -> None:
        # The caller was cancelled just as the login finished: close from here instead.
        if call.cancelled() or call.exception() is not None:
            return
        handle = call.result()
        if not handle.closed:
            self.worker.submit(self._w_close_session, handle)

    def _w_open_session(self, cert: TokenCertificate, pin: str | None) -> SessionHandle:
        info = cert.token
        token = self._w_find_token(info)
        state, protected, login_required = _flags_state(token.flags)
        if state.locked:
            raise KysoError("PIN_LOCKED", {"detail": info.label})
        if not login_required:
            user_pin: Any = None
        elif pin is None and protected:
            user_pin = PIN_PAD
        else:
            user_pin = pin
        try:
            try:
                session = self._w_login(token, user_pin)
            except p11e.UserAlreadyLoggedIn:
                # A login this process made outside the token lock (a leak, or other code using
                # the module). Reusing it would sign without the token ever checking this PIN:
                # log it out and log in again, so the token judges the PIN just entered.
                self._w_logout_stale(token, info)
                session = self._w_login(token, user_pin)
        except p11e.PKCS11Error as exc:
            after = self._w_state_or(state, info)
            raise translate(exc, state=after, removed=not self._w_present(info)) from exc
        self._open_sessions += 1
        try:
            handle = self._w_find_key(session, cert)
        except BaseException as exc:
            self._w_close_session_raw(session)
            if isinstance(exc, p11e.PKCS11Error):
                raise translate(exc, removed=not self._w_present(info)) from exc
            raise
        return handle

    def _w_find_key(self, session: Any, cert: TokenCertificate) -> _KeyHandle:
        """The session handle for ``cert``'s private key: among the keys under its CKA_ID, the
        one whose public half is the certificate's (renewal tools leave stale keys under a
        reused id, and a signature by another key is worthless). Keys whose attributes show
        another public key are dropped here (KEY_CERT_MISMATCH when none is left); the
        session's first signature proves the key (:meth:`_w_sign_proving`)."""
        from agent.tokens.keymatch import choose, judge

        keys = list(
            session.get_objects(
                {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: cert.key_id}
            )
        )
        if not keys:
            raise KysoError("KEY_NOT_FOUND", {"detail": cert.info.subject_display})
        cert_key = cert.info.certificate.public_key()
        candidates = choose(cert, [(key, judge(cert_key, _key_facts(key))) for key in keys])
        for key in candidates:
            _note_key_type(key, cert.info.key_type)
        unproven = _Unproven(cert, cert_key, candidates)
        return _KeyHandle(session, candidates[0], cert.token, unproven)

    def _w_login(self, token: Any, user_pin: Any) -> Any:
        """Open a session and log in: with ``user_pin``, on the reader's PIN pad when it is
        :data:`PIN_PAD`, or not at all when None. The one call that makes a PIN pad prompt."""
        return token.open(user_pin=user_pin, attribute_mapper=_MAPPER)

    def _w_logout_stale(self, token: Any, info: TokenInfo) -> None:
        """End a login this process holds on ``token`` without a session of ours.

        python-pkcs11 calls C_Logout only from a session it logged in itself, so call the
        module's exported C_Logout on a fresh session (logout ends the login for every session
        of the process, which is the point)."""
        log.warning("token %s was already logged in by this process; logging it out", info.label)
        session = token.open()
        try:
            c_logout = ctypes.CDLL(self.path).C_Logout  # the loaded library: dlopen shares it
            c_logout.argtypes = [ctypes.c_ulong]
            c_logout.restype = ctypes.c_ulong
            rv = c_logout(session.handle)
        except (OSError, AttributeError) as exc:
            raise KysoError(
                "TOKEN_ERROR", {"detail": f"cannot end a stale login on {info.label}: {exc}"}
            ) from exc
        finally:
            session.close()
        if rv not in (_CKR_OK, _CKR_USER_NOT_LOGGED_IN):
            raise KysoError("TOKEN_ERROR", {"detail": f"C_Logout returned {rv:#x}"})

    def _w_state_or(self, fallback: PinState, info: TokenInfo) -> PinState:
        try:
            return self._w_pin_state(info)
        except KysoError:
            return fallback

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
        if isinstance(handle, _KeyHandle) and handle.unproven is not None:
            # The session's first signature proves the key (see _w_find_key).
            return self._w_sign_proving(
                handle, handle.unproven, plan, data, algorithm, payload, is_digest
            )
        return self._w_sign_with(handle, handle._key, plan, data)

    def _w_sign_with(
        self, handle: SessionHandle, key: Any, plan: MechanismPlan, data: bytes
    ) -> bytes:
        try:
            signature = key.sign(data, mechanism=plan.mechanism, mechanism_param=plan.param)
        except p11e.PKCS11Error as exc:
            raise translate(exc, removed=not self._w_present(handle.token)) from exc
        return ecdsa_raw_to_der(signature) if plan.ecdsa_raw_output else bytes(signature)

    def _w_sign_proving(
        self,
        handle: _KeyHandle,
        unproven: _Unproven,
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

    async def close_session(self, handle: SessionHandle) -> None:
        """Log out and close; errors from a pulled token are ignored (nothing left to close)."""
        await self.worker.run(self._w_close_session, handle)

    def close_session_soon(self, handle: SessionHandle) -> None:
        """Queue the log-out and close on the module's thread without waiting for it.

        Safe to release the token's turn right after: the thread runs calls in order, so the
        next holder's first call (its PIN state, its login) runs after this log-out. The
        signature's answer need not wait for C_Logout, and nothing can cancel it halfway."""
        self.worker.submit(self._w_close_session, handle)

    def _w_close_session(self, handle: SessionHandle) -> None:
        if not handle.closed:
            handle.closed = True
            self._w_close_session_raw(handle._session)

    def _w_close_session_raw(self, session: Any) -> None:
        self._open_sessions -= 1
        try:
            session.close()
        except p11e.PKCS11Error:
            log.debug("closing a session failed (token gone?)", exc_info=True)

    # ---- provisioning (demo tokens; IT tooling) ------------------------------------------------
    async def generate_key(
        self, token: TokenInfo, pin: str, *, kind: str, bits: int, key_id: bytes, label: str
    ) -> bytes:
        """Generate a non-extractable key pair ON the token; returns the public key as DER SPKI."""
        return await self.worker.run(self._w_generate_key, token, pin, kind, bits, key_id, label)

    def _w_generate_key(
        self, info: TokenInfo, pin: str, kind: str, bits: int, key_id: bytes, label: str
    ) -> bytes:
        token = self._w_find_token(info)
        private_template = {
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.PRIVATE: True,
            Attribute.SIGN: True,
        }
        with token.open(rw=True, user_pin=pin) as session:
            if kind == "RSA":
                pub, _priv = session.generate_keypair(
                    KeyType.RSA,
                    bits,
                    id=key_id,
                    label=label,
                    store=True,
                    private_template=private_template,
                )
                return _rsa_spki(pub)
            params = session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            pub, _priv = params.generate_keypair(
                id=key_id, label=label, store=True, private_template=private_template
            )
            return _ec_spki(pub)

    async def store_certificate(
        self, token: TokenInfo, pin: str, *, der: bytes, key_id: bytes, label: str
    ) -> None:
        """Write a certificate object beside its key (same CKA_ID)."""
        await self.worker.run(self._w_store_certificate, token, pin, der, key_id, label)

    def _w_store_certificate(
        self, info: TokenInfo, pin: str, der: bytes, key_id: bytes, label: str
    ) -> None:
        from cryptography import x509

        cert = x509.load_der_x509_certificate(der)
        token = self._w_find_token(info)
        with token.open(rw=True, user_pin=pin) as session:
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: False,
                    Attribute.ID: key_id,
                    Attribute.LABEL: label,
                    Attribute.SUBJECT: cert.subject.public_bytes(),
                    Attribute.ISSUER: cert.issuer.public_bytes(),
                    Attribute.SERIAL_NUMBER: cert.serial_number.to_bytes(20, "big").lstrip(b"\0"),
                    Attribute.VALUE: der,
                }
            )
        self._cert_cache.pop(info.key, None)

    # ---- for the benchmark's reference measurement only -----------------------------------------
    def raw_library(self) -> Any:
        """The python-pkcs11 lib object; only bench/ uses it, to measure the layer's overhead."""
        return self._lib


_KEY_TYPES = {"RSA": KeyType.RSA, "EC": KeyType.EC}


class _Unproven:
    """The keys under a certificate's CKA_ID that may be its key, until the session's first
    signature, verified with ``cert_key`` before it is handed out, proves one of them."""

    def __init__(self, cert: TokenCertificate, cert_key: PublicKeyTypes, candidates: list[Any]):
        self.cert = cert
        self.cert_key = cert_key
        self.candidates = candidates


class _KeyHandle(SessionHandle):
    """A session handle that remembers, for the session, whether its key is proven yet
    (``unproven`` None once a signature by it verified with the certificate)."""

    def __init__(
        self, session: Any, private_key: Any, token: TokenInfo, unproven: _Unproven | None
    ) -> None:
        super().__init__(session, private_key, token)
        self.unproven = unproven


def _key_facts(key: Any) -> KeyFacts:
    """What ``key`` shows of its public half: one C_GetAttributeValue, one by one if the token
    refuses the batch (some do not implement partial answers); what fails stays unknown."""
    from agent.tokens.keymatch import KeyFacts

    try:
        values = key.get_attributes(_KEY_FACTS)
    except (p11e.PKCS11Error, NotImplementedError, ValueError):
        values = {}
        for attribute in _KEY_FACTS:
            try:
                values[attribute] = key[attribute]
            except (p11e.PKCS11Error, NotImplementedError, ValueError):
                continue  # not shown, or a value python-pkcs11 cannot read: unknown
    key_type = values.get(Attribute.KEY_TYPE)
    return KeyFacts(
        key_type=None if key_type is None else _KEY_TYPE_NAMES.get(key_type, str(key_type)),
        modulus=_bytes_or_none(values.get(Attribute.MODULUS)),
        public_exponent=_bytes_or_none(values.get(Attribute.PUBLIC_EXPONENT)),
        ec_params=_bytes_or_none(values.get(Attribute.EC_PARAMS)),
        public_key_info=_bytes_or_none(values.get(_CKA_PUBLIC_KEY_INFO)),
    )


_KEY_TYPE_NAMES = {KeyType.RSA: "RSA", KeyType.EC: "EC"}


def _bytes_or_none(value: Any) -> bytes | None:
    return bytes(value) if isinstance(value, bytes | bytearray) else None


def _note_key_type(key: Any, certificate_key_type: str) -> None:
    """Give python-pkcs11 the key type we already know from the certificate.

    python-pkcs11 reads CKA_KEY_TYPE on a key's first signature, only to pick a default
    mechanism; we always name the mechanism, so that read is one wasted C_GetAttributeValue per
    key session (a USB round trip on a real token; about 0.05 ms on SoftHSM2).
    ``key_type`` is a ``functools.cached_property``, which accepts a plain assignment.
    """
    known = _KEY_TYPES.get(certificate_key_type)
    if known is not None:
        key.key_type = known


def _prepare_input(
    plan: MechanismPlan, algorithm: SignatureAlgorithm, payload: bytes, is_digest: bool
) -> bytes:
    if plan.input is Input.DATA:
        return payload
    value = payload if is_digest else digest(algorithm, payload)
    return digest_info(algorithm, value) if plan.input is Input.DIGEST_INFO else value


def _rsa_spki(pub: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    pkcs1 = encode_rsa_public_key(pub)
    key = serialization.load_der_public_key(_wrap_pkcs1(pkcs1))
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _wrap_pkcs1(pkcs1: bytes) -> bytes:
    from asn1crypto import keys

    return keys.PublicKeyInfo(
        {"algorithm": {"algorithm": "rsa"}, "public_key": keys.RSAPublicKey.load(pkcs1)}
    ).dump()


def _ec_spki(pub: Any) -> bytes:
    from pkcs11.util.ec import encode_ec_public_key

    return encode_ec_public_key(pub)
