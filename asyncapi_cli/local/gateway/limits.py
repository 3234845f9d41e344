"""Throttling (token buckets), API keys and usage-plan quotas, as API Gateway applies them.

AWS docs "Throttle requests to your REST APIs for better throughput": a token bucket per stage method
(stage default `*/*`, or a method's own setting) with `throttlingRateLimit` tokens a second and
`throttlingBurstLimit` capacity; a usage plan adds a bucket per API key and a quota per period.
Over a bucket: 429 THROTTLED "Too Many Requests"; over a quota: 429 QUOTA_EXCEEDED "Limit Exceeded";
a missing, unknown or disabled key on an `apiKeyRequired` method: 403 INVALID_API_KEY "Forbidden"
(LocalStack api_key_validation.py, snapshot test_api_key_required_for_methods).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from . import moto_seam
from .errors import InvalidApiKey, QuotaExceeded, Throttled


class TokenBucket:
    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self._clock = float(rate), float(burst), clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


def method_setting(settings: dict[str, dict[str, Any]], resource_path: str, verb: str) -> dict[str, Any]:
    """A method's own settings over the stage's `*/*` defaults. Keys are `~1a~1b/GET` (JSON-pointer
    escaped, as UpdateStage patch paths are) or `a/b/GET`."""
    merged = dict(settings.get("*/*") or {})
    wanted = f"{resource_path.strip('/')}/{verb}"
    for key, value in settings.items():
        if key.replace("~1", "/").strip("/") == wanted:
            merged.update(value)
    return merged


def _quota_period_start(period: str, offset: int, now: float) -> str:
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    if period == "DAY":
        return moment.strftime("%Y-%m-%d")
    if period == "WEEK":
        return f"{moment.isocalendar()[0]}-W{moment.isocalendar()[1]}-{offset}"
    return moment.strftime("%Y-%m") + f"-{offset}"


class Limits:
    def __init__(self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self._clock, self._wall = clock, wall
        self._buckets: dict[tuple[Any, ...], TokenBucket] = {}
        self._quota_used: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    def _bucket(self, key: tuple[Any, ...], rate: float, burst: float) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None or (bucket.rate, bucket.burst) != (float(rate), float(burst)):
                bucket = self._buckets[key] = TokenBucket(rate, burst, self._clock)
            return bucket

    def check_api_key(
        self, account: str, region: str, api_id: str, stage: str, headers: dict[str, str]
    ) -> moto_seam.UsagePlanGrant:
        value = next((v for k, v in headers.items() if k.lower() == "x-api-key"), None)
        if not value:
            raise InvalidApiKey()
        grant = moto_seam.usage_plan_for_key(account, region, api_id, stage, value)
        if not isinstance(grant, moto_seam.UsagePlanGrant):
            raise InvalidApiKey()
        return grant

    def charge_usage_plan(self, grant: moto_seam.UsagePlanGrant) -> None:
        throttle = grant.throttle
        if throttle.get("rateLimit") is not None or throttle.get("burstLimit") is not None:
            rate = float(throttle.get("rateLimit", 0) or 0)
            burst = float(throttle.get("burstLimit", max(rate, 1)) or 0)
            if not self._bucket(("plan", grant.plan_id, grant.key_id), rate, burst).take():
                raise Throttled()
        quota = grant.quota
        if quota.get("limit") is not None:
            period = _quota_period_start(
                str(quota.get("period", "DAY")), int(quota.get("offset", 0)), self._wall()
            )
            key = (grant.plan_id, grant.key_id, period)
            with self._lock:
                used = self._quota_used.get(key, 0)
                if used >= int(quota["limit"]):
                    raise QuotaExceeded()
                self._quota_used[key] = used + 1

    def charge_stage(
        self, api_id: str, stage: str, resource_path: str, verb: str, setting: dict[str, Any]
    ) -> None:
        rate, burst = setting.get("throttlingRateLimit"), setting.get("throttlingBurstLimit")
        if rate is None and burst is None:
            return  # the account's limits (10,000 rps, 5,000 burst) are far above what one machine sends
        rate = float(rate if rate is not None else 10000)
        burst = float(burst if burst is not None else 5000)
        if not self._bucket(("stage", api_id, stage, resource_path, verb), rate, burst).take():
            raise Throttled()
