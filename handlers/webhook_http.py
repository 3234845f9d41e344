"""Webhook transport: signing, the SSRF guard and one pinned HTTP POST (no redirects, 10 s timeout).

The guard resolves the callback's host once, checks every address it resolves to, and the POST then
connects to the checked address itself (Host header and TLS SNI/certificate still name the original
host), so a second DNS answer cannot swap in a forbidden address (DNS rebinding).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

TIMEOUT_SECONDS = 10.0
MAX_URL_LENGTH = 2048
# IPv6 address of the EC2 instance metadata service (IMDS over IPv6); fd00::/8 is private anyway.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


def _networks(
    *pairs: tuple[str, str],
) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]:
    return tuple((ipaddress.ip_network(network), reason) for network, reason in pairs)


# The refused ranges, written out rather than taken from ipaddress's is_private/is_global/ipv4_mapped:
# those changed between Python 3.10 and 3.13 (3.13 re-derived them from the IANA registries and made a
# mapped address answer for its IPv4 form), and the Lambda runtime may be any of them. Sources: the IANA
# IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its updates); every range there that
# is not globally reachable, plus multicast and the IPv4 reserved block.
REFUSED_IPV4 = _networks(
    ("0.0.0.0/8", "unspecified"),  # "this network" (RFC 791)
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "not-global"),  # shared address space (RFC 6598)
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "not-global"),  # IETF protocol assignments
    ("192.0.2.0/24", "not-global"),  # documentation (TEST-NET-1)
    ("192.88.99.0/24", "not-global"),  # 6to4 relay anycast (deprecated, RFC 7526)
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "not-global"),  # benchmarking
    ("198.51.100.0/24", "not-global"),  # documentation (TEST-NET-2)
    ("203.0.113.0/24", "not-global"),  # documentation (TEST-NET-3)
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "not-global"),  # reserved, and 255.255.255.255 (limited broadcast)
)
REFUSED_IPV6 = _networks(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "not-global"),  # local-use IPv4/IPv6 translation (RFC 8215)
    ("100::/64", "not-global"),  # discard-only
    ("2001::/23", "not-global"),  # IETF protocol assignments (Teredo 2001::/32 among them)
    ("2001:db8::/32", "not-global"),  # documentation
    ("3fff::/20", "not-global"),  # documentation (RFC 9637)
    ("5f00::/16", "not-global"),  # segment routing SIDs (RFC 9602)
    ("fc00::/7", "private"),  # unique local
    ("fe80::/10", "link-local"),
    ("fec0::/10", "link-local"),  # site-local (deprecated)
    ("ff00::/8", "multicast"),
)
# IPv6 forms that carry an IPv4 address, and where: (network, bit shift of the 32-bit IPv4 address).
# A packet to any of them can reach the IPv4 address (through the host's stack, a NAT64 gateway or a
# 6to4 relay), so the IPv4 address is what is checked.
EMBEDDED_IPV4 = (
    (ipaddress.ip_network("::ffff:0:0/96"), 0),  # IPv4-mapped (RFC 4291)
    (ipaddress.ip_network("::/96"), 0),  # IPv4-compatible (deprecated, RFC 4291); :: and ::1 come first
    (ipaddress.ip_network("::ffff:0:0:0/96"), 0),  # IPv4-translated (SIIT, RFC 6145)
    (ipaddress.ip_network("64:ff9b::/96"), 0),  # NAT64 well-known prefix (RFC 6052)
    (ipaddress.ip_network("2002::/16"), 80),  # 6to4 (RFC 3056): 2002:AABB:CCDD::/48
)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class Refused(Exception):
    """The callback URL may not be delivered to (bad URL, or a forbidden address)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent on the request line
    addresses: tuple[str, ...]  # every address the host resolved to; all were checked


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (timeout, connection refused...)
    error: str | None = None


