"""The compat registry (asyncapi_cli/local/compat): the one seam through which the embedded AWS patches the
internals of moto, werkzeug, flask and airspeed.

A library release that removed or changed a patched internal is simulated by deleting the attribute
before the patches apply (the registry's ASYNCAPI_COMPAT_SIMULATE_MISSING hook, read by the embedded AWS's
own process): a speed patch is skipped and the emulator still runs a job; a fidelity patch stops the start
with one line naming it.
"""

from __future__ import annotations

import inspect
import json
import logging
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from asyncapi_cli.local.compat.registry import SIMULATE_MISSING_ENV, CompatError, Patch, Registry

from .conftest import run_cli

SPEED_TARGET = "moto.sqs.models:Queue.delete_message"
FIDELITY_TARGET = "moto.iam.models:IAMBackend.get_roles"


@pytest.fixture
def library() -> Iterator[types.ModuleType]:
    """A small library to patch: one class with one method, one module function."""
    module = types.ModuleType("compat_test_library")

    class Store:
        def get(self, key: str) -> str:
            return f"stored {key}"

    def version() -> str:
        return "1.0"

    module.Store = Store  # type: ignore[attr-defined]
    module.version = version  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def _loud(original: Any) -> Any:
    def get(self: Any, key: str) -> str:
        return original(self, key).upper()

    return get


def test_a_patch_applies_and_undoes_to_the_very_original(library: types.ModuleType) -> None:
    registry = Registry()
    original = library.Store.__dict__["get"]
    patch = Patch("compat_test_library:Store.get", _loud, "fidelity", "loud", "loud", params=("self", "key"))
    registry.register(patch)
    registry.apply()
    assert library.Store().get("a") == "STORED A" and patch.state == "applied"
    assert patch.original is original
    registry.apply()  # applied once: a second apply does not wrap the wrapper
    assert library.Store().get("a") == "STORED A"
    registry.undo()
    assert library.Store.__dict__["get"] is original and patch.state == "pending"


def test_a_speed_patch_whose_target_is_missing_is_skipped_with_one_log_line(
    library: types.ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    registry = Registry()
    registry.register(
        Patch("compat_test_library:Store.gone", _loud, "speed", "faster", "fast-store"),
        Patch("compat_test_library:Store.get", _loud, "speed", "faster", "fast-store"),
    )
    with caplog.at_level(logging.WARNING, logger="asyncapi.local"):
        registry.apply()
    assert library.Store().get("a") == "stored a"  # the group applies whole or not at all
    skipped = "skipped: compat_test_library:Store.gone: gone is missing"
    assert [p["state"] for p in registry.report()] == [skipped] * 2
    assert len(caplog.records) == 1 and "fast-store" in caplog.records[0].getMessage()


def test_a_fidelity_patch_whose_target_changed_fails_naming_itself(library: types.ModuleType) -> None:
    registry = Registry()
    registry.register(
        Patch("compat_test_library:Store.get", _loud, "fidelity", "loud", "loud", params=("self", "name"))
    )
    with pytest.raises(CompatError) as failure:
        registry.apply()
    message = str(failure.value)
    assert "compat_test_library:Store.get" in message and "signature changed" in message
    assert "\n" not in message
    assert library.Store().get("a") == "stored a"


def test_a_target_is_patched_once() -> None:
    registry = Registry()
    registry.register(Patch("compat_test_library:version", lambda o: o, "speed", "a", "a"))
    with pytest.raises(ValueError, match="patched twice"):
        registry.register(Patch("compat_test_library:version", lambda o: o, "fidelity", "b", "b"))


def test_every_registered_patch_applies_on_the_verified_moto_and_create_deployment_is_wrapped_once() -> None:
    """On the versions the pins name, nothing is skipped; RestAPI.create_deployment has one wrapper,
    whose original is moto's own (it was wrapped twice, with two stage-variable merges)."""
    from moto.apigateway.models import RestAPI

    from asyncapi_cli.local import server
    from asyncapi_cli.local.compat import REGISTRY

    applied_before = {id(p) for p in REGISTRY.patches() if p.state == "applied"}
    server.apply_patches()
    try:
        assert [p["target"] for p in REGISTRY.report() if p["state"] != "applied"] == []
        deployment = [p for p in REGISTRY.patches() if p.target.endswith("RestAPI.create_deployment")]
        assert len(deployment) == 1
        assert inspect.getsourcefile(deployment[0].original) == inspect.getsourcefile(RestAPI)
        assert RestAPI.create_deployment is not deployment[0].original
    finally:
        # Only the embedded server runs with every patch: left applied, the embedded SNS (loopback
        # endpoints only) and CloudWatch answered the in-process mock_aws tests run after this one on the
        # same worker (seen at the floors: a Subscribe to https://... refused).
        for patch in reversed(REGISTRY.patches()):
            if id(patch) not in applied_before:
                patch.undo()


def test_the_embedded_aws_runs_a_job_with_a_speed_patch_target_missing() -> None:
    env = {SIMULATE_MISSING_ENV: SPEED_TARGET}
    up = run_cli("up", "--local", "--name", "compat-stack", "--json", env=env, fresh=True)
    try:
        assert up.returncode == 0, up.stderr
        job = run_cli("test-job", "--timeout", "90", env=env)
        assert job.returncode == 0, (job.stdout, job.stderr)
        status = json.loads(run_cli("local", "status", "--json").stdout)
        states = {p["target"]: p["state"] for p in status["compat"]}
        assert states[SPEED_TARGET] == f"skipped: {SPEED_TARGET}: delete_message is missing"
        assert states["moto.sqs.models:SQSBackend.send_message"].startswith("skipped")  # its group
        assert states["moto.backends:get_backend"] == "applied"  # another speed group
        text = run_cli("local", "status").stdout
        assert "patch sqs-depth (speed, 8 targets, verified on moto 5.2.5): skipped" in text
    finally:
        run_cli("local", "stop")


def test_the_embedded_aws_stops_at_start_naming_a_fidelity_patch_whose_target_is_missing() -> None:
    result = run_cli("local", "start", env={SIMULATE_MISSING_ENV: FIDELITY_TARGET}, fresh=True)
    assert result.returncode == 3, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"fidelity patch {FIDELITY_TARGET} (iam-role-listing) cannot apply: get_roles is missing" in (
        lines[0]
    )
    assert "not running" in run_cli("local", "status").stdout
