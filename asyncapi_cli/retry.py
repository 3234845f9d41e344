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

    def steady_interval(self, base: float) -> float:
        """Uniform in [0.8 * base, 1.2 * base]: a steady cadence, jittered so that waiters spread out."""
        return self.rng.uniform(0.8 * base, 1.2 * base)

    def settle_pause(self, attempt: int, took: float, base: float, cap: float) -> float:
        """The pause after a failed attempt at a call whose error passes by itself, measured from the
        attempt's start: attempts start about `poll_interval` apart, and one that itself took that long
        (CreateFunction answers the role error only after its usual ~1.5 s) is retried almost at once,
        after a short jittered pause (50-150 ms)."""
        return max(self.rng.uniform(0.05, 0.15), self.poll_interval(attempt, base, cap) - took)


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
    on a waiter's cadence measured from each attempt's start (`Pacer.settle_pause`) rather than
    backing off from AWS. A failed attempt that took long is retried almost at once, so the attempt
    that succeeds lands at most about one attempt's duration after the error stopped.
    """
    deadline = pacer.clock() + timeout
    attempt = 0
    while True:
        started = pacer.clock()
        try:
            return fn()
        except Exception as exc:
            if not retry_if(exc):
                raise
            if settling:
                delay = pacer.settle_pause(attempt, pacer.clock() - started, base, cap)
            else:
                delay = max(0.05, pacer.backoff(attempt, base, cap))
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
    steady_for: float = 0.0,
    seen_not_ready: bool = False,
) -> T:
    """Poll probe until it returns something truthy: every `base` seconds (jittered 20 %) for the
    first `steady_for` seconds, then on intervals growing from `base` to about `cap`.

    The interval is capped near 1 s: with a 5 s cap the last poll landed a median 1 s,
    up to 3.5 s, after the resource was ready, once per wait on `up`'s critical path. The transient
    states `up` waits through (a function Pending, a mapping Creating, a table CREATING) last a few
    seconds: there (Context.wait) a steady ~0.5 s cadence notices their end about 0.25 s late on
    average, with about as many polls as intervals growing from 0.25 s to 1 s, which noticed it
    0.5 s late. seen_not_ready: the caller has just seen the resource not ready (in its create
    call's answer), so the first poll waits one interval.
    """
    started = pacer.clock()
    deadline = started + timeout
    attempt = 0
    if seen_not_ready:
        pacer.sleep(pacer.steady_interval(base))
    while True:
        polled = pacer.clock()
        result = probe()
        if result:
            return result
        if polled - started < steady_for:
            # Measured from the poll's start: the poll's own round trip is part of the interval.
            delay = pacer.steady_interval(base) - (pacer.clock() - polled)
        else:
            delay = pacer.poll_interval(attempt, base, cap)
            attempt += 1
        delay = max(0.05, delay)
        if pacer.clock() + delay > deadline:
            raise AwsError(f"timed out after {timeout:.0f}s waiting for {what}")
        pacer.sleep(delay)
