"""The tests' CLI zygote (tests/cli_forkserver.py) ends a forked run as the interpreter ends a cold one:
the same exit status, standard output and standard error, success and failure alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_cli

CASES = [
    ("--version",),
    ("no-such-command",),  # click's usage error: status 2
    ("up", "--region"),  # an option without its value
    ("jobs", "--name", "never-deployed"),  # the CLI's own one-line error
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(case) for case in CASES])
def test_a_forked_run_ends_as_a_cold_run(
    args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    forked = run_cli(*args)
    cold = run_cli(*args, fresh=True)
    assert (forked.returncode, forked.stdout, forked.stderr) == (cold.returncode, cold.stdout, cold.stderr)
    assert forked.stdout or forked.stderr  # something was said, and flushed before the exit
