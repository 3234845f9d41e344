"""Bounded, jittered retries and waiters. Sleep, clock and randomness are injected."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import AwsError

T = TypeVar("T")


@dataclass
class Pacer:
    """Side effects of waiting, injectable so tests never really sleep."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int, base: float, cap: float) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return self.rng.uniform(0, min(cap, base * (2**attempt)))

    def poll_interval(self, attempt: int, base: float, cap: float) -> float:
        """Equal jitter: uniform in [interval / 2, interval], interval = min(cap, base * 2**attempt).

        A waiter's polls are cheap reads; what costs is noticing late that a resource is ready.
        Half the interval is kept so that concurrent waiters still spread out, never bunch at 0.
        """
        interval = min(cap, base * (2**attempt))
        return self.rng.uniform(interval / 2, interval)


def retry_call(
    fn: Callable[[], T],
    *,
    retry_if: Callable[[Exception], bool],
    pacer: Pacer,
    what: str,
    timeout: float = 60.0,
    base: float = 0.25,
    cap: float = 8.0,
    on_retry: Callable[[Exception], None] | None = None,
    settling: bool = False,
) -> T:
    """Call fn until it succeeds, retrying errors retry_if accepts, for at most `timeout` seconds.

    settling: the error passes by itself after a while (IAM propagation), not under our load: retry
    on a waiter's interval (equal jitter, capped near `cap`) rather than backing off from AWS.
    """
    deadline = pacer.clock() + timeout
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            if not retry_if(exc):
                raise
            pause = pacer.poll_interval if settling else pacer.backoff
            delay = max(0.05, pause(attempt, base, cap))
            if pacer.clock() + delay > deadline:
                raise AwsError(f"gave up on {what} after {attempt + 1} attempts: {exc}") from exc
            if on_retry is not None:
                on_retry(exc)
            attempt += 1
            pacer.sleep(delay)


def wait_until(
    probe: Callable[[], T | None],
    *,
    pacer: Pacer,
    what: str,
    timeout: float = 300.0,
    base: float = 0.25,
    cap: float = 1.0,
) -> T:
    """Poll probe (jittered intervals growing to about `cap`) until it returns something truthy.

    The interval is capped near 1 s (issue 13): with a 5 s cap the last poll landed a median 1 s,
    up to 3.5 s, after the resource was ready, once per wait on `up`'s critical path.
    """
    deadline = pacer.clock() + timeout
    attempt = 0
    while True:
        result = probe()
        if result:
            return result
        delay = max(0.05, pacer.poll_interval(attempt, base, cap))
        if pacer.clock() + delay > deadline:
            raise AwsError(f"timed out after {timeout:.0f}s waiting for {what}")
        attempt += 1
        pacer.sleep(delay)
