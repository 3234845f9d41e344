"""Shared by the feature tests: the Lambda handlers imported from the deployment zip, moto resources,
and SQS records shaped exactly as the Lambda SQS event source delivers them."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import ssl
import sys
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 answering a scripted list of status codes (then 200)."""

    answers: list[int]
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> int:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        with self.lock:
            status = self.answers.pop(0) if self.answers else 200
            headers = {k.lower(): v for k, v in handler.headers.items()}
            self.requests.append({"path": handler.path, "headers": headers, "body": body, "status": status})
        return status


@contextlib.contextmanager
def serve_receiver(tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """A Receiver listening on 127.0.0.1 for the duration of the block (HTTPS with `tls`)."""
    state = Receiver(answers=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            status = state.handle(self)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls is not None else "http"
    state.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/hooks/jobs?tenant=a%26b"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
