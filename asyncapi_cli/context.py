"""What every unit works with: the run's context (clients, names, settings, records, pacing), and
the small values units hand the engine (Found, Change). Re-exported by engine.py."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .aws import AwsClients
from .names import TAG_KEY, StackNames, StackSettings
from .refs import resolve
from .retry import Pacer, retry_call, wait_until

KNOWN_AFTER_UP = "(known after up)"
LEFT = "left (its record lacks its ids and it cannot be found by name)"


@dataclass(frozen=True)
class Change:
    setting: str
    live: Any
    desired: Any

    def __str__(self) -> str:
        return f"{self.setting}: {self.live!r} -> {self.desired!r}"


@dataclass
class Found:
    """A live resource: the ids we record, plus what was observed to diff against."""

    record: dict[str, Any]
    observed: dict[str, Any] = field(default_factory=dict)


@dataclass
class LambdaCode:
    zip_bytes: bytes
    sha256_b64: str


@dataclass
class Context:
    clients: AwsClients
    names: StackNames
    settings: StackSettings
    region: str
    account: str
    partition: str
    pacer: Pacer
    # Code bundles by name ("app": the handlers); stack.py says which bundle each function runs.
    code: dict[str, LambdaCode] = field(default_factory=dict)
    api_url_for: Callable[[str], str] | None = None
    local: bool = False  # the embedded local AWS (features relax what only loopback tests need)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Units whose resource this run created: what lives only inside them cannot exist yet.
    created: set[str] = field(default_factory=set)
    # Which state file owns the stack (ops.py): tags stack.py puts on the resource that carries them.
    owner_tags: dict[str, str] = field(default_factory=dict)
    # No state and no main queue (ops.up): units with create_first create before looking up.
    likely_new: bool = False
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def tags(self) -> dict[str, str]:
        """Every taggable resource's tags: the user's extra tags, and the stack tag (which wins)."""
        return dict(self.settings.extra_tags) | {TAG_KEY: self.names.project}

    def resolve(self, value: Any) -> Any:
        """`value` with its references replaced by the current records (placeholders during plan)."""
        return resolve(value, self.record_of)

    def record_of(self, key: str) -> dict[str, Any]:
        with self._lock:
            return self.records[key]

    def set_record(self, key: str, record: dict[str, Any]) -> None:
        with self._lock:
            self.records[key] = record

    def count_retry(self, _exc: Exception | None = None) -> None:
        with self._lock:
            self.retries += 1

    def pacer_retry(
        self,
        fn: Callable[[], Any],
        *,
        retry_if: Callable[[Exception], bool],
        what: str,
        timeout: float = 60.0,
        base: float = 0.25,
        cap: float = 8.0,
        settling: bool = False,
    ) -> Any:
        return retry_call(
            fn,
            retry_if=retry_if,
            pacer=self.pacer,
            what=what,
            timeout=timeout,
            base=base,
            cap=cap,
            on_retry=self.count_retry,
            settling=settling,
        )

    def wait(
        self,
        probe: Callable[[], Any],
        *,
        what: str,
        timeout: float = 300.0,
        seen_not_ready: bool = False,
        every: float = 0.5,
    ) -> Any:
        """Wait through a transient state of a few seconds: polls about `every` seconds for 10 s,
        then growing to 1 s (retry.wait_until). seen_not_ready: a create call's answer just showed it."""
        return wait_until(
            probe,
            pacer=self.pacer,
            what=what,
            timeout=timeout,
            base=every,
            cap=max(1.0, every),
            steady_for=10.0,
            seen_not_ready=seen_not_ready,
        )

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return ":".join(
            [
                "arn",
                self.partition,
                service,
                self.region if region else "",
                self.account if account else "",
                resource,
            ]
        )
