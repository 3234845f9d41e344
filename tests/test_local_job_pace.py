"""Through the real CLI on the embedded AWS: long jobs complete on their first attempt, a failing job says
where it failed, and its own output is found by its id.

Sources: SQS + Lambda ("Using Lambda with Amazon SQS", docs.aws.amazon.com/lambda/latest/dg/with-sqs.html):
a message stays invisible for the queue's visibility timeout while a batch runs; AWS's guidance sets it
to 6 x the function's timeout + the batching window, and the embedded AWS now uses the same (no local
4 s), so a job is redelivered only when it fails. The failing job's location follows the runtime
interface client's report of an unhandled error (awslambdaric bootstrap.py: errorType, errorMessage,
stackTrace).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asyncapi_cli.local import manager

from .conftest import run_cli
from .test_local import client, wait_for

pytestmark = pytest.mark.xdist_group("test_local_job_pace")

WORK = """import os
import time


def check(n):
    if n > 5:
        raise ValueError(f"boom {n}")
    return n


def handle(payload):
    print("job says hello", payload.get("n"))
    if payload.get("seconds"):
        time.sleep(payload["seconds"])
    gate = payload.get("gate")
    while gate and not os.path.exists(gate):  # held until the test releases it
        time.sleep(0.05)
    return check(payload.get("n", 0))
"""
NAME = "job-pace"


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "work.py").write_text(WORK, encoding="utf-8")
    (tmp_path / "asyncapi.toml").write_text('[processor]\nwork = "work.py:handle"\n', encoding="utf-8")
    result = run_cli("up", "--local", "--name", NAME, "--json")
    assert result.returncode == 0, result.stderr
    info = manager.running_info()
    assert info is not None
    try:
        yield {"outputs": json.loads(result.stdout)["outputs"], "info": info}
    finally:
        manager.stop()


def _submit(url: str, payload: dict[str, Any]) -> str:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["jobId"])


def _record(dynamodb: Any, job_id: str) -> dict[str, Any]:
    item = dynamodb.get_item(TableName=f"{NAME}-jobs", Key={"jobId": {"S": job_id}}, ConsistentRead=True)
    return dict(item.get("Item") or {})


def _status(dynamodb: Any, job_id: str) -> str | None:
    return _record(dynamodb, job_id).get("status", {}).get("S")


def test_long_jobs_complete_on_their_first_attempt_and_failures_say_where(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    outputs, info = stack["outputs"], stack["info"]
    dynamodb, sqs = client("dynamodb", info), client("sqs", info)
    # The failing job: retried at the processor's backoff (2 s, 4 s), failed on its third receive. On
    # its own: in a batch with a long job, its retry would wait for the batch, as on AWS.
    failing = _submit(outputs["submit_url"], {"n": 7})
    wait_for(lambda: _status(dynamodb, failing) == "failed", timeout=60)
    shown = run_cli("jobs", "show", failing, "--name", NAME)
    assert shown.returncode == 0, shown.stderr
    assert "ValueError: boom 7" in shown.stdout
    raise_line = WORK.splitlines().index('        raise ValueError(f"boom {n}")') + 1
    assert f"at work.py, line {raise_line}, in check" in shown.stdout

    # Its own print lines and its traceback, found by its id.
    def logged() -> str | None:
        result = run_cli("logs", "--job", failing, "--name", NAME)
        text = result.stdout
        return text if "job says hello 7" in text and "Traceback (most recent call last)" in text else None

    text = wait_for(logged, timeout=30)
    assert f'work.py", line {raise_line}, in check' in text

    # A job that runs until released stands for the 120 s one: it runs as long as the test holds it.
    gate = tmp_path / "release"
    held = _submit(outputs["submit_url"], {"n": 1, "gate": str(gate)})
    sixteen = _submit(outputs["submit_url"], {"n": 2, "seconds": 16})
    # 16 s: once, and the held job is still in its first attempt (a 4 s visibility redelivered it 4 times).
    wait_for(lambda: _status(dynamodb, sixteen) == "completed", timeout=90)
    assert _record(dynamodb, sixteen)["attempts"] == {"N": "1"}
    assert (_status(dynamodb, held), _record(dynamodb, held)["attempts"]) == ("processing", {"N": "1"})
    # The queue's visibility timeout is AWS's for a 300 s processor: a 120 s job is not redelivered.
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["main_queue_url"], AttributeNames=["All"])
    assert int(attributes["Attributes"]["VisibilityTimeout"]) == 6 * 300 + 1 >= 120
    gate.write_text("go", encoding="utf-8")
    wait_for(lambda: _status(dynamodb, held) == "completed", timeout=60)
    assert _record(dynamodb, held)["attempts"] == {"N": "1"}
    os.remove(gate)
