"""Fault injection through botocore's event system (attached with StackOptions.hooks)."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from typing import Any

from asyncapi_cli.aws import is_mutating


class InjectedFault(Exception):
    """Raised right after the k-th mutating call has reached AWS (its response is lost to us)."""


class FailAfterMutatingCall:
    """Counts mutating calls across every client; raises after call number `k` completes."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.count = 0
        self.operations: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, client: Any) -> None:
        client.meta.events.register("after-call.*.*", self._after_call)

    def _after_call(self, model: Any, **_: Any) -> None:
        if not is_mutating(model.name):
            return
        with self._lock:
            self.count += 1
            self.operations.append(f"{model.service_model.service_name}.{model.name}")
            hit = self.count == self.k
        if hit:
            raise InjectedFault(f"injected failure after mutating call {self.k} ({model.name})")


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data

    def read(self, *_: Any) -> bytes:
        return self._data


def throttling_response(protocol: str, url: str) -> Any:
    """What AWS answers when it throttles, in the wire format of each protocol."""
    from botocore.awsrequest import AWSResponse

    if protocol == "json":
        status, headers = 400, {"x-amzn-RequestId": "fault"}
        body = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
    elif protocol == "rest-json":
        status, headers = 429, {"x-amzn-ErrorType": "TooManyRequestsException", "x-amzn-RequestId": "fault"}
        body = b'{"message": "Too Many Requests"}'
    elif protocol == "query":
        status, headers = 400, {}
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            b"<Message>Rate exceeded</Message>"
            b"</Error><RequestId>fault</RequestId></ErrorResponse>"
        )
    else:  # rest-xml (S3)
        status, headers = 503, {}
        body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
    return AWSResponse(url, status, headers, _Body(body))


class Flaky:
    """Before a request is sent: with probability `rate`, answer with throttling, a 503, or a reset.

    Only the first attempt of a request is ever faulted, so botocore's retries get it through; the
    requests never reach the server, so nothing is done twice.
    """

    def __init__(self, rate: float, seed: int = 7) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.injected = 0
        self.kinds: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, client: Any) -> None:
        protocol = client.meta.service_model.protocol
        client.meta.events.register_first(
            "before-send.*.*", lambda request, **kw: self._maybe_fault(protocol, request, **kw)
        )

    def _maybe_fault(self, protocol: str, request: Any, **_: Any) -> Any:
        from botocore.exceptions import ConnectionClosedError

        # botocore numbers its attempts in this header: fault only a request's first attempt.
        attempt = request.headers.get("amz-sdk-request", b"attempt=1")
        if (attempt.decode() if isinstance(attempt, bytes) else attempt).split(";")[0] != "attempt=1":
            return None
        with self._lock:
            if self.rng.random() >= self.rate:
                return None
            self.injected += 1
            kind = self.rng.choice(["throttle", "unavailable", "reset"])
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if kind == "reset":
            raise ConnectionClosedError(endpoint_url=request.url)
        if kind == "unavailable":
            from botocore.awsrequest import AWSResponse

            return AWSResponse(request.url, 503, {}, _Body(b""))
        return throttling_response(protocol, request.url)


def error_response(protocol: str, url: str, status: int, code: str, message: str) -> Any:
    """An AWS error answer in the wire format of each protocol (botocore parses it as AWS's own)."""
    from botocore.awsrequest import AWSResponse

    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        return AWSResponse(url, status, {"x-amzn-RequestId": "fault"}, _Body(body))
    if protocol == "rest-json":
        headers = {"x-amzn-ErrorType": code, "x-amzn-RequestId": "fault"}
        return AWSResponse(url, status, headers, _Body(json.dumps({"message": message}).encode()))
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()  # rest-xml (S3)
    return AWSResponse(url, status, {}, _Body(body))


class Refuse:
    """Answers the first `times` calls of one operation with an AWS error, before they are sent.

    `when(params)` narrows which calls count (one function's CreateFunction, say). Each refused call
    is a whole API call refused (not one attempt of it), as when AWS answers the same error again.
    """

    def __init__(
        self,
        service: str,
        operation: str,
        *,
        times: int,
        status: int,
        code: str,
        message: str,
        when: Callable[[dict[str, Any]], bool] = lambda _params: True,
    ) -> None:
        self.service, self.operation, self.times = service, operation, times
        self.status, self.code, self.message, self.when = status, code, message, when
        self.refused = 0
        self._lock = threading.Lock()

    def __call__(self, client: Any) -> None:
        if client.meta.service_model.service_name != self.service:
            return
        protocol = client.meta.service_model.protocol
        event = f"{client.meta.service_model.service_id.hyphenize()}.{self.operation}"

        # The call's parameters, carried from provide-client-params to before-send on the calling
        # thread: a call and its retries run on one thread, and a prepared request has no `context`
        # before botocore 1.44.
        calling = threading.local()

        def remember(params: dict[str, Any], **_: Any) -> None:
            calling.params = params

        def refuse(request: Any, **_: Any) -> Any:
            call_params = getattr(calling, "params", {})
            with self._lock:
                if self.refused >= self.times or not self.when(call_params):
                    return None
                self.refused += 1
            return error_response(protocol, request.url, self.status, self.code, self.message)

        client.meta.events.register_first(f"provide-client-params.{event}", remember)
        client.meta.events.register_first(f"before-send.{event}", refuse)


def hold_first_call(monkeypatch: Any, owner: type, name: str) -> tuple[threading.Event, threading.Event]:
    """Replaces `owner.name` so that its first call stays inside it until `release` is set (`inside` is set
    once it is there); later calls go straight through. For checking that a second caller waits."""
    inside, release = threading.Event(), threading.Event()
    original = getattr(owner, name)

    def held(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not inside.is_set():
            inside.set()
            assert release.wait(30)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, held)
    return inside, release
