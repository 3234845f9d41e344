"""Runs every enabled event source mapping of the control plane: SQS queues and DynamoDB streams.

Re-reads the mappings every `interval` seconds; starts pollers for new ones, stops those whose mapping
was disabled, changed or deleted. Also gates SQS mappings on the execution role's SQS rights.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .sqs_poller import Invoke, MappingPoller, MappingSpec
from .stream_poller import StreamMappingSpec, StreamPoller

log = logging.getLogger("asyncapi.local.poller")

SqsFactory = Callable[[str, str], Any]
PermissionCheck = Callable[[str, str, str, str], "str | None"]


def _function(account: str, region: str, arn_or_name: str) -> Any:
    from moto.awslambda.models import lambda_backends

    try:
        return lambda_backends[account][region].get_function(arn_or_name.rsplit(":", 1)[-1])
    except Exception:
        return None


def concurrency_cap(max_concurrency: int | None, reserved: int | None, account_limit: int) -> int:
    """How many batches may run at once for a mapping (with-sqs.html "Scaling and processing"): its
    function's reserved concurrency (a carve-out of its own, lambda_/concurrency.py), else the
    unreserved concurrency it shares (`account_limit`); and at most the mapping's maximum concurrency."""
    caps = [account_limit if reserved is None else reserved]
    if max_concurrency is not None:
        caps.append(max_concurrency)
    return max(0, min(caps))


def enabled_mappings() -> tuple[dict[str, MappingSpec], dict[str, StreamMappingSpec]]:
    """Every enabled SQS and DynamoDB stream mapping in the control plane (moto, in this process)."""
    from moto.awslambda.models import lambda_backends

    sqs: dict[str, MappingSpec] = {}
    streams: dict[str, StreamMappingSpec] = {}
    for account, regions in list(lambda_backends.items()):
        for region, backend in list(regions.items()):
            for uuid, esm in list(getattr(backend, "_event_source_mappings", {}).items()):
                arn = esm.event_source_arn
                if not esm.enabled:
                    continue
                function_name = esm.function_arn.rsplit(":", 1)[-1]
                report = "ReportBatchItemFailures" in (esm.function_response_types or [])
                if ":sqs:" in arn:
                    scaling = esm.scaling_config or {}
                    maximum = scaling.get("MaximumConcurrency")
                    sqs[uuid] = MappingSpec(
                        uuid=uuid,
                        account=account,
                        region=region,
                        queue_arn=arn,
                        function_name=function_name,
                        batch_size=int(esm.batch_size or 10),
                        batching_window=float(esm.max_batch_window or 0),
                        report_failures=report,
                        max_concurrency=None if maximum is None else int(maximum),
                    )
                elif ":dynamodb:" in arn and "/stream/" in arn:
                    streams[uuid] = StreamMappingSpec(
                        uuid=uuid,
                        account=account,
                        region=region,
                        stream_arn=arn,
                        function_name=function_name,
                        batch_size=int(esm.batch_size or 100),
                        batching_window=float(esm.max_batch_window or 0),
                        starting_position=str(esm.starting_position or "TRIM_HORIZON"),
                        max_retry_attempts=-1
                        if esm.max_retry_attempts is None
                        else int(esm.max_retry_attempts),
                        bisect_on_error=bool(esm.bisect_on_error),
                        report_failures=report,
                        start_index=getattr(esm, "_asyncapi_start_index", None),
                        on_failure=((esm.destination_config or {}).get("OnFailure") or {}).get("Destination"),
                    )
    return sqs, streams


def in_process_sqs(account: str, region: str) -> Any:
    from .sqs_seam import InProcessSqs

    return InProcessSqs(account, region)