def sign(secret: str, timestamp: int, delivery_id: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of "<timestamp>.<deliveryId>.<body>">`, keyed with the stack's signing
    secret. The delivery id is signed so that a captured delivery replayed under a new id (to get past
    a receiver's seen-ids check) fails verification; the timestamp, so that it cannot be refreshed."""
    message = f"{timestamp}.{delivery_id}.".encode() + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through (mapped, compatible, NAT64, 6to4), or None."""
    if address in ipaddress.ip_network("::/127"):  # the unspecified and loopback addresses themselves
        return None
    for network, shift in EMBEDDED_IPV4:
        if address in network:
            return ipaddress.IPv4Address((int(address) >> shift) & 0xFFFFFFFF)
    return None


def forbidden_reason(address: Address, *, allow_loopback: bool) -> str | None:
    """Why an address may not receive webhooks, or None. Only globally routable unicast is allowed."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:  # ::ffff:10.0.0.1, 64:ff9b::a00:1 and 2002:a00:1:: all reach 10.0.0.1
            address = inner
    if address in METADATA_ADDRESSES:
        return "metadata"
    table = REFUSED_IPV4 if isinstance(address, ipaddress.IPv4Address) else REFUSED_IPV6
    for network, reason in table:
        if address in network:
            return None if reason == "loopback" and allow_loopback else reason
    return None


def is_loopback(address: Address) -> bool:
    """127.0.0.0/8, ::1, or an IPv6 form of a 127.x address (the same on every Python version)."""
    if isinstance(address, ipaddress.IPv6Address):
        address = embedded_ipv4(address) or address
    return forbidden_reason(address, allow_loopback=False) == "loopback"


def check_url(url: object, *, allow_loopback: bool, resolve: Resolver = system_resolver) -> Target:
    """Parse, resolve and check a callback URL; Refused with a short reason otherwise."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise Refused("callbackUrl must be a string of at most 2048 characters")
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_loopback):
        raise Refused("callbackUrl must use https")
    if parts.username or parts.password:
        raise Refused("callbackUrl may not carry credentials")
    host = parts.hostname
    if not host:
        raise Refused("callbackUrl has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise Refused("callbackUrl has an invalid port") from exc
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            raise Refused(f"callbackUrl host does not resolve ({type(exc).__name__})") from exc
    if not addresses:
        raise Refused("callbackUrl host does not resolve")
    for text in addresses:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError as exc:
            raise Refused("callbackUrl host resolved to an invalid address") from exc
        reason = forbidden_reason(address, allow_loopback=allow_loopback)
        if reason is not None:
            raise Refused(f"callbackUrl resolves to a {reason} address")
    # Plain HTTP only to loopback (the embedded AWS).
    if scheme == "http" and not all(is_loopback(ipaddress.ip_address(a.split("%", 1)[0])) for a in addresses):
        raise Refused("callbackUrl must use https")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port, path, tuple(addresses))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        # SNI and certificate verification against the URL's host, not the pinned address.
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def _cut(connection: http.client.HTTPConnection, cut: threading.Event) -> None:
    cut.set()  # first: the reader then knows, whatever it managed to parse, that the answer was cut off
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_SECONDS) -> Answer:
    """POST to the first reachable checked address. Redirects are answers (3xx), never followed.

    `timeout` bounds the whole exchange, not each socket read: a receiver that trickles its answer a
    byte at a time is cut off when the time is up.
    """
    last_error = "no address"
    for address in target.addresses:
        connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
        connection = connection_class(target.host, target.port, address.split("%", 1)[0], timeout)
        cut = threading.Event()
        watchdog = threading.Timer(timeout, _cut, args=(connection, cut))
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                connection.connect()
            except OSError as exc:
                last_error = f"connect: {type(exc).__name__}"
                continue
            try:
                connection.request("POST", target.path, body=body, headers=headers)
                response = connection.getresponse()
                response.read(65536)  # drain a little; the answer's body is not used
                if cut.is_set():  # cut off mid-answer: no complete answer in time
                    return Answer(None, "TimeoutError")
                return Answer(response.status)
            except (OSError, http.client.HTTPException) as exc:
                timed_out = isinstance(exc, TimeoutError) or cut.is_set()
                return Answer(None, "TimeoutError" if timed_out else type(exc).__name__)
        finally:
            watchdog.cancel()
            connection.close()
    return Answer(None, last_error)
