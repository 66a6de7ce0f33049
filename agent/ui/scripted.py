"""A prompter that answers from a local JSON file: automated tests and unattended machines.

Every prompt answers from the file as it is then, so a test can change the answers between
steps (it is read again whenever its size or times changed, or it was written moments ago)::

    {"pair": "always" | "once" | "deny",
     "consent": "allow" | "deny",
     "pin": "123456" | null,          # null = the user cancelled the PIN dialog
                                      # or ["000000", "123456"]: typed in turn after a wrong PIN
     "certificate": "<thumbprint>",   # for choose_certificate; default: first usable one
                                      # ("sign-in:<provider>": the picker's sign-in row;
                                      # "<thumbprint>@<token label|serial|provider>": one copy
                                      # of a certificate held in several places)
     "pin_pad": "wait" | "cancel",    # the PIN-pad reader's window: wait for the reader, or
                                      # press Cancel (the default: a file cannot type on a pad)
     "remote_pin": "246810" | null,   # a remote credential's PIN (ký số từ xa)
     "otp": "135790" | ["1", "2"],    # its one-time code; a list: one per authorisation
     "delay_seconds": 2.5}            # or {"consent": 2.5, "pin": 0.1}: a slow user

Anything missing, unreadable or unknown is answered the safe way (deny / cancel), so a broken
file can never approve a signature. This prompter is enabled only by a local command-line option
or policy, never by a request; it logs a loud warning when it is created, and the agent reports
it in ``agent.info``. Every prompt it answers is recorded in :attr:`ScriptedPrompter.prompts`
so tests can assert that an attack produced no prompt at all.

What a user would have been shown is rendered exactly as the other prompters render it
(agent.ui.text: page text made inert, one line each, bounded) and logged as JSON, so a
hostile label can neither forge a log line nor hide the origin in it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import math
import os
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from agent.errors import KysoError
from agent.remote.prompt import CredentialPrompt, CredentialSecrets
from agent.tokens.pin import PinRequest
from agent.ui.api import (
    CertificateChoice,
    CertificateOption,
    ConsentRequest,
    PairingAnswer,
    PairingRequest,
    SignInOption,
)
from agent.ui.pintext import pin_pad_cancelling
from agent.ui.text import (
    PromptText,
    Warning,
    certificate_choice_text,
    certificate_warnings,
    consent_text,
    credential_text,
    mst_warnings,
    pairing_text,
    pin_pad_text,
    pin_text,
)
from agent.ui.untrusted import LABEL_LIMIT, render_origin, render_untrusted

log = logging.getLogger(__name__)

WARNING_TEXT = (
    "SCRIPTED PROMPTER ACTIVE: pairing, consent and PIN are answered from {path} without asking "
    "anyone. Use this only for automated tests or unattended machines. / ĐANG DÙNG TRẢ LỜI TỰ "
    "ĐỘNG từ tệp {path}: không hỏi người dùng trước khi ký."
)

# Accepted spellings. "allow" for pairing means "once": the least a file can grant.
_PAIR_ANSWERS = {
    "always": PairingAnswer.ALWAYS,
    "once": PairingAnswer.ONCE,
    "allow": PairingAnswer.ONCE,
    "deny": PairingAnswer.DENY,
}
_CONSENT_ANSWERS = {"allow": True, "yes": True, "deny": False, "no": False}


# A prompt's details as the dialog would show them: (section title, ((label, value), ...)).
Shown = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def answers_problem(path: str | Path) -> str | None:
    """Why the answers file at ``path`` cannot be used now (missing, unreadable, not a JSON
    object), or None. The prompter denies every request meanwhile; ``kyso-agent run`` says so
    at start, where a typo in an unattended set-up would otherwise show only as refusals."""
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_ANSWERS_CHECKED + 1)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    if len(raw) > MAX_ANSWERS_CHECKED:
        return None  # a large file is parsed when used; only the common mistakes are caught here
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        return "not valid JSON"
    return None if isinstance(data, dict) else "not a JSON object"


MAX_ANSWERS_CHECKED = 1 << 20


class PromptRecord(NamedTuple):
    """One prompt the scripted prompter answered: what kind, about what, and the answer given."""

    kind: str  # "pair", "certificate", "consent", "pin", "pin_pad" or "credential" (remote)
    summary: str  # the origin, the consent sentence, the token label... (rendered inert)
    answer: str = ""  # what was answered ("always", "allow", "deny", "pin", "cancel", a thumbprint)
    shown: Shown = ()  # the details, rendered as every prompter renders them
    warnings: tuple[str, ...] = ()  # the red/amber lines, Vietnamese (MST mismatch, final try)


# A batch may hold 1000 documents and the record keeps 1000 prompts: record (and log) the first
# documents only, or an unattended agent's memory and log would grow by megabytes per batch.
SHOWN_ITEMS = 20


def shown_details(text: PromptText) -> Shown:
    """The sections of a prompt (already rendered inert by agent.ui.text) as plain tuples."""
    return tuple(
        (section.title, tuple((f.label, f.value) for f in section.fields))
        for section in text.sections
    )


def consent_shown(request: ConsentRequest) -> Shown:
    """What the consent dialog shows, for the first :data:`SHOWN_ITEMS` documents."""
    return _consent_record(request)[1]


# A consent's text, its details and warnings for the record, and the record's summary line.
_ConsentRecord = tuple[PromptText, Shown, tuple[Warning, ...], str]


def _problems(request: ConsentRequest) -> tuple[str, ...]:
    # What the text depends on besides the request itself: the certificate's state now.
    return tuple(request.certificate.problems()) if request.certificate is not None else ()


def _consent_record(request: ConsentRequest) -> _ConsentRecord:
    """The consent's text (rendered once), its details for the record (the first
    :data:`SHOWN_ITEMS` documents), its warnings (over every document) and the record's
    summary: the text's origin and English sentence are render_origin(request.origin) and
    render_untrusted(request.summary_en, SUMMARY_LIMIT), as a dialog shows them."""
    more = len(request.items) - SHOWN_ITEMS
    if more <= 0:
        text = consent_text(request)
        # consent_text's warnings are certificate_warnings + mst_warnings of this request.
        shown, warnings = shown_details(text), text.warnings
    else:
        first = dataclasses.replace(request, items=request.items[:SHOWN_ITEMS])
        text = consent_text(first)
        shown = (*shown_details(text), (f"… và {more} tài liệu khác / {more} more", ()))
        # The MST warning looks at every document, not only the ones recorded.
        warnings = certificate_warnings(request.certificate) + mst_warnings(
            request.certificate, request.items
        )
    action = render_untrusted(request.action, LABEL_LIMIT)
    return text, shown, warnings, f"{text.origin} {action}: {text.summary_en}"


@dataclass(frozen=True)
class ScriptAnswers:
    """The answers file, parsed. Pure: built from a dict, no I/O."""

    pair: PairingAnswer = PairingAnswer.DENY
    consent: bool = False
    pin: str | None = None
    certificate: str | None = None
    # Later PINs, typed in turn when the token refused the one before (same operation).
    retry_pins: tuple[str | None, ...] = ()
    delays: tuple[tuple[str, float], ...] = ()
    default_delay: float = 0.0
    remote_pin: str | None = None
    otps: tuple[str | None, ...] = ()
    pin_pad_wait: bool = False  # "pin_pad": "wait" keeps the PIN-pad window open
    # "final_try": "type" gives the PIN on the token's final try too (a test playing a person);
    # otherwise a stored PIN is not sent then, as with --pin-file: a stale one would lock it.
    type_on_final_try: bool = False

    @classmethod
    def from_mapping(cls, data: Any) -> ScriptAnswers:
        """Parse the file's JSON value; unknown or malformed entries fall back to deny/cancel."""
        if not isinstance(data, dict):
            log.error("scripted prompter: answers file is not a JSON object; denying everything")
            return cls()
        pair = _PAIR_ANSWERS.get(str(data.get("pair", "deny")).lower(), PairingAnswer.DENY)
        consent = _CONSENT_ANSWERS.get(str(data.get("consent", "deny")).lower(), False)
        pins = data.get("pin")
        pins = [_pin(p) for p in pins[:16]] if isinstance(pins, list) and pins else [_pin(pins)]
        pin = pins[0]
        cert = data.get("certificate")
        cert = _row_key(cert) if isinstance(cert, str) else None
        default_delay, delays = 0.0, {}
        raw_delay = data.get("delay_seconds", 0)
        if isinstance(raw_delay, dict):
            delays = {str(k): _seconds(v) for k, v in raw_delay.items()}
        else:
            default_delay = _seconds(raw_delay)
        otps = data.get("otp")
        otps = [_pin(o) for o in otps[:64]] if isinstance(otps, list) else [_pin(otps)]
        return cls(
            pair,
            consent,
            pin,
            cert,
            tuple(pins[1:]),
            tuple(sorted(delays.items())),
            default_delay,
            _pin(data.get("remote_pin")),
            tuple(otps),
            pin_pad_wait=str(data.get("pin_pad", "cancel")).lower() == "wait",
            type_on_final_try=str(data.get("final_try", "refuse")).lower() == "type",
        )

    def otp_for(self, index: int) -> str | None:
        """The one-time code for the ``index``-th authorisation (0-based); past the list,
        the last one again (the provider then refuses a code used twice)."""
        if not self.otps:
            return None
        return self.otps[min(index, len(self.otps) - 1)]

    def pin_for(self, attempt: int) -> str | None:
        """The PIN typed at the ``attempt``-th prompt of one operation (None: cancel). Past the
        list, the last one again: the token layer never sends a PIN the token just refused, so
        a file with one wrong PIN ends with the token's own PIN_INCORRECT."""
        pins = (self.pin, *self.retry_pins)
        return pins[min(max(attempt, 1), len(pins)) - 1]

    def delay_for(self, kind: str) -> float:
        """Seconds to wait before answering a prompt of this kind."""
        return dict(self.delays).get(kind, self.default_delay)


