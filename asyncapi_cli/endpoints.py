"""What an AWS-compatible endpoint is, where that changes a URL we record.

LocalStack serves a REST API stage at `<endpoint>/_aws/execute-api/<apiId>/<stage>`; its older
`/restapis/<apiId>/<stage>/_user_request_` form is deprecated there and logs a warning per request
(LocalStack docs, API Gateway, "Invoking your API"). A moto server has no API data plane; the embedded
gateway serves the `/restapis/...` form.

Detection is one cheap GET: LocalStack answers `GET /_localstack/health` with a JSON document that has
a "services" map (LocalStack docs, "Internal endpoints"). Anything else (404, not JSON, no answer in a
second) means "not LocalStack". ASYNCAPI_LOCALSTACK=1 or 0 says it explicitly and skips the probe.
"""

from __future__ import annotations

import functools
import json
import os
import urllib.error
import urllib.request

HEALTH_PATH = "/_localstack/health"
ENV_OVERRIDE = "ASYNCAPI_LOCALSTACK"


@functools.lru_cache(maxsize=16)
def _probe(endpoint_url: str, timeout: float) -> bool:
    request = urllib.request.Request(endpoint_url.rstrip("/") + HEALTH_PATH, method="GET")
    try:
        # The endpoint is the user's own (usually loopback): never through a proxy.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=timeout) as answer:
            if answer.status != 200:
                return False
            document = json.loads(answer.read(65536).decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return isinstance(document, dict) and isinstance(document.get("services"), dict)


def is_localstack(endpoint_url: str | None, timeout: float = 1.0) -> bool:
    if not endpoint_url:
        return False
    explicit = os.environ.get(ENV_OVERRIDE, "").strip().lower()
    if explicit in ("1", "true", "yes"):
        return True
    if explicit in ("0", "false", "no"):
        return False
    return _probe(endpoint_url, timeout)


def localstack_api_url(endpoint_url: str, api_id: str, stage: str) -> str:
    return f"{endpoint_url.rstrip('/')}/_aws/execute-api/{api_id}/{stage}"
