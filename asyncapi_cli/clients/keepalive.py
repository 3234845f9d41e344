"""HTTP requests on kept-alive connections, one per thread and origin (the transport of clients/).

urllib.request opens a connection for every request and closes it after the answer (it sends
`Connection: close`): against an API Gateway endpoint that is a TCP and TLS handshake for every submit and
every status poll, and on the embedded AWS a new server thread per request. As requests.Session and
urllib3's pool do, a connection is kept per (thread, scheme, host, port) and reused:
- before reuse it is checked for having been closed by the server meanwhile (readable while idle: the
  server's FIN, or bytes nobody asked for), as urllib3 does, and replaced if so;
- a request that fails is never sent again (a POST is not idempotent): the caller sees the failure, as
  it did with urllib;
- redirects follow urllib.request's rules (HTTPRedirectHandler): 301/302/303 for any method and 307/308
  for GET/HEAD are followed as GET (HEAD stays HEAD) without the body, at most 10 times; any other 3xx is
  the answer;
- where a proxy applies to the URL (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), urllib.request itself is used;
- the headers urllib would send are sent (its User-Agent), and HTTPS verifies certificates with the same
  default context.
"""

from __future__ import annotations

import http.client
import select
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

MAX_REDIRECTS = 10  # urllib.request.HTTPRedirectHandler.max_redirections
_USER_AGENT = f"Python-urllib/{urllib.request.__version__}"
_local = threading.local()


class Answer:
    def __init__(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.status, self.body, self.headers = status, body, headers


class _Connections:
    """One thread's kept connections. Closed when the thread's storage goes (its pool threads end)."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str, int], http.client.HTTPConnection] = {}

    def __del__(self) -> None:
        for connection in self.kept.values():
            connection.close()


def _connections() -> _Connections:
    kept = getattr(_local, "connections", None)
    if kept is None:
        kept = _local.connections = _Connections()
    return kept


def close_all() -> None:
    """This thread's kept connections closed (the next request opens a new one)."""
    kept = _connections()
    for connection in kept.kept.values():
        connection.close()
    kept.kept.clear()


def request(method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float) -> Answer:
    """One request, redirects followed as urllib follows them. Raises OSError or http.client.HTTPException
    when the endpoint cannot be reached or answers no HTTP."""
    for _ in range(MAX_REDIRECTS + 1):
        answer = _one(method, url, body, headers, timeout)
        safe = method in ("GET", "HEAD")
        follow = answer.status in (301, 302, 303) or (answer.status in (307, 308) and safe)
        location = next((v for k, v in answer.headers if k.lower() == "location"), None) if follow else None
        if not location:
            return answer
        url = urllib.parse.urljoin(url, location)
        method = "HEAD" if method == "HEAD" else "GET"
        body = None
        headers = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "content-type")}
    return answer  # urllib raises HTTPError here, which the client made an answer of: the last 3xx


def _one(method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float) -> Answer:
    parts = urllib.parse.urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in ("http", "https") or _proxied(scheme, host):
        return _through_urllib(method, url, body, headers, timeout)
    port = parts.port or (443 if scheme == "https" else 80)
    key = (scheme, host, port)
    kept = _connections().kept
    connection = kept.pop(key, None)
    if connection is not None and _closed_meanwhile(connection):
        connection.close()
        connection = None
    if connection is None:
        kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        connection = kind(host, port, timeout=timeout)
    else:
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, target, body=body, headers={"User-Agent": _USER_AGENT, **headers})
        response = connection.getresponse()
        data = response.read()
    except BaseException:
        connection.close()
        raise
    if response.will_close:
        connection.close()
    else:
        kept[key] = connection
    return Answer(response.status, data, list(response.headers.items()))


def _closed_meanwhile(connection: http.client.HTTPConnection) -> bool:
    """An idle kept connection is readable only when the server closed it (or sent what nobody asked for)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _proxied(scheme: str, host: str) -> bool:
    proxies = urllib.request.getproxies()
    return scheme in proxies and not urllib.request.proxy_bypass(host)


def _through_urllib(
    method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float
) -> Answer:
    prepared = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        # A new opener: its ProxyHandler reads the environment now (urlopen's is built once a process).
        with urllib.request.build_opener().open(prepared, timeout=timeout) as response:
            return Answer(response.status, response.read(), list(response.headers.items()))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read(), list(exc.headers.items()))
    except urllib.error.URLError as exc:
        reason: Any = exc.reason
        raise reason if isinstance(reason, OSError) else OSError(str(reason)) from None