def _pin(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else None


def _seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 0.0
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0


def choose_from(
    request: CertificateChoice, wanted: str | None
) -> CertificateOption | SignInOption | None:
    """The row the file names (if it can be chosen; see CertificateChoice.named), a
    ``sign-in:<provider>`` row, or without a name the one the picker would preselect."""
    if wanted:
        return request.named(wanted)
    return request.default_row()


def _row_key(value: str) -> str:
    # A thumbprint in any case, with or without colons (and "@<where>" as written); a sign-in
    # row's or a row key's text as written.
    value = value.strip()
    if value.startswith(("sign-in:", "[")):
        return value
    thumbprint, at, where = value.partition("@")
    return thumbprint.lower().replace(":", "") + at + where


MAX_RECORDED_PROMPTS = 1000
# A file written less than this before it was read may be written again without its size or
# times changing (they tick coarsely): until it is this old, it is read at every prompt.
SETTLE_NS = 2_000_000_000


@functools.lru_cache(maxsize=64)
def _pin_record(request: PinRequest, refused: str) -> tuple[PromptText, Shown]:
    """The PIN prompt's text and details. Kept per request and refusal (the request's equality
    leaves its previous error out, so its code is part of the key): an agent asks for the same
    token's PIN, in the same state, at every signature."""
    text = pin_text(request)
    return text, shown_details(text)


# Consents rendered ahead (prepare_consent), at most this many waiting for their prompt.
PREPARED_CONSENTS = 256


@functools.lru_cache(maxsize=64)
def _details(summary: str, shown: Shown) -> str:
    """A prompt's details as JSON on one line: quotes and backslashes escaped, and the fields
    are inert already, so nothing a page wrote can end the log line or start a forged one.
    Kept for the few prompts an agent shows again and again (same certificate, same page)."""
    return json.dumps({"summary": summary, "shown": shown}, ensure_ascii=False)


class ScriptedPrompter:
    """Answers pairing, certificate choice, consent and PIN from a JSON file, as it is at each
    prompt."""

    name = "scripted"

    def __init__(self, path: str | Path, *, timeout_seconds: float | None = None) -> None:
        """Remember the file (it need not exist yet) and warn loudly that nobody is asked.

        ``timeout_seconds`` plays the user's patience limit: a ``delay_seconds`` longer than it
        ends the prompt with USER_TIMEOUT, as a real dialog would.
        """
        self.path = Path(path)
        self.timeout_seconds = timeout_seconds
        self.prompts: list[PromptRecord] = []
        # The last answers parsed, with the bytes they came from; and the file's stat when it
        # had been left alone long enough to trust that an unchanged stat means unchanged bytes.
        self._parsed: tuple[bytes, ScriptAnswers] | None = None
        self._settled: tuple[int, ...] | None = None
        self._otps_used = 0  # one-time codes are handed out in turn, like a user reading SMS
        # Consent texts rendered before the token's turn (prepare_consent), by request identity,
        # with the certificate's problems they were rendered under.
        self._prepared: dict[
            int, tuple[weakref.ref[ConsentRequest], tuple[str, ...], _ConsentRecord]
        ] = {}
        self._stat_path = os.fspath(self.path)
        log.warning(WARNING_TEXT.format(path=self.path))

    def read_answers(self) -> ScriptAnswers:
        """The answers file as it is now; a missing or broken file means deny/cancel.

        Read again whenever it may have changed: its size, times or identity differ from the
        last read, or it was written so recently that a change could keep the same timestamps
        (file times tick coarsely; FAT's by 2 s). A file left alone is parsed once."""
        looked = time.time_ns()
        try:
            st = os.stat(self._stat_path)
            stamp = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            if self._parsed is not None and self._settled == stamp:
                return self._parsed[1]
            with open(self.path, "rb") as file:
                raw = file.read()
        except OSError as exc:
            log.error("scripted prompter: cannot read %s (%s); denying", self.path, exc)
            return ScriptAnswers()
        # Stat before read: a write after the stat gives the file a later time than ``stamp``.
        settled = stamp if max(st.st_mtime_ns, st.st_ctime_ns) < looked - SETTLE_NS else None
        if self._parsed is not None and self._parsed[0] == raw:
            self._settled = settled
            return self._parsed[1]
        self._settled = None
        try:
            data = json.loads(raw.decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            log.error("scripted prompter: %s is not valid JSON (%s); denying", self.path, exc)
            return ScriptAnswers()
        answers = ScriptAnswers.from_mapping(data)
        self._parsed = (raw, answers)
        self._settled = settled
        return answers

    async def _answer(self, kind: str) -> ScriptAnswers:
        answers = self.read_answers()
        delay = answers.delay_for(kind)
        if delay:
            if self.timeout_seconds is not None and delay >= self.timeout_seconds:
                await asyncio.sleep(self.timeout_seconds)
                raise KysoError("USER_TIMEOUT", {"prompt": kind})
            await asyncio.sleep(delay)
            # A slow user may have changed their mind: read the answers once more.
            answers = self.read_answers()
        return answers

    def _record(
        self,
        kind: str,
        summary: str,
        answer: str,
        shown: Shown = (),
        warnings: tuple[Warning, ...] = (),
    ) -> None:
        self.prompts.append(
            PromptRecord(kind, summary, answer, shown, tuple(w.vi for w in warnings))
        )
        # An unattended agent answers forever: keep only the recent prompts, not every one.
        if len(self.prompts) > MAX_RECORDED_PROMPTS:
            del self.prompts[:-MAX_RECORDED_PROMPTS]
        if not log.isEnabledFor(logging.INFO):
            return  # the line below is built only when someone reads it (an agent answers fast)
        log.info("scripted prompter answered %s: %s %s", kind, answer, _details(summary, shown))

    async def pair(self, request: PairingRequest) -> PairingAnswer:
        """Answer "Allow this origin?" with the file's ``pair`` value (default deny)."""
        answers = await self._answer("pair")
        text = pairing_text(request)
        question = (("", (("vi", text.question_vi), ("en", text.question_en))),)
        self._record("pair", render_origin(request.origin), answers.pair.value, question)
        return answers.pair

    async def choose_certificate(
        self, request: CertificateChoice
    ) -> CertificateOption | SignInOption | None:
        """Pick the file's ``certificate`` thumbprint (or ``sign-in:<provider>``), or the
        first usable certificate."""
        answers = await self._answer("certificate")
        chosen = choose_from(request, answers.certificate)
        text = certificate_choice_text(request)
        self._record(
            "certificate",
            render_origin(request.origin),
            chosen.thumbprint if chosen else "cancel",
            shown_details(text),
            text.warnings,  # e.g. a remote provider still loading
        )
        return chosen

    def prepare_consent(self, request: ConsentRequest) -> None:
        """Render the consent's text now, before the agent waits for the token's turn (the
        turn is held while the consent is asked: rendering there would hold up other pages)."""
        prepared = self._prepared
        if len(prepared) >= PREPARED_CONSENTS:  # a bound, whatever happens to the requests
            del prepared[next(iter(prepared))]
        key = id(request)
        # Held weakly: a request refused before its prompt (BUSY...) takes its text with it.
        ref = weakref.ref(request, lambda _: prepared.pop(key, None))
        record = _consent_record(request)
        prepared[key] = (ref, _problems(request), record)
        if log.isEnabledFor(logging.INFO):
            _details(record[3], record[1])  # the log line's JSON, kept for the prompt

    def _rendered(self, request: ConsentRequest) -> _ConsentRecord:
        """The consent's text prepared for this very request, unless the certificate's
        problems changed since (it expired meanwhile); else rendered now."""
        kept = self._prepared.pop(id(request), None)
        if kept is not None and kept[0]() is request and kept[1] == _problems(request):
            return kept[2]
        return _consent_record(request)

    async def consent(self, request: ConsentRequest) -> bool:
        """Answer the consent question with the file's ``consent`` value (default deny)."""
        answers = await self._answer("consent")
        _, shown, warnings, summary = self._rendered(request)
        self._record("consent", summary, "allow" if answers.consent else "deny", shown, warnings)
        return answers.consent

    async def get_pin(self, request: PinRequest) -> str | None:
        """Give the file's ``pin`` (a list: the next one after each wrong PIN; None = cancel).
        The PIN itself is never logged or recorded."""
        answers = await self._answer("pin")
        label = render_untrusted(request.token_label, LABEL_LIMIT)
        summary = f"{label} ({request.state.tries_hint or 'ok'})"
        refused = request.previous_error.code if request.previous_error is not None else ""
        text, shown = _pin_record(request, refused)
        # A locked token's notice has no PIN field: nothing to type, only "Close".
        pin = None if request.state.locked else answers.pin_for(request.attempt)
        stored_on_final_try = (
            pin is not None and request.state.final_try and not answers.type_on_final_try
        )
        self._record(
            "pin",
            summary,
            "pin" if pin is not None and not stored_on_final_try else "cancel",
            shown,
            text.warnings,
        )
        if stored_on_final_try:
            # What StaticPinProvider (--pin-file) does: nobody is there to type it carefully.
            raise KysoError(
                "PIN_FINAL_TRY",
                {
                    "detail": f"{request.token_label}: the answers file's PIN is not sent on "
                    "the token's final try; type the PIN yourself",
                    "pin_state": "final_try",
                },
            )
        return pin

    async def show_pin_pad(self, request: PinRequest) -> None:
        """The PIN-pad window: with ``"pin_pad": "wait"`` it stays until the token layer closes
        it (the reader answered); otherwise the user presses Cancel at once. The notice shown
        after Cancel always waits (its only button closes it, which changes nothing)."""
        answers = await self._answer("pin_pad")
        text = pin_pad_text(request)
        cancel = not answers.pin_pad_wait and not pin_pad_cancelling(request)
        label = render_untrusted(request.token_label, LABEL_LIMIT)
        summary = f"{label} ({request.state.tries_hint or 'ok'})"
        self._record(
            "pin_pad",
            summary,
            "cancel" if cancel else "wait",
            shown_details(text),
            text.warnings,
        )
        if not cancel:
            await asyncio.get_running_loop().create_future()  # until cancelled by the caller

    async def get_credential_secrets(self, request: CredentialPrompt) -> CredentialSecrets | None:
        """A remote credential's PIN (``remote_pin``) and OTP (``otp``, one per authorisation)
        from the file; a missing one cancels. Neither is ever logged or recorded."""
        answers = await self._answer("credential")
        pin = answers.remote_pin if request.need_pin else None
        otp = answers.otp_for(self._otps_used) if request.need_otp else None
        if request.need_otp:
            self._otps_used += 1
        missing = (request.need_pin and not pin) or (request.need_otp and not otp)
        text = credential_text(request)
        given = "+".join(k for k, v in (("pin", pin), ("otp", otp)) if v)
        self._record(
            "credential",
            render_untrusted(request.provider, LABEL_LIMIT),
            "cancel" if missing else given or "ok",
            shown_details(text),
            text.warnings,
        )
        return None if missing else CredentialSecrets(pin=pin, otp=otp)

    def count(self, kind: str | None = None) -> int:
        """How many prompts (of one kind, or all) were answered so far."""
        return sum(1 for p in self.prompts if kind is None or p.kind == kind)
