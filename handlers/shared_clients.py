"""One boto3 client per service for a handler module, made once, safe to share between its threads.

The processor, the batch runner and the dead-letter recorder handle a batch's records in threads, and
boto3's default session is not thread-safe ("Multithreading or multiprocessing with clients", boto3
docs): unguarded, each thread built its own client (~50 ms of CPU each, the worker's largest cost).
"""

from __future__ import annotations

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
