"""The routes of a REST API: models, request validators and methods with their integrations.

A generic converger: which routes exist, and what they do, is data (see api_definition.py) that
stack.py places in the unit's attributes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from ..refs import Ref
from . import Resource, ignore_not_found, or_none
from .live_methods import agrees, comparable, normalize_live_method, when_set


def fingerprint(definition: dict[str, Any]) -> str:
    """A digest of everything deployed on the API; a stage that carries it redeploys when it changes."""
    spec = {part: definition.get(part) for part in ("models", "validators", "methods")}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


T = TypeVar("T")
# API Gateway's control plane allows a few calls a second per account (botocore retries throttling):
# a handful at once is enough for two methods' independent writes.
CONCURRENT_CALLS = 4


def _together(calls: list[Callable[[], T]]) -> list[T]:
    """Run independent calls at once; their results in order, the first error raised."""
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(CONCURRENT_CALLS, len(calls))) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def _route(key: str) -> tuple[str, str]:
    verb, _, path = key.partition(" ")
    return path, verb


# API Gateway makes these two models with every REST API (CreateRestApi); they are never ours to remove.
DEFAULT_MODELS = frozenset({"Empty", "Error"})


def _needed_paths(methods: dict[str, Any]) -> set[str]:
    """The desired routes' paths and every ancestor of them (the resources that must stay)."""
    needed = {"/"}
    for key in methods:
        parts = _route(key)[0].strip("/").split("/")
        needed.update("/" + "/".join(parts[: i + 1]) for i in range(len(parts)))
    return needed


def _unwanted(desired: dict[str, Any], observed: dict[str, Any]) -> dict[str, list[str]]:
    """What the API holds that the definition no longer has (a feature turned off): resources to
    delete, children first (AWS would take the children with their parent; moto leaves them behind,
    orphaned), methods on resources that stay, and models (AWS's defaults aside)."""
    needed = _needed_paths(desired["methods"])
    resources = sorted(
        (path for path in observed["resources"] if path not in needed), key=lambda p: (-p.count("/"), p)
    )
    methods = [
        f"{verb} {path}"
        for path, resource in observed["resources"].items()
        if path in needed
        for verb in resource.get("resourceMethods") or {}
        if f"{verb} {path}" not in desired["methods"]
    ]
    models = [
        name for name in observed["models"] if name not in desired["models"] and name not in DEFAULT_MODELS
    ]
    return {"resources": resources, "methods": sorted(methods), "models": sorted(models)}


