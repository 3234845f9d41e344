"""The stack's units as stack.py builds them, for tests that must not count resources by hand."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import boto3

from asyncapi_cli.engine import Context
from asyncapi_cli.names import StackNames, StackSettings
from asyncapi_cli.stack import build_units

from .conftest import ACCOUNT, no_sleep_pacer


def stack_units(name: str, features: frozenset[str] = frozenset()) -> list[Any]:
    """The units the stack is made of, read from stack.py (never counted by hand here)."""
    ctx = Context(
        clients=None,  # type: ignore[arg-type]  # building units makes no call
        names=StackNames(name),
        settings=StackSettings(features=features),
        region="us-east-1",
        account=ACCOUNT,
        partition="aws",
        pacer=no_sleep_pacer(),
    )
    return build_units(ctx)


def expected_inventory(name: str, features: frozenset[str] = frozenset()) -> dict[str, int]:
    """What live_inventory must find once `up` has made every unit of the stack."""
    units = stack_units(name, features)
    kinds = Counter(unit.kind for unit in units)
    paths = set()
    for unit in units:
        for route in unit.attributes.get("methods", {}) if unit.kind == "apigateway-routes" else ():
            parts = route.split(" ", 1)[1].strip("/").split("/")
            paths.update("/" + "/".join(parts[: i + 1]) for i in range(len(parts)))
    return {
        "queues": kinds["sqs-queue"],
        "functions": kinds["lambda-function"],
        "mappings": kinds["event-source-mapping"],
        "apis": kinds["apigateway-rest-api"],
        "stages": kinds["apigateway-stage"],
        "api_resources": len(paths),
        "roles": kinds["iam-role"],
        "tables": kinds["dynamodb-table"],
        "buckets": kinds["s3-bucket"],
        "log_groups": kinds["log-group"],
        "permissions": kinds["lambda-permission"],
        "secrets": kinds["secretsmanager-secret"],
        "topics": kinds["sns-topic"],
        "subscriptions": kinds["sns-subscription"],
        "alarms": kinds["cloudwatch-alarm"],
        "dashboards": kinds["cloudwatch-dashboard"],
    }


_clients: dict[tuple[str | None, ...], Any] = {}


def _client(service: str, region: str | None = None) -> Any:
    """One client per service and environment for the worker: in-process moto answers whichever mock is
    active (its handler is on every client made after moto's import), and making clients was most of
    this check's CPU (the matrices call it once a case)."""
    environment = ("AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION")  # what a client keeps
    key = (service, region, *(os.environ.get(variable) for variable in environment))
    if key not in _clients:
        _clients[key] = boto3.client(service, region_name=region) if region else boto3.client(service)
    return _clients[key]


def live_inventory(name: str = "test-stack", region: str = "us-east-1") -> dict[str, int]:
    """How many of each resource exist with the stack's names (duplicates show as > 1)."""
    sqs = _client("sqs", region)
    lam = _client("lambda", region)
    apigw = _client("apigateway", region)
    iam = _client("iam")
    queues = [u for u in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])]
    functions = [f for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith(name)]
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    apis = [a for a in apigw.get_rest_apis()["items"] if a["name"] == f"{name}-api"]
    stages = sum(len(apigw.get_stages(restApiId=a["id"])["item"]) for a in apis)
    resources = sum(
        len([r for r in apigw.get_resources(restApiId=a["id"])["items"] if r["path"] != "/"]) for a in apis
    )
    roles = [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(name)]
    tables = [t for t in _client("dynamodb", region).list_tables()["TableNames"] if t.startswith(name)]
    buckets = [b for b in _client("s3").list_buckets()["Buckets"] if b["Name"].startswith(name)]
    logs = _client("logs", region)
    groups = [  # the functions' log groups and the stage's access log group
        group
        for prefix in (f"/aws/lambda/{name}", f"/aws/apigateway/{name}")
        for group in logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]
    ]
    permissions = 0
    for function in functions:
        try:
            permissions += len(
                json.loads(lam.get_policy(FunctionName=function["FunctionName"])["Policy"])["Statement"]
            )
        except lam.exceptions.ResourceNotFoundException:
            pass
    secrets = _client("secretsmanager", region).list_secrets(
        Filters=[{"Key": "name", "Values": [f"asyncapi/{name}/"]}]
    )["SecretList"]
    return {
        "secrets": len(secrets),
        "queues": len(queues),
        "functions": len(functions),
        "mappings": len(mappings),
        "apis": len(apis),
        "stages": stages,
        "api_resources": resources,
        "roles": len(roles),
        "tables": len(tables),
        "buckets": len(buckets),
        "log_groups": len(groups),
        "permissions": permissions,
        **alarm_inventory(name, region),
    }


def alarm_inventory(name: str, region: str) -> dict[str, int]:
    """The alarms' topic (its subscriptions), the alarms and the dashboard with the stack's names."""
    sns, cloudwatch = _client("sns", region), _client("cloudwatch", region)
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(f":{name}-alarms")]
    subscriptions = sum(len(sns.list_subscriptions_by_topic(TopicArn=t)["Subscriptions"]) for t in topics)
    dashboards = cloudwatch.list_dashboards(DashboardNamePrefix=f"{name}-")["DashboardEntries"]
    return {
        "topics": len(topics),
        "subscriptions": subscriptions,
        "alarms": len(cloudwatch.describe_alarms(AlarmNamePrefix=f"{name}-")["MetricAlarms"]),
        "dashboards": len(dashboards),
    }
