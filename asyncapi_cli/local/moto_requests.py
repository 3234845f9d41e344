"""moto `Request`s for in-process dispatch (the gateway's SQS integration, sqs_seam.answer_query), built
without werkzeug's EnvironBuilder.

A moto `Request` over a WSGI environ built here directly (`request_from_primitives`): the environ
moto's `Request.from_primitives` builds through werkzeug's `EnvironBuilder` (6% of the submit path's
CPU in a profile of the server, for an environ of some twenty entries). Same keys, same values, same
order; tests/test_local_sqs_seam_speed.py compares the two for many inputs, and moto's answers to real
requests. It relies on, for the versions checked in `_builder_proven` (werkzeug 3.1, moto 5.2):

- moto/core/request.py `Request.from_primitives` (l. 77-112): Transfer-Encoding headers dropped, bytes
  values decoded; `from_values(method, base_url=scheme://netloc, path, query_string, data, headers)` of
  `urlparse(url)`; then `environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY]` and `CONTENT_LENGTH` "0" by default.
- werkzeug/test.py `EnvironBuilder.__init__` (l. 302-397): `path` through `urlsplit` + `iri_to_uri`,
  the raw `path` kept as `request_uri`, `base_url` through `iri_to_uri` + `urlsplit` (l. 455-466); the
  headers into a `Headers` (which refuses CR/LF in values: werkzeug/datastructures/headers.py l. 615-625);
  Content-Length dropped (l. 359, `content_length=None`) and set to len(data) only for a non-empty body
  (l. 379-389), whose stream is `BytesIO(data)`.
- werkzeug/test.py `EnvironBuilder.get_environ` (l. 671-757): the Content-Type is the first such header;
  with no body, a form content type gets an empty form stream ("application/x-www-form-urlencoded": length
  0; "multipart/form-data": a random boundary, so that one is left to `from_primitives`), any other an
  empty stream and no length; the base keys in their order; the headers but Content-Type/Length as
  `HTTP_<NAME>`, repeated names joined with ", " (a Host header replaces the builder's HTTP_HOST in place).
- werkzeug/wrappers/request.py `Request.from_values` (l. 147-172): `builder.get_request(cls)` (test.py
  l. 759-768) is `cls(environ)`, whose `__init__` (l. 125-145) adds `werkzeug.request`; nothing else
  reaches the request.

Anything the builder would refuse or randomize (CR/LF in a header value, a value that is not text, a
bodiless multipart request, a URL werkzeug rejects) goes to `from_primitives` itself, which answers it
as before (or raises the same error).
"""

from __future__ import annotations

import functools
import io
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.core.request import Request

_UrlParts = tuple[str, str, str, str, str, str, str, str]


@functools.cache
def _builder_proven() -> bool:
    """The environ below is werkzeug 3.1's EnvironBuilder and moto 5.2's from_primitives, as read for it;
    under any other version every request takes `from_primitives` (the test still compares the two)."""
    from importlib.metadata import version

    try:
        werkzeug, moto = version("werkzeug"), version("moto")
    except Exception:  # noqa: BLE001 - not installed as a distribution: unknown, so unproven
        return False
    return werkzeug.split(".")[:2] == ["3", "1"] and moto.split(".")[:2] == ["5", "2"]


@functools.lru_cache(maxsize=256)
def _url_parts(url: str) -> _UrlParts | None:
    """What from_primitives + EnvironBuilder derive from the URL alone (a pure function of it, so cached):
    SCRIPT_NAME, PATH_INFO, QUERY_STRING, RAW_URI, SERVER_NAME, SERVER_PORT, HTTP_HOST, wsgi.url_scheme.
    None when werkzeug would refuse the URL (from_primitives then raises its own error)."""
    from urllib.parse import unquote, urlparse, urlsplit

    from werkzeug._internal import _wsgi_encoding_dance
    from werkzeug.urls import iri_to_uri

    try:
        parsed = urlparse(url)  # moto/core/request.py from_primitives
        path, query = parsed.path, parsed.query
        if "?" in path:  # EnvironBuilder.__init__: "Query string is defined in the path and as an argument"
            return None
        builder_path = iri_to_uri(urlsplit(path).path)  # EnvironBuilder.path; `path` stays its request_uri
        scheme, host, script_root, qs, anchor = urlsplit(iri_to_uri(f"{parsed.scheme}://{parsed.netloc}"))
        if qs or anchor:  # the base_url setter's ValueError
            return None
        script_root = script_root.rstrip("/")
        _, sep, port_text = host.partition(":")  # EnvironBuilder.server_port
        port = 443 if scheme == "https" else 80
        if sep:
            try:
                port = int(port_text)
            except ValueError:
                pass
        return (
            _wsgi_encoding_dance(unquote(script_root)),
            _wsgi_encoding_dance(unquote(builder_path)),
            _wsgi_encoding_dance(query),
            _wsgi_encoding_dance(path),
            host.partition(":")[0],
            str(port),
            host,
            scheme,
        )
    except Exception:  # noqa: BLE001 - whatever werkzeug makes of it, from_primitives will make again
        return None


