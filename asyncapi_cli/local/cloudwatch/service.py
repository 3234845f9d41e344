"""The CloudWatch emulation's clock in the embedded AWS: on each minute boundary the SQS gauges and
counts of the minute that closed are recorded, then every metric alarm is evaluated; every 10 s the
high-resolution alarms (periods of 10 or 30 s) are.

Time runs as on AWS with one speed-up that changes nothing a user can observe besides promptness: an
alarm is evaluated as soon as its period closes (and when it is created or updated), not after
CloudWatch's collection lag of a minute or more, so a breach shows in ALARM within the minute.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from . import alarms, evaluator, publishers, sns, sns_delivery
from .store import STORE

log = logging.getLogger("asyncapi.local.cloudwatch")
TICK = 10  # seconds: the shortest alarm period


class CloudWatchService:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="cloudwatch")
        self._front = sns.make_front_server()
        self._front_thread = threading.Thread(target=self._front.serve_forever, daemon=True, name="sns-front")
        self.evaluations = 0
        self.sns_url = f"http://127.0.0.1:{self._front.server_address[1]}"

    def start(self) -> dict[str, Any]:
        sns.front_url = self.sns_url
        self._front_thread.start()
        self._thread.start()
        return {"sns": self.sns_url}

    def stop(self) -> None:
        self._stop.set()
        alarms.wake.set()
        self._front.shutdown()
        if sns_delivery.COURIER is not None:
            sns_delivery.COURIER.stop()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        next_tick = math.floor(self._clock() / TICK) * TICK + TICK
        while not self._stop.is_set():
            now = self._clock()
            if now < next_tick:
                # Woken early by a new or updated alarm: evaluate it now, then go on waiting.
                if alarms.wake.wait(min(next_tick - now, 1.0)) and not self._stop.is_set():
                    alarms.wake.clear()
                    self._evaluate(self._clock(), minute=True)
                continue
            tick, next_tick = next_tick, next_tick + TICK
            minute = int(tick) % 60 == 0
            if minute:
                try:
                    publishers.sample_sqs(tick - 60)
                except Exception:
                    log.exception("sampling SQS metrics")
            self._evaluate(tick, minute)

    def _evaluate(self, now: float, minute: bool) -> None:
        try:
            self.evaluations += evaluator.evaluate_all(now, minute)
        except Exception:
            log.exception("evaluating alarms")

    def status(self) -> dict[str, Any]:
        """What `asyncapi local status` shows of the emulation."""
        return {
            "metricSeries": STORE.series_count(),
            "alarmEvaluations": self.evaluations,
            "alarmTransitions": alarms.counters["transitions"],
            "alarmActions": alarms.counters["actions"],
            "snsDeliveries": sns_delivery.counters["deliveries"],
            "snsDeliveryFailures": sns_delivery.counters["failures"],
            "snsEmails": sns.counters["emails"],
            "sns": self.sns_url,
        }
