"""moto's server answering a request without Flask in between (issue 13).

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
    response = Response(response=content, status=status, headers=headers)
    if request.method == "HEAD" and "content-length" in headers:
        response.headers["Content-Length"] = headers["content-length"]
    if not getattr(moto_settings, "DISABLE_GLOBAL_CORS", False):  # MOTO_DISABLE_GLOBAL_CORS
        # flask-cors (moto's server enables it for every origin, always_send): a request without an
        # Origin gets the wildcard.
        response.headers.setdefault("Access-Control-Allow-Origin", "*")
    body, status_line, wsgi_headers = response.get_wsgi_response(environ)  # what Flask hands the server
    return status_line, list(wsgi_headers), b"".join(body)