def _environ(verb: str, url: str, headers: dict[str, str], data: bytes) -> dict[str, Any] | None:
    """The environ `Request.from_primitives(verb, url, headers, data)` builds, before its request adds
    `werkzeug.request` and moto its preserved header names; None when not provably the same."""
    parts = _url_parts(url)
    if parts is None or type(data) is not bytes:
        return None
    items: list[tuple[str, str]] = []
    content_type: str | None = None
    for key, value in headers.items():
        if type(key) is not str or type(value) is not str or "\r" in value or "\n" in value:
            return None  # bytes/other values, or the ValueError werkzeug's Headers raises for CR/LF
        lowered = key.lower()
        if lowered == "transfer-encoding":  # from_primitives drops it
            continue
        if lowered == "content-type":
            if content_type is None:  # Headers.get: the first one
                content_type = value
        elif lowered != "content-length":  # get_environ removes both; the length is the body's
            items.append((key, value))
    content_length: int | None
    if data:
        stream, content_length = io.BytesIO(data), len(data)
    else:
        mimetype = content_type.partition(";")[0].strip() if content_type else None
        if mimetype == "multipart/form-data":
            return None  # an empty multipart body with a random boundary: from_primitives's own
        if mimetype == "application/x-www-form-urlencoded":
            stream, content_length = io.BytesIO(b""), 0  # the empty form, encoded
        else:
            stream, content_length = io.BytesIO(), None
    script_name, path_info, query, raw_uri, server_name, server_port, host, scheme = parts
    from werkzeug.test import EnvironBuilder

    environ: dict[str, Any] = {
        "REQUEST_METHOD": verb,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "REQUEST_URI": raw_uri,
        "RAW_URI": raw_uri,
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "HTTP_HOST": host,
        "SERVER_PROTOCOL": EnvironBuilder.server_protocol,
        "wsgi.version": EnvironBuilder.wsgi_version,
        "wsgi.url_scheme": scheme,
        "wsgi.input": stream,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if content_length is not None:
        environ["CONTENT_LENGTH"] = str(content_length)
    combined: dict[str, list[str]] = {}
    for key, value in items:
        combined.setdefault(f"HTTP_{key.upper().replace('-', '_')}", []).append(value)
    for key, values in combined.items():
        environ[key] = ", ".join(values)  # an existing key (HTTP_HOST) keeps its place, as in get_environ
    return environ


def request_from_primitives(verb: str, url: str, headers: dict[str, str], data: bytes) -> Request:
    """`Request.from_primitives(verb, url, headers, data)`, without werkzeug's EnvironBuilder."""
    from moto.core.request import (
        PRESERVED_HEADER_NAMES_ENVIRON_KEY,
        Request,
        environ_key_for_header,
        should_preserve_original_header_name,
    )

    environ = _environ(verb, url, headers, data) if _builder_proven() else None
    if environ is None:
        return Request.from_primitives(verb, url, headers, data)
    request = Request(environ)
    # from_primitives's comprehension over its header items (Transfer-Encoding, which it drops, is not an
    # x-amz-meta-* name, so it would never be kept anyway).
    environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = {
        environ_key_for_header(key): key for key in headers if should_preserve_original_header_name(key)
    }
    environ.setdefault("CONTENT_LENGTH", "0")
    return request


# What moto's Request.raw_url reads (moto/core/request.py l. 114-138): RAW_URI or the path (PATH_INFO),
# QUERY_STRING, and werkzeug's url_root (wrappers/request.py l. 520), i.e. root_url and host
# (sansio/request.py l. 217-239: wsgi.url_scheme, SCRIPT_NAME, the Host header, else SERVER_NAME/PORT
# via wsgi.py _get_server; trusted_hosts is a class attribute, None).
_RAW_URL_KEYS = (
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "SCRIPT_NAME",
    "PATH_INFO",
    "RAW_URI",
    "QUERY_STRING",
)


@functools.lru_cache(maxsize=256)
def _cached_raw_url(inputs: tuple[tuple[str, Any], ...]) -> str:
    from moto.core.request import Request

    return Request(dict(inputs)).raw_url


def raw_url(request: Request) -> str:
    """`request.raw_url`, a pure function of those environ entries: computed once per distinct set
    (werkzeug's host and url_root cost more than the rest of the request's construction)."""
    environ = request.environ
    return _cached_raw_url(tuple((key, environ[key]) for key in _RAW_URL_KEYS if key in environ))
