"""The processor's claim and guarded finish against twins of a job's message (at-least-once delivery).

SQS delivers a message at least once ("Amazon SQS at-least-once delivery", SQS Developer Guide); with the
processor's backoff and AWS's visibility timeout, twins come in three shapes:
- late: an earlier attempt ends after a later one finished the job (its failure must not flip a
  completed job back to "retrying", its success must not rewrite the record);
- early: a later attempt claims while an earlier one still runs (both run; the first final write wins);
- concurrent: both finish at the same moment (one final write, one consistent record).
The conditions that make this hold are the claim's (never reclaims a finished job) and the finish's
(attribute_exists(jobId) AND NOT status IN (completed, failed)): dropping either fails these tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest

from .test_handlers import BUCKET, handlers, item, lambda_code, process, record, result_object  # noqa: F401


class GatedWork:
    """The work function: each call waits at its own gate; what it does is decided per call."""

    def __init__(self) -> None:
        self.gates: dict[str, threading.Event] = {}
        self.started: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def gate(self, label: str) -> threading.Event:
        with self._lock:
            self.started.setdefault(label, threading.Event())
            return self.gates.setdefault(label, threading.Event())

    def __call__(self, payload: dict[str, Any]) -> Any:
        label = payload["label"]
        gate = self.gate(label)
        self.started[label].set()
        assert gate.wait(30), f"gate {label} never opened"
        if payload.get("fail"):
            raise RuntimeError(f"attempt {label} failed")
        return {"by": label}


@pytest.fixture
def work(handlers: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch) -> GatedWork:  # noqa: F811
    gated = GatedWork()
    monkeypatch.setattr(handlers["job_processor"], "load_work", lambda: gated)
    return gated


def _run(handlers: dict[str, ModuleType], message: dict[str, Any]) -> tuple[threading.Thread, list[Any]]:  # noqa: F811
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(process(handlers, message)))
    thread.start()
    return thread, out


def _finish(thread: threading.Thread) -> None:
    thread.join(30)
    assert not thread.is_alive()


def test_a_late_failing_twin_does_not_flip_a_completed_job(
    handlers: dict[str, ModuleType],  # noqa: F811
    work: GatedWork,
) -> None:
    first = record("late-1", {"label": "a", "fail": True}, receive_count=1)
    twin = record("late-1", {"label": "b"}, receive_count=2, message_id=first["messageId"])
    slow, slow_out = _run(handlers, first)
    assert work.gate("a") and work.started["a"].wait(30)
    work.gate("b").set()
    assert process(handlers, twin) == []  # the later attempt completes the job
    completed = item("late-1")
    assert (completed["status"], completed["attempts"]) == ("completed", 2)
    work.gate("a").set()  # the earlier attempt now fails, late
    _finish(slow)
    assert slow_out == [[first["messageId"]]]  # reported failed: its message comes back, then is dropped
    assert item("late-1") == completed  # not "retrying": the finish's condition refused the write
    assert result_object("late-1")["result"] == {"by": "b"}
    # Its redelivery finds the job finished: acknowledged, the work not run again.
    assert process(handlers, record("late-1", {"label": "c"}, receive_count=3)) == []
    assert "c" not in work.started and item("late-1") == completed


def test_a_late_succeeding_twin_does_not_rewrite_the_record(
    handlers: dict[str, ModuleType],  # noqa: F811
    work: GatedWork,
) -> None:
    first = record("late-2", {"label": "a"}, receive_count=1)
    slow, slow_out = _run(handlers, first)
    assert work.gate("a") and work.started["a"].wait(30)
    work.gate("b").set()
    assert process(handlers, record("late-2", {"label": "b"}, receive_count=2)) == []
    completed = item("late-2")
    work.gate("a").set()
    _finish(slow)
    assert slow_out == [[]]  # done with: its message is deleted
    stored = item("late-2")
    # The record is the winner's: attempts and completedAt unchanged (its result object was rewritten
    # with the same job's result, the one write the condition cannot guard).
    assert (stored["attempts"], stored["completedAt"], stored["status"]) == (
        completed["attempts"],
        completed["completedAt"],
        "completed",
    )


def test_an_early_twin_claims_while_the_first_runs_and_the_first_final_write_wins(
    handlers: dict[str, ModuleType],  # noqa: F811
    work: GatedWork,
) -> None:
    first = record("early-1", {"label": "a"}, receive_count=1)
    second = record("early-1", {"label": "b", "fail": True}, receive_count=2)
    one, one_out = _run(handlers, first)
    two, two_out = _run(handlers, second)
    assert work.gate("a") and work.started["a"].wait(30)
    assert work.gate("b") and work.started["b"].wait(30)  # both claimed: the job was not finished
    assert item("early-1")["status"] == "processing"
    work.gate("a").set()  # the first completes
    _finish(one)
    assert one_out == [[]] and item("early-1")["status"] == "completed"
    work.gate("b").set()  # the second fails after the job completed: refused
    _finish(two)
    assert item("early-1")["status"] == "completed" and "error" not in item("early-1")


@pytest.mark.parametrize("outcomes", [("ok", "ok"), ("ok", "fail"), ("fail", "fail")])
def test_concurrent_twins_leave_one_consistent_record(
    handlers: dict[str, ModuleType],  # noqa: F811
    work: GatedWork,
    outcomes: tuple[str, str],
) -> None:
    job = f"both-{'-'.join(outcomes)}"
    messages = [
        record(job, {"label": f"{job}-{n}", "fail": outcome == "fail"}, receive_count=n + 1)
        for n, outcome in enumerate(outcomes)
    ]
    runs = [_run(handlers, message) for message in messages]
    for n in range(2):
        assert work.gate(f"{job}-{n}") and work.started[f"{job}-{n}"].wait(30)
    for n in range(2):  # released together
        work.gates[f"{job}-{n}"].set()
    for thread, _ in runs:
        _finish(thread)
    stored = item(job)
    if "ok" in outcomes:
        assert stored["status"] == "completed" and "error" not in stored
    else:
        assert stored["status"] == "retrying" and stored["error"].startswith("RuntimeError: attempt")


def test_the_claim_never_reopens_a_finished_job(
    handlers: dict[str, ModuleType],  # noqa: F811
    work: GatedWork,
) -> None:
    claim: Callable[..., Any] = handlers["job_processor"].claim
    work.gate("a").set()
    assert process(handlers, record("claim-1", {"label": "a"})) == []
    before = item("claim-1")
    assert claim("h-jobs", "claim-1", "2026-01-01T00:00:00.000Z", 5) == "completed"
    assert item("claim-1") == before
    objects = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="results/claim-1")["KeyCount"]
    assert objects == 1
