"""`up --local` says once when the declared runtime's Python is not on this machine, and the function still
runs, on the nearest Python found (the CLI's own here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from asyncapi_cli.local import manager

from .conftest import run_cli

pytestmark = pytest.mark.xdist_group("test_local_python_warning")


def test_a_missing_runtime_python_is_named_once_and_the_nearest_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setenv("ASYNCAPI_HOME", str(home))  # manager.stop() here finds this embedded AWS
    (project / "work.py").write_text(
        "import sys\n\ndef handle(payload):\n    return list(sys.version_info[:2])\n", encoding="utf-8"
    )
    (project / "asyncapi.toml").write_text(
        '[processor]\nwork = "work.py:handle"\nruntime = "python3.13"\n', encoding="utf-8"
    )
    # A machine with no Python 3.13: no pyenv, no uv, only the CLI's own interpreter's directory on PATH.
    env = {
        "ASYNCAPI_HOME": str(home),
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "XDG_DATA_HOME": str(tmp_path / "no-uv"),
        "PATH": str(Path(sys.executable).parent),
    }
    try:
        up = run_cli("up", "--local", "--name", "py-warning", env=env)
        assert up.returncode == 0, up.stderr
        here = f"{sys.version_info[0]}.{sys.version_info[1]}"
        warning = (
            "warning: runtime python3.13: no Python 3.13 on this machine (PATH, pyenv, uv); "
            f"the embedded AWS runs the function on Python {here}"
        )
        assert (up.stdout + up.stderr).count(warning) == 1, up.stdout
        job = run_cli("test-job", "--payload", "{}", "--json", "--name", "py-warning", env=env)
        assert job.returncode == 0, job.stderr
        assert json.loads(job.stdout)["result"]["result"] == list(sys.version_info[:2])
    finally:
        manager.stop()
