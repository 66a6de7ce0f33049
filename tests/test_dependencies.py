"""What the agent depends on: lean, bounded, and locked for the installers.

- The portal's packages are an extra (``kyso-agent[portal]``), not the agent's dependencies.
- Every pre-1.0 runtime dependency has an upper bound (0.x minors may break APIs).
- ``installers/constraints.txt`` pins every runtime dependency and theirs exactly, inside
  pyproject's ranges, and the versions the tests run against are the ones the installers ship.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = [Requirement(r) for r in PROJECT["dependencies"]]
PORTAL_ONLY = {"aiosmtpd", "argon2-cffi", "jinja2"}


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for raw in (ROOT / "installers" / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and version and not any(c in version for c in "<>=!~*,"), raw
        pins[canonicalize_name(name)] = Version(version)
    return pins


def _closure() -> dict[str, str]:
    """The runtime requirements followed transitively through the installed metadata
    (markers evaluated for this machine, no extras)."""
    found: dict[str, str] = {}

    def walk(req: Requirement) -> None:
        if req.marker and not req.marker.evaluate({"extra": ""}):
            return
        name = canonicalize_name(req.name)
        if name in found:
            return
        dist = distribution(req.name)
        found[name] = dist.version
        for sub in dist.requires or []:
            child = Requirement(sub)
            extras = ("", *req.extras)
            if child.marker and not any(child.marker.evaluate({"extra": e}) for e in extras):
                continue
            walk(child)

    for req in RUNTIME:
        walk(req)
    return found


def test_the_portals_packages_are_an_extra_not_the_agents() -> None:
    runtime = {canonicalize_name(r.name) for r in RUNTIME}
    assert runtime & PORTAL_ONLY == set()
    portal = {
        canonicalize_name(Requirement(r).name) for r in PROJECT["optional-dependencies"]["portal"]
    }
    assert portal == PORTAL_ONLY
    # ./run.sh (demo and test) installs the extra; the installers ship the agent only.
    assert "'.[dev,portal]'" in (ROOT / "run.sh").read_text(encoding="utf-8")
    assert PORTAL_ONLY & set(_pins()) == set()


def test_every_pre_1_0_dependency_has_an_upper_bound() -> None:
    pins = _pins()
    unbounded = [
        str(req)
        for req in RUNTIME
        if pins[canonicalize_name(req.name)].major == 0
        and not any(spec.operator in ("<", "<=", "==", "~=") for spec in req.specifier)
    ]
    assert unbounded == []


def test_the_constraints_pin_every_runtime_dependency_inside_pyprojects_ranges() -> None:
    pins = _pins()
    outside = [
        f"{req} (pinned {pins.get(canonicalize_name(req.name))})"
        for req in RUNTIME
        if canonicalize_name(req.name) not in pins
        or not req.specifier.contains(pins[canonicalize_name(req.name)], prereleases=True)
    ]
    assert outside == []


def test_the_tests_run_against_the_versions_the_installers_ship() -> None:
    """Every package the agent needs (transitively) is pinned, at the version installed here."""
    pins = _pins()
    closure = _closure()
    missing = sorted(set(closure) - set(pins))
    assert missing == [], "add to installers/constraints.txt"
    differ = {n: (v, str(pins[n])) for n, v in closure.items() if Version(v) != pins[n]}
    assert differ == {}, "installed vs pinned: update the venv or installers/constraints.txt"


def test_the_installers_hand_the_constraints_to_pip(monkeypatch) -> None:
    import installers.common as common

    seen: dict[str, str] = {}

    class Done:
        returncode = 0
        stdout = ""
        stderr = ""

    def fake_run(cmd, **kwargs):  # the seam: what the builders' pip would be given
        seen.update(kwargs["env"])
        return Done()

    monkeypatch.setattr(common.subprocess, "run", fake_run)
    common.run(["pip", "download", "kyso_agent.whl"])
    assert Path(seen["PIP_CONSTRAINT"]) == ROOT / "installers" / "constraints.txt"
    assert Path(seen["PIP_CONSTRAINT"]).is_file()
