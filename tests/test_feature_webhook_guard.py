"""The webhook notifier's SSRF guard: resolve, check every address, allow only global unicast.

Runs webhook_http from the deployment zip; no AWS and no network (the resolver is injected).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests import feature_support as fs


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fs.extract_handlers(tmp_path_factory.mktemp("lambda-task-root"))


@pytest.fixture
def guard(code: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """webhook_http alone: the guard needs no AWS."""
    yield fs.import_handlers(code, monkeypatch, "webhook_http")["webhook_http"]
    fs.forget_handlers()


@pytest.mark.parametrize(
    ("url", "resolved", "reason"),
    [
        ("https://127.0.0.1/hook", None, "loopback"),
        ("https://10.1.2.3/hook", None, "private"),
        ("https://169.254.169.254/latest/meta-data/", None, "metadata"),
        ("https://[::1]:8443/hook", None, "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", None, "loopback"),
        ("https://0.0.0.0/hook", None, "unspecified"),
        ("https://224.0.0.1/hook", None, "multicast"),
        ("https://100.64.0.1/hook", None, "not-global"),
        ("https://hooks.example.test/hook", ["127.0.0.1"], "loopback"),
        # Every resolved address is checked, not just the first.
        ("https://hooks.example.test/hook", ["93.184.216.34", "192.168.1.10"], "private"),
        ("https://hooks.example.test/hook", ["fe80::1"], "link-local"),
    ],
)
def test_ssrf_guard_refuses_internal_addresses(
    guard: ModuleType, url: str, resolved: list[str] | None, reason: str
) -> None:
    http = guard
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return list(resolved or [])

    with pytest.raises(http.Refused, match=reason):
        http.check_url(url, allow_loopback=False, resolve=resolve)
    assert calls == ([] if resolved is None else ["hooks.example.test"])


def test_guard_allows_public_addresses_and_loopback_only_when_enabled(guard: ModuleType) -> None:
    http = guard
    target = http.check_url(
        "https://hooks.example.test:8443/a/b?c=d",
        allow_loopback=False,
        resolve=lambda h, p: ["93.184.216.34"],
    )
    assert (target.host, target.port, target.path, target.addresses) == (
        "hooks.example.test",
        8443,
        "/a/b?c=d",
        ("93.184.216.34",),
    )
    assert http.check_url("http://127.0.0.1:9/x", allow_loopback=True).addresses == ("127.0.0.1",)
    for url, flag in [
        ("http://127.0.0.1:9/x", False),  # plain http only for the embedded AWS
        ("http://hooks.example.test/x", True),  # and only to loopback
        ("https://10.0.0.1/x", True),  # private stays refused with the flag on
        ("ftp://hooks.example.test/x", True),
        ("https://user:pw@hooks.example.test/x", False),
        ("https://" + "a" * 2050 + ".test/", False),
    ]:
        with pytest.raises(http.Refused):
            http.check_url(url, allow_loopback=flag, resolve=lambda h, p: ["93.184.216.34"])


def test_the_timeout_bounds_the_whole_answer_not_each_read(guard: ModuleType) -> None:
    """A receiver trickling its answer a byte at a time is cut off at the deadline (10 s on AWS)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                if stop.wait(0.02):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return  # the client hung up: what this test wants

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    try:
        target = guard.check_url(f"http://127.0.0.1:{listener.getsockname()[1]}/x", allow_loopback=True)
        started = time.monotonic()
        answer = guard.post(target, b"{}", {"Content-Type": "application/json"}, timeout=0.5)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        listener.close()
    assert answer == guard.Answer(None, "TimeoutError")
    assert elapsed < 3.0  # each read alone never waits 0.5 s: only a whole-exchange deadline stops it
