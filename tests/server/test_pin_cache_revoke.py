"""A site revoked and paired again starts over: the PIN cache's login kept for it before the
revocation is not reused, so its next signature asks the PIN again (the user revoked the site
because they stopped trusting it; one consent click must not sign for it afterwards)."""

from __future__ import annotations

import pytest

from tests.server.test_concurrency import code, sign_params
from tests.server.test_site_revoke_live import SITE, _closed_with_4403


@pytest.mark.parametrize("pairing", ["always", "once"])
async def test_a_site_revoked_and_paired_again_is_asked_the_pin(
    demo, harness, answers, pairing: str
) -> None:
    answers.set(pair=pairing)
    await harness.start(pin_cache={"enabled": True, "idle_seconds": 300}, sign_hash_origins=[SITE])
    page = await harness.client(SITE)  # the user pairs the site (the prompter answers)
    for i in range(2):
        assert code(await page.request("sign.hash", sign_params(demo, i))) == "OK"
    assert harness.prompter.count("pin") == 1  # the cache works for the site
    assert harness.approvals.remove(SITE)  # the tray's "revoke"
    await _closed_with_4403(page)
    again = await harness.client(SITE)  # paired again
    assert harness.prompter.count("pair") == 2
    assert code(await again.request("sign.hash", sign_params(demo, 3))) == "OK"
    assert harness.prompter.count("pin") == 2
    # The new pairing's own login is kept as before.
    assert code(await again.request("sign.hash", sign_params(demo, 4))) == "OK"
    assert harness.prompter.count("pin") == 2