@dataclass(kw_only=True)
class ApiRoutes(Resource):
    """attributes: restApiId (a ref to the REST API), models, validators and methods ("VERB /path")."""

    kind = "apigateway-routes"
    # What find() observed, reused by create() in the same run instead of reading it all again.
    _observed: tuple[str, dict[str, Any]] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def deleted_with(self) -> str | None:
        """Routes go when their REST API is deleted."""
        api = self.attributes.get("restApiId")
        return api.key if isinstance(api, Ref) else None

    def needs_existing(self, attribute_key: str, target: Any) -> bool:
        """A Lambda integration's URI names the function by ARN; API Gateway stores it unchecked (it is
        invoked only once deployed, and the stage deploys after the function's invoke permission)."""
        return not (attribute_key == "methods" and getattr(target, "kind", "") == "lambda-function")

    def _result(self, desired: dict[str, Any]) -> dict[str, Any]:
        return {"api_id": desired["restApiId"], "fingerprint": fingerprint(desired)}

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return self._result(self.desired(ctx))

    def _observe(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        apigw = ctx.clients("apigateway")
        api_id = desired["restApiId"]
        pages, validator_items, model_items = _together(
            [
                lambda: list(apigw.get_paginator("get_resources").paginate(restApiId=api_id)),
                lambda: apigw.get_request_validators(restApiId=api_id).get("items", []),
                lambda: apigw.get_models(restApiId=api_id).get("items", []),
            ]
        )
        resources = {item["path"]: item for page in pages for item in page.get("items", [])}
        validators = {v["id"]: v for v in validator_items}
        models = {m["name"]: m for m in model_items}
        names = {vid: v.get("name", "") for vid, v in validators.items()}
        defined = []
        for key in desired["methods"]:
            path, verb = _route(key)
            resource = resources.get(path)
            if resource and verb in (resource.get("resourceMethods") or {}):
                defined.append((key, resource["id"], verb))
        live = _together(
            [
                lambda r=resource_id, v=verb: apigw.get_method(restApiId=api_id, resourceId=r, httpMethod=v)
                for _, resource_id, verb in defined
            ]
        )
        methods = {key: normalize_live_method(m, names) for (key, _, _), m in zip(defined, live, strict=True)}
        observed = {"resources": resources, "validators": validators, "models": models, "methods": methods}
        self._observed = (api_id, observed)
        return observed

    def _observed_now(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        """What find() saw a moment ago in this run (no writes since), else a fresh observation."""
        if self._observed is not None and self._observed[0] == desired["restApiId"]:
            observed = self._observed[1]
            self._observed = None
            return observed
        api = self.attributes.get("restApiId")
        root_id = ctx.record_of(api.key).get("root_id") if isinstance(api, Ref) else None
        if root_id and api.key in ctx.created:
            # An API this run created has its root resource and nothing else (CreateRestApi).
            return {
                "resources": {"/": {"id": root_id, "path": "/"}},
                "validators": {},
                "models": {},
                "methods": {},
            }
        return self._observe(ctx, desired)

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        desired = self.desired(ctx)
        if desired["restApiId"] == KNOWN_AFTER_UP:
            return None
        observed = or_none(lambda: self._observe(ctx, desired))
        if observed is None or not observed["methods"]:  # the API is gone, or has no routes yet
            return None
        return Found(self._result(desired), observed)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        desired = self.desired(ctx)
        observed = found.observed
        changes = []
        for name, model in desired["models"].items():
            live = observed["models"].get(name)
            live_schema = json.loads(live["schema"]) if live and live.get("schema") else None
            if live_schema != model["schema"]:
                changes.append(Change(f"model {name}", live_schema, model["schema"]))
        by_name = {v.get("name"): v for v in observed["validators"].values()}
        for name, flags in desired["validators"].items():
            live = by_name.get(name)
            if live is None or any(bool(live.get(flag)) != value for flag, value in flags.items()):
                changes.append(Change(f"validator {name}", live, flags))
        for key, method in desired["methods"].items():
            live = observed["methods"].get(key)
            if live is None:
                changes.append(Change(key, None, "defined"))
                continue
            live, wanted = comparable(live), comparable(method)
            for part, value in wanted.items():
                if live.get(part) != value:
                    changes.append(Change(f"{key} {part}", live.get(part), value))
        unwanted = _unwanted(desired, observed)
        changes += [Change(f"resource {path}", "exists", None) for path in unwanted["resources"]]
        changes += [Change(key, "defined", None) for key in unwanted["methods"]]
        changes += [Change(f"model {name}", "exists", None) for name in unwanted["models"]]
        return changes

    def create(self, ctx: Context) -> dict[str, Any]:
        desired = self.desired(ctx)
        self._converge(ctx, desired, self._observed_now(ctx, desired))
        return self._result(desired)

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        desired = self.desired(ctx)
        self._converge(ctx, desired, found.observed)
        return self._result(desired)

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        # Routes go with their REST API (see deleted_with); there is nothing to delete on their own.
        return None

    def _converge(self, ctx: Context, desired: dict[str, Any], observed: dict[str, Any]) -> None:
        """Create what is missing and replace what differs; idempotent after any interruption.

        Models, validators and resources do not depend on each other, nor do two methods: they are
        written at once, each method's own calls in the order API Gateway needs (a method before
        its responses and integration, an integration before its responses).
        """
        apigw = ctx.clients("apigateway")
        api_id = desired["restApiId"]
        self._remove_unwanted(apigw, api_id, desired, observed)

        def ensure_model(name: str, model: dict[str, Any]) -> None:
            live = observed["models"].get(name)
            schema = json.dumps(model["schema"])
            if live is None:
                apigw.create_model(
                    restApiId=api_id, name=name, contentType=model["contentType"], schema=schema
                )
            elif not live.get("schema") or json.loads(live["schema"]) != model["schema"]:
                apigw.update_model(
                    restApiId=api_id,
                    modelName=name,
                    patchOperations=[{"op": "replace", "path": "/schema", "value": schema}],
                )

        by_name = {v.get("name"): v for v in observed["validators"].values()}

        def ensure_validator(name: str, flags: dict[str, Any]) -> str:
            live = by_name.get(name)
            if live is None:
                live = apigw.create_request_validator(restApiId=api_id, name=name, **flags)
            elif any(bool(live.get(flag)) != value for flag, value in flags.items()):
                apigw.update_request_validator(
                    restApiId=api_id,
                    requestValidatorId=live["id"],
                    patchOperations=[
                        {"op": "replace", "path": f"/{flag}", "value": str(value).lower()}
                        for flag, value in flags.items()
                    ],
                )
            return str(live["id"])

        resources = dict(observed["resources"])
        path_locks: dict[str, threading.Lock] = {}
        locks_lock = threading.Lock()

        def ensure_resource(path: str) -> str:
            if path in resources:
                return str(resources[path]["id"])
            parent, _, part = path.rpartition("/")
            parent_id = ensure_resource(parent or "/")
            with locks_lock:
                lock = path_locks.setdefault(path, threading.Lock())
            with lock:  # two methods under one new path create it once
                if path not in resources:
                    resources[path] = apigw.create_resource(
                        restApiId=api_id, parentId=parent_id, pathPart=part
                    )
            return str(resources[path]["id"])

        models = desired["models"].items()
        validators = list(desired["validators"].items())
        outcomes = _together(
            [lambda n=name, m=model: ensure_model(n, m) for name, model in models]
            + [lambda n=name, f=flags: ensure_validator(n, f) for name, flags in validators]
        )
        validator_ids = dict(zip([name for name, _ in validators], outcomes[len(models) :], strict=True))

        def ensure_method(key: str, method: dict[str, Any]) -> None:
            path, verb = _route(key)
            resource_id = ensure_resource(path)
            if observed["methods"].get(key) is not None:
                ignore_not_found(
                    lambda: apigw.delete_method(restApiId=api_id, resourceId=resource_id, httpMethod=verb)
                )
            validator_id = validator_ids.get(method["requestValidator"] or "", "")
            self._put_method(apigw, api_id, resource_id, verb, method, validator_id)

        _together(
            [
                lambda k=key, m=method: ensure_method(k, m)
                for key, method in desired["methods"].items()
                if not agrees(observed["methods"].get(key), method)
            ]
        )
        for name in _unwanted(desired, observed)["models"]:
            ignore_not_found(lambda n=name: apigw.delete_model(restApiId=api_id, modelName=n))

    @staticmethod
    def _remove_unwanted(apigw: Any, api_id: str, desired: dict[str, Any], observed: dict[str, Any]) -> None:
        """Methods, then resources (with their methods and children); models go at the end of the
        converge, once no method refers to them (API Gateway refuses to delete a model in use)."""
        unwanted = _unwanted(desired, observed)
        resources = observed["resources"]
        for key in unwanted["methods"]:
            path, verb = _route(key)
            resource_id = resources[path]["id"]
            ignore_not_found(
                lambda r=resource_id, v=verb: apigw.delete_method(
                    restApiId=api_id, resourceId=r, httpMethod=v
                )
            )
        for path in unwanted["resources"]:
            resource_id = resources[path]["id"]
            ignore_not_found(lambda r=resource_id: apigw.delete_resource(restApiId=api_id, resourceId=r))

    @staticmethod
    def _put_method(
        apigw: Any, api_id: str, resource_id: str, verb: str, desired: dict[str, Any], validator_id: str
    ) -> None:
        method: dict[str, Any] = {
            "restApiId": api_id,
            "resourceId": resource_id,
            "httpMethod": verb,
            "authorizationType": desired["authorizationType"],
            "apiKeyRequired": bool(desired.get("apiKeyRequired")),
            "requestParameters": desired["requestParameters"],
            "requestModels": desired["requestModels"],
        }
        if desired["requestValidator"]:
            method["requestValidatorId"] = validator_id
        apigw.put_method(**method)

        def method_responses() -> None:
            _together(
                [
                    lambda c=code, p=parameters: apigw.put_method_response(
                        restApiId=api_id,
                        resourceId=resource_id,
                        httpMethod=verb,
                        statusCode=c,
                        responseParameters=p,
                    )
                    for code, parameters in desired["methodResponses"].items()
                ]
            )

        integration = desired["integration"]
        params: dict[str, Any] = {
            "restApiId": api_id,
            "resourceId": resource_id,
            "httpMethod": verb,
            "type": integration["type"],
            "requestParameters": integration["requestParameters"],
            "requestTemplates": integration["requestTemplates"],
            "passthroughBehavior": integration["passthroughBehavior"],
        }
        if integration["httpMethod"]:  # a MOCK integration has neither
            params["integrationHttpMethod"] = integration["httpMethod"]
        if integration["uri"]:
            params["uri"] = integration["uri"]
        if integration["credentials"]:
            params["credentials"] = integration["credentials"]
        # The method's responses and its integration need only the method.
        _together([method_responses, lambda: apigw.put_integration(**params)])

        def integration_response(code: str, response: dict[str, Any]) -> None:
            extra = {"selectionPattern": response["selectionPattern"]} if response["selectionPattern"] else {}
            apigw.put_integration_response(
                restApiId=api_id,
                resourceId=resource_id,
                httpMethod=verb,
                statusCode=code,
                responseTemplates=response["responseTemplates"],
                **when_set("responseParameters", response.get("responseParameters")),
                **extra,
            )

        # Each integration response names a method response (same status code) and the integration.
        _together(
            [
                lambda c=code, r=response: integration_response(c, r)
                for code, response in desired["integrationResponses"].items()
            ]
        )
