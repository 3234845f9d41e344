"""The package's imports, read from the source (ast; nothing is imported): no import cycle between modules,
and no import from a lower layer to a higher one. Every import counts, at module level or inside a
function, type-checking ones included: each is a dependency someone has to follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module belongs to the layer of its longest matching prefix ("resources" names the units'
# base package alone; its units are "units"). A module may import its own layer or any lower one.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("errors", "retry", "state", "refs", "cors", "api_errors", "endpoints",
              "scaffold", "jobs_index", "webhook_receiver", "lambda_interpreters", "notify_endpoints")),
    # dayops: the jobs, logs and DLQ readers
    ("aws", ("aws", "names", "config", "configuration", "context", "graph", "dayops")),
    ("resources", ("resources",)),
    ("engine", ("engine", "risks", "dayops.live", "output", "package", "handler_modules")),
    ("units", ("resources.",)),
    ("local/compat", ("local.compat",)),  # the seam to library internals: below every service it serves
    ("local", ("local",)),  # the embedded AWS; the CLI reaches it through local.manager
    ("stack/features", ("features", "api_definition", "stack", "secure_api", "ownership", "ops",
                        "concurrency", "teardown", "options", "alarms", "cloudwatch_dashboard")),
    ("clients", ("clients",)),  # the deployed API's HTTP and WebSocket clients
    # built on the stack description, the day-two readers and the clients
    ("tools", ("dashboard", "export", "demo", "loadcheck")),
    ("commands", ("commands",)),
    ("cli", ("cli", "__main__")),
    ("bench", ("bench",)),
]  # fmt: skip

KNOWN_UPWARD: set[tuple[str, str]] = set()  # none: commands import options.py, never cli.py


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for top in ("asyncapi_cli", "bench"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            package = parts[-1] == "__init__"
            if package:
                parts = parts[:-1]
            name = ".".join(parts).removeprefix("asyncapi_cli.").removeprefix("asyncapi_cli")
            found[name or "asyncapi_cli"] = (path, package)
    return found


def _short(name: str) -> str:
    return name.removeprefix("asyncapi_cli.") if name != "asyncapi_cli" else name


def import_graph() -> dict[str, set[str]]:
    modules = _modules()

    def known(name: str) -> str | None:
        name = _short(name)
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, (path, package) in modules.items():
        full = name if name.startswith("bench") or name == "asyncapi_cli" else f"asyncapi_cli.{name}"
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = full.split(".") if package else full.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    targets.add(known(f"{source}.{alias.name}") or known(source))
            elif isinstance(node, ast.Import):
                targets.update(known(alias.name) for alias in node.names)
        graph[name] = {t for t in targets if t and t != name and (t.startswith("bench") or _inside(t))}
    return graph


def _inside(name: str) -> bool:
    return name != "asyncapi_cli"


def layer_of(module: str) -> int:
    best, best_length = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = (
                module.startswith(prefix)
                if prefix.endswith(".")
                else (module == prefix or module.startswith(prefix + "."))
            )
            if matches and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    return best


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer() -> None:
    assert [m for m in import_graph() if m != "asyncapi_cli" and layer_of(m) < 0] == []


def test_no_import_runs_up_the_layers() -> None:
    graph = import_graph()
    upward = sorted(
        f"{source} ({LAYERS[layer_of(source)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for source, targets in graph.items()
        for target in targets
        if source != "asyncapi_cli"
        and layer_of(target) > layer_of(source)
        and (source, target) not in KNOWN_UPWARD
    )
    assert upward == []


def test_no_import_cycle() -> None:
    graph = {
        source: {t for t in targets if (source, t) not in KNOWN_UPWARD}
        for source, targets in import_graph().items()
    }
    assert cycles(graph) == []


def test_the_walk_sees_a_cycle_and_an_upward_import() -> None:
    """The checks can fail: a made-up graph with both."""
    graph = {"engine": {"resources.queue"}, "resources.queue": {"engine"}, "errors": {"cli"}}
    assert cycles(graph) == [["engine", "resources.queue"]]
    assert layer_of("errors") < layer_of("cli")
    # The walk reads real imports: a command family imports the shared options, and never the group.
    assert "options" in import_graph()["commands.extras"] and "cli" not in import_graph()["commands.extras"]
