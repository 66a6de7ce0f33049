#!/usr/bin/env bash
# Kyso's two commands. On a fresh Debian 12 machine (as root, or a user with sudo):
#   ./run.sh demo    install what is missing, then start the demo
#   ./run.sh test    install what is missing, then lint and run every test
# Both are idempotent and quick once everything is installed.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  python3 python3-venv python3-pip python3-tk   # runtime + tkinter dialogs
  softhsm2 opensc                               # PKCS#11: demo/test tokens, pkcs11-tool
  libnss3-tools                                 # certutil: trust the local TLS CA in browsers
  xmlsec1 openssl                               # independent verifiers used by the tests
  poppler-utils                                 # pdfsig verifies signed PDFs; pdftoppm renders them
  fonts-dejavu-core                             # the PDF stamp's font (every Vietnamese mark)
  chromium xvfb xauth                           # browser tests: Debian's Chromium, no browser download
  nodejs                                        # the JavaScript bridge's tests (node --test)
  xdotool trayer                                # dialog typing and a tray host, under Xvfb
  libgirepository1.0-dev libcairo2-dev pkg-config gir1.2-gtk-3.0 dbus-daemon  # the real tray menu (PyGObject, GTK, a D-Bus session)
  dunst dbus-bin                                # a notification daemon (tray notices) and dbus-send, in tests
  python3-gi gir1.2-ayatanaappindicator3-0.1    # the .deb's tray dependencies: its real install test runs offline
  wixl msitools                                 # building and inspecting the MSI
  wine64                                        # installing the MSI for real in tests (msiexec)
  mono-mcs mono-runtime libmono-system-security4.0-cil   # interop suite: .NET SignedXml verifier
  libmono-i18n4.0-all                           # mono's windows-125x code pages (cp1252/1258 files)
  default-jdk-headless libxml-security-java     # interop suite: Java JSR 105 + Apache Santuario
  libbcprov-java libbcpkix-java                 # interop suite: BouncyCastle CMS verifier
)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_debian_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "==> Installing Debian packages: ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

install_python_env() {
  local python="${KYSO_PYTHON:-python3}"
  if [ ! -x .venv/bin/python ]; then
    echo "==> Creating .venv"
    "$python" -m venv .venv
  fi
  local stamp
  stamp="$(cat pyproject.toml installers/constraints.txt | sha256sum | cut -d' ' -f1)"
  if [ "$(cat .venv/.kyso-installed 2>/dev/null)" != "$stamp" ]; then
    echo "==> Installing Python dependencies into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[dev,portal]' \
      -c installers/constraints.txt   # the versions the installers ship; portal: the demo's extra
    echo "$stamp" > .venv/.kyso-installed
  fi
}

setup() {
  install_debian_packages
  install_python_env
}

cmd="${1:-}"
shift || true
case "$cmd" in
  demo)
    setup
    exec .venv/bin/python -m agent.cli.main demo "$@"
    ;;
  test)
    setup
    echo "==> ruff check"
    .venv/bin/ruff check .
    echo "==> ruff format --check"
    .venv/bin/ruff format --check .
    echo "==> mypy (agent/ and portal_stub/, configured in pyproject.toml)"
    .venv/bin/mypy
    echo "==> pytest"
    exec .venv/bin/python -m pytest "$@"
    ;;
  setup)
    setup
    ;;
  *)
    echo "usage: ./run.sh demo | test [pytest args] | setup" >&2
    exit 2
    ;;
esac
