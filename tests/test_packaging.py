"""What `pip install .` ships: every package of the source tree. The suite runs from the repository's root,
where a package missing from pyproject.toml's list still imports; an installed CLI would fail on it
(`No module named ...`) while every test passed."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # the project's own dependency below 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_of_the_source_tree_is_declared() -> None:
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    in_tree = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "asyncapi_cli").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert in_tree - declared == set(), "packages pip install . would leave out"
    assert declared - in_tree == {"asyncapi_cli.handlers"}  # shipped from handlers/ (package-dir)
