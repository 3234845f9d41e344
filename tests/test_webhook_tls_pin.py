"""The webhook sender's DNS-rebinding pin, for real, over HTTPS (the path deliveries take on AWS).

A TLS receiver on 127.0.0.1 presents a certificate for hooks.example.test only, signed by a certificate
authority made in this test (trusted through SSL_CERT_FILE, which the notifier's default SSL context
reads: Python's ssl.create_default_context -> load_default_certs -> OpenSSL's default verify paths).
The resolver answers 127.0.0.1 the first time and a refused address after that, as a rebinding DNS
would. A sender that connected to the host name (rather than the address it checked) would ask the
system resolver, which has no such name (.test is reserved: RFC 6761), and fail; one that verified the
certificate against the address would fail too (the certificate names only the host).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import feature_support as fs
from tests.feature_support import Receiver
from tests.test_feature_webhooks import Env, code, env, notify_once, run_job, status_of  # noqa: F401
from tests.tls_support import make_ca_and_server

HOST = "hooks.example.test"


@pytest.fixture
def tls_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    ca_path, server_context = make_ca_and_server(tmp_path, HOST)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with fs.serve_receiver(tls=server_context) as state:
        yield state


def _rebinding(first: list[str], then: list[str]) -> tuple[Any, list[str]]:
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return first if len(calls) == 1 else then

    return resolve, calls


def test_https_delivery_connects_to_the_checked_address_with_the_hosts_name(
    env: Env,  # noqa: F811
    tls_receiver: Receiver,
) -> None:
    port = urllib.parse.urlsplit(tls_receiver.url).port
    run_job(env, "tls-1", {"callbackUrl": f"https://{HOST}:{port}/hook?x=1"})
    resolve, calls = _rebinding(["127.0.0.1"], ["10.0.0.1"])
    _, failures = notify_once(env, env.deps(resolve=resolve))
    assert failures == []
    assert calls == [HOST]  # resolved once; the checked answer was the one connected to
    (request,) = tls_receiver.requests
    assert request["path"] == "/hook?x=1"
    assert request["headers"]["host"] == f"{HOST}:{port}"  # the Host header names the URL's host
    assert status_of(env, "tls-1")["webhook"]["status"] == "delivered"


def test_the_certificate_is_verified_against_the_urls_host(
    env: Env,  # noqa: F811
    tls_receiver: Receiver,
) -> None:
    """The same receiver reached under another name: its certificate does not name it, so no delivery."""
    port = urllib.parse.urlsplit(tls_receiver.url).port
    run_job(env, "tls-2", {"callbackUrl": f"https://other.example.test:{port}/hook"})
    resolve, _ = _rebinding(["127.0.0.1"], ["127.0.0.1"])
    _, failures = notify_once(env, env.deps(resolve=resolve))
    assert failures != [] and tls_receiver.requests == []
    assert status_of(env, "tls-2")["webhook"]["status"] == "pending"  # to be retried, not delivered
