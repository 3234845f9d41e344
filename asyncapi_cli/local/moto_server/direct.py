"""moto's server answering a request without Flask in between.

moto's server hands each request to a Flask application per service, which routes it to the handler
moto registered for the URL (`convert_to_flask_response(handler)`), and the handler does the real work
from a moto `Request`. Under load, Flask's part (request and application contexts, its Request and
Response objects, the CORS extension's hooks) was over a quarter of the embedded AWS's CPU for the
Lambda workers' DynamoDB and S3 calls (bench/README.md).

`answer` takes the same steps without Flask: moto's own choice of service application (the same
`DomainDispatcherApplication`), that application's own URL map, and the handler it registered, called
as `convert_to_flask_response` calls it (moto's recorder, a botocore ClientError as a 400), its answer
made into the same Flask Response, with the one header flask-cors adds to a request without an
Origin (`Access-Control-Allow-Origin: *`). Requests that carry an `Origin`, OPTIONS, and anything this
cannot route (moto's own API, an unknown URL) go the Flask way.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Response
from moto import settings as moto_settings
from moto.core.request import Request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect


class ServerRequest(Request):
    """moto's Request as its server makes it (`BackendRequest` without Flask's Request)."""

    from_wsgi_server = True


def route(dispatcher: Any, environ: dict[str, Any]) -> Any | None:
    """The handler moto's server would call for this request, or None (then the Flask way)."""
    if environ.get("REQUEST_METHOD") == "OPTIONS" or "HTTP_ORIGIN" in environ:
        return None
    path = environ.get("PATH_INFO", "")
    if path.startswith("/moto-api") or path.startswith("/latest/") or path == "/favicon.ico":
        return None
    try:
        app = dispatcher.get_application(environ)
        endpoint, _ = app.url_map.bind_to_environ(environ).match()
    except (HTTPException, RequestRedirect):
        return None  # not found, method not allowed, a redirect: Flask's answers
    view = app.view_functions.get(endpoint)
    return getattr(view, "callback", None)


def answer(handler: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body), as moto's Flask view would have answered."""
    from botocore.exceptions import ClientError
    from moto.moto_api import recorder

    request = ServerRequest(environ)
    try:
        recorder._record_request(request)
        result = handler(request, request.raw_url, dict(request.headers))
    except ClientError as exc:
        result = 400, {}, exc.response["Error"]["Message"]
    except HTTPException as exc:  # what Flask makes of one raised in a view
        result = exc.code or 500, dict(exc.get_headers()), exc.get_body()
    status, headers, content = result if len(result) == 3 else (200, {}, result)
    cors = not getattr(moto_settings, "DISABLE_GLOBAL_CORS", False)  # MOTO_DISABLE_GLOBAL_CORS
    plain = plain_answer(status, headers, content, request.method, cors)
    if plain is not None:
        return plain
    response = Response(response=content, status=status, headers=headers)
    if request.method == "HEAD" and "content-length" in headers:
        response.headers["Content-Length"] = headers["content-length"]
    if cors:
        # flask-cors (moto's server enables it for every origin, always_send): a request without an
        # Origin gets the wildcard.
        response.headers.setdefault("Access-Control-Allow-Origin", "*")
    body, status_line, wsgi_headers = response.get_wsgi_response(environ)  # what Flask hands the server
    return status_line, list(wsgi_headers), b"".join(body)


_UNSAFE_VALUE = ("\n", "\r")  # werkzeug refuses these in a header value (ValueError)


@lru_cache(maxsize=64)
def _status_line(status: int) -> str:
    return Response(status=status).status  # werkzeug's own text ("200 OK", "404 NOT FOUND")


def plain_answer(
    status: Any, headers: Any, content: Any, method: str, cors: bool
) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """What `Response(content, status, headers).get_wsgi_response()` (after the CORS header) gives,
    built directly for the usual answer: an int status with a body (not 1xx, 204 or 304, not to a
    HEAD), headers a dict of plain str values without a Location or Content-Location (which werkzeug
    rewrites). None for anything else: then the Response does it.

    Building a Response (its Headers, the header copy, the closing iterator) was ~3% of the
    embedded AWS's CPU per Lambda worker request. werkzeug's steps for such an answer
    (sansio/response.py __init__, wrappers/response.py set_data and get_wsgi_headers): the dict's
    items in order; a missing Content-Type added as Flask's default "text/html; charset=utf-8"; the
    Content-Length set from the encoded body (an existing one replaced in place, and respelled, by
    Headers.set); nothing else changes for such an answer."""
    if type(status) is not int or not 200 <= status < 600 or status in (204, 304) or method == "HEAD":
        return None
    if type(headers) is not dict or not isinstance(content, (str, bytes)):
        return None
    wsgi_headers: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in headers.items():
        if type(name) is not str or type(value) is not str or any(c in value for c in _UNSAFE_VALUE):
            return None
        lowered = name.lower()
        if lowered in seen or lowered in ("location", "content-location"):
            return None
        seen.add(lowered)
        wsgi_headers.append((name, value))
    try:
        body = content.encode() if isinstance(content, str) else content
    except UnicodeEncodeError:
        return None  # the Response raises the same way
    if "content-type" not in seen:
        wsgi_headers.append(("Content-Type", "text/html; charset=utf-8"))
    length = ("Content-Length", str(len(body)))
    if "content-length" in seen:
        wsgi_headers = [length if n.lower() == "content-length" else (n, v) for n, v in wsgi_headers]
    else:
        wsgi_headers.append(length)
    if cors and "access-control-allow-origin" not in seen:
        wsgi_headers.append(("Access-Control-Allow-Origin", "*"))
    return _status_line(status), wsgi_headers, body
