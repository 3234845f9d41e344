"""Function output into the embedded AWS's CloudWatch Logs (moto's logs backend, in this process).

As on AWS ("Sending Lambda function logs to CloudWatch Logs"): group `/aws/lambda/<function>`
(created when missing, as Lambda does with the basic execution role's logs:CreateLogGroup), one
stream per execution environment, one event per line; so FilterLogEvents / GetLogEvents answer
locally what they answer on AWS. Nothing is interpreted: lines are stored as written.
"""

from __future__ import annotations

import logging
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path

SERVER_LOG_BYTES = 5 * 1024 * 1024  # server.log rotates at this size
SERVER_LOG_BACKUPS = 2


class CloudWatchLogsSink:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # moto's log streams are not thread safe

    def emit(
        self, account: str, region: str, group: str, stream: str, message: str, timestamp_ms: int
    ) -> None:
        from moto.logs.models import logs_backends

        backend = logs_backends[account][region]
        with self._lock:
            try:
                backend.ensure_log_group(group)
                log_group = backend.groups[group]
                if stream not in log_group.streams:
                    log_group.create_log_stream(stream)
                backend.put_log_events(group, stream, [{"timestamp": timestamp_ms, "message": message}])
            except Exception as exc:  # a deleted group mid-write must not break the invocation
                logging.getLogger("asyncapi.local").debug("log line dropped: %s", exc)


def rotating_server_log(path: Path) -> logging.Handler:
    """server.log bounded in size (the embedded AWS can run for days)."""
    handler = RotatingFileHandler(path, maxBytes=SERVER_LOG_BYTES, backupCount=SERVER_LOG_BACKUPS)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    return handler
