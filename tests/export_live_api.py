"""Readers of the live API Gateway resources (REST and WebSocket) in their CloudFormation shape
(AWS::ApiGateway::* and AWS::ApiGatewayV2::* in the CloudFormation resource reference)."""

from __future__ import annotations

import json
from typing import Any

from .export_live import client


def _api(name: str) -> dict[str, Any]:
    (api,) = [a for a in client("apigateway").get_rest_apis()["items"] if a["name"] == name]
    return api


def rest_api(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    api = _api(props["Name"])
    return {
        "Name": api["name"],
        "Description": api.get("description"),
        "EndpointConfiguration": {"Types": api["endpointConfiguration"]["types"]},
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(api.get("tags", {}).items())],
    }


def model(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    live = client("apigateway").get_model(restApiId=where["api_id"], modelName=props["Name"])
    return {
        "RestApiId": where["api_id"],
        "Name": live["name"],
        "ContentType": live["contentType"],
        "Schema": json.loads(live["schema"]),
    }


def validator(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    items = client("apigateway").get_request_validators(restApiId=where["api_id"])["items"]
    (live,) = [v for v in items if v["name"] == props["Name"]]
    return {
        "RestApiId": where["api_id"],
        "Name": live["name"],
        "ValidateRequestBody": bool(live.get("validateRequestBody")),
        "ValidateRequestParameters": bool(live.get("validateRequestParameters")),
    }


def _resources(api_id: str) -> dict[str, dict[str, Any]]:
    return {r["path"]: r for r in client("apigateway").get_resources(restApiId=api_id, limit=500)["items"]}


def resource(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    live = _resources(where["api_id"])[where["path"]]
    return {"RestApiId": where["api_id"], "PathPart": live["pathPart"]}


def method(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    apigw = client("apigateway")
    resource_id = _resources(where["api_id"])[where["path"]]["id"]
    live = apigw.get_method(restApiId=where["api_id"], resourceId=resource_id, httpMethod=props["HttpMethod"])
    validators = {
        v["id"]: v["name"] for v in apigw.get_request_validators(restApiId=where["api_id"])["items"]
    }
    integration = live["methodIntegration"]
    rendered_integration: dict[str, Any] = {
        "Type": integration["type"],
        "PassthroughBehavior": integration.get("passthroughBehavior", "WHEN_NO_MATCH"),
    }
    optional = {
        "IntegrationHttpMethod": integration.get("httpMethod"),
        "Uri": integration.get("uri"),
        "Credentials": integration.get("credentials"),
        "RequestParameters": integration.get("requestParameters"),
        "RequestTemplates": integration.get("requestTemplates"),
    }
    rendered_integration |= {k: v for k, v in optional.items() if v}
    responses = integration.get("integrationResponses") or {}
    if responses:
        rendered_integration["IntegrationResponses"] = [
            # An empty template is answered as null (as API Gateway does; the definition says "").
            {
                "StatusCode": code,
                "ResponseTemplates": {t: v or "" for t, v in (r.get("responseTemplates") or {}).items()},
            }
            | ({"SelectionPattern": r["selectionPattern"]} if r.get("selectionPattern") else {})
            | ({"ResponseParameters": r["responseParameters"]} if r.get("responseParameters") else {})
            for code, r in responses.items()
        ]
    out: dict[str, Any] = {
        "RestApiId": where["api_id"],
        "HttpMethod": live["httpMethod"],
        "AuthorizationType": live["authorizationType"],
        "ApiKeyRequired": bool(live.get("apiKeyRequired")),
        "Integration": rendered_integration,
    }
    if live.get("requestParameters"):
        out["RequestParameters"] = live["requestParameters"]
    if live.get("requestModels"):
        out["RequestModels"] = live["requestModels"]
    if live.get("requestValidatorId"):
        out["RequestValidatorName"] = validators[live["requestValidatorId"]]
    if live.get("methodResponses"):
        out["MethodResponses"] = [
            {"StatusCode": code}
            | ({"ResponseParameters": r["responseParameters"]} if r.get("responseParameters") else {})
            for code, r in live["methodResponses"].items()
        ]
    return out


def deployment(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    apigw = client("apigateway")
    stage = apigw.get_stage(restApiId=where["api_id"], stageName=where["stage"])
    live = apigw.get_deployment(restApiId=where["api_id"], deploymentId=stage["deploymentId"])
    return {"RestApiId": where["api_id"], "Description": live.get("description")}


def stage(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    live = client("apigateway").get_stage(restApiId=where["api_id"], stageName=props["StageName"])
    out: dict[str, Any] = {
        "RestApiId": where["api_id"],
        "StageName": live["stageName"],
        "Description": live.get("description"),
        "MethodSettings": [
            {
                # UpdateStage's key "<resource path without its leading slash, ~1 for />/<method>"
                "ResourcePath": "/" + key.rpartition("/")[0].replace("~1", "/").lstrip("/"),
                "HttpMethod": key.rpartition("/")[2],
                "ThrottlingRateLimit": float(settings.get("throttlingRateLimit")),
                "ThrottlingBurstLimit": float(settings.get("throttlingBurstLimit")),
            }
            for key, settings in sorted(live.get("methodSettings", {}).items())
        ],
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(live.get("tags", {}).items())],
    }
    if live.get("accessLogSettings"):
        out["AccessLogSetting"] = {
            "DestinationArn": live["accessLogSettings"]["destinationArn"],
            "Format": live["accessLogSettings"]["format"],
        }
    return out


def account(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    from asyncapi_cli.resources.apigw_account import ROLE_NAME

    role_arn = client("apigateway").get_account()["cloudwatchRoleArn"]
    assert role_arn.endswith(f":role/{ROLE_NAME}"), role_arn
    return {}  # the role itself is compared as the template's ApiGatewayCloudWatchRole


def gateway_response(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    live = client("apigateway").get_gateway_response(
        restApiId=where["api_id"], responseType=props["ResponseType"]
    )
    out = {"RestApiId": where["api_id"], "ResponseType": live["responseType"]}
    for key in ("responseParameters", "responseTemplates", "statusCode"):
        if key[:1].upper() + key[1:] in props:
            out[key[:1].upper() + key[1:]] = live.get(key)
    return out


def api_key(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    (live,) = client("apigateway").get_api_keys(nameQuery=props["Name"])["items"]
    return {
        "Name": live["name"],
        "Description": live.get("description"),
        "Enabled": live["enabled"],
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(live.get("tags", {}).items())],
    }


def usage_plan(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    plans = client("apigateway").get_usage_plans()["items"]
    (live,) = [p for p in plans if p["name"] == props["UsagePlanName"]]
    return {
        "UsagePlanName": live["name"],
        "ApiStages": live["apiStages"]
        and [{"ApiId": s["apiId"], "Stage": s["stage"]} for s in live["apiStages"]],
        "Throttle": {
            "RateLimit": float(live["throttle"]["rateLimit"]),
            "BurstLimit": float(live["throttle"]["burstLimit"]),
        },
        "Quota": {"Limit": live["quota"]["limit"], "Period": live["quota"]["period"]},
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(live.get("tags", {}).items())],
    }


def usage_plan_key(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    apigw = client("apigateway")
    keys = apigw.get_usage_plan_keys(usagePlanId=props["UsagePlanId"])["items"]
    assert [k["id"] for k in keys] == [props["KeyId"]]
    return {"KeyId": keys[0]["id"], "KeyType": keys[0]["type"], "UsagePlanId": props["UsagePlanId"]}


def websocket_api(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    (live,) = [a for a in client("apigatewayv2").get_apis()["Items"] if a["Name"] == props["Name"]]
    return {
        "Name": live["Name"],
        "ProtocolType": live["ProtocolType"],
        "RouteSelectionExpression": live["RouteSelectionExpression"],
        "Tags": live.get("Tags", {}),
    }


def websocket_integration(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    (live,) = client("apigatewayv2").get_integrations(ApiId=props["ApiId"])["Items"]
    return {
        "ApiId": props["ApiId"],
        "IntegrationType": live["IntegrationType"],
        "IntegrationMethod": live.get("IntegrationMethod"),
        "IntegrationUri": live["IntegrationUri"],
    }


def websocket_route(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    v2 = client("apigatewayv2")
    (live,) = [r for r in v2.get_routes(ApiId=props["ApiId"])["Items"] if r["RouteKey"] == props["RouteKey"]]
    (integration,) = v2.get_integrations(ApiId=props["ApiId"])["Items"]
    assert live["Target"] == f"integrations/{integration['IntegrationId']}"
    return {"ApiId": props["ApiId"], "RouteKey": live["RouteKey"], "Target": props["Target"]}


def websocket_stage(props: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    live = client("apigatewayv2").get_stage(ApiId=props["ApiId"], StageName=props["StageName"])
    return {
        "ApiId": props["ApiId"],
        "StageName": live["StageName"],
        "AutoDeploy": bool(live.get("AutoDeploy")),
        "Tags": live.get("Tags", {}),
    } | (
        # Of DefaultRouteSettings the stack manages the throttling limits alone.
        {"DefaultRouteSettings": {
            key: live["DefaultRouteSettings"][key]
            for key in ("ThrottlingRateLimit", "ThrottlingBurstLimit")
            if key in live["DefaultRouteSettings"]
        }}
        if live.get("DefaultRouteSettings")
        else {}
    )  # fmt: skip
