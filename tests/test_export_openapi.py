"""`asyncapi export openapi`: valid OpenAPI 3 (openapi-spec-validator), and every route, model and
method response `up` deploys (read back from API Gateway on in-process moto) is in it."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from openapi_spec_validator import validate

from asyncapi_cli.features import FEATURES

from .conftest import deploy, run_cli

ALL_FEATURES = (*FEATURES, "scheduling", "websocket")
NAME = "export-oa"


def _export(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "api.json"
    result = run_cli("export", "openapi", "-o", str(out), *args, env={"HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    validate(document)
    return document


def _deployed_api() -> dict[str, dict]:
    """Every method on the deployed REST API, keyed "VERB /path", and its models."""
    apigw = boto3.client("apigateway", region_name="us-east-1")
    (api,) = [a for a in apigw.get_rest_apis()["items"] if a["name"] == f"{NAME}-api"]
    methods = {}
    for resource in apigw.get_resources(restApiId=api["id"], limit=500)["items"]:
        for verb in resource.get("resourceMethods") or {}:
            methods[f"{verb} {resource['path']}"] = apigw.get_method(
                restApiId=api["id"], resourceId=resource["id"], httpMethod=verb
            )
    models = {m["name"]: json.loads(m["schema"]) for m in apigw.get_models(restApiId=api["id"])["items"]}
    return {"methods": methods, "models": models}


@pytest.mark.parametrize(
    "flags",
    [(), ("--with", ",".join(ALL_FEATURES), "--auth", "api-key", "--cors-origin", "https://app.example")],
    ids=["base", "every-feature-auth-cors"],
)
def test_every_deployed_route_model_and_response_is_in_the_openapi_document(
    mocked_aws: None, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    features = frozenset(flags[1].split(",")) if flags else frozenset()
    overrides = {"auth": "api-key", "cors_origins": ("https://app.example",)} if flags else {}
    stack = deploy(NAME, features=features, overrides=overrides, state_path=tmp_path / "state.json")
    document = _export(tmp_path, "--state", str(tmp_path / "state.json"), *flags)
    assert document["servers"] == [{"url": stack.state.outputs["api_url"]}]
    deployed = _deployed_api()
    assert deployed["methods"], "up deployed no routes"
    for key, method in deployed["methods"].items():
        verb, _, path = key.partition(" ")
        operation = document["paths"].get(path, {}).get(verb.lower())
        assert operation is not None, f"{key} is deployed but not in the OpenAPI document"
        for code, response in (method.get("methodResponses") or {}).items():
            assert code in operation["responses"], f"{key} answers {code}"
            for header in response.get("responseParameters") or {}:
                name = header.removeprefix("method.response.header.")
                assert name in operation["responses"][code].get("headers", {}), f"{key} {code} {name}"
        for content_type, model in (method.get("requestModels") or {}).items():
            ref = operation["requestBody"]["content"][content_type]["schema"]["$ref"]
            assert ref == f"#/components/schemas/{model}"
        for parameter in method.get("requestParameters") or {}:
            name = parameter.rsplit(".", 1)[1]
            assert name in {p["name"] for p in operation.get("parameters", [])}, f"{key} {name}"
        if method.get("apiKeyRequired"):
            assert operation["security"] == [{"api_key": []}]
            assert document["components"]["securitySchemes"]["api_key"]["name"] == "x-api-key"
        else:
            assert "security" not in operation
    # Nothing more than what is deployed: the document is no wish list.
    documented = {f"{verb.upper()} {path}" for path, item in document["paths"].items() for verb in item}
    assert documented == set(deployed["methods"])
    for name, schema in document["components"]["schemas"].items():
        deployed_schema = dict(deployed["models"][name])
        deployed_schema.pop("$schema", None)
        assert schema == deployed_schema


def test_every_feature_route_is_listed(tmp_path: Path) -> None:
    document = _export(tmp_path, "--name", NAME, "--with", ",".join(ALL_FEATURES))
    routes = {f"{verb.upper()} {path}" for path, item in document["paths"].items() for verb in item}
    assert {"POST /submit", "GET /status/{jobId}", "POST /batches", "GET /batches/{batchId}"} <= routes
    assert {"POST /schedules", "GET /schedules/{scheduleId}", "DELETE /schedules/{scheduleId}"} <= routes
    assert "securitySchemes" not in document["components"]  # no --auth: no key


def test_bad_feature_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_cli("export", "openapi", "--with", "nope", env={"HOME": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "asyncapi: error: --with: unknown feature 'nope'; choose from "
        "webhooks, priorities, batches, scheduling, websocket"
    ]
