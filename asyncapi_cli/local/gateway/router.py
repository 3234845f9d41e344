"""Which resource and method of a deployment serve a request; the route table is built once per deployment.

Rules (AWS docs "Set up a proxy integration with a proxy resource"; LocalStack router.py, validated):
literal path parts beat `{param}`, which beats a greedy `{proxy+}` (one or more trailing parts);
`ANY` serves every verb the resource does not define itself; a known path with no method for the verb,
HEAD and OPTIONS included, is MISSING_AUTHENTICATION_TOKEN like an unknown path (snapshot
test_routing_not_found "wrong-method").
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

from .errors import MissingAuthenticationToken
from .moto_seam import Deployment


@dataclass(frozen=True)
class Route:
    resource: dict[str, Any]
    method: dict[str, Any]
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _Template:
    resource: dict[str, Any]
    parts: tuple[str, ...]
    greedy: bool
    rank: tuple[int, ...]


def _compile(resource: dict[str, Any]) -> _Template:
    parts = tuple(p for p in resource["path"].split("/") if p)
    greedy = bool(parts) and parts[-1].startswith("{") and parts[-1].endswith("+}")
    # Literal parts first, then parameters, then greedy; deeper templates before shallower ones.
    rank = tuple(0 if not p.startswith("{") else (2 if p.endswith("+}") else 1) for p in parts)
    return _Template(resource, parts, greedy, rank)


def _table(deployment: Deployment) -> list[_Template]:
    table = deployment.routes.get("table")
    if table is None:
        table = sorted((_compile(r) for r in deployment.resources), key=lambda t: (t.rank, -len(t.parts)))
        deployment.routes["table"] = table
    return table


def normalize(path: str) -> str:
    """`//a///b/` reaches /a/b (API Gateway collapses empty segments when routing)."""
    return "/" + "/".join(p for p in path.split("/") if p)


def _greedy_rest(path: str, skip: int) -> str:
    """The raw path after `skip` non-empty parts: a greedy parameter keeps inner double slashes
    (snapshot test_lambda_aws_proxy_integration: proxy "proxy-value//double-slash"), not the
    leading or trailing ones ("proxy-value/" -> "proxy-value")."""
    rest = path
    for _ in range(skip):
        rest = rest.lstrip("/")
        rest = rest[rest.index("/") :] if "/" in rest else ""
    return urllib.parse.unquote(rest.strip("/"))


def _match(template: _Template, segments: list[str], path: str) -> dict[str, str] | None:
    parts = template.parts
    if template.greedy:
        if len(segments) < len(parts):
            return None
    elif len(segments) != len(parts):
        return None
    params: dict[str, str] = {}
    for i, want in enumerate(parts):
        if template.greedy and i == len(parts) - 1:
            params[want[1:-2]] = _greedy_rest(path, i)
            return params
        got = segments[i]
        if want.startswith("{") and want.endswith("}"):
            params[want[1:-1]] = urllib.parse.unquote(got)
        elif want != got:
            return None
    return params


def route(deployment: Deployment, verb: str, path: str) -> Route:
    segments = [s for s in path.split("/") if s]
    for template in _table(deployment):
        params = _match(template, segments, path)
        if params is None:
            continue
        methods = template.resource.get("resourceMethods") or {}
        method = methods.get(verb) or methods.get("ANY")
        if method is None:  # another, less specific resource may serve the verb
            continue
        return Route(template.resource, method, params)
    raise MissingAuthenticationToken()
