"""The dashboard served in-process against in-process moto: a deployed stack, its console on 127.0.0.1."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import boto3

from asyncapi_cli.commands.dashboard import build_server

from .conftest import deploy

STACK = "dash-stack"
TABLE = f"{STACK}-jobs"
MARKUP = '<script>alert("x")</script><b>bold</b>'  # job data that must arrive escaped, never as markup


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str


@dataclass
class Served:
    stack: Any
    server: Any

    @property
    def port(self) -> int:
        return int(self.server.console.port)

    @property
    def origin(self) -> str:
        return str(self.server.console.origin)

    @property
    def token(self) -> str:
        return str(self.server.console.token)

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        body = urlencode(form).encode() if form is not None else None
        sent = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            answer = connection.getresponse()
            return Reply(answer.status, dict(answer.getheaders()), answer.read().decode("utf-8"))
        finally:
            connection.close()

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)


def put_job(job_id: str, status: str, created: str, **fields: str) -> None:
    item = {"jobId": {"S": job_id}, "status": {"S": status}, "createdAt": {"S": created}}
    item |= {name: {"S": value} for name, value in fields.items()}
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=item)


@contextmanager
def served_console() -> Iterator[Served]:
    stack = deploy(STACK)
    server = build_server(stack)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Served(stack, server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
