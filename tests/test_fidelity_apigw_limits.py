"""API Gateway fidelity: stage throttling, API keys and usage plans, access logs.

Sources: AWS docs "Throttle requests to your REST APIs for better throughput" (token bucket: rate and
burst; 429), "Usage plans and API keys for REST APIs" (apiKeyRequired, x-api-key, 403 Forbidden,
quota 429), "Gateway response types for API Gateway" (THROTTLED / QUOTA_EXCEEDED 429, INVALID_API_KEY
403), LocalStack snapshot test_apigateway_common.py::TestUsagePlans::test_api_key_required_for_methods
(the plan, key and usage-plan-key shapes; a disabled key), and "Set up CloudWatch logging for REST APIs
in API Gateway" (access logs: the format with $context variables, one line per request).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from .fidelity_apigw import Embedded, json_body

# Its tests share module-scoped fixtures that start servers: one pytest-xdist worker runs them all
# (`--dist loadgroup`), so the fixtures start once, not once per worker.
pytestmark = pytest.mark.xdist_group("test_fidelity_apigw_limits")


@pytest.fixture(scope="module")
def aws() -> Iterator[Embedded]:
    embedded = Embedded()
    yield embedded
    embedded.close()


def simple_api(aws: Embedded, name: str, api_key_required: bool = False) -> str:
    api_id, root = aws.rest_api(name)
    resource = aws.resource(api_id, root, "r")
    aws.mock_method(api_id, resource, "GET", '{"ok": true}', api_key_required=api_key_required)
    other = aws.resource(api_id, root, "other")
    aws.mock_method(api_id, other, "GET", '{"ok": true}', api_key_required=api_key_required)
    aws.deploy(api_id, "prod")
    return api_id


def get(
    aws: Embedded, api_id: str, path: str = "/r", key: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    return aws.call("GET", aws.path(api_id, "prod", path), headers={"x-api-key": key} if key else {})


def patch_stage(aws: Embedded, api_id: str, *operations: tuple[str, str]) -> None:
    aws.apigw.update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": path, "value": value} for path, value in operations],
    )


def test_stage_throttle_answers_429_when_the_bucket_is_empty(aws: Embedded) -> None:
    api_id = simple_api(aws, "throttle-stage")
    patch_stage(aws, api_id, ("/*/*/throttling/rateLimit", "1"), ("/*/*/throttling/burstLimit", "2"))
    assert [get(aws, api_id)[0] for _ in range(2)] == [200, 200]  # the burst
    status, headers, body = get(aws, api_id)
    assert (status, json_body(body), headers["x-amzn-errortype"]) == (
        429,
        {"message": "Too Many Requests"},
        "TooManyRequestsException",
    )
    aws.clock.now += 1.0  # one token a second
    assert get(aws, api_id)[0] == 200


def test_stage_throttle_is_per_method(aws: Embedded) -> None:
    api_id = simple_api(aws, "throttle-per-method")
    patch_stage(aws, api_id, ("/*/*/throttling/rateLimit", "1"), ("/*/*/throttling/burstLimit", "1"))
    assert get(aws, api_id, "/r")[0] == 200
    assert get(aws, api_id, "/r")[0] == 429
    assert get(aws, api_id, "/other")[0] == 200  # its own bucket


def test_method_setting_overrides_the_stage_default(aws: Embedded) -> None:
    api_id = simple_api(aws, "throttle-method")
    patch_stage(
        aws,
        api_id,
        ("/*/*/throttling/rateLimit", "100"),
        ("/*/*/throttling/burstLimit", "100"),
        ("/~1r/GET/throttling/rateLimit", "0"),
        ("/~1r/GET/throttling/burstLimit", "0"),
    )
    assert get(aws, api_id, "/r")[0] == 429  # a zero limit blocks the method
    assert get(aws, api_id, "/other")[0] == 200


@pytest.fixture(scope="module")
def keyed(aws: Embedded) -> dict[str, str]:
    apigw = aws.apigw
    api_id = simple_api(aws, "keyed", api_key_required=True)
    plan = apigw.create_usage_plan(
        name="plan",
        apiStages=[{"apiId": api_id, "stage": "prod"}],
        throttle={"burstLimit": 2, "rateLimit": 1.0},
        quota={"limit": 4, "period": "DAY", "offset": 0},
    )
    key = apigw.create_api_key(name="key", enabled=True, value="k" * 30)
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    disabled = apigw.create_api_key(name="disabled", enabled=True, value="d" * 30)
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=disabled["id"], keyType="API_KEY")
    apigw.update_api_key(
        apiKey=disabled["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
    )
    apigw.create_api_key(name="planless", enabled=True, value="p" * 30)
    return {"api": api_id, "key": key["value"], "disabled": "d" * 30, "planless": "p" * 30}


@pytest.mark.parametrize("which", [None, "unknown", "disabled", "planless"])
def test_api_key_required_refuses_without_a_valid_key(
    aws: Embedded, keyed: dict[str, str], which: str | None
) -> None:
    key = {None: None, "unknown": "u" * 30}.get(which, keyed.get(which or "", ""))
    status, headers, body = get(aws, keyed["api"], key=key)
    assert (status, json_body(body), headers["x-amzn-errortype"]) == (
        403,
        {"message": "Forbidden"},
        "ForbiddenException",
    )


def test_usage_plan_throttle_then_quota(aws: Embedded, keyed: dict[str, str]) -> None:
    key = keyed["key"]
    assert [get(aws, keyed["api"], key=key)[0] for _ in range(2)] == [200, 200]  # burst 2
    status, _, body = get(aws, keyed["api"], key=key)
    assert (status, json_body(body)) == (429, {"message": "Too Many Requests"})
    aws.clock.now += 2.0
    assert [get(aws, keyed["api"], key=key)[0] for _ in range(2)] == [200, 200]  # quota 4 used up
    aws.clock.now += 2.0
    status, headers, body = get(aws, keyed["api"], key=key)
    assert (status, json_body(body), headers["x-amzn-errortype"]) == (
        429,
        {"message": "Limit Exceeded"},
        "LimitExceededException",
    )


def test_access_log_line_per_request(aws: Embedded) -> None:
    api_id = simple_api(aws, "logged")
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/access/logged")
    group_arn = "arn:aws:logs:us-east-1:123456789012:log-group:/access/logged"
    line = (
        '{"requestId":"$context.requestId","status":"$context.status",'
        '"path":"$context.resourcePath","ip":"$context.identity.sourceIp"}'
    )
    patch_stage(
        aws, api_id, ("/accessLogSettings/destinationArn", group_arn), ("/accessLogSettings/format", line)
    )
    _, headers, _ = get(aws, api_id)
    get(aws, api_id, "/missing")
    streams = logs.describe_log_streams(logGroupName="/access/logged")["logStreams"]
    events = [
        json.loads(e["message"])
        for s in streams
        for e in logs.get_log_events(logGroupName="/access/logged", logStreamName=s["logStreamName"])[
            "events"
        ]
    ]
    assert events[0] == {
        "requestId": headers["x-amzn-requestid"],
        "status": "200",
        "path": "/r",
        "ip": "127.0.0.1",
    }
    assert events[1]["status"] == "403" and len(events) == 2
