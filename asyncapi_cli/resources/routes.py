"""The routes of a REST API: models, request validators and methods with their integrations.

A generic converger: which routes exist, and what they do, is data (see api_definition.py) that
stack.py places in the unit's attributes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from ..refs import Ref
from . import Resource, ignore_not_found, or_none


def fingerprint(definition: dict[str, Any]) -> str:
    """A digest of everything deployed on the API; a stage that carries it redeploys when it changes."""
    spec = {part: definition.get(part) for part in ("models", "validators", "methods")}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _route(key: str) -> tuple[str, str]:
    verb, _, path = key.partition(" ")
    return path, verb


def _clean(value: Any) -> Any:
    return value if value else None


def normalize_live_method(method: dict[str, Any], validator_names: dict[str, str]) -> dict[str, Any]:
    integration = method.get("methodIntegration") or {}
    return {
        "authorizationType": method.get("authorizationType"),
        "requestValidator": validator_names.get(method.get("requestValidatorId") or ""),
        "requestModels": method.get("requestModels") or {},
        "requestParameters": method.get("requestParameters") or {},
        "integration": {
            "type": integration.get("type"),
            "httpMethod": integration.get("httpMethod"),
            "uri": integration.get("uri"),
            "credentials": _clean(integration.get("credentials")),
            "requestParameters": integration.get("requestParameters") or {},
            "requestTemplates": integration.get("requestTemplates") or {},
            "passthroughBehavior": integration.get("passthroughBehavior") or "WHEN_NO_MATCH",
        },
        "methodResponses": {
            code: response.get("responseParameters") or {}
            for code, response in (method.get("methodResponses") or {}).items()
        },
        "integrationResponses": {
            code: {
                "selectionPattern": _clean(response.get("selectionPattern")),
                "responseTemplates": response.get("responseTemplates") or {},
            }
            for code, response in (integration.get("integrationResponses") or {}).items()
        },
    }


@dataclass(kw_only=True)
class ApiRoutes(Resource):
    """attributes: restApiId (a ref to the REST API), models, validators and methods ("VERB /path")."""

    kind = "apigateway-routes"

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
        resources = {
            item["path"]: item
            for page in apigw.get_paginator("get_resources").paginate(restApiId=api_id)
            for item in page.get("items", [])
        }
        validators = {v["id"]: v for v in apigw.get_request_validators(restApiId=api_id).get("items", [])}
        models = {m["name"]: m for m in apigw.get_models(restApiId=api_id).get("items", [])}
        names = {vid: v.get("name", "") for vid, v in validators.items()}
        methods = {}
        for key in desired["methods"]:
            path, verb = _route(key)
            resource = resources.get(path)
            if resource and verb in (resource.get("resourceMethods") or {}):
                live = apigw.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=verb)
                methods[key] = normalize_live_method(live, names)
        return {"resources": resources, "validators": validators, "models": models, "methods": methods}

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
            for part, value in method.items():
                if live.get(part) != value:
                    changes.append(Change(f"{key} {part}", live.get(part), value))
        return changes

    def create(self, ctx: Context) -> dict[str, Any]:
        desired = self.desired(ctx)
        self._converge(ctx, desired, self._observe(ctx, desired))
        return self._result(desired)

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        desired = self.desired(ctx)
        self._converge(ctx, desired, found.observed)
        return self._result(desired)

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        # Routes go with their REST API (see deleted_with); there is nothing to delete on their own.
        return None

    def _converge(self, ctx: Context, desired: dict[str, Any], observed: dict[str, Any]) -> None:
        """Create what is missing and replace what differs; idempotent after any interruption."""
        apigw = ctx.clients("apigateway")
        api_id = desired["restApiId"]
        for name, model in desired["models"].items():
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
        validator_ids = {}
        by_name = {v.get("name"): v for v in observed["validators"].values()}
        for name, flags in desired["validators"].items():
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
            validator_ids[name] = str(live["id"])
        resources = dict(observed["resources"])

        def ensure_resource(path: str) -> str:
            if path in resources:
                return str(resources[path]["id"])
            parent, _, part = path.rpartition("/")
            parent_id = ensure_resource(parent or "/")
            created = apigw.create_resource(restApiId=api_id, parentId=parent_id, pathPart=part)
            resources[path] = created
            return str(created["id"])

        for key, method in desired["methods"].items():
            live = observed["methods"].get(key)
            if live == method:
                continue
            path, verb = _route(key)
            resource_id = ensure_resource(path)
            if live is not None:
                ignore_not_found(
                    lambda r=resource_id, v=verb: apigw.delete_method(
                        restApiId=api_id, resourceId=r, httpMethod=v
                    )
                )
            validator_id = validator_ids.get(method["requestValidator"] or "", "")
            self._put_method(apigw, api_id, resource_id, verb, method, validator_id)

    @staticmethod
    def _put_method(
        apigw: Any, api_id: str, resource_id: str, verb: str, desired: dict[str, Any], validator_id: str
    ) -> None:
        method: dict[str, Any] = {
            "restApiId": api_id,
            "resourceId": resource_id,
            "httpMethod": verb,
            "authorizationType": desired["authorizationType"],
            "requestParameters": desired["requestParameters"],
            "requestModels": desired["requestModels"],
        }
        if desired["requestValidator"]:
            method["requestValidatorId"] = validator_id
        apigw.put_method(**method)
        for code, parameters in desired["methodResponses"].items():
            apigw.put_method_response(
                restApiId=api_id,
                resourceId=resource_id,
                httpMethod=verb,
                statusCode=code,
                responseParameters=parameters,
            )
        integration = desired["integration"]
        params: dict[str, Any] = {
            "restApiId": api_id,
            "resourceId": resource_id,
            "httpMethod": verb,
            "type": integration["type"],
            "integrationHttpMethod": integration["httpMethod"],
            "uri": integration["uri"],
            "requestParameters": integration["requestParameters"],
            "requestTemplates": integration["requestTemplates"],
            "passthroughBehavior": integration["passthroughBehavior"],
        }
        if integration["credentials"]:
            params["credentials"] = integration["credentials"]
        apigw.put_integration(**params)
        for code, response in desired["integrationResponses"].items():
            extra = {"selectionPattern": response["selectionPattern"]} if response["selectionPattern"] else {}
            apigw.put_integration_response(
                restApiId=api_id,
                resourceId=resource_id,
                httpMethod=verb,
                statusCode=code,
                responseTemplates=response["responseTemplates"],
                **extra,
            )
