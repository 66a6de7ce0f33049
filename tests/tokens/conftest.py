"""Helpers for the token-layer tests: PINs by token, pulling a demo token out, fake PIN flags.

Everything runs on the session's demo SoftHSM2 tokens (tests/conftest.py). Tests that change a
token's state (wrong PINs, pulling it out) use "KYSO DEMO 2", which other areas use least, and
put it back as they found it.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.tokens.pin import PinState

TOKEN1 = "KYSO DEMO 1"
TOKEN2 = "KYSO DEMO 2"


def pin_of(demo: dict[str, Any], label: str) -> str:
    """The user PIN of a demo token."""
    return next(t["user_pin"] for t in demo["tokens"] if t["label"] == label)


class PulledToken:
    """Pulls a demo token out and plugs it back in (see :func:`token_pulled`)."""

    def __init__(self, source: Path, aside: Path) -> None:
        self.source = source
        self.aside = aside

    @property
    def out(self) -> bool:
        """True while the token is pulled out."""
        return self.aside.exists()

    def pull(self) -> None:
        """Move the token's directory out of the SoftHSM2 token store."""
        self.aside.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(self.source, self.aside)

    def reinsert(self) -> None:
        """Move it back where SoftHSM2 looks for tokens."""
        if self.out:
            shutil.move(self.aside, self.source)


@contextlib.contextmanager
def token_pulled(kyso_home: Path, label: str) -> Iterator[PulledToken]:
    """Give a :class:`PulledToken` for a demo token, and ALWAYS plug the token back at the end.

    SoftHSM2 keeps each token in its own directory under ``directories.tokendir``. Moving that
    directory out of the token store is the faithful equivalent of pulling a reader: open
    sessions fail on their next call (CKR_OBJECT_HANDLE_INVALID / CKR_GENERAL_ERROR) and the slot
    reports no token. Moving it back is re-insertion; SoftHSM2 only notices a new token after
    C_Finalize/C_Initialize, which the token layer does when the module is idle.

    The directory must leave the token store entirely: a renamed directory still inside it is
    found again as a token on the next initialisation.
    """
    from agent.demo.tokens import token_directory

    source = token_directory(label)
    token = PulledToken(source, kyso_home / "pulled-tokens" / source.name)
    try:
        yield token
    finally:
        token.reinsert()


@pytest.fixture
def fake_pin_flags(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Fake the token's PIN flags at the narrowest seam: the flags -> PinState function.

    SoftHSM2 never locks a PIN, nor reports a final try; it does set CKF_USER_PIN_COUNT_LOW
    after a wrong PIN and clears it after a good one. ``fake(after_wrong=...)`` turns that real
    signal into what a token with fewer tries would report ("final_try" or "locked");
    ``fake(always=...)`` reports a fixed state; ``fake(protected_path=True)`` reports a PIN-pad
    reader. Everything else (login, signing) stays real.
    """
    import agent.tokens.module.library as library

    real = library._flags_state

    def fake(
        *,
        always: PinState | None = None,
        after_wrong: str | None = None,
        protected_path: bool | None = None,
    ) -> None:
        def flags_state(flags: int) -> tuple[PinState, bool, bool]:
            state, protected, login_required = real(flags)
            if always is not None:
                state = always
            elif after_wrong and state.count_low:
                state = PinState(count_low=True, **{after_wrong: True})
            if protected_path is not None:
                protected = protected_path
            return state, protected, login_required

        monkeypatch.setattr(library, "_flags_state", flags_state)

    return fake


@pytest.fixture
async def token2_clean(demo: dict[str, Any], token_service: Any) -> Any:
    """Yield the token service; afterwards log in to KYSO DEMO 2 with the right PIN, which
    clears the wrong-PIN flag a test left behind. Request it BEFORE ``fake_pin_flags`` so the
    fake is undone first."""
    from agent.tokens import StaticPinProvider
    from tests.conftest import cert_thumbprint

    yield token_service
    async with token_service.open_key(
        cert_thumbprint(demo, "org_renewed"), StaticPinProvider(pin_of(demo, TOKEN2))
    ):
        pass
