"""POST /submit (direct SQS SendMessage) and GET /status/{jobId} (Lambda proxy) on the REST API.

The recipe's /submit integration cannot reach SQS: it sends JSON-protocol headers with query-protocol
parameters. This is the documented form-encoded integration instead.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from . import ignore_not_found, or_none

MODEL_NAME = "JobRequest"
VALIDATOR_NAME = "asyncapi-body"
JOB_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "JobRequest",
    "description": "A job payload: any JSON object.",
    "type": "object",
}

# The client's JSON goes to SQS untouched as the message body; the job id (API Gateway's request
# id) and the submission time travel as message attributes.
SUBMIT_REQUEST_TEMPLATE = (
    "Action=SendMessage"
    "&MessageBody=$util.urlEncode($input.body)"
    "&MessageAttribute.1.Name=jobId"
    "&MessageAttribute.1.Value.DataType=String"
    "&MessageAttribute.1.Value.StringValue=$util.urlEncode($context.requestId)"
    "&MessageAttribute.2.Name=submittedAt"
    "&MessageAttribute.2.Value.DataType=Number"
    "&MessageAttribute.2.Value.StringValue=$context.requestTimeEpoch"
)
# Location is relative ("status/<id>"), so it resolves against /submit under any stage or base path.
SUBMIT_ACCEPTED_TEMPLATE = (
    '#set($context.responseOverride.header.Location = "status/$context.requestId")\n'
    '{"jobId": "$context.requestId", "status": "queued", "statusUrl": "status/$context.requestId"}'
)
SUBMIT_UNAVAILABLE_TEMPLATE = (
    '{"message": "The job queue is unavailable; nothing was queued. Retry later.", '
    '"requestId": "$context.requestId"}'
)
SUBMIT_FAILED_TEMPLATE = '{"message": "The job could not be queued.", "requestId": "$context.requestId"}'

STATUS_PATH = "/status/{jobId}"
SUBMIT_PATH = "/submit"


def desired_methods(ctx: Context) -> dict[tuple[str, str], dict[str, Any]]:
    """Path and verb -> the method as deployed, in a normalized shape we also read live ones into."""
    queue_uri = f"arn:{ctx.partition}:apigateway:{ctx.region}:sqs:path/{ctx.account}/{ctx.names.main_queue}"
    status_arn = ctx.record_of("status_fn")["arn"]
    lambda_path = f"path/2015-03-31/functions/{status_arn}/invocations"
    status_uri = f"arn:{ctx.partition}:apigateway:{ctx.region}:lambda:{lambda_path}"
    return {
        (SUBMIT_PATH, "POST"): {
            "authorizationType": "NONE",
            "requestValidator": VALIDATOR_NAME,
            "requestModels": {"application/json": MODEL_NAME},
            "requestParameters": {},
            "integration": {
                "type": "AWS",
                "httpMethod": "POST",
                "uri": queue_uri,
                "credentials": ctx.record_of("api_role")["arn"],
                "requestParameters": {
                    "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
                },
                "requestTemplates": {"application/json": SUBMIT_REQUEST_TEMPLATE},
                # Bodies of other content types are refused (415), never passed through to SQS.
                "passthroughBehavior": "NEVER",
            },
            "methodResponses": {
                "202": {"method.response.header.Location": False},
                "500": {},
                "503": {},
            },
            "integrationResponses": {
                "202": {
                    "selectionPattern": r"2\d{2}",
                    "responseTemplates": {"application/json": SUBMIT_ACCEPTED_TEMPLATE},
                },
                "503": {
                    "selectionPattern": r"5\d{2}",
                    "responseTemplates": {"application/json": SUBMIT_UNAVAILABLE_TEMPLATE},
                },
                # The default response (no pattern) catches every other SQS answer: never "queued".
                "500": {
                    "selectionPattern": None,
                    "responseTemplates": {"application/json": SUBMIT_FAILED_TEMPLATE},
                },
            },
        },
        (STATUS_PATH, "GET"): {
            "authorizationType": "NONE",
            "requestValidator": None,
            "requestModels": {},
            "requestParameters": {"method.request.path.jobId": True},
            "integration": {
                "type": "AWS_PROXY",
                "httpMethod": "POST",
                "uri": status_uri,
                "credentials": None,
                "requestParameters": {},
                "requestTemplates": {},
                "passthroughBehavior": "WHEN_NO_MATCH",
            },
            "methodResponses": {},
            "integrationResponses": {},
        },
    }


def fingerprint(ctx: Context) -> str:
    """A digest of everything deployed on the API; the stage redeploys when it changes."""
    spec = {
        "model": JOB_SCHEMA,
        "methods": {
            f"{verb} {path}": method for (path, verb), method in sorted(desired_methods(ctx).items())
        },
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


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


@dataclass
class ApiRoutes:
    key: str = "routes"
    kind: str = "apigateway-routes"
    depends_on: tuple[str, ...] = ("rest_api", "api_role", "status_fn", "main_queue")
    deleted_with: str = "rest_api"

    def name(self, ctx: Context) -> str:
        return f"{ctx.names.api}: POST {SUBMIT_PATH}, GET {STATUS_PATH}"

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"api_id": ctx.record_of("rest_api")["id"], "fingerprint": fingerprint(ctx)}

    def _observe(self, ctx: Context, api_id: str) -> dict[str, Any]:
        apigw = ctx.clients("apigateway")
        resources = {
            item["path"]: item
            for page in apigw.get_paginator("get_resources").paginate(restApiId=api_id)
            for item in page.get("items", [])
        }
        validators = {v["id"]: v for v in apigw.get_request_validators(restApiId=api_id).get("items", [])}
        models = {m["name"]: m for m in apigw.get_models(restApiId=api_id).get("items", [])}
        names = {vid: v.get("name", "") for vid, v in validators.items()}
        methods = {}
        for path, verb in desired_methods(ctx):
            resource = resources.get(path)
            if resource and verb in (resource.get("resourceMethods") or {}):
                live = apigw.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=verb)
                methods[(path, verb)] = normalize_live_method(live, names)
        return {"resources": resources, "validators": validators, "models": models, "methods": methods}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        api_id = ctx.record_of("rest_api")["id"]
        if api_id == KNOWN_AFTER_UP:
            return None
        observed = or_none(lambda: self._observe(ctx, api_id))
        if observed is None or not observed["methods"]:  # the API is gone, or has no routes yet
            return None
        return Found({"api_id": api_id, "fingerprint": fingerprint(ctx)}, observed)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        observed = found.observed
        changes = []
        model = observed["models"].get(MODEL_NAME)
        live_schema = json.loads(model["schema"]) if model and model.get("schema") else None
        if live_schema != JOB_SCHEMA:
            changes.append(Change(f"model {MODEL_NAME}", live_schema, JOB_SCHEMA))
        if not any(_validator_ok(v) for v in observed["validators"].values()):
            changes.append(Change(f"validator {VALIDATOR_NAME}", None, "validate body"))
        for (path, verb), desired in desired_methods(ctx).items():
            live = observed["methods"].get((path, verb))
            if live is None:
                changes.append(Change(f"{verb} {path}", None, "defined"))
                continue
            for part, value in desired.items():
                if live.get(part) != value:
                    changes.append(Change(f"{verb} {path} {part}", live.get(part), value))
        return changes

    def create(self, ctx: Context) -> dict[str, Any]:
        api_id = ctx.record_of("rest_api")["id"]
        self._converge(ctx, api_id, self._observe(ctx, api_id))
        return {"api_id": api_id, "fingerprint": fingerprint(ctx)}

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        self._converge(ctx, found.record["api_id"], found.observed)
        return {"api_id": found.record["api_id"], "fingerprint": fingerprint(ctx)}

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        # Routes go with their REST API (see deleted_with); there is nothing to delete on their own.
        return None

    def _converge(self, ctx: Context, api_id: str, observed: dict[str, Any]) -> None:
        """Create what is missing and replace what differs; idempotent after any interruption."""
        apigw = ctx.clients("apigateway")
        model = observed["models"].get(MODEL_NAME)
        schema = json.dumps(JOB_SCHEMA)
        if model is None:
            apigw.create_model(
                restApiId=api_id, name=MODEL_NAME, contentType="application/json", schema=schema
            )
        elif not model.get("schema") or json.loads(model["schema"]) != JOB_SCHEMA:
            apigw.update_model(
                restApiId=api_id,
                modelName=MODEL_NAME,
                patchOperations=[{"op": "replace", "path": "/schema", "value": schema}],
            )
        validator_id = next((vid for vid, v in observed["validators"].items() if _validator_ok(v)), None)
        if validator_id is None:
            validator_id = apigw.create_request_validator(
                restApiId=api_id,
                name=VALIDATOR_NAME,
                validateRequestBody=True,
                validateRequestParameters=False,
            )["id"]
        resources = dict(observed["resources"])

        def ensure_resource(path: str) -> str:
            if path in resources:
                return str(resources[path]["id"])
            parent, _, part = path.rpartition("/")
            parent_id = ensure_resource(parent or "/")
            created = apigw.create_resource(restApiId=api_id, parentId=parent_id, pathPart=part)
            resources[path] = created
            return str(created["id"])

        for (path, verb), desired in desired_methods(ctx).items():
            live = observed["methods"].get((path, verb))
            if live == desired:
                continue
            resource_id = ensure_resource(path)
            if live is not None:
                ignore_not_found(
                    lambda r=resource_id, v=verb: apigw.delete_method(
                        restApiId=api_id, resourceId=r, httpMethod=v
                    )
                )
            self._put_method(apigw, api_id, resource_id, verb, desired, validator_id)

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


def _validator_ok(validator: dict[str, Any]) -> bool:
    return validator.get("name") == VALIDATOR_NAME and bool(validator.get("validateRequestBody"))
