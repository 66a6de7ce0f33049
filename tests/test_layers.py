"""Dependencies point one way (docs/architecture.md): cli → server/ui → signing → tokens.

The import graph is read from the source with ``ast`` — imports at module level AND inside
functions (a deferred import is still a dependency), so a one-line upward import anywhere in
``agent/`` fails here. ``if TYPE_CHECKING:`` imports count for the layer rules but not for
cycles (they never run).
"""

from __future__ import annotations

import ast
import graphlib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AGENT = ROOT / "agent"
PORTAL = ROOT / "portal_stub"  # its own package (kyso-portal), held to the same no-cycle rule


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` (``line`` in source; ``runtime``: not TYPE_CHECKING-only)."""

    source: str
    target: str
    line: int
    runtime: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p for package in (AGENT, PORTAL) for p in sorted(package.rglob("*.py"))
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement in the tree, with whether it runs (not under TYPE_CHECKING)."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, runtime: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, runtime))
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), False)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), runtime)
                continue
            visit(child, runtime)

    visit(tree, True)
    return found


def _resolve(name: str, known: dict[str, Path]) -> str:
    """The most specific module or package of ours that ``name`` names (or ``name`` itself)."""
    while name and name not in known:
        if "." not in name:
            return name
        name = name.rsplit(".", 1)[0]
    return name


def import_graph() -> list[Edge]:
    """Every import edge from a module in ``agent/`` or ``portal_stub/`` (targets ours or not)."""
    known = _modules()
    edges: list[Edge] = []
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node, runtime in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from agent.x import y` imports the module agent.x.y when there is one.
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                    for alias in node.names
                ]
            for target in targets:
                edges.append(Edge(module, _resolve(target, known), node.lineno, runtime))
    return edges


GRAPH = import_graph()


def _in(module: str, *layers: str) -> bool:
    return any(module == layer or module.startswith(layer + ".") for layer in layers)


def _violations(sources: tuple[str, ...], forbidden: tuple[str, ...], allowed=()) -> list[str]:
    return [
        f"{e.source} (line {e.line}) imports {e.target}"
        for e in GRAPH
        if _in(e.source, *sources) and _in(e.target, *forbidden) and not _in(e.target, *allowed)
    ]


def test_the_graph_sees_function_level_and_relative_imports() -> None:
    """The walker itself: a deferred import and a relative one both become edges."""
    pairs = {(e.source, e.target) for e in GRAPH}
    # agent/localtls/truststore.py picks its backend inside backend_for().
    assert ("agent.localtls.truststore", "agent.localtls.truststore_nss") in pairs
    # agent/demo/tokens.py: `from .pki import ...`
    assert ("agent.demo.tokens", "agent.demo.pki") in pairs
    assert len({e.source for e in GRAPH}) > 50


def test_no_import_cycles() -> None:
    """No module of the agent or the portal reaches itself through imports (cycles make
    start-up order fragile)."""
    graph: dict[str, set[str]] = {}
    for e in GRAPH:
        if e.runtime and _in(e.target, "agent", "portal_stub") and e.target != e.source:
            graph.setdefault(e.source, set()).add(e.target)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


UPPER_THAN_TOKENS = ("agent.signing", "agent.server", "agent.ui", "agent.cli", "agent.demo")


@pytest.mark.parametrize(
    ("layer", "forbidden", "allowed"),
    [
        ("agent.tokens", UPPER_THAN_TOKENS, ()),
        ("agent.signing", ("agent.server", "agent.ui", "agent.cli", "agent.demo"), ()),
        # The server and the UI: test_the_server_never_reaches_a_concrete_prompter.
        ("agent.server", ("agent.cli", "agent.demo"), ()),
        ("agent.ui", ("agent.cli", "agent.demo"), ()),
        ("agent.config", (*UPPER_THAN_TOKENS, "agent.tokens", "agent.localtls"), ()),
        ("agent.localtls", UPPER_THAN_TOKENS, ()),
        ("agent.errors", ("agent",), ("agent.errors",)),
        ("agent.runtime", ("agent.demo", "agent.server", "agent.ui", "agent.cli"), ()),
    ],
)
def test_layers_import_only_downwards(
    layer: str, forbidden: tuple[str, ...], allowed: tuple[str, ...]
) -> None:
    """Each layer imports only what is below it; the CLI (composition root) may import all."""
    assert _violations((layer,), forbidden, allowed) == []


