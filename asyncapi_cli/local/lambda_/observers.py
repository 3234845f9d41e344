"""Who learns of each ended invocation (the embedded CloudWatch's AWS/Lambda metrics), and what."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import NamedTuple

from .sandbox import FunctionSpec, InvokeResult

log = logging.getLogger("asyncapi.local.lambda")


class InvocationEnded(NamedTuple):
    """What the runtime's observers learn of each invocation."""

    spec: FunctionSpec
    qualifier: str | None
    result: InvokeResult
    throttled: bool
    duration_ms: float
    concurrent: int  # environments busy with the function, this one included
    at: float  # when it ended (epoch seconds)


Observer = Callable[[InvocationEnded], None]


def tell(
    observers: list[Observer],
    spec: FunctionSpec,
    qualifier: str | None,
    result: InvokeResult,
    started: float = 0,
    busy: int = 0,
) -> InvokeResult:
    """Tell the observers (started 0: throttled, never run); the result, unchanged."""
    if observers:
        took = (time.monotonic() - started) * 1000.0 if started else 0.0
        ended = InvocationEnded(spec, qualifier, result, not started, took, busy, time.time())
        for observer in observers:
            try:
                observer(ended)
            except Exception:  # an observer's failure is not the invocation's
                log.exception("invocation observer")
    return result
