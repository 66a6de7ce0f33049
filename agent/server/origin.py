"""Who may talk to the agent: Host and Origin checks and CORS headers. Pure logic, no I/O.

A page reaches the agent through the browser, which sets ``Origin`` and ``Host`` itself, so
these headers are what the agent can trust about the caller. ``Host`` guards against DNS
rebinding (a hostile name resolving to 127.0.0.1); ``Origin`` says which site is asking.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from agent.config.settings import normalize_origin

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

LOOPBACK_NAMES = ("127.0.0.1", "[::1]", "localhost")

# Pairing limits (see docs/security.md, "Pairing prompts cannot be used to nag").
SITE_STRIKES = 2  # refused or unanswered origins of one site before the site is not asked again
UNANSWERED_RETRY_SECONDS = 300.0  # an ignored question is not asked again sooner than this
PROMPT_WINDOW_SECONDS = 60.0
MAX_PROMPTS_PER_WINDOW = 4  # pairing questions per minute, whatever the sites
# Questions in a row (any sites) that ended without a "yes" before no new site is asked for a
# while: sites cost an attacker next to nothing, so only an overall limit ends the questions.
PAUSE_AFTER_REFUSALS = 3
FIRST_PAUSE_SECONDS = 60.0  # then each further refusal doubles the pause...
MAX_PAUSE_SECONDS = 3600.0  # ...up to one question an hour
# The run of refusals is forgotten after this long without one once its pause is over (an
# attacker is asked again the moment a pause ends, so its run is never forgotten).
FORGET_REFUSALS_SECONDS = 3600.0
IP_SITE = "(IP address)"  # every IP-literal origin counts against this one "site"

# The only request headers a preflight may be granted: the HTTPS API is GET /v1/info, which
# needs none beyond the CORS-safelisted ones; Content-Type is granted for a bridge that sends it.
CORS_ALLOWED_HEADERS = frozenset({"content-type"})


def host_allowed(host: str | None, port: int) -> bool:
    """True when ``Host`` is ``127.0.0.1:PORT``, ``[::1]:PORT`` or ``localhost:PORT``."""
    if not host:
        return False
    return host.lower() in {f"{name}:{port}" for name in LOOPBACK_NAMES}


class OriginVerdict(enum.Enum):
    """What to do with a request's Origin."""

    ALLOWED = "allowed"  # in the policy list, the user's approvals, or approved for this run
    ASK = "ask"  # a well-formed https origin nobody has decided on: ask the user to pair
    REFUSED = "refused"  # missing, null, file:, http:, malformed, or denied


def classify_origin(
    header: str | None,
    *,
    allowed: Collection[str],
    denied: Collection[str] = (),
    allow_http_localhost: bool = False,
    allow_user_origins: bool = True,
) -> tuple[OriginVerdict, str | None]:
    """Classify a raw ``Origin`` header; returns the verdict and the normalised origin."""
    if header is None or header.strip().lower() in ("", "null"):
        return OriginVerdict.REFUSED, None
    try:
        origin = normalize_origin(header, allow_http_localhost=allow_http_localhost)
    except ValueError:
        return OriginVerdict.REFUSED, None
    if origin != header:
        # Browsers send an origin already serialized (lower case, no default port, no "/"):
        # any other spelling comes from something else, and is not matched loosely.
        return OriginVerdict.REFUSED, None
    if origin in allowed:
        return OriginVerdict.ALLOWED, origin
    if origin in denied or not allow_user_origins or not origin.startswith("https://"):
        return OriginVerdict.REFUSED, origin
    return OriginVerdict.ASK, origin


def cors_headers(
    origin: str, request_headers: Mapping[str, str], *, preflight: bool
) -> dict[str, str]:
    """CORS headers for an ALLOWED origin (never ``*``). For a preflight also the methods,
    those requested headers that are in :data:`CORS_ALLOWED_HEADERS` (never an echo of whatever
    was asked) and, when asked, Private Network Access."""
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Vary": "Origin",
    }
    if preflight:
        headers["Access-Control-Allow-Methods"] = "GET, OPTIONS"
        wanted = request_headers.get("Access-Control-Request-Headers", "")
        granted = [
            name
            for name in (part.strip().lower() for part in wanted.split(","))
            if name in CORS_ALLOWED_HEADERS
        ]
        if granted:
            headers["Access-Control-Allow-Headers"] = ", ".join(dict.fromkeys(granted))
        headers["Access-Control-Max-Age"] = "600"
        if request_headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"
    return headers


@functools.lru_cache(maxsize=1)
def _icann_suffixes() -> PublicSuffixList:
    from publicsuffixlist import PublicSuffixList  # loads the bundled list (~40 ms): lazily

    # The ICANN section only: the private section (github.io, pages.dev, netlify.app,
    # blogspot.com...) makes every customer's subdomain a site of its own, free and endless.
    return PublicSuffixList(only_icann=True)


@functools.lru_cache(maxsize=1)
def _all_suffixes() -> PublicSuffixList:
    from publicsuffixlist import PublicSuffixList  # loads the bundled list (~40 ms): lazily

    return PublicSuffixList()


