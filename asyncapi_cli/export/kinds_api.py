"""API Gateway renderers: the REST API, its routes (models, validators, resources, methods), the stage
(a deployment named by a digest of the routes, so that a changed API redeploys), the account's
CloudWatch role, gateway responses, API key and usage plan, and the WebSocket API (v2)."""

from __future__ import annotations

from typing import Any

from ..engine import Unit
from ..refs import Ref
from ..resources.apigw_account import PUSH_TO_CLOUDWATCH_LOGS, TRUST
from .template import Builder, KindRenderer, Resources, digest, get_att, logical_id, ref_of


def rest_api(b: Builder, unit: Unit) -> Resources:
    attributes = unit.attributes  # type: ignore[attr-defined]
    properties = {
        "Name": b.value(unit.name),
        "Description": b.value(attributes["description"]),
        "EndpointConfiguration": {"Types": attributes["endpointConfiguration"]["types"]},
        "Tags": b.tags(),
    }
    return {b.id_of(unit.key): {"Type": "AWS::ApiGateway::RestApi", "Properties": properties}}


def _path_id(path: str) -> str:
    return logical_id(*path.strip("/").split("/")) or "Root"


def _integration(b: Builder, integration: dict[str, Any], responses: dict[str, Any]) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "Type": integration["type"],
        "PassthroughBehavior": integration["passthroughBehavior"],
    }
    optional = {
        "IntegrationHttpMethod": integration["httpMethod"],
        "Uri": integration["uri"],
        "Credentials": integration["credentials"],
        "RequestParameters": integration["requestParameters"],
        "RequestTemplates": integration["requestTemplates"],
    }
    rendered |= {k: b.value(v) for k, v in optional.items() if v}
    if responses:
        rendered["IntegrationResponses"] = [
            {"StatusCode": code, "ResponseTemplates": response["responseTemplates"]}
            | ({"SelectionPattern": response["selectionPattern"]} if response["selectionPattern"] else {})
            | (
                {"ResponseParameters": response["responseParameters"]}
                if response.get("responseParameters")
                else {}
            )
            for code, response in responses.items()
        ]
    return rendered


def routes(b: Builder, unit: Unit) -> Resources:
    """Models, validators, one resource per path segment and one method per route."""
    attributes = unit.attributes  # type: ignore[attr-defined]
    api = attributes["restApiId"]
    api_id = b.value(api)
    root = b.ref(Ref(api.key, "root_id"))
    out: Resources = {}
    model_ids = {}
    for name, model in attributes["models"].items():
        model_ids[name] = logical_id("Model", name)
        out[model_ids[name]] = {
            "Type": "AWS::ApiGateway::Model",
            "Properties": {
                "RestApiId": api_id,
                "Name": name,
                "ContentType": model["contentType"],
                "Schema": model["schema"],
            },
        }
    validator_ids = {}
    for name, flags in attributes["validators"].items():
        validator_ids[name] = logical_id("Validator", name)
        out[validator_ids[name]] = {
            "Type": "AWS::ApiGateway::RequestValidator",
            "Properties": {
                "RestApiId": api_id,
                "Name": name,
                "ValidateRequestBody": flags["validateRequestBody"],
                "ValidateRequestParameters": flags["validateRequestParameters"],
            },
        }
    paths: set[str] = set()
    for key in attributes["methods"]:
        parts = key.partition(" ")[2].strip("/").split("/")
        paths.update("/" + "/".join(parts[: i + 1]) for i in range(len(parts)))
    for path in sorted(paths, key=lambda p: (p.count("/"), p)):
        parent, _, part = path.rpartition("/")
        out[logical_id("Resource", _path_id(path))] = {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": api_id,
                "ParentId": {"Ref": logical_id("Resource", _path_id(parent))} if parent else root,
                "PathPart": part,
            },
        }
    for key, method in attributes["methods"].items():
        verb, _, path = key.partition(" ")
        properties: dict[str, Any] = {
            "RestApiId": api_id,
            "ResourceId": {"Ref": logical_id("Resource", _path_id(path))},
            "HttpMethod": verb,
            "AuthorizationType": method["authorizationType"],
            "ApiKeyRequired": bool(method.get("apiKeyRequired")),
            "Integration": _integration(b, method["integration"], method["integrationResponses"]),
        }
        if method["requestParameters"]:
            properties["RequestParameters"] = method["requestParameters"]
        if method["requestModels"]:
            properties["RequestModels"] = method["requestModels"]
        if method["requestValidator"]:
            properties["RequestValidatorId"] = {"Ref": validator_ids[method["requestValidator"]]}
        if method["methodResponses"]:
            properties["MethodResponses"] = [
                {"StatusCode": code} | ({"ResponseParameters": params} if params else {})
                for code, params in method["methodResponses"].items()
            ]
        resource: dict[str, Any] = {"Type": "AWS::ApiGateway::Method", "Properties": properties}
        models = sorted(model_ids[m] for m in method["requestModels"].values())
        if models:
            resource["DependsOn"] = models  # a method names its models by name, not by Ref
        out[logical_id("Method", verb.lower(), _path_id(path))] = resource
    return out