class PollerManager(threading.Thread):
    """Starts the pollers of each enabled mapping and stops them when the mapping goes or changes."""

    def __init__(
        self,
        invoke: Invoke,
        account_limit: int,
        sqs_factory: SqsFactory = in_process_sqs,
        permission_check: PermissionCheck | None = None,
        interval: float = 0.5,
    ) -> None:
        super().__init__(daemon=True, name="poller-manager")
        self._invoke = invoke
        self._account_limit = account_limit
        self._sqs_factory = sqs_factory
        self._permission_check = permission_check
        self._interval = interval
        self._pollers: dict[str, MappingPoller] = {}
        # Stopped pollers whose threads are still finishing a receive or a batch: a disabled mapping is
        # reported as polled until they are done, so "no pollers" means nothing more will be received.
        self._draining: list[MappingPoller] = []
        self._streams: dict[str, StreamPoller] = {}
        self.blocked: dict[str, str] = {}  # mapping uuid -> why it is not polled
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.sync()
            except Exception as exc:
                log.warning("poller manager: %s", exc)
            self.stopping.wait(self._interval)
        self.stop_all()

    def stop_all(self) -> None:
        for poller in self._pollers.values():
            poller.stopping.set()
        for stream in self._streams.values():
            stream.stopping.set()

    def sync(self) -> None:
        sqs_specs, stream_specs = enabled_mappings()
        wanted: dict[str, tuple[MappingSpec, int]] = {}
        blocked: dict[str, str] = {}
        for uuid, spec in sqs_specs.items():
            function = _function(spec.account, spec.region, spec.function_name)
            if function is None:
                blocked[uuid] = f"function {spec.function_name} not found"
                continue
            reserved = getattr(function, "reserved_concurrency", None)
            cap = concurrency_cap(
                spec.max_concurrency, None if reserved is None else int(reserved), self._account_limit
            )
            reason = None
            if self._permission_check is not None:
                reason = self._permission_check(spec.account, spec.region, str(function.role), spec.queue_arn)
            if reason is not None:
                blocked[uuid] = reason
                continue
            wanted[uuid] = (spec, cap)
        self.blocked = blocked
        for uuid, poller in list(self._pollers.items()):
            current = wanted.get(uuid)
            if current is None or current != (poller.spec, poller.cap) or not poller.is_alive():
                poller.stopping.set()
                del self._pollers[uuid]
                self._draining.append(poller)
        self._draining = [poller for poller in self._draining if poller.pollers > 0]
        for uuid, (spec, cap) in wanted.items():
            if uuid in self._pollers:
                continue
            sqs = self._sqs_factory(spec.account, spec.region)
            try:
                url = sqs.get_queue_url(QueueName=spec.queue_name, QueueOwnerAWSAccountId=spec.account)[
                    "QueueUrl"
                ]
            except Exception:
                continue  # the queue does not exist (yet); try again next round
            poller = MappingPoller(spec, sqs, url, self._invoke, cap)
            self._pollers[uuid] = poller
            poller.start()
        for uuid, stream in list(self._streams.items()):
            if stream_specs.get(uuid) != stream.spec or not stream.is_alive():
                stream.stopping.set()
                del self._streams[uuid]
        for uuid, stream_spec in stream_specs.items():
            if uuid not in self._streams:
                self._streams[uuid] = StreamPoller(stream_spec, self._invoke)
                self._streams[uuid].start()

    def status(self) -> dict[str, Any]:
        """Per mapping: pollers running, batches in flight, the concurrency cap, or why it is not polled."""
        found: dict[str, Any] = {}
        for uuid, poller in list(self._pollers.items()):
            found[uuid] = {
                "source": poller.spec.queue_arn,
                "function": poller.spec.function_name,
                "pollers": poller.pollers,
                "batchesInFlight": poller.busy,
                "maximumConcurrency": poller.cap,
                "invocations": poller.invocations,
            }
        for poller in list(self._draining):
            found.setdefault(
                poller.spec.uuid,
                {"source": poller.spec.queue_arn, "function": poller.spec.function_name, "draining": True},
            )["pollers"] = poller.pollers
        for uuid, stream in list(self._streams.items()):
            found[uuid] = {
                "source": stream.spec.stream_arn,
                "function": stream.spec.function_name,
                "pollers": 1,
            }
        for uuid, reason in self.blocked.items():
            found[uuid] = {"pollers": 0, "notPolled": reason}
        return found
