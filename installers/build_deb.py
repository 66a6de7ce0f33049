#!/usr/bin/env python3
"""Build ``dist/kyso-agent_<version>_<arch>.deb`` with dpkg-deb.

    .venv/bin/python installers/build_deb.py --maintainer 'Full Name <email>' [--homepage URL]
                                             [--out DIR] [--wheel KYSO.whl]
        [--no-dependency-wheels | --linux-wheels DIR | --download-linux-wheels]

The package installs the Kyso wheel under /opt/kyso/wheels; its postinst runs
/opt/kyso/setup-venv, which makes /opt/kyso/venv offline from the shipped wheels when they are
all there, otherwise from pip's index. By default the dependencies' manylinux x86_64 wheels for
CPython 3.11, 3.12 and 3.13 are inside (``_amd64``: installing needs no PyPI); they come from
the git-ignored cache ``.cache/linux-wheels``, filled from the package index only when it
cannot satisfy the pins. ``--no-dependency-wheels`` makes the small ``_all`` package whose
installation downloads them. Files live in installers/linux/.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # installers/ is on sys.path: the build scripts run as plain files
    REPO,
    add_dependency_wheel_options,
    build_wheel,
    gather_wheels,
    is_pure_wheel,
    read_version,
    require_tools,
    run,
)

LINUX = Path(__file__).resolve().parent / "linux"
# python3-gi and the AppIndicator typelib give the tray its menu and notifications (setup-venv
# links Debian's gi into the venv: PyGObject has no wheel); without them pystray falls back to
# its X11 backend, an icon with no menu.
DEPENDS = (
    "python3 (>= 3.11), python3-venv, python3-tk, python3-gi, gir1.2-ayatanaappindicator3-0.1, "
    "libnss3-tools, util-linux"
)
SUGGESTS = "opensc, pcscd"
# Shipped by default so that installing needs no package index; kept between builds here
# (git-ignored .cache/) so only the first build on a machine downloads them.
WHEEL_CACHE = REPO / ".cache" / "linux-wheels"
# The system Pythons of Debian 12 (3.11), Ubuntu 24.04 (3.12) and Debian 13 (3.13); another
# Python makes setup-venv fall back to the package index (it says so).
LINUX_PYTHONS = ("3.11", "3.12", "3.13")
# glibc 2.36 is Debian 12's, the oldest system above: wheels built for it or older run on all.
LINUX_PLATFORMS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(36, 16, -1)),
    "manylinux2014_x86_64",
)

# path in the package -> (file in installers/linux, mode)
LAYOUT: dict[str, tuple[str, int]] = {
    "usr/bin/kyso-agent": ("kyso-agent", 0o755),
    "opt/kyso/setup-venv": ("setup-venv", 0o755),
    "opt/kyso/kyso-autostart": ("kyso-autostart", 0o755),
    "etc/xdg/autostart/kyso-agent.desktop": ("kyso-agent.desktop", 0o644),
    "usr/share/applications/kyso-agent.desktop": ("kyso-agent.desktop", 0o644),
    "usr/share/applications/kyso-sign.desktop": ("kyso-sign.desktop", 0o644),  # file managers
    "usr/lib/systemd/user/kyso-agent.service": ("kyso-agent.service", 0o644),
    "etc/kyso/policy.toml.example": ("policy.toml.example", 0o644),
}
CONFFILES = ("/etc/xdg/autostart/kyso-agent.desktop", "/etc/kyso/policy.toml.example")
README = """\
Kyso Agent {version}

/usr/bin/kyso-agent           the command line (kyso-agent --help, kyso-agent doctor)
/opt/kyso/venv                the agent's Python environment, made by /opt/kyso/setup-venv
/opt/kyso/wheels              the Kyso wheel{offline_note}
/etc/xdg/autostart/           starts the agent in every desktop session (kyso-autostart:
                              trusts the local CA for the user when needed, then runs it)
