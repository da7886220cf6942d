"""rill's modules import each other as a DAG: values at the bottom, the
registry above them, drivers and transports on top. A cycle makes import
order matter and usually means a lower layer reaches up; this test finds one
by reading every import of every module, deferred ones inside functions
included (a deferred import that closes a cycle only hides it), but not
those under ``if TYPE_CHECKING:``."""

from __future__ import annotations

import ast
from pathlib import Path

import rill

SRC = Path(rill.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("rill"):
                for alias in node.names:  # `from . import structured` names a module
                    module = f"{target}.{alias.name}"
                    found.add(module if module in known else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("rill")}
    return found


def test_the_import_graph_has_no_cycle() -> None:
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph = {
        name: (_imports(path, set(modules)) & set(modules)) - {name}
        for name, path in modules.items()
    }
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
