"""Issue 14, item 1: imports in ``lvs_compat/heartbeat`` flow one way, with no circle.

cli -> daemon -> node -> the cores (membership, resources) -> events; the resource coordinator
(``resources``) is a facade over its machines (``groups``, ``takeover``, ``standby``), which
share the words of ``resource_terms``.  Every import counts, the ones inside functions too (that
is how the old circle between cli, daemon and core_adapter hid); only ``if TYPE_CHECKING:``
blocks, which never run, are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "lvs_compat" / "heartbeat"
# the layers: a module may import only from a lower one (others are unranked: circle check only)
LAYERS = {"events": 0, "resource_terms": 0, "ratelimit": 0, "membership": 1, "groups": 1,
          "supervisor": 1, "takeover": 2, "standby": 3, "resources": 4, "node": 5,
          "respawn": 5, "daemon": 6, "cli": 7}
# the pure part: no socket, no thread, no clock, no subprocess, nothing of the shell
PURE = ("events", "ratelimit", "membership", "resource_terms", "groups", "takeover", "standby",
        "resources", "node", "supervisor")
SHELL_MODULES = {"os", "socket", "selectors", "subprocess", "threading", "time", "signal"}


def _runtime_nodes(tree: ast.AST):
    """Every node but those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(package: Path) -> dict[str, dict[str, set[str]]]:
    """module -> {"package": sibling modules it imports, "stdlib": top-level others}."""
    graph = {}
    siblings = {path.stem for path in package.glob("*.py")} - {"__init__"}
    for path in sorted(package.glob("*.py")):
        if path.stem == "__init__":
            continue
        found = {"package": set(), "stdlib": set()}
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module is None:
                    found["package"] |= {alias.name for alias in node.names} & siblings
                elif node.level == 1:
                    found["package"].add(node.module.split(".")[0])
                elif node.level == 0 and node.module:
                    found["stdlib"].add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found["stdlib"] |= {alias.name.split(".")[0] for alias in node.names}
        graph[path.stem] = found
    return graph


def find_circle(graph: dict[str, dict[str, set[str]]]) -> list[str] | None:
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph.get(module, {}).get("package", ())):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state and (circle := visit(target)):
                return circle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state and (circle := visit(module)):
            return circle
    return None


def test_no_import_circle_in_the_heartbeat_package():
    assert find_circle(imports_of(PACKAGE)) is None, " -> ".join(find_circle(imports_of(PACKAGE)))


def test_imports_flow_from_cli_to_daemon_to_node_to_the_cores_to_events():
    graph = imports_of(PACKAGE)
    upward = [(module, target) for module, found in graph.items() if module in LAYERS
              for target in found["package"]
              if target in LAYERS and LAYERS[target] >= LAYERS[module]]
    assert upward == []
    assert graph["events"]["package"] == set()
    assert {"membership", "resources"} <= graph["node"]["package"]
    assert "node" in graph["daemon"]["package"] and "daemon" in graph["cli"]["package"]


def test_the_node_and_its_cores_do_no_io():
    graph = imports_of(PACKAGE)
    for module in PURE:
        assert graph[module]["stdlib"] & SHELL_MODULES == set(), module
        assert graph[module]["package"] <= set(PURE) | {"wire"}, module


def test_the_check_finds_a_circle_hidden_in_a_function(tmp_path):
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("def later():\n    from .c import x\n")
    (tmp_path / "c.py").write_text("from typing import TYPE_CHECKING\n"
                                   "if TYPE_CHECKING:\n    from . import a\n")
    assert find_circle(imports_of(tmp_path)) is None      # a type-checking import never runs
    (tmp_path / "c.py").write_text("import os\n\ndef f():\n    from .a import y\n")
    assert find_circle(imports_of(tmp_path)) == ["a", "b", "c", "a"]
