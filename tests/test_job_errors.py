"""Errors you can act on: the job record's error detail, the logged traceback, the job's own output.

Sources: AWS's runtime interface client (github:aws/aws-lambda-python-runtime-interface-client,
awslambdaric/bootstrap.py `handle_event_request` / `build_fault_result`): an unhandled error is reported
as errorType, errorMessage and stackTrace, and logged as "[ERROR] <type>: <message>" with the traceback.
Lambda sends a function's stdout and its logging records to CloudWatch Logs ("Log and monitor Python
Lambda functions", docs.aws.amazon.com/lambda/latest/dg/python-logging.html), where the root logger's
level decides what is logged.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from .test_handlers import handlers, item, lambda_code, process, record  # noqa: F401  (fixtures)

USER_WORK = """
import logging

log = logging.getLogger("userwork")


def check(value):
    if value > 5:
        raise ValueError(f"boom {value}")
    return value


def handle(payload):
    print("starting", payload["n"])
    print("two lines\\nin one print")
    log.warning("checking %s", payload["n"])
    log.info("not shown: the root logger is at WARNING, as on Lambda")
    return check(payload["n"])
"""


@pytest.fixture
def user_work(lambda_code: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    path = lambda_code / "userwork.py"
    path.write_text(USER_WORK, encoding="utf-8")
    monkeypatch.setenv("ASYNCAPI_WORK", "userwork:handle")
    return path


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_a_failing_job_keeps_type_message_and_the_users_innermost_frame(
    user_work: Path,
    handlers: dict[str, ModuleType],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    message = record("err-1", {"n": 7})
    assert process(handlers, message) == [message["messageId"]]
    stored = item("err-1")
    assert stored["error"] == "ValueError: boom 7"  # what GET /status shows, as before
    raise_line = USER_WORK.splitlines().index('        raise ValueError(f"boom {value}")') + 1
    assert stored["errorDetail"] == {
        "type": "ValueError",
        "message": "boom 7",
        "file": "userwork.py",
        "line": raise_line,
        "function": "check",
    }
    logs = _lines(capsys)
    error = next(line for line in logs if line["event"] == "job-error")
    assert error["jobId"] == "err-1" and error["at"] == f"userwork.py:{raise_line} in check"
    assert error["traceback"].startswith("[ERROR] ValueError: boom 7\nTraceback (most recent call last):")
    assert f'userwork.py", line {raise_line}, in check' in error["traceback"]
    # The job's own print and logging lines, each a line of its own, tagged with its id.
    own = [(line["event"], line.get("message")) for line in logs if line.get("jobId") == "err-1"]
    assert ("job-output", "starting 7") in own
    assert ("job-output", "two lines") in own and ("job-output", "in one print") in own
    assert ("job-log", "checking 7") in own
    assert not any("not shown" in str(text) for _, text in own)
    # A later attempt failing for another reason (AWS, say) drops the frame that no longer applies.
    handlers["job_processor"].finish(
        "h-jobs", "err-1", "retrying", error="internal error (request id r)", attempt=2
    )
    assert "errorDetail" not in item("err-1") and item("err-1")["error"] == "internal error (request id r)"
    # GET /status does not show the frame (the record is public through it; the detail is for the owner).
    assert "errorDetail" not in handlers["status_checker"].FIELDS


def test_a_completed_retry_drops_the_earlier_error(
    user_work: Path,
    handlers: dict[str, ModuleType],  # noqa: F811
) -> None:
    first = record("err-2", {"n": 9})
    assert process(handlers, first) == [first["messageId"]]
    assert "errorDetail" in item("err-2")
    user_work.write_text(USER_WORK.replace("value > 5", "value > 50"), encoding="utf-8")
    import importlib
    import sys

    importlib.reload(sys.modules["userwork"])
    handlers["job_processor"].load_work.cache_clear()
    second = record("err-2", {"n": 9}, receive_count=2)
    assert process(handlers, second) == []
    stored = item("err-2")
    assert stored["status"] == "completed" and "error" not in stored and "errorDetail" not in stored
