"""Providers are configuration (config.toml, the managed policy, the registry's JSON value);
plain http is refused except on loopback; agent/remote sits below signing in the layering."""

from __future__ import annotations

import json
import tomllib

import pytest

from agent.config.policy import REGISTRY_VALUES, registry_policy
from agent.config.settings import merge_layers, parse_layer
from agent.errors import KysoError
from agent.remote.providers import check_url, lifetime_seconds, parse_provider, providers_from

TOML = """
[[remote_providers]]
name = "vnpt-smartca"
display_name = "VNPT SmartCA"
base_url = "https://rmgateway.vnptit.vn"
client_id = "kyso-desktop"
auth_flow = "authorization_code"

[[remote_providers]]
name = "local"
base_url = "http://127.0.0.1:8690"
"""


def test_providers_from_config_toml() -> None:
    layer = parse_layer(tomllib.loads(TOML), code="CONFIG_INVALID", path="config.toml")
    settings = merge_layers({"user": layer})
    first, second = providers_from(settings.remote_providers)
    assert first.source == "remote:vnpt-smartca" and first.label == "VNPT SmartCA"
    assert first.endpoint("credentials/list") == (
        "https://rmgateway.vnptit.vn/csc/v2/credentials/list"
    )
    assert first.auth_flow == "authorization_code" and not first.remember_tokens
    assert second.auth_flow == "none" and second.timeout_seconds == 30
    row = next(r for r in settings.describe() if r["setting"] == "remote_providers")
    assert row["source"] == "user"
    json.dumps(row)  # doctor prints it as JSON


def test_policy_overrides_the_users_providers() -> None:
    user = parse_layer(tomllib.loads(TOML), code="CONFIG_INVALID", path="config.toml")
    policy = parse_layer(
        {"remote_providers": [{"name": "corp", "base_url": "https://csc.corp.vn"}]},
        code="POLICY_INVALID",
        path="/etc/kyso/policy.toml",
    )
    settings = merge_layers({"user": user, "policy": policy})
    assert [p.name for p in providers_from(settings.remote_providers)] == ["corp"]
    assert settings.sources["remote_providers"] == "policy"


def test_registry_value_is_json() -> None:
    assert REGISTRY_VALUES["RemoteProviders"] == "remote_providers"

    class Reader:
        def values(self, key: str) -> dict[str, object] | None:
            if key.endswith("Agent"):
                value = [{"name": "corp", "base_url": "https://csc.corp.vn"}]
                return {"RemoteProviders": json.dumps(value)}
            return None

    raw = registry_policy(Reader())
    assert raw is not None
    layer = parse_layer(raw, code="POLICY_INVALID", path="HKLM")
    assert providers_from(layer["remote_providers"])[0].base_url == "https://csc.corp.vn"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "x", "base_url": "http://csc.example.vn"}, "base_url must be https"),
        ({"name": "x", "base_url": "https://a.vn", "oauth_url": "http://a.vn"}, "oauth_url"),
        ({"name": "X Y", "base_url": "https://a.vn"}, "name must be"),
        ({"name": "x", "base_url": "https://a.vn", "auth_flow": "password"}, "auth_flow"),
        ({"name": "x", "base_url": "https://a.vn", "auth_flow": "authorization_code"}, "client_id"),
        (
            {
                "name": "x",
                "base_url": "https://a.vn",
                "auth_flow": "client_credentials",
                "client_id": "k",
            },
            "client_secret_file",
        ),
        ({"name": "x", "base_url": "https://a.vn", "client_secret": "s"}, "unknown key"),
        ({"name": "x", "base_url": "https://a.vn", "timeout_seconds": 0}, "timeout_seconds"),
    ],
)
def test_bad_provider_tables_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(KysoError) as err:
        parse_layer({"remote_providers": [table]}, code="CONFIG_INVALID", path="config.toml")
    assert err.value.code == "CONFIG_INVALID"
    assert message in err.value.details["detail"]


def test_a_provider_named_twice_is_refused() -> None:
    twice = [{"name": "a", "base_url": "https://a.vn"}] * 2
    with pytest.raises(KysoError):
        parse_layer({"remote_providers": twice}, code="CONFIG_INVALID", path="config.toml")


@pytest.mark.parametrize(
    "url",
    ["https://rmgateway.vnptit.vn", "http://127.0.0.1:8690", "http://[::1]:1", "http://localhost"],
)
def test_https_or_loopback_is_allowed(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://csc.example.vn",
        "http://127.0.0.1.evil.vn",
        "ftp://a.vn",
        "https://",
        "x",
        # Loopback to Python's urlsplit, attacker.example over http to a browser (red-team):
        "http://attacker.example\\@127.0.0.1:8690/oauth2",
        "http://attacker.example@127.0.0.1:8690/oauth2",
        "http://127.0.0.1:8690\\@attacker.example/",
        "https://csc.example.vn/oauth2 x",
        "http://127.0.0.1:8690/\tx",
    ],
)
def test_anything_else_is_refused(url: str) -> None:
    with pytest.raises(KysoError) as err:
        check_url(url)
    assert err.value.code == "REMOTE_INSECURE_URL"


def test_a_provider_without_a_name_or_url_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_provider({"base_url": "https://a.vn"})
    with pytest.raises(ValueError):
        parse_provider({"name": "a"})


def test_remote_sits_below_signing_and_beside_tokens() -> None:
    """agent/remote is a key source like agent/tokens: it never imports signing, the server,
    the UI, the CLI or the demo; only signing (and above) imports it."""
    from tests.test_layers import GRAPH, _in

    upward = [
        f"{e.source} (line {e.line}) imports {e.target}"
        for e in GRAPH
        if _in(e.source, "agent.remote")
        and _in(e.target, "agent.signing", "agent.server", "agent.ui", "agent.cli", "agent.demo")
    ]
    assert upward == []
    from_tokens = [
        e for e in GRAPH if _in(e.source, "agent.tokens") and _in(e.target, "agent.remote")
    ]
    assert from_tokens == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [(600, 600), (10**400, 86400), (0, None), (-5, None), (True, None), ("600", None), (1.5, None)],
)
def test_a_service_s_lifetime_is_a_positive_integer_capped_at_a_day(
    value: object, expected: int | None
) -> None:
    """expiresIn / expires_in of 400 digits overflowed time.monotonic() + it (INTERNAL_ERROR
    after the PIN was sent); now it is capped."""
    assert lifetime_seconds(value) == expected
