"""The lines of code that exist only for speed patches, in asyncapi_cli/local/compat/.

Usage: python bench/speed_lines.py [--verbose]

How it counts (physical lines, blank lines and comments inside a counted block included):
- a module whose every registered patch has purpose "speed": the whole file;
- a module with fidelity patches too: each `Patch(...)` registration of purpose "speed", and every
  top-level definition (function, class, assignment) that only speed registrations reach, directly or
  through other definitions; its imports and module docstring are not counted.
A patch's purpose is read from the source (the third argument of `Patch`, or `purpose=`), so a module
needs no import to be counted.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

COMPAT = Path(__file__).resolve().parents[1] / "asyncapi_cli" / "local" / "compat"


def _purpose(call: ast.Call) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "purpose" and isinstance(keyword.value, ast.Constant):
            return str(keyword.value.value)
    if len(call.args) >= 3 and isinstance(call.args[2], ast.Constant):
        return str(call.args[2].value)
    return None


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _span(node: ast.AST) -> set[int]:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])  # type: ignore[attr-defined]
    return set(range(first, node.end_lineno + 1))  # type: ignore[attr-defined]


def speed_lines(path: Path) -> tuple[int, dict[str, int]]:
    """(lines counted, purposes of the module's patches and how many of each)."""
    source = path.read_text()
    tree = ast.parse(source)
    patches = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Patch"
    ]
    purposes: dict[str, int] = {}
    for call in patches:
        purpose = _purpose(call) or "unknown"
        purposes[purpose] = purposes.get(purpose, 0) + 1
    if "speed" not in purposes:
        return 0, purposes
    if set(purposes) == {"speed"}:
        return len(source.splitlines()), purposes
    definitions: dict[str, ast.stmt] = {}
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            definitions[statement.name] = statement
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                for name in _names(target):
                    definitions[name] = statement

    def reached(roots: set[str]) -> set[str]:
        found: set[str] = set()
        pending = [name for name in roots if name in definitions]
        while pending:
            name = pending.pop()
            if name in found:
                continue
            found.add(name)
            pending += [n for n in _names(definitions[name]) if n in definitions and n not in found]
        return found

    speed_calls = [call for call in patches if _purpose(call) == "speed"]
    other_calls = [call for call in patches if _purpose(call) != "speed"]
    by_speed = reached(set().union(*(_names(call) for call in speed_calls)))
    # Everything else at the top level that is not a registration reaches definitions too (a fidelity
    # helper may share one with a speed patch: then it is not speed-only).
    roots = set().union(*(_names(call) for call in other_calls))
    for statement in tree.body:
        if statement not in definitions.values() and not _is_registration(statement):
            roots |= _names(statement)
    by_others = reached(roots)
    lines: set[int] = set()
    for call in speed_calls:
        lines |= _span(call)
    for name in by_speed - by_others:
        lines |= _span(definitions[name])
    return len(lines), purposes


def _is_registration(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Name)
        and statement.value.func.id == "register"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    total = 0
    for path in sorted(COMPAT.glob("*.py")):
        count, purposes = speed_lines(path)
        total += count
        if args.verbose and purposes:
            kinds = ", ".join(f"{n} {purpose}" for purpose, n in sorted(purposes.items()))
            print(f"{path.name}: {count} lines ({kinds})")
    print(f"speed-only patch code in {COMPAT.relative_to(COMPAT.parents[2])}: {total} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
