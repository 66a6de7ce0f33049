"""What the frozen ``kyso-agent.exe`` must carry besides what PyInstaller finds by itself.

Read by ``kyso-agent.spec`` (PyInstaller runs it on the Windows build machine) and by the tests
on Linux, so it is standard library only. UNTESTED ON WINDOWS HERE: Python for Windows cannot be
fetched on the development machine; ``.github/workflows/windows-build.yml`` builds and smoke-tests
the executable on a Windows runner. The tested Windows path stays the wheel-based MSI.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
AGENT = REPO / "agent"

# Non-Python files of third-party packages that they read at run time (PyInstaller's hooks
# cover most; listing them again costs nothing and survives a hook that changes).
DATA_PACKAGES = (
    "jsonschema",  # its own metaschemas' loader
    "jsonschema_specifications",  # the draft metaschemas (JSON files)
    "publicsuffixlist",  # public_suffix_list.dat: pairing groups origins by site
    "certifi",  # CA bundle for revocation fetches (OCSP/CRL over https)
    "pyhanko",  # PDF signing resources
    "pyhanko_certvalidator",
    "tzdata",  # tzlocal on Windows: IANA zones for audit times in Vietnam time
)
# Imported by name (importlib) or from compiled extensions: invisible to PyInstaller's scan.
SUBMODULE_PACKAGES = (
    "agent",  # agent.cli.main imports the sub-command modules with importlib
    "pkcs11",  # python-pkcs11's Cython core imports its Python helpers
)
HIDDEN_IMPORTS = (
    "pystray._win32",  # pystray picks its backend module by name
    "tkinter",  # the consent and PIN dialogs (imported when the prompter is chosen)
    "tkinter.ttk",
    "lxml.etree",  # imported by xmlsec's extension module
    "lxml._elementpath",
)
# Never in the agent's executable: the stand-in portal, test and development tools.
EXCLUDES = (
    "portal_stub",
    "pytest",
    "_pytest",
    "hypothesis",
    "signxml",
    "playwright",
    "certomancer",
    "mypy",
    "ruff",
    "gi",  # PyGObject (the development venv's GTK tray backend)
)
# The two executables: the command line, and a windowless one for the logon Run entry and
# the Start-menu shortcut (no console window flashing up at every logon).
CONSOLE_NAME = "kyso-agent"
WINDOWED_NAME = "kyso-agentw"
ENTRY_SCRIPT = "kyso_agent_main.py"


def agent_data_files(agent: Path = AGENT) -> list[tuple[str, str]]:
    """Every non-Python file of the ``agent`` package as PyInstaller ``datas`` entries
    (source file, folder inside the bundle): the protocol's JSON Schemas today, anything
    added later too, so a new data file cannot be forgotten in the frozen build."""
    entries = []
    for path in sorted(agent.rglob("*")):
        if not path.is_file() or path.suffix in (".py", ".pyc", ".pyi"):
            continue
        if "__pycache__" in path.parts:
            continue
        relative_folder = path.parent.relative_to(agent.parent)
        entries.append((str(path), relative_folder.as_posix()))
    return entries
