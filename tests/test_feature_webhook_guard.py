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


# IPv6 forms that reach an IPv4 address. Sources: RFC 4291 2.5.5 (IPv4-compatible ::a.b.c.d and
# IPv4-mapped ::ffff:a.b.c.d), RFC 6052 (NAT64 well-known prefix 64:ff9b::/96, the IPv4 address in the
# last 32 bits), RFC 3056 (6to4: 2002:AABB:CCDD::/48 for a.b.c.d = AA.BB.CC.DD), RFC 8215 (local-use
# NAT64 64:ff9b:1::/48); the IANA IPv6 Special-Purpose Address Registry.
EMBEDDED_FORMS = [
    ("64:ff9b::a9fe:a9fe", "metadata"),  # NAT64 of 169.254.169.254
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ("2002:a9fe:a9fe::1", "metadata"),  # 6to4 of 169.254.169.254
    ("2002:c0a8:101::", "private"),  # 6to4 of 192.168.1.1
    ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
    ("::a00:1", "private"),  # IPv4-compatible 10.0.0.1
    ("::a9fe:a9fe", "metadata"),  # IPv4-compatible 169.254.169.254
    ("::ffff:a9fe:a9fe", "metadata"),  # IPv4-mapped 169.254.169.254
    ("::ffff:0:a00:1", "private"),  # IPv4-translated (SIIT) 10.0.0.1
    ("64:ff9b:1::a00:1", "not-global"),  # local-use NAT64
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "not-global"),  # Teredo
]


@pytest.mark.parametrize(("resolved", "reason"), EMBEDDED_FORMS)
def test_ipv6_forms_of_refused_ipv4_addresses_are_refused(
    guard: ModuleType, resolved: str, reason: str
) -> None:
    with pytest.raises(guard.Refused, match=reason):
        guard.check_url("https://hooks.example.test/x", allow_loopback=False, resolve=lambda h, p: [resolved])
    with pytest.raises(guard.Refused, match=reason):  # and as a literal in the URL
        guard.check_url(f"https://[{resolved}]/x", allow_loopback=False)


def test_ipv6_forms_of_public_ipv4_addresses_are_allowed(guard: ModuleType) -> None:
    for public in ("64:ff9b::5db8:d822", "2002:5db8:d822::1", "::ffff:93.184.216.34", "2606:4700::6810:84e5"):
        target = guard.check_url(
            "https://hooks.example.test/x", allow_loopback=False, resolve=lambda h, p, public=public: [public]
        )
        assert target.addresses == (public,)


def test_the_guard_decides_alike_on_every_python_version(
    guard: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Lambda runtime may be Python 3.10 to 3.13, and 3.13 changed ipaddress's is_private,
    is_global and what an IPv4-mapped address's attributes answer (Python 3.13 changelog, gh-113171 and
    gh-117566). With every such attribute made to fail, the guard still decides every case: it reads
    only its own tables."""

    def changed_between_versions(self: object) -> bool:
        raise AssertionError("the guard read an ipaddress attribute that changed between versions")

    for cls in (guard.ipaddress.IPv4Address, guard.ipaddress.IPv6Address):
        for name in (
            "is_private",
            "is_global",
            "is_loopback",
            "is_link_local",
            "is_multicast",
            "is_reserved",
            "is_unspecified",
            "is_site_local",
        ):
            if hasattr(cls, name):
                monkeypatch.setattr(cls, name, property(changed_between_versions))
    monkeypatch.setattr(guard.ipaddress.IPv6Address, "ipv4_mapped", property(changed_between_versions))
    monkeypatch.setattr(guard.ipaddress.IPv6Address, "sixtofour", property(changed_between_versions))
    for resolved, reason in [
        *EMBEDDED_FORMS,
        ("10.1.2.3", "private"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "not-global"),
        ("::1", "loopback"),
        ("::", "unspecified"),
    ]:
        with pytest.raises(guard.Refused, match=reason):
            guard.check_url(
                "https://hooks.example.test/x",
                allow_loopback=False,
                resolve=lambda h, p, resolved=resolved: [resolved],
            )
    assert guard.check_url("http://[::ffff:127.0.0.1]:9/x", allow_loopback=True).port == 9
    assert guard.check_url("https://h.test/x", allow_loopback=False, resolve=lambda h, p: ["93.184.216.34"])
