"""The stack's units as stack.py builds them, for tests that must not count resources by hand."""

from __future__ import annotations

from collections import Counter
from typing import Any

from asyncapi_cli.engine import Context
from asyncapi_cli.names import StackNames, StackSettings
from asyncapi_cli.stack import build_units

from .conftest import ACCOUNT, no_sleep_pacer


def stack_units(name: str) -> list[Any]:
    """The units the stack is made of, read from stack.py (never counted by hand here)."""
    ctx = Context(
        clients=None,  # type: ignore[arg-type]  # building units makes no call
        names=StackNames(name),
        settings=StackSettings(),
        region="us-east-1",
        account=ACCOUNT,
        partition="aws",
        pacer=no_sleep_pacer(),
    )
    return build_units(ctx)


def expected_inventory(name: str) -> dict[str, int]:
    """What live_inventory must find once `up` has made every unit of the stack."""
    units = stack_units(name)
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
    }
