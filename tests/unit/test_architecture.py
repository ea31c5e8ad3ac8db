"""The house's rules, checked (issue 15): no import cycle in the layer, handlers only call entry points.

import-linter (``make lint``, contracts in pyproject.toml) keeps the decisions pure and the connectors
away from the store; these tests cover what its contracts do not express directly.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "layers" / "sync" / "crmsync"
HANDLERS = sorted((REPO / "functions").glob("*/app.py"))
ENTRY_POINTS = {
    "crmsync.runtime",  # the composition root: settings, the container's context
    "crmsync.service",  # pull, push_changes: the flow's facade
    "crmsync.worker",  # one queue message
    "crmsync.messages",  # the queue message union (the worker's parse model)
    "crmsync.stream",  # a stream image as a record
    "crmsync.webhook_router",  # the webhook routes
    "crmsync.api",  # the request screen
    "crmsync.api_errors",  # the one error mapping
    "crmsync.routes",  # the API's routers
    "crmsync.leads",  # lead conversion's request and result models
    "crmsync.console_assets",  # the admin console's files and their headers
}
"""Handlers are wiring: they reach the layer through these modules only, never around them into the
store, the connectors, the engine or the flow's inner modules."""


def module_name(path: Path) -> str:
    parts = path.relative_to(LAYER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports at run time (``TYPE_CHECKING`` blocks excluded, lazy imports included:
    an import inside a function that would close a cycle only hides it)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def layer_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in LAYER.rglob("*.py")}
    return {
        name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_layer_has_no_import_cycle() -> None:
    graph = layer_graph()
    assert len(graph) > 40 and "crmsync.inbound" in graph["crmsync.service"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def code_lines(path: Path) -> int:
    """Lines of code: not blank, not a comment, not a docstring."""
    source = path.read_text()
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings |= set(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    return sum(
        1
        for number, line in enumerate(source.splitlines(), 1)
        if line.strip() and not line.strip().startswith("#") and number not in docstrings
    )


def test_every_module_of_the_layer_stays_small() -> None:
    sizes = {p.relative_to(LAYER).as_posix(): len(p.read_text().splitlines()) for p in LAYER.rglob("*.py")}
    assert len(sizes) > 40
    assert {name: n for name, n in sizes.items() if n > 500} == {}


def test_handlers_are_wiring_of_at_most_40_code_lines() -> None:
    assert code_lines(Path(__file__)) > 40, "the counter counts"
    assert {h.parent.name: n for h in HANDLERS if (n := code_lines(h)) > 40} == {}


def test_handlers_import_only_entry_points() -> None:
    assert len(HANDLERS) == 7
    modules = {module_name(p) for p in LAYER.rglob("*.py")}
    for handler in HANDLERS:
        reached = {m for m in imports_of(handler) if m in modules and m != "crmsync"}
        assert reached, f"{handler.parent.name} imports nothing of the layer?"
        assert reached <= ENTRY_POINTS, (
            f"{handler.parent.name} reaches around the entry points: {reached - ENTRY_POINTS}"
        )