def stage(b: Builder, unit: Unit) -> Resources:
    """A deployment (its logical id carries the routes' digest: a new one whenever the API changes,
    as `up` redeploys) and the stage with its throttling and access logs."""
    attributes = unit.attributes  # type: ignore[attr-defined]
    api_id = b.value(attributes["restApiId"])
    description = b.value(attributes["description"])
    deployment = logical_id("Deployment", digest(description))
    # Deployed once every method and gateway response exists (they are what it snapshots).
    methods = sorted(
        name
        for key, other in b.units.items()
        if other.kind in ("apigateway-routes", "apigateway-gateway-responses")
        for name, resource in b.rendered.get(key, {}).items()
        if resource["Type"] in ("AWS::ApiGateway::Method", "AWS::ApiGateway::GatewayResponse")
    )
    properties: dict[str, Any] = {
        "RestApiId": api_id,
        "StageName": attributes["stageName"],
        "Description": b.value(attributes["stageDescription"]),
        "DeploymentId": {"Ref": deployment},
        "Tags": b.tags(),
    }
    for key, settings in (attributes.get("methodSettings") or {}).items():
        resource_path, _, http_method = key.rpartition("/")
        properties.setdefault("MethodSettings", []).append(
            {
                "ResourcePath": "/" + resource_path,
                "HttpMethod": http_method,
                "ThrottlingRateLimit": b.value(settings["throttlingRateLimit"]),
                "ThrottlingBurstLimit": b.value(settings["throttlingBurstLimit"]),
            }
        )
    access = attributes.get("accessLogSettings")
    if access:
        properties["AccessLogSetting"] = {
            "DestinationArn": b.value(access["destinationArn"]),
            "Format": access["format"],
        }
    return {
        deployment: {
            "Type": "AWS::ApiGateway::Deployment",
            "DependsOn": methods,
            "Properties": {"RestApiId": api_id, "Description": description},
        },
        b.id_of(unit.key): {"Type": "AWS::ApiGateway::Stage", "Properties": properties},
    }


def stage_url(b: Builder, unit: Unit) -> Any:
    api = unit.attributes["restApiId"]  # type: ignore[attr-defined]
    api_id, stage_id = b.id_of(api.key), b.id_of(unit.key)
    return {
        "Fn::Sub": "https://${"
        + api_id
        + "}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${"
        + stage_id
        + "}"
    }


ACCOUNT_ROLE = "ApiGatewayCloudWatchRole"


ROLE_PARAMETER = "ApiGatewayCloudWatchRoleArn"
MAKE_ROLE = "MakeApiGatewayCloudWatchRole"


def account(b: Builder, unit: Unit) -> Resources:
    """API Gateway's account-wide CloudWatch role, which access logs need. `up` sets one only when
    the account has none; a template cannot look, so the role to use is a parameter: empty (the
    default) makes one. Role and setting are retained on delete: every API of the account and region
    logs through that role, not only this stack's."""
    b.parameters[ROLE_PARAMETER] = {
        "Type": "String",
        "Default": "",
        "Description": "The account's API Gateway CloudWatch role, when it has one (apigateway "
        "get-account: cloudwatchRoleArn); empty: the stack makes one, retained on delete.",
    }
    b.conditions[MAKE_ROLE] = {"Fn::Equals": [{"Ref": ROLE_PARAMETER}, ""]}
    role_arn = {"Fn::If": [MAKE_ROLE, {"Fn::GetAtt": [ACCOUNT_ROLE, "Arn"]}, {"Ref": ROLE_PARAMETER}]}
    return {
        ACCOUNT_ROLE: {
            "Type": "AWS::IAM::Role",
            "Condition": MAKE_ROLE,
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "AssumeRolePolicyDocument": TRUST,
                "Policies": [
                    {
                        "PolicyName": "apigateway-push-to-cloudwatch-logs",
                        "PolicyDocument": PUSH_TO_CLOUDWATCH_LOGS,
                    }
                ],
                # Account-wide, like the one `up` makes (resources/apigw_account.py): no stack's tag.
                "Tags": [{"Key": "asyncapi:account-setting", "Value": "apigateway-cloudwatch-role"}],
            },
        },
        b.id_of(unit.key): {
            "Type": "AWS::ApiGateway::Account",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"CloudWatchRoleArn": role_arn},
        },
    }