# The concrete prompters and their toolkits: chosen by the composition root (agent.cli.compose).
CONCRETE_UI = (
    "agent.ui.dialogs",
    "agent.ui.dialog_view",
    "agent.ui.tkthread",
    "agent.ui.tray",
    "agent.ui.icon",
    "agent.ui.terminal",
    "agent.ui.scripted",
)
TOOLKITS = ("tkinter", "pystray", "PIL", "gi")


def _reachable(start: str) -> set[str]:
    """Every module ``start`` imports at run time, directly or through others of ours."""
    graph: dict[str, set[str]] = {}
    for e in GRAPH:
        if e.runtime:
            graph.setdefault(e.source, set()).add(e.target)
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_server_never_reaches_a_concrete_prompter() -> None:
    """The server knows the UI only through the Prompter protocol and toolkit-free helpers
    (``agent.ui.api``, pure text and choice logic): never a dialog, the terminal, the scripted
    answers, the tray, nor tkinter/pystray/Pillow — not even through another module."""
    offenders = []
    for e in GRAPH:
        if not (_in(e.source, "agent.server") and _in(e.target, "agent.ui")):
            continue
        reached = {e.target} | _reachable(e.target)
        bad = sorted(m for m in reached if _in(m, *CONCRETE_UI, *TOOLKITS))
        if bad:
            offenders.append(f"{e.source} (line {e.line}) -> {e.target} reaches {bad}")
    assert offenders == []


def test_the_concrete_prompter_check_sees_a_concrete_prompter() -> None:
    """The check above would fire: the tray and the dialogs do reach their toolkits."""
    assert "pystray" in _reachable("agent.ui.tray") or "PIL" in _reachable("agent.ui.icon")
    assert "agent.ui.tkthread" in _reachable("agent.ui.dialogs")


def test_only_the_cli_imports_the_demo() -> None:
    """The demo PKI and tokens are for ``kyso-agent demo`` and tests, never the product path."""
    offenders = [
        f"{e.source} (line {e.line})"
        for e in GRAPH
        if _in(e.source, "agent")
        and _in(e.target, "agent.demo")
        and not _in(e.source, "agent.demo", "agent.cli")
    ]
    assert offenders == []


def test_nothing_in_the_agent_imports_the_portal() -> None:
    """The portal is a separate program (its own entry point, its own extra), never a library
    of the agent: the agent must install and run without the portal's packages."""
    offenders = [
        f"{e.source} (line {e.line})"
        for e in GRAPH
        if _in(e.source, "agent") and _in(e.target, "portal_stub")
    ]
    assert offenders == []


PORTAL_ONLY = ("aiosmtpd", "argon2", "jinja2")


def test_the_agent_does_not_import_portal_only_packages() -> None:
    """aiosmtpd, argon2-cffi and jinja2 are the ``[portal]`` extra: the agent must not need them."""
    assert _violations(("agent",), PORTAL_ONLY) == []


def test_the_composition_root_looks_for_the_demo_where_the_demo_writes_it() -> None:
    """compose checks for the demo's manifest before importing the demo package (so an agent
    without a demo never loads it): the file name must be the demo's own."""
    from agent.cli.compose import DEMO_MANIFEST
    from agent.demo.manifest import MANIFEST

    assert DEMO_MANIFEST == MANIFEST


def test_only_the_module_layer_imports_python_pkcs11() -> None:
    """No other code touches python-pkcs11 (architecture.md), and the types callers hold stay
    free of it, so naming a token or a certificate loads no PKCS#11 library (an idle agent
    loads them at first use: tests/test_footprint.py)."""
    module_layer = ("agent.tokens.module", "agent.tokens.mechanisms", "agent.tokens.failures")
    offenders = [
        f"{e.source} (line {e.line})"
        for e in GRAPH
        if e.runtime and _in(e.target, "pkcs11") and not _in(e.source, *module_layer)
    ]
    assert offenders == []
