"""Where the Linux/macOS policy comes from, and settings files that are not settings files.

An outside round: the user's own environment (KYSO_POLICY_FILE=/dev/null, or a missing file;
`systemctl --user set-environment` makes it stick for the agent's unit) dropped the whole
administrator's policy: user origins, sign.hash for any site, the PIN cache, the size limit
came from config.toml again. And a config.toml that was a FIFO hung `doctor` and `run`;
/dev/zero ran into MemoryError; [[[[... or a 5000-digit integer ended in INTERNAL_ERROR.
The administrator's file stands at /etc/kyso/policy.toml; the tests put it in a temporary
folder (policy.LINUX_POLICY_FILE, the one seam) and run as root, as CI does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from agent.config import policy
from agent.config.policy import load_settings, policy_file
from agent.errors import KysoError

ADMIN = "allow_user_origins = false\nsign_hash_origins = []\nmax_document_bytes = 1048576\n"
USER = 'allowed_origins = ["https://evil.example"]\nsign_hash_origins = ["https://evil.example"]\n'

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="makes files root owns (CI is root)"
)


@pytest.fixture
def admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "etc-kyso" / "policy.toml"
    path.parent.mkdir()
    path.write_text(ADMIN)
    path.chmod(0o644)
    monkeypatch.setattr(policy, "LINUX_POLICY_FILE", str(path))
    return path


def _user_file(tmp_path: Path, text: str, *, uid: int = 65534, mode: int = 0o644) -> Path:
    path = tmp_path / f"user-{uid}-{mode:o}.toml"
    path.write_text(text)
    path.chmod(mode)
    os.chown(path, uid, -1)
    return path


@pytest.mark.parametrize("override", ["/dev/null", "/nonexistent/policy.toml", "user", "lax"])
def test_the_users_environment_cannot_drop_the_administrators_policy(
    admin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, override: str
) -> None:
    if override == "user":  # a file the user made: not root's
        override = str(_user_file(tmp_path, ""))
    elif override == "lax":  # root's, but others may write it
        override = str(_user_file(tmp_path, "", uid=0, mode=0o666))
    monkeypatch.setenv("KYSO_POLICY_FILE", override)
    config = tmp_path / "config.toml"
    config.write_text(USER)
    assert policy_file() == admin
    settings = load_settings(config_file=config)
    assert settings.sign_hash_origins == ()
    assert "https://evil.example" not in settings.allowed_origins
    assert settings.max_document_bytes == 1048576
    assert {r["setting"]: r["source"] for r in settings.describe()}["max_document_bytes"] == (
        "policy"
    )


@pytest.mark.parametrize("override", ["root", "empty", "example", "link"])
def test_no_file_the_variable_names_replaces_an_administrators_policy(
    admin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, override: str
) -> None:
    """Not even a file only root may write (red team 37): the shipped example, an empty file
    (an empty policy), or a user's link that points at one during a check."""
    if override == "root":
        chosen = _user_file(tmp_path, "max_document_bytes = 2097152\n", uid=0, mode=0o644)
    elif override == "empty":
        chosen = _user_file(tmp_path, "", uid=0, mode=0o644)
    elif override == "example":
        chosen = _user_file(tmp_path, 'allowed_origins = ["https://a.example"]\n', uid=0)
    else:
        chosen = tmp_path / "link.toml"
        chosen.symlink_to(_user_file(tmp_path, "", uid=0, mode=0o644))
    monkeypatch.setenv("KYSO_POLICY_FILE", str(chosen))
    config = tmp_path / "config.toml"
    config.write_text(USER)
    assert policy_file() == admin
    settings = load_settings(config_file=config)
    assert settings.sign_hash_origins == () and settings.max_document_bytes == 1048576
    assert "https://evil.example" not in settings.allowed_origins


def test_without_an_administrators_policy_the_variable_chooses(
    admin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin.unlink()  # no administrator's policy on this machine: nothing to protect
    monkeypatch.setenv("KYSO_POLICY_FILE", "/nonexistent/policy.toml")
    assert policy_file() == Path("/nonexistent/policy.toml")
    staging = _user_file(tmp_path, "max_document_bytes = 2097152\n")
    monkeypatch.setenv("KYSO_POLICY_FILE", str(staging))
    assert policy_file() == staging
    assert load_settings(config_file=tmp_path / "none.toml").max_document_bytes == 2097152
    admin.symlink_to("/nonexistent/target")  # a dangling link at the place counts as a policy
    assert policy_file() == admin


@pytest.mark.parametrize(
    "kind", ["fifo", "dev-zero", "nested", "huge-int", "nested-json-seals", "directory"]
)
def test_a_config_that_is_no_settings_file_is_config_invalid_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setenv("KYSO_POLICY_FILE", str(tmp_path / "no-policy.toml"))
    monkeypatch.setattr(policy, "LINUX_POLICY_FILE", str(tmp_path / "none.toml"))
    config = tmp_path / "config.toml"
    if kind == "fifo":
        os.mkfifo(config)  # nobody writes: a blocking read would wait for ever
    elif kind == "dev-zero":
        config.symlink_to("/dev/zero")
    elif kind == "nested":
        config.write_text("a = " + "[" * 3000 + "]" * 3000 + "\n")
    elif kind == "huge-int":
        config.write_text("port = " + "9" * 5000 + "\n")
    elif kind == "nested-json-seals":
        config.write_text("pdf_seals = '" + "[" * 3000 + "]" * 3000 + "'\n")
    else:
        config.mkdir()
    with pytest.raises(KysoError) as err:
        load_settings(config_file=config)
    assert err.value.code == "CONFIG_INVALID", err.value
    assert err.value.details["path"] == str(config)


def test_a_policy_folder_the_user_cannot_search_still_holds_the_policy(
    admin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 38: lexists() is False in a folder the user may not search (/etc/kyso 0700), and
    the variable then replaced a policy that, unreadable, fails closed. The one seam: lstat."""
    real_lstat = os.lstat

    def lstat(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path) == str(admin):
            raise PermissionError(13, "Permission denied", str(path))
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(policy.os, "lstat", lstat)
    monkeypatch.setenv("KYSO_POLICY_FILE", str(_user_file(tmp_path, "")))
    assert policy_file() == admin
