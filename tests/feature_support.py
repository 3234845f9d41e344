"""Shared by the feature tests: the Lambda handlers imported from the deployment zip, moto resources,
and SQS records shaped exactly as the Lambda SQS event source delivers them."""

from __future__ import annotations

import importlib
import io
import json
import sys
import time
import urllib.parse
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from asyncapi_cli.package import build_zip

TABLE = "f-jobs"
BUCKET = "f-results"
HANDLER_MODULES = (
    "job_processor",
    "status_checker",
    "jobwork",
    "job_features",
    "batch_jobs",
    "batch_status",
    "webhook_outbox",
    "webhook_notifier",
    "webhook_http",
)


def extract_handlers(root: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(build_zip().zip_bytes)) as archive:
        archive.extractall(root)
    return root


def import_handlers(code: Path, monkeypatch: pytest.MonkeyPatch, *names: str) -> dict[str, ModuleType]:
    """Fresh imports from the extracted zip, as Lambda loads them (top-level modules)."""
    monkeypatch.syspath_prepend(str(code))
    for name in HANDLER_MODULES:
        sys.modules.pop(name, None)
    modules = {name: importlib.import_module(name) for name in names}
    for module in modules.values():
        assert Path(str(module.__file__)).parent == code
    return modules


def forget_handlers() -> None:
    for name in HANDLER_MODULES:
        sys.modules.pop(name, None)


def create_table_and_bucket() -> None:
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("s3").create_bucket(Bucket=BUCKET)


def attribute(value: str, kind: str = "String") -> dict[str, Any]:
    return {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": kind}


def job_record(
    job_id: str,
    payload: Any,
    *,
    receive_count: int = 1,
    message_id: str = "m-1",
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    attributes = {"jobId": attribute(job_id), "submittedAt": attribute("1764241200000", "Number")}
    for name, value in (extra or {}).items():
        attributes[name] = attribute(value)
    return {
        "messageId": message_id,
        "receiptHandle": "rh",
        "body": json.dumps(payload, ensure_ascii=False),
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1764241200500"},
        "messageAttributes": attributes,
        "eventSource": "aws:sqs",
    }


def lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS message from ReceiveMessage, shaped as the Lambda event source hands it over."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


def receive_one(queue_url: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """The next visible message, waiting (bounded) until there is one."""
    sqs = boto3.client("sqs")
    deadline = time.monotonic() + timeout
    while True:
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            MaxNumberOfMessages=1,
            WaitTimeSeconds=0,
        )
        if answer.get("Messages"):
            return dict(answer["Messages"][0])
        if time.monotonic() > deadline:
            raise AssertionError(f"no message became visible on {queue_url} within {timeout} s")
        time.sleep(0.05)  # polling for a condition, bounded by the deadline


def queue_depth(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def item(job_id: str) -> dict[str, Any] | None:
    found = boto3.resource("dynamodb").Table(TABLE).get_item(Key={"jobId": job_id}, ConsistentRead=True)
    return found.get("Item")


def s3_json(key: str) -> Any:
    return json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8"))


def proxy_event(resource: str, path: str, path_parameters: dict[str, str]) -> dict[str, Any]:
    return {
        "resource": resource,
        "path": path,
        "httpMethod": "GET",
        "headers": {},
        "pathParameters": path_parameters,
        "requestContext": {"requestId": "req-1"},
        "body": None,
    }


def form(body: str) -> dict[str, str]:
    """A rendered form-encoded integration body, parsed strictly (one value per name)."""
    pairs = urllib.parse.parse_qsl(body, keep_blank_values=True, strict_parsing=True)
    parsed = dict(pairs)
    assert len(parsed) == len(pairs), f"repeated names in {body!r}"
    return parsed


def message_attributes(fields: dict[str, str]) -> dict[str, dict[str, str]]:
    """MessageAttribute.N.* form fields as SendMessage's MessageAttributes."""
    attributes = {}
    index = 1
    while f"MessageAttribute.{index}.Name" in fields:
        prefix = f"MessageAttribute.{index}"
        attributes[fields[f"{prefix}.Name"]] = {
            "DataType": fields[f"{prefix}.Value.DataType"],
            "StringValue": fields[f"{prefix}.Value.StringValue"],
        }
        index += 1
    return attributes