def gateway_responses(b: Builder, unit: Unit) -> Resources:
    attributes = unit.attributes  # type: ignore[attr-defined]
    api_id = b.value(attributes["restApiId"])
    out: Resources = {}
    for response_type, response in attributes["responses"].items():
        properties = {"RestApiId": api_id, "ResponseType": response_type}
        properties |= {k[:1].upper() + k[1:]: v for k, v in response.items()}
        out[logical_id("GatewayResponse", response_type.title())] = {
            "Type": "AWS::ApiGateway::GatewayResponse",
            "Properties": properties,
        }
    return out


def api_key(b: Builder, unit: Unit) -> Resources:
    attributes = unit.attributes  # type: ignore[attr-defined]
    properties = {
        "Name": b.value(unit.name),
        "Description": b.value(attributes["description"]),
        "Enabled": attributes["enabled"],
        "Tags": b.tags(),
    }
    return {b.id_of(unit.key): {"Type": "AWS::ApiGateway::ApiKey", "Properties": properties}}


def usage_plan(b: Builder, unit: Unit) -> Resources:
    attributes = unit.attributes  # type: ignore[attr-defined]
    throttle, quota = attributes["throttle"], attributes["quota"]
    plan = b.id_of(unit.key)
    properties = {
        "UsagePlanName": b.value(unit.name),
        "ApiStages": [{"ApiId": b.value(s["apiId"]), "Stage": s["stage"]} for s in attributes["apiStages"]],
        "Throttle": {
            "RateLimit": b.value(throttle["rateLimit"]),
            "BurstLimit": b.value(throttle["burstLimit"]),
        },
        "Quota": {"Limit": quota["limit"], "Period": quota["period"]},
        "Tags": b.tags(),
    }
    return {
        plan: {"Type": "AWS::ApiGateway::UsagePlan", "Properties": properties},
        logical_id(unit.key, "Key"): {
            "Type": "AWS::ApiGateway::UsagePlanKey",
            "Properties": {
                "KeyId": b.value(attributes["keyId"]),
                "KeyType": "API_KEY",
                "UsagePlanId": {"Ref": plan},
            },
        },
    }


def websocket_api(b: Builder, unit: Unit) -> Resources:
    properties = {"Name": b.value(unit.name), **unit.attributes, "Tags": b.tag_map()}  # type: ignore
    return {b.id_of(unit.key): {"Type": "AWS::ApiGatewayV2::Api", "Properties": properties}}


def websocket_routes(b: Builder, unit: Unit) -> Resources:
    attributes = unit.attributes  # type: ignore[attr-defined]
    api_id = b.value(attributes["ApiId"])
    integration = logical_id(unit.key, "Integration")
    out: Resources = {
        integration: {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {"ApiId": api_id, **b.value(attributes["Integration"])},
        }
    }
    for key in attributes["RouteKeys"]:
        out[logical_id(unit.key, "Route", key.strip("$"))] = {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": api_id,
                "RouteKey": key,
                "Target": {"Fn::Sub": "integrations/${" + integration + "}"},
            },
        }
    return out


def websocket_stage(b: Builder, unit: Unit) -> Resources:
    properties = {**b.value(unit.attributes), "Tags": b.tag_map()}  # type: ignore[attr-defined]
    return {b.id_of(unit.key): {"Type": "AWS::ApiGatewayV2::Stage", "Properties": properties}}


def websocket_url(b: Builder, unit: Unit) -> Any:
    attributes = unit.attributes  # type: ignore[attr-defined]
    api = b.id_of(attributes["ApiId"].key)
    return {
        "Fn::Sub": "wss://${"
        + api
        + "}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"
        + attributes["StageName"]
    }


def _fingerprint(b: Builder, unit: Unit) -> str:
    return b.fingerprint(unit.key)


RENDERERS = {
    "apigateway-rest-api": KindRenderer(rest_api, {"id": ref_of, "root_id": get_att("RootResourceId")}),
    "apigateway-routes": KindRenderer(routes, {"fingerprint": _fingerprint}),
    "apigateway-stage": KindRenderer(stage, {"url": stage_url, "stage": ref_of}),
    "apigateway-account": KindRenderer(account, {}),
    "apigateway-gateway-responses": KindRenderer(gateway_responses, {"fingerprint": _fingerprint}),
    "apigateway-api-key": KindRenderer(api_key, {"id": ref_of}),
    "apigateway-usage-plan": KindRenderer(usage_plan, {"id": ref_of}),
    "apigatewayv2-api": KindRenderer(websocket_api, {"id": ref_of}),
    "apigatewayv2-routes": KindRenderer(websocket_routes, {}),
    "apigatewayv2-stage": KindRenderer(websocket_stage, {"url": websocket_url}),
}
