"""SNS's HTTP(S) deliveries: posted from a few threads, retried per the delivery policy (SNS developer
guide, "Amazon SNS message delivery retries"), bounded. 2xx is delivered; 5xx and no answer are
retried; any other status fails the message. A retry waits in a heap until due: no thread sleeps."""

from __future__ import annotations

import heapq
import http.client
import logging
import random
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("asyncapi.local.sns")
HTTP_TIMEOUT = 15.0  # seconds per delivery attempt
MAX_RETRIES = 100  # SNS's bound on numRetries
MAX_RETRY_SECONDS = (
    3600  # "The total policy retry time for an HTTP/S endpoint cannot be greater than 3,600 s"
)
counters = {"deliveries": 0, "failures": 0, "attempts": 0}


def retry_delays(policy: dict[str, Any]) -> list[float]:
    """The waits before each retry of the delivery policy (SNS developer guide, "Amazon SNS message
    delivery retries": immediate retries, then at the minimum delay, then backoff, then at the maximum)."""
    retries = min(MAX_RETRIES, int(policy.get("numRetries", 3)))
    low, high = float(policy.get("minDelayTarget", 20)), float(policy.get("maxDelayTarget", 20))
    immediate = int(policy.get("numNoDelayRetries", 0))
    at_min, at_max = int(policy.get("numMinDelayRetries", 0)), int(policy.get("numMaxDelayRetries", 0))
    backoff = max(0, retries - immediate - at_min - at_max)
    delays = [0.0] * immediate + [low] * at_min
    for step in range(backoff):
        delays.append(low + (high - low) * (step + 1) / backoff if backoff else low)
    delays += [high] * at_max
    bounded, total = [], 0.0
    for delay in delays[:retries]:
        total += delay
        if total > MAX_RETRY_SECONDS:
            break
        bounded.append(delay)
    return bounded


@dataclass(order=True)
class Delivery:
    due: float
    endpoint: str = field(compare=False)
    body: bytes = field(compare=False)
    headers: dict[str, str] = field(compare=False)
    delays: list[float] = field(compare=False)
    attempt: int = field(default=0, compare=False)


class Courier:
    """Posts deliveries from a few threads; a retry waits in a heap until it is due (no thread sleeps)."""

    def __init__(self, workers: int = 4) -> None:
        self._heap: list[Delivery] = []
        self._ready = threading.Condition()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._run, daemon=True, name="sns-courier") for _ in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def send(self, delivery: Delivery) -> None:
        with self._ready:
            heapq.heappush(self._heap, delivery)
            self._ready.notify()

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify_all()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._stopping and (not self._heap or self._heap[0].due > time.monotonic()):
                    self._ready.wait(
                        None if not self._heap else max(0.0, self._heap[0].due - time.monotonic())
                    )
                if self._stopping:
                    return
                delivery = heapq.heappop(self._heap)
            self._attempt(delivery)

    def _attempt(self, delivery: Delivery) -> None:
        counters["attempts"] += 1
        status = post(delivery.endpoint, delivery.body, delivery.headers)
        if status is not None and 200 <= status < 300:
            counters["deliveries"] += 1
            return
        # Retried: "server-side errors (when the system that hosts the subscribed endpoint becomes
        # unavailable)", with jitter ("Amazon SNS applies jittering to delivery retries").
        retryable = status is None or status >= 500
        if retryable and delivery.attempt < len(delivery.delays):
            delivery.due = time.monotonic() + delivery.delays[delivery.attempt] * random.uniform(0.9, 1.1)
            delivery.attempt += 1
            self.send(delivery)
            return
        counters["failures"] += 1
        log.warning(
            "SNS delivery to %s failed after %d attempts (last: %s)",
            delivery.endpoint,
            delivery.attempt + 1,
            status if status is not None else "no answer",
        )


def post(endpoint: str, body: bytes, headers: dict[str, str]) -> int | None:
    """POST straight to the loopback endpoint (no proxy); its status, or None without an answer."""
    parts = urllib.parse.urlsplit(endpoint)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = connection_class(parts.hostname or "127.0.0.1", parts.port, timeout=HTTP_TIMEOUT)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException) as exc:
        log.info("SNS delivery to %s: %s", endpoint, exc)
        return None
    finally:
        connection.close()


COURIER: Courier | None = None


def courier() -> Courier:
    global COURIER
    if COURIER is None:
        COURIER = Courier()
    return COURIER
