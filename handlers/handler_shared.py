"""What the handlers that run a batch's records in threads share: clients and whole log lines.

The processor, the batch runner and the dead-letter recorder handle a batch's records in threads:
- boto3's default session is not thread-safe ("Multithreading or multiprocessing with clients", boto3
  docs): unguarded, each thread built its own client (~50 ms of CPU each, the worker's largest cost);
- `print` writes a line's text and its newline separately, so two threads' JSON log lines could merge
  into one line that is no JSON (`asyncapi logs --job` parses them).
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import boto3


class Clients:
    """`clients("dynamodb")`: this module's client for the service (built on first use)."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            with self._lock:
                client = self._clients.get(service)
                if client is None:
                    client = self._clients[service] = boto3.client(service)
        return client


_log_lock = threading.Lock()


def write_log_line(line: dict[str, Any], stream: Any = None) -> None:
    """One JSON log line on stdout (or `stream`), written whole (CloudWatch Logs receives the function's
    stdout)."""
    text = json.dumps(line, default=str, ensure_ascii=False) + "\n"
    out = stream if stream is not None else sys.stdout
    with _log_lock:
        out.write(text)
        out.flush()
