"""The one seam through which the pollers and the gateway reach SQS: moto in this process, no HTTP.

Calling moto's `receive_message` / `delete_message` directly keeps SQS's semantics (visibility
timeout, receive counts, redrive to the DLQ after maxReceiveCount, FIFO group locking all live in the
backend) and skips the serialize/HTTP/parse round trip the server would otherwise make to itself
(43% of the server's CPU under load). Answers are shaped like boto3's, so the pollers can
be given a boto3 client instead (tests do, and so does anything pointed at real AWS).

The gateway's AWS integrations (apigw/integrations.py) hand their rendered query-protocol request to
`answer_query`: moto's own SQS front end (the handler its server runs: parameter parsing, validation,
the answer's XML and its error shapes) answers it here, without the HTTP round trip to the server
itself, the SigV4 signature and werkzeug/Flask around it (about a quarter of the server's CPU
per submitted job).

"""

from __future__ import annotations

import base64
import logging
import threading
import time
import urllib.parse
from typing import Any

log = logging.getLogger("asyncapi.local.sqs")

SYSTEM_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "MessageGroupId",
    "MessageDeduplicationId",
    "SequenceNumber",
    "AWSTraceHeader",
)


_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


def _receive_lock(queue: Any) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(id(queue), threading.Lock())


def _binary(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return base64.b64decode(value)  # moto keeps JSON-protocol binaries as base64 text


class InProcessSqs:
    """The subset of the boto3 SQS client the pollers use, answered by moto's backend."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region

    def _backend(self) -> Any:
        from moto.sqs.models import sqs_backends

        return sqs_backends[self.account][self.region]

    @staticmethod
    def _queue_name(queue_url: str) -> str:
        return queue_url.rstrip("/").rsplit("/", 1)[-1]

    def get_queue_url(self, QueueName: str, QueueOwnerAWSAccountId: str | None = None) -> dict[str, Any]:  # noqa: N803
        self._backend().get_queue(QueueName)  # raises when the queue does not exist
        return {"QueueUrl": f"http://in-process/{self.account}/{QueueName}"}

    def receive_message(
        self,
        QueueUrl: str,  # noqa: N803
        MaxNumberOfMessages: int = 1,  # noqa: N803
        WaitTimeSeconds: int = 0,  # noqa: N803
        AttributeNames: list[str] | None = None,  # noqa: N803
        MessageAttributeNames: list[str] | None = None,  # noqa: N803
        MessageSystemAttributeNames: list[str] | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        backend = self._backend()
        name = self._queue_name(QueueUrl)
        queue = backend.get_queue(name)
        deadline = time.monotonic() + WaitTimeSeconds
        while True:
            # moto's receive is not atomic: two pollers could take the same message. One receive at a
            # time per queue; the long poll itself waits outside the lock.
            with _receive_lock(queue):
                messages = backend.receive_message(
                    name,
                    MaxNumberOfMessages,
                    0,
                    int(queue.visibility_timeout),
                    MessageAttributeNames or ["All"],
                )
            remaining = deadline - time.monotonic()
            if messages or remaining <= 0:
                break
            started = time.monotonic()
            queue.wait_for_messages(min(1.0, remaining))  # returns when a message is visible
            if time.monotonic() - started < 0.01:
                time.sleep(0.05)  # visible but not receivable (a FIFO group in flight): do not spin
        return {"Messages": [self._shape(m) for m in messages]} if messages else {}

    @staticmethod
    def _shape(message: Any) -> dict[str, Any]:
        shaped: dict[str, Any] = {
            "MessageId": message.id,
            "ReceiptHandle": message.receipt_handle,
            "MD5OfBody": message.body_md5,
            "Body": message.body,
        }
        if message.message_attributes:
            attributes = {}
            for name, value in message.message_attributes.items():
                item: dict[str, Any] = {"DataType": value.get("DataType") or value.get("data_type")}
                string = value.get("StringValue", value.get("string_value"))
                binary = value.get("BinaryValue", value.get("binary_value"))
                if string is not None:
                    item["StringValue"] = string
                if binary is not None:
                    item["BinaryValue"] = _binary(binary)
                attributes[name] = item
            shaped["MessageAttributes"] = attributes
            shaped["MD5OfMessageAttributes"] = message.attribute_md5
        system = {
            "SenderId": message.sender_id,
            "SentTimestamp": str(message.sent_timestamp),
            "ApproximateReceiveCount": str(message.approximate_receive_count),
            "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
        }
        if message.deduplication_id is not None:
            system["MessageDeduplicationId"] = message.deduplication_id
        if message.group_id is not None:
            system["MessageGroupId"] = message.group_id
        if message.sequence_number is not None:
            system["SequenceNumber"] = message.sequence_number
        trace = (message.system_attributes or {}).get("AWSTraceHeader")
        if trace:
            system["AWSTraceHeader"] = trace.get("StringValue")
        shaped["Attributes"] = system
        return shaped

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:  # noqa: N803
        done, failed = self._backend().delete_message_batch(self._queue_name(QueueUrl), Entries)
        answer: dict[str, Any] = {"Successful": [{"Id": i} for i in done]}
        if failed:
            answer["Failed"] = failed
        return answer


def form_field(body: str, name: str) -> str:
    """`dict(urllib.parse.parse_qsl(body)).get(name, "")`: the last non-empty `name=value` field of a form,
    decoded, without decoding every other field (a message body can be most of the form).

    Python 3.11's parse_qsl (Lib/urllib/parse.py): fields split on "&"; a field without "=" or with an
    empty value is skipped (keep_blank_values=False); name and value have "+" made " " and are
    `unquote`d (utf-8, errors="replace"); the dict keeps the last of a name."""
    if not isinstance(body, str):  # bytes: parse_qsl's own coercion (and its errors)
        return dict(urllib.parse.parse_qsl(body)).get(name, "")
    for field in reversed(body.split("&")) if body else ():
        key, sep, value = field.partition("=")
        if sep and value and urllib.parse.unquote(key.replace("+", " ")) == name:
            return urllib.parse.unquote(value.replace("+", " "))
    return ""


def answer_query(
    endpoint: str, region: str, path: str, verb: str, headers: dict[str, str], body: str
) -> tuple[int, str, dict[str, str]]:
    """An SQS query-protocol request (`path` relative to the service root, its query string included),
    answered as the embedded server would answer it: (status, body, headers).

    The URL keeps the server's host, so answers naming a queue URL name the local endpoint as before.
    The region travels in a SigV4 credential scope, as in the signed request API Gateway sends; the
    signature itself is a placeholder: moto verifies signatures only for role sessions (iam_policy),
    and the gateway has already judged its credentials role (integrations._authorize_sqs)."""
    from moto.core.request import Request
    from moto.sqs.responses import SQSResponse
    from werkzeug.exceptions import HTTPException

    url = f"{endpoint.rstrip('/')}/{path.lstrip('/')}"
    scope = f"testing/20000101/{region}/sqs/aws4_request"
    sent = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    sent["Authorization"] = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"
    sent.setdefault("Host", urllib.parse.urlsplit(url).netloc)
    data = body.encode("utf-8") if verb not in ("GET", "HEAD") else b""
    request = Request.from_primitives(verb, url, sent, data)
    try:
        status, answer_headers, answer = SQSResponse.dispatch(request, request.raw_url, request.headers)
    except HTTPException as exc:  # moto's errors (QueueDoesNotExist...), as its server renders them
        status, answer_headers, answer = exc.code or 500, dict(exc.get_headers()), exc.get_body()
    except Exception:  # noqa: BLE001 - moto itself failed: its server's answer, a 500 without an error code
        log.exception("SQS %s %s", verb, path)
        return 500, "Internal Server Error", {"Content-Type": "text/plain"}
    text = answer.decode("utf-8", errors="replace") if isinstance(answer, bytes) else str(answer)
    return int(status), text, {str(k): str(v) for k, v in dict(answer_headers or {}).items()}
