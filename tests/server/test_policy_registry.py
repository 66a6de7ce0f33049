"""Every setting can be set by Windows policy, and every registry value names a setting."""

from __future__ import annotations

from agent.config.policy import REGISTRY_VALUES
from agent.config.settings import FIELDS


def test_every_setting_has_exactly_one_registry_value() -> None:
    mapped = sorted(REGISTRY_VALUES.values())
    assert sorted(FIELDS) == mapped, (
        f"settings without a registry value: {sorted(set(FIELDS) - set(mapped))}; "
        f"registry values without a setting: {sorted(set(mapped) - set(FIELDS))}"
    )
