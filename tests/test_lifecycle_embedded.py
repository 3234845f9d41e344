"""The lifecycle on the embedded AWS, through the real CLI: every feature and option recorded and torn
down to nothing; a stack the restarted embedded AWS has forgotten is forgotten cleanly by `down`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from asyncapi_cli.local import manager

from .conftest import run_cli
from .test_lifecycle_record import EVERYTHING, named

NAME = "rec-local"
STATE = Path(f".asyncapi/{NAME}.json")


@pytest.fixture
def embedded() -> Any:
    try:
        yield
    finally:
        if STATE.exists():
            run_cli("down", "--yes")
        manager.stop()


def _ok(result: Any) -> Any:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_every_feature_and_option_on_the_embedded_aws_then_down_leaves_nothing(embedded: None) -> None:
    _ok(run_cli("up", "--local", "--name", NAME, *EVERYTHING))
    endpoint = str((manager.running_info() or {})["endpoint"])
    before = named(NAME, endpoint)
    assert all(before[kind] for kind in ("api_keys", "usage_plans", "websocket_apis", "secrets"))
    try:
        again = json.loads(_ok(run_cli("up", "--json")).stdout)
        assert again["aws_calls"]["mutating"] == 0, [r for r in again["resources"] if r["changes"]]
        _ok(run_cli("status", "--exit-code"))
        planned = json.loads(_ok(run_cli("plan", "--json")).stdout)
        assert [r for r in planned["resources"] if r["action"] != "exists"] == []
        # With API keys on, every route needs x-api-key: a job and a batch go through with the stack's key.
        _ok(run_cli("test-job", "--timeout", "120"))
        batch = json.loads(_ok(run_cli("test-job", "--batch", "2", "--timeout", "120", "--json")).stdout)
        assert batch["batch"]["completed"] == 2, batch
    finally:
        _ok(run_cli("down", "--yes"))
    assert named(NAME, endpoint) == {kind: [] for kind in before}
    assert not STATE.exists()


def test_down_after_the_embedded_aws_restarted_forgets_the_stack(embedded: None) -> None:
    _ok(run_cli("up", "--local", "--name", NAME, "--with", "scheduling,webhooks"))
    _ok(run_cli("local", "stop"))
    _ok(run_cli("local", "start"))
    gone = _ok(run_cli("down", "--yes"))
    assert "went with it" in gone.stdout
    assert not STATE.exists()


def test_down_of_an_older_state_after_a_restart_deletes_nothing_and_exits_0(embedded: None) -> None:
    """A state written before the embedded AWS's run was recorded: `down` deletes what it records,
    finds it already gone (the scheduler's group too: ResourceNotFoundException, not a 500), finds by
    name what a record lacks the ids of (not exit 70), and removes the state file."""
    Path("asyncapi.toml").write_text("[features]\nscheduling = true\nwebhooks = true\npriorities = true\n")
    _ok(run_cli("up", "--local", "--name", NAME))
    old = json.loads(STATE.read_text())
    del old["target"]["instance"]
    del old["resources"]["high_queue"]["url"]  # a record without what its delete needs
    STATE.write_text(json.dumps(old))
    _ok(run_cli("local", "stop"))
    _ok(run_cli("local", "start"))
    gone = run_cli("down", "--yes", "--json")
    assert gone.returncode == 0, gone.stderr
    endpoint = str((manager.running_info() or {})["endpoint"])
    assert not any(named(NAME, endpoint).values())
    assert not STATE.exists()
