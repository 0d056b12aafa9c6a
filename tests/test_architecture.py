"""The shape of the code, checked: imports flow one way without cycles, lazy imports are few
and say why, no module keeps state behind a `global`, and the durable runs stay readable."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "devbot"
MAX_LAZY_IMPORTS = 15
MAX_FUNCTION_LINES = 50
LAYERS = ["triggers", "runs", "agent", "tools"]
"""Each may import those after it, never those before (DESIGN.md: triggers -> runs -> agent
-> tools); the other packages (config, plans, llm, sandbox, vcs, ...) never import these."""


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    local: bool
    text: str


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports_in(path: Path) -> Iterator[Import]:
    """devbot imports of one module: module level, and inside functions (`local`), leaving
    out `if TYPE_CHECKING:` blocks, which never run."""
    source = _module_name(path)
    lines = path.read_text(encoding="utf-8").splitlines()

    def walk(node: ast.AST, local: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names = [child.module, *(f"{child.module}.{a.name}" for a in child.names)]
            elif isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            else:
                yield from walk(child, inner)
                continue
            for name in names:
                if name == PACKAGE or name.startswith(PACKAGE + "."):
                    text = lines[child.lineno - 1]
                    yield Import(source, name, child.lineno, local, text)

    yield from walk(ast.parse("\n".join(lines)), False)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in (SRC / PACKAGE).rglob("*.py")}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for found in _imports_in(path):
            target = found.target
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]  # `from pkg import name` of a non-module
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_no_cycle_function_level_imports_included() -> None:
    graph = _graph()
    assert len(graph) > 50
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_a_cycle_would_be_found() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_imports_point_down_the_layers() -> None:
    def layer(module: str) -> str | None:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None

    wrong = []
    for source, targets in _graph().items():
        for target in targets:
            here, there = layer(source), layer(target)
            if there is None:
                continue
            if source == f"{PACKAGE}.__main__":
                continue  # the entry point starts the command line
            if here is None or LAYERS.index(there) < LAYERS.index(here):
                wrong.append(f"{source} imports {target}")
    assert wrong == []


def test_lazy_imports_are_few_and_each_says_why() -> None:
    lazy = [i for path in _modules().values() for i in _imports_in(path) if i.local]
    unexplained = [f"{i.source}:{i.line}" for i in lazy if "# lazy:" not in i.text]
    assert unexplained == []
    assert len({(i.source, i.line) for i in lazy}) <= MAX_LAZY_IMPORTS


def test_no_module_keeps_state_behind_a_global_statement() -> None:
    found = [
        f"{name}:{node.lineno}"
        for name, path in _modules().items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Global)
    ]
    assert found == []


def test_functions_of_the_durable_runs_fit_on_a_screen() -> None:
    long = [
        f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for name, path in _modules().items()
        if name.startswith(f"{PACKAGE}.runs")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