/usr/lib/systemd/user/        kyso-agent.service, an alternative: systemctl --user enable --now
/etc/kyso/policy.toml.example copy to /etc/kyso/policy.toml for a managed policy
"""


# Debian policy §5.6.2: "Full Name <email>".
_MAINTAINER = re.compile(r"^[^<>\n,]+ <[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+>$")


def maintainer_from(given: str | None, env: Mapping[str, str]) -> str | None:
    """The Maintainer field: ``--maintainer``, else Debian's own convention (DEBFULLNAME and
    DEBEMAIL, as dch and dh_make read them; DEBEMAIL may hold the whole "Name <email>").
    None when neither names one: Kyso ships no placeholder address."""
    if given:
        return given.strip()
    email = env.get("DEBEMAIL", "").strip()
    name = env.get("DEBFULLNAME", "").strip()
    if "<" in email:
        return email
    if email and name:
        return f"{name} <{email}>"
    return None


def control(
    version: str, arch: str, installed_kib: int, maintainer: str, homepage: str | None = None
) -> str:
    """The DEBIAN/control file."""
    return (
        "Package: kyso-agent\n"
        f"Version: {version}\n"
        f"Architecture: {arch}\n"
        f"Maintainer: {maintainer}\n"
        + (f"Homepage: {homepage}\n" if homepage else "")
        + f"Installed-Size: {installed_kib}\n"
        f"Depends: {DEPENDS}\n"
        f"Suggests: {SUGGESTS}\n"
        "Section: utils\n"
        "Priority: optional\n"
        "Description: local signing agent for PKCS#11 USB tokens\n"
        " Kyso lets web portals that the user or the IT department approved sign with\n"
        " a PKCS#11 USB token (Vietnamese social-insurance and tax filings): consent\n"
        " and PIN in the agent's own window, loopback HTTPS only.\n"
    )


def download_linux_wheels(
    kyso_wheel: Path, dest: Path, *, find_links: Path | None = None
) -> list[Path]:
    """The dependencies' Linux wheels for every supported CPython, in ``dest``: from the
    package index (network, build time), or with ``find_links`` only from that folder (pip
    copies exactly the wheels it resolves; SystemExit when something is missing there).
    Binary wheels only, so nothing is compiled on the build or the target machine."""
    dest.mkdir(parents=True, exist_ok=True)
    source = ["--no-index", "--find-links", find_links] if find_links else []
    platforms = [arg for tag in LINUX_PLATFORMS for arg in ("--platform", tag)]
    for pyver in LINUX_PYTHONS:
        run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"),
                *platforms,
                *("--python-version", pyver, "--implementation", "cp"),
                *source,
                *("-d", dest, kyso_wheel),
            ]
        )
    for copied in dest.glob("kyso_agent-*.whl"):  # pip copies the local wheel in: not a dep
        copied.unlink()
    return sorted(dest.glob("*.whl"))


def cached_linux_wheels(kyso_wheel: Path, dest: Path, cache: Path = WHEEL_CACHE) -> list[Path]:
    """The default: exactly the wheels this Kyso wheel needs (at the pinned versions), resolved
    offline from the build machine's cache (git-ignored) into ``dest``; the cache is filled
    from the index first only when it cannot satisfy every Python."""
    try:
        return download_linux_wheels(kyso_wheel, dest, find_links=cache)
    except SystemExit:
        download_linux_wheels(kyso_wheel, cache)
        return download_linux_wheels(kyso_wheel, dest, find_links=cache)


def build_deb(
    out_dir: Path,
    *,
    maintainer: str,
    homepage: str | None = None,
    wheel: Path | None = None,
    extra_wheels: list[Path] | None = None,
) -> Path:
    """Build the package into ``out_dir`` and return its path. ``maintainer``: "Name <email>"
    of whoever answers for this build (checked); ``homepage``: an https address, if any."""
    if not _MAINTAINER.match(maintainer):
        raise ValueError(f"maintainer must read 'Full Name <email>', not {maintainer!r}")
    if homepage is not None and not homepage.startswith("https://"):
        raise ValueError(f"homepage must be an https:// address, not {homepage!r}")
    require_tools("dpkg-deb")
    version = read_version()
    extra = list(extra_wheels or [])
    arch = "all" if all(is_pure_wheel(w.name) for w in extra) else "amd64"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"kyso-agent_{version}_{arch}.deb"
    with tempfile.TemporaryDirectory(prefix="kyso-deb-") as tmp:
        root = Path(tmp) / "root"
        wheel = wheel or build_wheel(Path(tmp) / "build")
        for dest, (source, mode) in LAYOUT.items():
            path = root / dest
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(LINUX / source, path)
            path.chmod(mode)
        wheels = root / "opt/kyso/wheels"
        wheels.mkdir(parents=True)
        for w in [wheel, *extra]:
            shutil.copyfile(w, wheels / w.name)
            (wheels / w.name).chmod(0o644)
        note = " and its dependencies" if extra else " (dependencies come from pip's index)"
        readme = root / "opt/kyso/README"
        readme.write_text(README.format(version=version, offline_note=note), encoding="utf-8")
        readme.chmod(0o644)
        for d in [p for p in root.rglob("*") if p.is_dir()] + [root]:
            d.chmod(0o755)
        size_kib = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) // 1024 + 1
        debian = root / "DEBIAN"
        debian.mkdir(mode=0o755)
        (debian / "control").write_text(
            control(version, arch, size_kib, maintainer, homepage), encoding="utf-8"
        )
        (debian / "conffiles").write_text("".join(f + "\n" for f in CONFFILES))
        for script in ("postinst", "prerm"):
            shutil.copyfile(LINUX / script, debian / script)
            (debian / script).chmod(0o755)
        run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", root, target])
    return target


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: build, then print where the package is and what it needs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder")
    parser.add_argument("--wheel", type=Path, help="use this Kyso wheel instead of building one")
    add_dependency_wheel_options(
        parser,
        "linux",
        folder_help="folder of the dependencies' wheels",
        download_help="download them from the package index now, bypassing the cache",
    )
    parser.add_argument(
        "--no-dependency-wheels",
        action="store_true",
        help="ship only the Kyso wheel (a small _all package; installing it then needs PyPI or "
        "a mirror). By default the dependencies are shipped, from " + str(WHEEL_CACHE),
    )
    parser.add_argument(
        "--maintainer",
        metavar="'NAME <EMAIL>'",
        help="who answers for this package (Debian's Maintainer field); default: $DEBFULLNAME "
        "<$DEBEMAIL>. Required: the project publishes no address of its own to put there",
    )
    parser.add_argument(
        "--homepage", metavar="URL", help="an https address for the Homepage field (optional)"
    )
    args = parser.parse_args(argv)
    maintainer = maintainer_from(args.maintainer, os.environ)
    if maintainer is None or not _MAINTAINER.match(maintainer):
        parser.error(
            "name the package's maintainer: --maintainer 'Full Name <email>', or set DEBFULLNAME "
            "and DEBEMAIL (Debian's convention). Kyso ships no placeholder address."
        )
    if args.homepage and not args.homepage.startswith("https://"):
        parser.error("--homepage must be an https:// address")
    if args.no_dependency_wheels and (args.linux_wheels or args.download_linux_wheels):
        parser.error("--no-dependency-wheels excludes --linux-wheels/--download-linux-wheels")
    with tempfile.TemporaryDirectory(prefix="kyso-linuxwheels-") as tmp:
        wheel, extra = gather_wheels(args, "linux", download_linux_wheels, Path(tmp))
        if not (extra or args.no_dependency_wheels or args.linux_wheels):
            wheel = wheel or build_wheel(Path(tmp) / "kyso")
            extra = cached_linux_wheels(wheel, Path(tmp) / "cached")
        deb = build_deb(
            args.out,
            maintainer=maintainer,
            homepage=args.homepage,
            wheel=wheel,
            extra_wheels=extra,
        )
    print(f"built {deb} ({deb.stat().st_size // 1024} KiB, {1 + len(extra)} wheels)")
    if not extra:
        print("the dependencies are not inside: installing needs PyPI or a pip mirror")
    else:
        print(f"installs offline with CPython {', '.join(LINUX_PYTHONS)} (x86_64)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
