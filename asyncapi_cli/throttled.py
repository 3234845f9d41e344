"""What the CLI's HTTP clients of the deployed API do with "not now" answers: which they retry, and how
long Retry-After asks them to wait."""

from __future__ import annotations

import datetime
import email.utils
import time

# Answers that mean "not now, nothing was done": 503 (SQS busy or unavailable: nothing was queued) and
# 429 (API Gateway's stage or usage-plan throttle refused the request before any integration ran: API
# Gateway developer guide, "Throttle requests to your REST APIs": clients receive 429 Too Many Requests).
RETRIED_STATUSES = frozenset({429, 503})
MAX_RETRY_WAIT = 20.0  # seconds, whatever Retry-After asks


def retry_after(headers: dict[str, str], now: float | None = None) -> float:
    """Retry-After in seconds: delta-seconds or an HTTP-date (RFC 9110, 10.2.3); 0 when absent or bad."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
