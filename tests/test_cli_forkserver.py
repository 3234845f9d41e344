"""The tests' CLI zygote (tests/cli_forkserver.py) ends a forked run as the interpreter ends a cold one:
the same exit status, standard output and standard error, success and failure alike."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from .cli_forkserver import ReplyLines
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


def test_a_reply_already_read_is_answered_without_waiting() -> None:
    """A quick run's two answers (its pid, then its status) can arrive in one read; the second must not
    then wait for more bytes (it waited out the 300 s timeout: a flaky `test_invalid_names` under load)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b'{"pid": 1}\n{"returncode": 2}\n{"pid"')
        replies = ReplyLines(read_end)
        assert replies.next_line() == '{"pid": 1}'
        started = time.monotonic()
        assert replies.readline(timeout=20) == '{"returncode": 2}'
        assert time.monotonic() - started < 10  # answered from what was read, not after the timeout
        assert replies.readline(timeout=0.01) is None  # half a line: not a reply yet
        os.write(write_end, b": 3}\n")
        assert replies.readline(timeout=20) == '{"pid": 3}'
        os.close(write_end)
        write_end = -1
        with pytest.raises(EOFError):
            replies.readline(timeout=20)
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
