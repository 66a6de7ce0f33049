"""Settings layers: defaults, config.toml, command line, managed policy (TOML and registry)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.config.policy import load_settings, registry_policy
from agent.config.settings import normalize_origin
from agent.errors import KysoError


class FakeRegistry:
    """HKLM as a dict: key path -> values (what winreg would enumerate)."""

    def __init__(self, keys: dict[str, dict[str, Any]]) -> None:
        self.keys = keys

    def values(self, key: str) -> dict[str, Any] | None:
        return self.keys.get(key)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    policy = tmp_path / "policy.toml"
    monkeypatch.setenv("KYSO_POLICY_FILE", str(policy))
    return tmp_path / "config.toml", policy


def test_defaults_when_nothing_is_configured(files) -> None:
    config, _ = files
    settings = load_settings(config_file=config)
    assert settings.candidate_ports == (27443, 27444, 27445)
    assert settings.prompter == "dialog" and not settings.pin_cache.enabled
    assert settings.max_document_bytes == 50 * 1024 * 1024
    assert settings.max_message_bytes > 50 * 1024 * 1024 * 4 // 3  # a 50 MB dossier fits
    assert {row["source"] for row in settings.describe()} == {"default"}


def test_layers_and_sources(files) -> None:
    config, policy = files
    config.write_text(
        'port = 28000\nprompter = "terminal"\nallowed_origins = ["https://a.vn"]\n'
        "[pin_cache]\nenabled = true\nidle_seconds = 600\n"
    )
    policy.write_text(
        'allowed_origins = ["https://dichvucong.baohiemxahoi.gov.vn"]\n'
        "max_document_bytes = 10485760\n[pin_cache]\nenabled = false\n"
    )
    settings = load_settings(
        {"port": 29000, "allowed_origins": ["https://b.vn/"]}, config_file=config
    )
    sources = {row["setting"]: row["source"] for row in settings.describe()}
    assert settings.port == 29000 and sources["port"] == "command line"
    assert settings.prompter == "terminal" and sources["prompter"] == "user"
    assert not settings.pin_cache.enabled and sources["pin_cache.enabled"] == "policy"
    assert settings.pin_cache.idle_seconds == 600 and sources["pin_cache.idle_seconds"] == "user"
    assert settings.max_document_bytes == 10485760 and sources["max_document_bytes"] == "policy"
    assert settings.origin_sources == {
        "https://dichvucong.baohiemxahoi.gov.vn": "policy",
        "https://b.vn": "command line",
        "https://a.vn": "user",
    }
    assert settings.policy_path == str(policy)


def test_policy_wins_over_the_command_line_and_can_lock_origins(files) -> None:
    config, policy = files
    policy.write_text(
        'port = 27500\nallow_user_origins = false\nallowed_origins = ["https://x.vn"]\n'
        'prompter = "dialog"\n'
    )
    settings = load_settings(
        {"port": 1234, "allowed_origins": ["https://mine.vn"], "prompter": "scripted:/tmp/a.json"},
        config_file=config,
    )
    assert settings.port == 27500 and settings.prompter == "dialog"
    assert settings.allowed_origins == ("https://x.vn",)
    assert not settings.scripted_prompter


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("colour = 1\n", "unknown setting 'colour'"),
        ("[pin_cache]\nforever = true\n", "unknown setting 'pin_cache.forever'"),
        ("port = 70000\n", "port"),
        ('allowed_origins = ["http://a.vn"]\n', "allowed_origins"),
        ('allowed_origins = ["*"]\n', "allowed_origins"),
        ('prompter = "scripted:"\n', "prompter"),
        ("max_connections = true\n", "max_connections"),
        ("port = \n", "config.toml"),
    ],
)
def test_bad_config_is_a_clear_error(files, text: str, fragment: str) -> None:
    config, _ = files
    config.write_text(text)
    with pytest.raises(KysoError) as info:
        load_settings(config_file=config)
    assert info.value.code == "CONFIG_INVALID"
    assert fragment in info.value.message_en


def test_bad_policy_is_a_policy_error(files) -> None:
    config, policy = files
    policy.write_text("surprise = 1\n")
    with pytest.raises(KysoError) as info:
        load_settings(config_file=config)
    assert info.value.code == "POLICY_INVALID" and str(policy) in info.value.message_en


def test_windows_registry_policy_through_a_fake_reader(files) -> None:
    config, _ = files
    key = r"SOFTWARE\Policies\Kyso\Agent"
    registry = FakeRegistry(
        {
            key: {
                "Port": 27600,
                "PinCacheEnabled": 1,
                "PinCacheIdleSeconds": 120,
                "Pkcs11Modules": ["C:\\Windows\\System32\\vnpt-ca.dll"],
                "AllowUserOrigins": 0,
            },
            key + r"\AllowedOrigins": {"2": "https://b.gov.vn", "1": "https://a.gov.vn"},
        }
    )
    settings = load_settings({"port": 1}, registry=registry, config_file=config)
    assert settings.port == 27600
    assert settings.pin_cache.enabled and settings.pin_cache.idle_seconds == 120
    assert settings.pkcs11_modules == ("C:\\Windows\\System32\\vnpt-ca.dll",)
    assert settings.allowed_origins == ("https://a.gov.vn", "https://b.gov.vn")
    assert not settings.allow_user_origins
    assert settings.policy_path == "HKLM\\" + key
    assert registry_policy(FakeRegistry({})) is None
    with pytest.raises(KysoError) as info:
        registry_policy(FakeRegistry({key: {"Colour": 1}}))
    assert info.value.code == "POLICY_INVALID"
    multi = registry_policy(FakeRegistry({key: {"AllowedOrigins": "https://a.vn;https://b.vn"}}))
    assert multi == {"allowed_origins": ["https://a.vn", "https://b.vn"]}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("https://Portal.Example.VN", "https://portal.example.vn"),
        ("https://portal.example.vn:443", "https://portal.example.vn"),
        ("https://portal.example.vn:8443/", "https://portal.example.vn:8443"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://xn--bohim-v11b9i.vn", "https://xn--bohim-v11b9i.vn"),  # as browsers send it
        ("https://" + "a" * 63 + ".vn", "https://" + "a" * 63 + ".vn"),  # DNS's longest label
        ("https://a.vn.", "https://a.vn."),  # a fully qualified name is its own origin
        # IP literals as browsers serialise them, so a setting matches what they send
        ("https://[0:0:0:0:0:0:0:1]:8443", "https://[::1]:8443"),
        ("https://[::FFFF:127.0.0.1]", "https://[::ffff:7f00:1]"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
    ],
)
def test_origin_normalisation(value: str, expected: str) -> None:
    assert normalize_origin(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "http://a.vn",
        "https://a.vn/path",
        "https://u@a.vn",
        "a.vn",
        "https://a.vn?x=1",
        "https://@a.vn",
        "https://:pw@a.vn",
        "https://a.vn?",
        "https://a.vn#",
        " https://a.vn",
        "ftp://a.vn",
        "https://",
        # urlsplit drops tabs and newlines: each would make another site's origin.
        "https://a\t.vn",
        "https://a.vn:\t443",
        "https://a\n.vn",
        "https://a.vn\r",
        "https://\u200ba.vn",
        "https://a.vn:",
        "https://a.vn:0",
        "https://a.vn:0443",
        "https://a.vn:\u0664\u0664\u0663",
        "https://a%2e.vn",
        "https://a..vn",
        "https://-a.vn",
        "https://a\\b.vn",
        # Unicode hosts: Python's codec is IDNA 2003 (straße -> strasse, another domain).
        "https://straße.vn",
        "https://bảohiểm.vn",
        # IPv4 spelled in a way no browser sends (it sends 127.0.0.1), a bracketed non-IPv6
        "https://2130706433",
        "https://127.1",
        "https://0x7f.0.0.1",
        "https://127.0.0.01",
        "https://a.123",
        "https://[v1.x]",
        # Past DNS's limits (CLI QA 38: `sites allow` stored them): a 64-byte label, 254 bytes.
        "https://" + "a" * 64 + ".vn",
        "https://" + ".".join(["a" * 62] * 4) + ".vn",
    ],
)
def test_origin_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        normalize_origin(value)


def test_a_policy_that_locks_origins_locks_the_sign_hash_sites_too(files) -> None:
    """allow_user_origins = false, and no sign_hash_origins of its own: the user's config
    named sign.hash sites and they applied (an outside policy round)."""
    config, policy = files
    config.write_text(
        'allowed_origins = ["https://evil.example"]\nsign_hash_origins = ["https://evil.example"]\n'
    )
    policy.write_text("allow_user_origins = false\n")
    settings = load_settings({"sign_hash_origins": ["https://cli.example"]}, config_file=config)
    assert settings.sign_hash_origins == () and settings.allowed_origins == ()
    assert settings.sources["sign_hash_origins"] == "default"


def test_an_empty_list_policy_in_the_registry_is_the_administrators_empty_list(
    tmp_path: Path,
) -> None:
    """Group Policy leaves a list policy's subkey without values when it is disabled or enabled
    with no entry: that is "no site", not "not configured" (the user's list applied)."""
    config = tmp_path / "config.toml"
    config.write_text('sign_hash_origins = ["https://evil.example"]\n')
    key = r"SOFTWARE\Policies\Kyso\Agent"
    registry = FakeRegistry({key: {}, key + r"\SignHashOrigins": {}})
    settings = load_settings(registry=registry, config_file=config)
    assert settings.sign_hash_origins == ()
    assert settings.sources["sign_hash_origins"] == "policy"
    not_configured = FakeRegistry({key: {}})
    assert load_settings(registry=not_configured, config_file=config).sign_hash_origins == (
        "https://evil.example",
    )


@pytest.mark.parametrize(
    "url",
    [
        "https:",
        "http://a.vn:99999/",
        "https://a.vn:abc/tsr",
        "http://tsa.vn\u00a0x/",
        "http://a\x00b/",
    ],
)
def test_a_timestamp_url_that_is_no_address_is_refused_when_read(files, url: str) -> None:
    """They were accepted and failed only at signing (TIMESTAMP_UNAVAILABLE, after the PIN)."""
    config, _ = files
    config.write_text(f"timestamp_url = {json.dumps(url)}\n")
    with pytest.raises(KysoError) as err:
        load_settings(config_file=config)
    assert err.value.code == "CONFIG_INVALID"


@pytest.mark.parametrize(
    "url",
    ["https://a.vn:abc", "https://a.vn:99999", "https://a.vn\u00a0evil", "https://a.vn\u2028"],
)
def test_a_remote_provider_url_that_is_no_address_is_refused(url: str) -> None:
    from agent.remote.providers import check_url

    with pytest.raises(KysoError) as err:
        check_url(url)
    assert err.value.code == "REMOTE_INSECURE_URL"
    assert check_url("https://csc.example.vn:8443/csc/v2") == "https://csc.example.vn:8443/csc/v2"


def test_the_policys_port_range_keeps_a_users_port_outside_it_from_applying(files) -> None:
    config, policy = files
    policy.write_text('port_range = "27450-27549"\n')
    config.write_text("port = 27443\n")
    settings = load_settings(config_file=config)
    assert settings.port is None and settings.sources["port"] == "policy"
    assert settings.port_range_ports == range(27450, 27550)
    inside = load_settings({"port": 27460}, config_file=config)
    assert inside.port == 27460  # inside the range: the user's choice stands


def test_registry_value_names_match_without_regard_to_case_as_windows_does(
    tmp_path: Path,
) -> None:
    """`allowUserOrigins` (a hand-made .reg file) is the same value to Windows: it was
    POLICY_INVALID and the agent would not start; the key's unnamed default value too."""
    key = r"SOFTWARE\Policies\Kyso\Agent"
    registry = FakeRegistry({key: {"allowUserOrigins": 0, "MAXDOCUMENTBYTES": 1048576, "": "x"}})
    settings = load_settings(registry=registry, config_file=tmp_path / "none.toml")
    assert settings.allow_user_origins is False and settings.max_document_bytes == 1048576
    with pytest.raises(KysoError) as err:
        registry_policy(FakeRegistry({key: {"NoSuchValue": 1}}))
    assert err.value.code == "POLICY_INVALID"
