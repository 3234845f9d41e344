"""The command layer's shape: cli.py holds the click group and its error handling only; each command
family lives in commands/ and imports the shared options from options.py, never cli.py (no cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import click

from asyncapi_cli import cli

PACKAGE = Path(cli.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_module_imports_cli() -> None:
    importers = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "__main__.py" and {"..cli", ".cli", "asyncapi_cli.cli"} & _imports(path)
    ]
    assert importers == []


def test_cli_defines_no_command_but_the_group() -> None:
    tree = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    decorated = [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        for decorator in node.decorator_list
        if "command" in ast.unparse(decorator) or "group" in ast.unparse(decorator)
    ]
    assert decorated == ["main"]
    assert isinstance(cli.main, click.Group)
    lifecycle = {"up", "plan", "status", "down"}
    assert lifecycle <= set(cli.main.commands)
    assert {cli.main.commands[name].callback.__module__ for name in lifecycle} == {
        "asyncapi_cli.commands.stack"
    }
