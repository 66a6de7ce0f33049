"""sign.hash is off unless configuration names the origin (origin binding, docs/security.md).

A bare hash can be the hash of an authentication token for another site: a page the user paired
once could otherwise log in to the real portal in the user's name. So no page may ask for one
unless the managed policy or the user's config.toml names it, in single calls and in batches
alike, and its consent says plainly that nobody can show what is being signed.
"""

from __future__ import annotations

import base64
import hashlib

from agent.config.policy import REGISTRY_KEY, registry_policy
from agent.config.settings import Settings, merge_layers, parse_layer
from tests.conftest import cert_thumbprint
from tests.server.conftest import ORIGIN

DIGEST = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
OTHER = "https://other.kyso.test"


def test_no_origin_may_sign_a_bare_hash_by_default() -> None:
    assert Settings().sign_hash_origins == ()
    assert not Settings().raw_hash_allowed(ORIGIN)
    empty = merge_layers({})
    assert not empty.raw_hash_allowed(ORIGIN)


def test_policy_and_user_config_name_origins_and_policy_wins() -> None:
    def layer(origins: list[str]) -> dict[str, object]:
        return parse_layer({"sign_hash_origins": origins}, code="CONFIG_INVALID", path="t")

    user_only = merge_layers({"user": layer([ORIGIN])})
    assert user_only.raw_hash_allowed(ORIGIN)
    assert not user_only.raw_hash_allowed(OTHER)
    both = merge_layers({"user": layer([ORIGIN]), "policy": layer([OTHER])})
    assert both.raw_hash_allowed(OTHER) and not both.raw_hash_allowed(ORIGIN)
    assert both.sources["sign_hash_origins"] == "policy"
    # Exact origins only: a longer host or another port is another site.
    assert not user_only.raw_hash_allowed(ORIGIN + ".evil.example")
    assert not user_only.raw_hash_allowed(ORIGIN + ":8443")


def test_windows_policy_names_origins_as_a_list() -> None:
    class Reader:
        def values(self, key: str) -> dict[str, object] | None:
            return {
                REGISTRY_KEY: {"SignHashOrigins": ORIGIN},
                REGISTRY_KEY + "\\SignHashOrigins": {"1": OTHER},
            }.get(key)

    assert registry_policy(Reader()) == {"sign_hash_origins": [ORIGIN, OTHER]}


async def test_sign_hash_is_refused_without_asking_when_not_configured(harness) -> None:
    await harness.start(sign_hash_origins=[])
    client = await harness.client()
    reply = await client.request("sign.hash", {"digest": DIGEST})
    assert reply["error"]["data"]["code"] == "SIGN_HASH_NOT_ALLOWED"
    assert ORIGIN in reply["error"]["data"]["message_en"]
    batch = await client.request(
        "sign.batch",
        {"items": [{"kind": "cms", "data": DIGEST}, {"kind": "hash", "digest": DIGEST}]},
    )
    assert batch["error"]["data"]["code"] == "SIGN_HASH_NOT_ALLOWED"
    # A CMS over the page's digest signs content nobody can show, just as well: same rule.
    for method, params in (
        ("sign.cms", {"digest": DIGEST}),
        (
            "sign.batch",
            {"items": [{"kind": "cms", "data": DIGEST}, {"kind": "cms", "digest": DIGEST}]},
        ),
    ):
        reply = await client.request(method, params)
        assert reply["error"]["data"]["code"] == "SIGN_HASH_NOT_ALLOWED", method
    assert harness.prompter.prompts == []  # refused before any consent or PIN
    info = await client.call("agent.info")
    assert "sign.hash" not in info["methods"] and "sign.xml" in info["methods"]


