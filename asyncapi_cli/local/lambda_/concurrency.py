"""Lambda concurrency, locally: reserved concurrency is a carve-out of the account's limit, as on AWS.

AWS ("Configuring reserved concurrency", docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html):
a function with reserved concurrency N can always run N environments, whatever other functions use, and
never more; the functions without a reservation share what remains of the account's limit (the
unreserved concurrency); reserved concurrency 0 throttles every invocation. A synchronous invocation
beyond the limit is throttled (429 TooManyRequestsException, Reason
ReservedFunctionConcurrentInvocationLimitExceeded for a reserved function, else
ConcurrentInvocationLimitExceeded: LocalStack's AWS-recorded snapshot test_lambda_concurrency_block).

Locally the unreserved pool is the machine's limit (account_limit below: two environments per
core, 4-10) and each reservation is added on top of it, so the stack's reservations always fit: the
local account limit is that pool plus every reservation known (`asyncapi local status` shows both).
Event source pollers wait for a slot (on AWS they back off and retry); Invoke's callers are throttled.
"""

from __future__ import annotations

import os
import threading
from typing import Any

Key = tuple[str, str, str]  # account, region, function name
MAX_DEFAULT_ACCOUNT_LIMIT = 10  # concurrent environments on a large machine (AWS's default is 1,000)


def default_account_limit() -> int:
    """Two environments per core, between 4 and 10. Every environment's requests go to the one embedded
    AWS process; beyond about two per core they only queue behind each other (500 jobs on 2
    cores, single runs: 10 environments 36-37 jobs/s, 6: 41, 5: 42-44, 4: 49, 3: 46, with less CPU per
    job the fewer there were; at 10, 3-11% of the jobs were processed twice, at 6 or fewer none:
    batches waiting on the server outlived the local stack's 4 s visibility timeout). At least 4: a stack
    with its features runs several functions and mappings at once, and they share the limit."""
    try:
        cores = len(os.sched_getaffinity(0))  # the cores this process may run on (containers, taskset)
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(4, min(MAX_DEFAULT_ACCOUNT_LIMIT, 2 * cores))


def account_limit() -> int:
    """The local account concurrency limit (ASYNCAPI_LOCAL_CONCURRENCY overrides)."""
    try:
        return max(1, int(os.environ.get("ASYNCAPI_LOCAL_CONCURRENCY") or default_account_limit()))
    except ValueError:
        return default_account_limit()


class Throttled(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Concurrency:
    def __init__(self, unreserved: int) -> None:
        self.unreserved = max(1, unreserved)
        self._shared = threading.BoundedSemaphore(self.unreserved)
        self._reserved: dict[Key, tuple[int, threading.BoundedSemaphore]] = {}
        self._lock = threading.Lock()

    @property
    def account_limit(self) -> int:
        """The unreserved pool plus every reservation: the local account's concurrency limit."""
        with self._lock:
            return self.unreserved + sum(n for n, _ in self._reserved.values())

    def reservations(self) -> dict[str, int]:
        with self._lock:
            return {f"{region}/{name}": n for (_, region, name), (n, _) in sorted(self._reserved.items())}

    def reserve(self, key: Key, reserved: int | None) -> None:
        """Record a function's reservation (None: none); a changed one takes effect for new invocations."""
        with self._lock:
            current = self._reserved.get(key)
            if reserved is None or reserved <= 0:
                self._reserved.pop(key, None)
            elif current is None or current[0] != reserved:
                self._reserved[key] = (reserved, threading.BoundedSemaphore(reserved))

    def known(self) -> set[Key]:
        with self._lock:
            return set(self._reserved)

    def acquire(self, key: Key, reserved: int | None, *, wait: bool = True) -> threading.BoundedSemaphore:
        """An environment's worth of concurrency for one invocation, from the function's reservation, else
        from the shared pool: the semaphore to release after it. Without `wait`, Throttled when none
        is free now."""
        self.reserve(key, reserved)
        with self._lock:
            own = self._reserved.get(key)
        semaphore = own[1] if own is not None else self._shared
        if not semaphore.acquire(blocking=wait):
            raise Throttled(
                "ReservedFunctionConcurrentInvocationLimitExceeded"
                if own is not None
                else "ConcurrentInvocationLimitExceeded"
            )
        return semaphore


def reservations_in_moto() -> dict[Key, int]:
    """Every function's reserved concurrency as moto stores it (PutFunctionConcurrency, CreateFunction)."""
    from moto.awslambda.models import lambda_backends

    found: dict[Key, int] = {}
    for account, regions in list(lambda_backends.items()):
        for region, backend in list(regions.items()):
            functions: Any = getattr(getattr(backend, "_lambdas", None), "_functions", {}) or {}
            for name, entry in list(functions.items()):
                reserved = getattr(entry.get("latest"), "reserved_concurrency", None)
                if reserved is not None:
                    found[(account, region, name)] = int(reserved)
    return found
