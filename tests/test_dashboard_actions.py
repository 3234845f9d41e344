"""The dashboard's changing actions: only a POST with this console's token and Origin, after a
confirmation step, acts; anything else is refused with 403 and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from .dashboard_support import STACK, Served, put_job, served_console


@pytest.fixture
def console(mocked_aws: None) -> Iterator[Served]:
    from asyncapi_cli.local.compat import REGISTRY

    # As on AWS, SendMessage only queues: the mapped processor is not run inside it (conftest's moto server).
    REGISTRY.apply(["event-sources-off"])
    with served_console() as served:
        yield served


def dead_letter(served: Served, job_id: str) -> None:
    """A job failed for good and its message in the DLQ, as the dead-letter recorder leaves them."""
    put_job(job_id, "failed", "2026-12-07T05:00:00.000Z", error="JobFailed: boom")
    boto3.client("sqs").send_message(
        QueueUrl=served.stack.state.resources["dlq"]["url"],
        MessageBody=json.dumps({"task": "<i>x</i>"}),
        MessageAttributes={"jobId": {"DataType": "String", "StringValue": job_id}},
    )


def queue_depth(served: Served, key: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=served.stack.state.resources[key]["url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def job_status(job_id: str) -> str:
    item = boto3.client("dynamodb").get_item(TableName=f"{STACK}-jobs", Key={"jobId": {"S": job_id}})["Item"]
    return str(item["status"]["S"])


@pytest.mark.parametrize(
    "form, origin, reason",
    [
        ({}, "own", "token is missing"),
        ({"token": "not-the-token"}, "own", "token is missing or not this console"),
        ({"token": "own"}, "http://evil.example", "Origin http://evil.example"),
        ({"token": "own"}, None, "Origin none"),
        ({"token": "own"}, "http://127.0.0.1:1", "Origin http://127.0.0.1:1"),  # another local port
    ],
)
def test_a_post_without_the_token_or_from_elsewhere_is_refused(
    console: Served, form: dict[str, str], origin: str | None, reason: str
) -> None:
    dead_letter(console, "bad-job")
    form = {k: console.token if v == "own" else v for k, v in form.items()} | {"confirm": "yes"}
    headers = {} if origin is None else {"Origin": console.origin if origin == "own" else origin}
    for path in ("/dlq/purge", "/dlq/redrive-all", "/schedules/some-id/delete"):
        refused = console.request("POST", path, form=form | {"job": "bad-job"}, headers=headers)
        assert refused.status == 403 and reason in refused.text, (path, refused.text)
    refused = console.request("POST", "/dlq/redrive", form=form | {"job": "bad-job"}, headers=headers)
    assert refused.status == 403
    assert queue_depth(console, "dlq") == 1 and job_status("bad-job") == "failed"  # nothing happened


def test_the_dlq_page_shows_the_message_body_escaped(console: Served) -> None:
    dead_letter(console, "bad-job")
    page = console.get("/dlq")
    assert 'data-job-id="bad-job"' in page.text and "JobFailed: boom" in page.text
    assert "{&#34;task&#34;: &#34;&lt;i&gt;x&lt;/i&gt;&#34;}" in page.text


def test_a_get_never_acts(console: Served) -> None:
    dead_letter(console, "bad-job")
    assert console.get(f"/dlq/purge?token={console.token}&confirm=yes").status == 404
    assert queue_depth(console, "dlq") == 1


def test_redrive_one_asks_then_acts(console: Served) -> None:
    dead_letter(console, "bad-job")
    headers = {"Origin": console.origin}
    asked = console.request(
        "POST", "/dlq/redrive", form={"token": console.token, "job": "bad-job"}, headers=headers
    )
    assert (
        asked.status == 200
        and "Send job bad-job" in asked.text
        and 'name="confirm" value="yes"' in asked.text
    )
    assert queue_depth(console, "dlq") == 1  # asking changed nothing
    done = console.request(
        "POST",
        "/dlq/redrive",
        form={"token": console.token, "job": "bad-job", "confirm": "yes"},
        headers=headers,
    )
    assert done.status == 303 and done.headers["Location"].startswith("/dlq?done=job%20bad-job")
    assert queue_depth(console, "dlq") == 0 and queue_depth(console, "main_queue") == 1
    assert job_status("bad-job") == "queued"
    shown = console.get(done.headers["Location"])
    assert "job bad-job: 1 message(s) back in the main queue" in shown.text
    assert "The dead-letter queue is empty." in shown.text


def test_purge_asks_then_acts(console: Served) -> None:
    dead_letter(console, "bad-job")
    dead_letter(console, "worse-job")
    headers = {"Origin": f"http://localhost:{console.port}"}  # the console by its other name
    asked = console.request("POST", "/dlq/purge", form={"token": console.token}, headers=headers)
    assert "Delete every message in the dead-letter queue" in asked.text
    done = console.request(
        "POST", "/dlq/purge", form={"token": console.token, "confirm": "yes"}, headers=headers
    )
    assert done.status == 303 and queue_depth(console, "dlq") == 0


def test_a_bad_job_id_in_a_form_is_bad_input(console: Served) -> None:
    answer = console.request(
        "POST",
        "/dlq/redrive",
        form={"token": console.token, "job": "<b>x</b>"},
        headers={"Origin": console.origin},
    )
    assert answer.status == 400 and "<b>x</b>" not in answer.text