async def test_only_the_named_origin_may_sign_a_hash(demo, harness) -> None:
    await harness.start(allowed_origins=[ORIGIN, OTHER], sign_hash_origins=[OTHER])
    # GET /v1/info says the same as agent.info: sign.hash only for the origin named for it.
    listed = {}
    for origin in (ORIGIN, OTHER, None):
        response = await harness.http("GET", headers={"Origin": origin} if origin else {})
        listed[origin] = "sign.hash" in (await response.json())["methods"]
    assert listed == {ORIGIN: False, OTHER: True, None: False}
    refused = await (await harness.client(ORIGIN)).request("sign.hash", {"digest": DIGEST})
    assert refused["error"]["data"]["code"] == "SIGN_HASH_NOT_ALLOWED"
    named = await harness.client(OTHER)
    assert "sign.hash" in (await named.call("agent.info"))["methods"]
    # The unit's certificate named (the default answers hold its token's PIN).
    org = cert_thumbprint(demo, "org")
    result = await named.call("sign.hash", {"digest": DIGEST, "certificate": org})
    assert result["signature"]


async def test_the_consent_says_nobody_can_display_what_is_signed(demo, agent) -> None:
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    await client.call("sign.hash", {"digest": DIGEST, "certificate": org})
    items = [{"kind": "hash", "digest": DIGEST, "label": "Hợp đồng số 12"}]
    await client.call("sign.batch", {"items": items, "certificate": org})
    consent, in_batch = (p for p in agent.prompter.prompts if p.kind == "consent")
    shown = repr(consent.shown)
    assert "Không ai" in shown and "Nobody" in shown  # both languages, plainly
    assert "nobody can display" in consent.summary
    titles = [title for title, _ in in_batch.shown]
    assert not any("Hợp đồng" in t for t in titles)  # the page's label never becomes a title
    assert any("Hợp đồng số 12" in value for _, lines in in_batch.shown for _, value in lines)


async def test_a_digest_that_does_not_fit_is_refused_before_any_prompt(demo, agent) -> None:
    """The consent names the hash and the key signs it: a digest of another length, or an
    algorithm for another kind of key, must fail before the user is asked anything, on every
    path that takes a page's digest (sign.hash, sign.cms, sign.batch)."""
    client = await agent.client()
    org, ec_key = cert_thumbprint(demo, "org"), cert_thumbprint(demo, "ec")

    def digest(size: int) -> str:
        return base64.b64encode(bytes(i % 256 for i in range(size))).decode()

    refused: list[tuple[str, dict[str, object]]] = [
        ("sign.hash", {"digest": digest(33), "certificate": org}),
        ("sign.hash", {"digest": digest(1), "certificate": org}),
        ("sign.hash", {"digest": digest(1000), "certificate": org}),
        ("sign.hash", {"digest": digest(64), "algorithm": "RS256", "certificate": org}),
        ("sign.hash", {"digest": digest(32), "algorithm": "ES256", "certificate": org}),
        ("sign.hash", {"digest": digest(32), "algorithm": "RS256", "certificate": ec_key}),
        ("sign.hash", {"digest": digest(48), "algorithm": "PS384", "certificate": ec_key}),
        ("sign.cms", {"digest": digest(5), "hash": "sha256", "certificate": org}),
        ("sign.cms", {"digest": digest(32), "hash": "sha512", "certificate": org}),
        (
            "sign.batch",
            {"items": [{"kind": "hash", "digest": digest(7)}], "certificate": org},
        ),
        (
            "sign.batch",
            {
                "items": [
                    {"kind": "cms", "data": digest(10)},
                    {"kind": "hash", "digest": digest(32), "algorithm": "ES256"},
                ],
                "certificate": org,
            },
        ),
    ]
    for method, params in refused:
        reply = await client.request(method, params)
        assert reply["error"]["data"]["code"] == "INPUT_INVALID", (method, params)
    assert agent.prompter.prompts == []
    assert not [a for a in agent.audit_lines() if a.get("result") == "OK"]
    # The same lengths that fit still sign (with one consent and one PIN each).
    await client.call("sign.hash", {"digest": digest(48), "certificate": ec_key})
    await client.call("sign.cms", {"digest": digest(64), "hash": "sha512", "certificate": org})
    assert [p.kind for p in agent.prompter.prompts] == ["consent", "pin"] * 2
