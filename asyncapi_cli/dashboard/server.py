"""The console's HTTP server: 127.0.0.1 only, stdlib ThreadingHTTPServer, Jinja2 templates (autoescaped).

Every request must name the console itself in its Host header (a page of another site that resolves
its own name to 127.0.0.1, DNS rebinding, gets 403, not the jobs). Changing actions are POSTs that
carry this run's token and an Origin of the console (actions.py); everything else is a GET that reads.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2

LOOPBACK = "127.0.0.1"
MAX_FORM_BYTES = 16 * 1024
log = logging.getLogger("asyncapi.dashboard")

# Scripts, styles and data from the console only; no frames, no referrer leaving it.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: under no-referrer a form POST carries "Origin: null" (Fetch standard,
    # "append a request `Origin` header"), and the actions need the console's own Origin.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Refused(Exception):
    """The request is not allowed: answered 403 with this text."""


class NotFound(Exception):
    """No such page or item: answered 404 with this text."""


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: Any


Route = Callable[["Console", Request, re.Match[str]], Answer]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("asyncapi_cli.dashboard", "templates"),
        autoescape=True,  # every template, whatever its extension: job data is never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Console:
    """The stack, this run's token, the templates and the routes; shared by the request threads."""

    def __init__(self, stack: Any, routes: list[tuple[str, str, Route]]) -> None:
        self.stack = stack
        self.token = secrets.token_urlsafe(32)  # per run: a page from another origin cannot read it
        self.port = 0
        self.templates = _environment()
        self.routes = [(method, re.compile(pattern + r"\Z"), route) for method, pattern, route in routes]
        self.action_lock = threading.Lock()  # one change at a time (a redrive lists, then moves)
        # The last DLQ listing: (the queue's count then, its rows, when), reused until the count changes.
        self.dlq_cache: tuple[int | None, list[dict[str, Any]], float] | None = None

    @property
    def origin(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def allowed_hosts(self) -> set[str]:
        return {f"{LOOPBACK}:{self.port}", f"localhost:{self.port}"}

    def allowed_origins(self) -> set[str]:
        return {f"http://{host}" for host in self.allowed_hosts()}

    def page(self, template: str, status: int = 200, **values: Any) -> Answer:
        html = self.templates.get_template(template).render(
            token=self.token, stack_name=self.stack.state.name, **values
        )
        return Answer(status, html.encode("utf-8"))

    def json(self, value: Any) -> Answer:
        return Answer(200, json.dumps(value, default=str).encode("utf-8"), "application/json")

    def handle(self, request: Request) -> Answer:
        host = request.headers.get("Host", "")
        if host not in self.allowed_hosts():
            raise Refused("this console answers only to its own address")
        for method, pattern, route in self.routes:
            if method == request.method and (match := pattern.match(request.path)):
                return route(self, request, match)
        if request.method == "GET" and request.path.startswith("/static/"):
            return static_file(request.path.removeprefix("/static/"))
        raise NotFound(f"no page {request.path}")


def static_file(name: str) -> Answer:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
        raise NotFound("no such file")
    resource = resources.files("asyncapi_cli.dashboard").joinpath("static", name)
    if not resource.is_file():
        raise NotFound("no such file")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    return Answer(200, resource.read_bytes(), content_type, {"Cache-Control": "max-age=3600"})


class Handler(BaseHTTPRequestHandler):
    server: ConsoleServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        log.debug("%s %s", self.address_string(), format % args)

    def _request(self) -> Request:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        form: dict[str, str] = {}
        if self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_FORM_BYTES:
                raise Refused("form too large")
            body = self.rfile.read(length).decode("utf-8", errors="replace")
            form = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
        return Request(self.command, parts.path, query, form, self.headers)

    def _serve(self) -> None:
        console = self.server.console
        try:
            answer = console.handle(self._request())
        except Refused as exc:
            answer = console.page("error.html", 403, title="Refused", message=str(exc))
        except NotFound as exc:
            answer = console.page("error.html", 404, title="Not found", message=str(exc))
        except Exception as exc:  # an AWS error or bad input: shown on the page, the console goes on
            from ..errors import AsyncApiError

            if not (isinstance(exc, AsyncApiError) or type(exc).__module__.startswith("botocore")):
                log.exception("dashboard request failed")
            status = 400 if type(exc).__name__ == "InputError" else 502
            answer = console.page("error.html", status, title="Could not answer", message=str(exc))
        self.send_response(answer.status)
        headers = {**SECURITY_HEADERS, **answer.headers}
        headers["Content-Type"] = answer.content_type
        headers["Content-Length"] = str(len(answer.body))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()


class ConsoleServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # another process on the port is an error, not a shared port

    def __init__(self, console: Console, port: int = 0, host: str = LOOPBACK) -> None:
        if host != LOOPBACK:
            # The console shows job data and changes queues: it never listens beyond this machine.
            raise ValueError(f"the dashboard serves on {LOOPBACK} only, not {host}")
        super().__init__((LOOPBACK, port), Handler)
        self.console = console
        console.port = self.server_address[1]


def redirect(location: str) -> Answer:
    return Answer(HTTPStatus.SEE_OTHER, b"", headers={"Location": location})