def shown_domain(origin: str) -> str:
    """The name a person should judge a site by, shown on its own line when the agent asks to
    pair it: the registrable domain under the whole Public Suffix List
    (``https://dichvucong.baohiemxahoi.gov.vn.x.vn-verify.com`` -> ``vn-verify.com``, where
    the long origin's first line reads like the real portal; ``https://me.github.io`` ->
    ``me.github.io``, a customer's own site), an IP address as it is (red team 40)."""
    host = (urlsplit(origin).hostname or origin).lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _all_suffixes().privatesuffix(host) or host
    return host


def site_of(origin: str) -> str:
    """The site an origin counts against for the pairing limits (refusals, waiting places): its
    registrable domain under the Public Suffix List's ICANN section. ``https://a1.evil.com`` ->
    ``evil.com``, ``https://dichvucong.baohiemxahoi.gov.vn`` -> ``baohiemxahoi.gov.vn``
    (``gov.vn`` is a public suffix), and ``https://x.pages.dev`` -> ``pages.dev``: anyone gets
    a subdomain there, so they all share its refusals. Every IP address is one site,
    :data:`IP_SITE` (a /64 of IPv6 is endless); ``localhost`` or a bare suffix is its own.
    Only for counting: an approval is always for the exact origin."""
    host = (urlsplit(origin).hostname or origin).lower()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _icann_suffixes().privatesuffix(host) or host
    return IP_SITE


class PairingRefusal(enum.Enum):
    """Why an origin gets no pairing question."""

    SITE_REFUSED = "site_refused"  # the user already refused or ignored this site twice
    UNANSWERED = "unanswered"  # asked a moment ago and ignored: not again so soon
    PAUSED = "paused"  # several questions in a row refused: no new site asked for a while
    TOO_MANY = "too_many"  # too many pairing questions in the last minute


@dataclass
class PairingGuard:
    """Keeps a page from nagging the user with pairing questions. Pure: the caller gives the
    time (monotonic seconds) and reports each outcome.

    A hostile page can make the browser connect from many origins (iframes on ``a1.evil.com``,
    ``a2.evil.com``...), each a new question, hoping for a tired "Allow". So: after
    :data:`SITE_STRIKES` refused or unanswered origins of one site, that site is not asked again
    this run; an ignored question is not repeated for :data:`UNANSWERED_RETRY_SECONDS`; at most
    :data:`MAX_PROMPTS_PER_WINDOW` questions are asked per :data:`PROMPT_WINDOW_SECONDS`; and,
    since sites are nearly free, after :data:`PAUSE_AFTER_REFUSALS` questions in a row ended
    without a "yes" (whatever the sites) no new origin is asked for :data:`FIRST_PAUSE_SECONDS`,
    twice as long after each further refusal, up to :data:`MAX_PAUSE_SECONDS`. A "yes" ends the
    run; so does :data:`FORGET_REFUSALS_SECONDS` without a refusal after the pause. Meanwhile
    the user can still allow a site (``kyso-agent sites allow``, or restart Kyso).
    """

    strikes: dict[str, int] = field(default_factory=dict)
    quiet_until: dict[str, float] = field(default_factory=dict)
    recent: deque[float] = field(default_factory=deque)
    refusals_in_a_row: int = 0
    last_refusal: float = 0.0
    paused_until: float = 0.0  # no new origin is asked before this time

    def refusal(self, origin: str, now: float) -> PairingRefusal | None:
        """Why ``origin`` must not be asked about now, or None when it may be asked."""
        if self.strikes.get(site_of(origin), 0) >= SITE_STRIKES:
            return PairingRefusal.SITE_REFUSED
        if self.quiet_until.get(origin, 0.0) > now:
            return PairingRefusal.UNANSWERED
        if self.paused_until > now:
            return PairingRefusal.PAUSED
        while self.recent and self.recent[0] <= now - PROMPT_WINDOW_SECONDS:
            self.recent.popleft()
        if len(self.recent) >= MAX_PROMPTS_PER_WINDOW:
            return PairingRefusal.TOO_MANY
        return None

    def asking(self, now: float) -> None:
        """A question is being shown now."""
        self.recent.append(now)

    def refused(self, origin: str, now: float, *, unanswered: bool = False) -> None:
        """A question about ``origin`` ended without a "yes": the user said no, or (with
        ``unanswered``) did not answer; also when its page went away while it was shown."""
        site = site_of(origin)
        self.strikes[site] = self.strikes.get(site, 0) + 1
        if unanswered:
            self.quiet_until[origin] = now + UNANSWERED_RETRY_SECONDS
        if now - max(self.last_refusal, self.paused_until) > FORGET_REFUSALS_SECONDS:
            self.refusals_in_a_row = 0
        self.refusals_in_a_row += 1
        self.last_refusal = now
        beyond = self.refusals_in_a_row - PAUSE_AFTER_REFUSALS
        if beyond >= 0:
            # The exponent is capped too: past the cap only MAX_PAUSE_SECONDS matters.
            pause = FIRST_PAUSE_SECONDS * 2 ** min(beyond, 32)
            self.paused_until = now + min(MAX_PAUSE_SECONDS, pause)

    def allowed(self) -> None:
        """The user said yes: whoever asked before, the user is not being worn down."""
        self.refusals_in_a_row = 0
        self.paused_until = 0.0
