"""The package layout holds its shape: no import cycles between modules or between
packages, and a small package root. Imports are read from the source with `ast`, lazy
ones inside functions included; imports under `if TYPE_CHECKING:` never run and are left
out. Run `python tests/test_layout.py` to print the package graph."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROOT_MODULES_ALLOWED = 6  # besides __init__ and __main__


def module_files() -> dict[str, Path]:
    """Module name -> file, for rtstyle/ and for export/ (installed as rtstyle.export)."""
    found = {}
    for base, prefix in ((ROOT / "rtstyle", "rtstyle"), (ROOT / "export", "rtstyle.export")):
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([prefix, *parts])] = path
    return found


def _runtime_imports(tree: ast.AST) -> list[ast.AST]:
    """Import nodes outside `if TYPE_CHECKING:` blocks."""
    out = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    files = module_files()
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        for node in _runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = {a.name for a in node.names}
            else:  # `from pkg import module` imports that module; `from m import name`, m
                targets = {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files
                           else node.module or "" for a in node.names}
            graph[mod] |= {t for t in targets if t in files and t != mod}
    return graph


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def package_graph() -> dict[str, set[str]]:
    files = module_files()
    graph: dict[str, set[str]] = {}
    for mod, targets in import_graph().items():
        # A package's __init__ importing its own modules is not an edge; a root module
        # (rtstyle.cli) is a node of its own.
        src = package_of(mod) if files[mod].parent != ROOT / "rtstyle" or mod == "rtstyle" \
            else mod
        for t in targets:
            dst = package_of(t) if files[t].parent != ROOT / "rtstyle" or t == "rtstyle" else t
            if dst != src:
                graph.setdefault(src, set()).add(dst)
        graph.setdefault(src, set())
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path of nodes, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := dfs(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := dfs(node)):
            return found
    return None


def test_no_import_cycle_between_modules():
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()))


def test_no_import_cycle_between_packages():
    cycle = find_cycle(package_graph())
    assert cycle is None, " -> ".join(cycle)


def test_export_imports_no_engine_style_or_command():
    for mod, targets in import_graph().items():
        if mod.startswith("rtstyle.export"):
            bad = {t for t in targets
                   if package_of(t) in ("rtstyle.engines", "rtstyle.styles", "rtstyle.commands")}
            assert not bad, f"{mod} imports {bad}"


def test_package_root_stays_small():
    root = sorted(p.name for p in (ROOT / "rtstyle").glob("*.py")
                  if p.name not in ("__init__.py", "__main__.py"))
    assert len(root) <= ROOT_MODULES_ALLOWED, root


if __name__ == "__main__":
    for pkg, deps in sorted(package_graph().items()):
        print(f"{pkg} -> {', '.join(sorted(deps)) or '-'}")
    cycles = [find_cycle(import_graph()), find_cycle(package_graph())]
    print("cycles:", [" -> ".join(c) for c in cycles if c] or "none")
    sys.exit(1 if any(cycles) else 0)
