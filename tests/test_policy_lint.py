"""Every policy the stack generates, linted with parliament (duo-labs/parliament).

The policies are taken from the stack itself: each `*_policy(ctx)` function of stack.py, and, after a
real `up` against in-process moto, every role's trust and inline policies and every function's
resource-based policy as deployed. Policies added later are linted without touching this file.

Known false positives (parliament applies identity-policy rules to every document):
- Trust policies have no Resource: "Statement contains neither Resource nor NotResource" (MALFORMED).
  A role trust policy names a Principal and never a Resource (IAM User Guide, "IAM JSON policy elements:
  Principal" and "Roles terms and concepts": the trust policy is the role's resource-based policy).
- Lambda permission statement ids with hyphens (INVALID_SID). Identity policies allow only
  [A-Za-z0-9] in a Sid; Lambda's AddPermission StatementId pattern is ([a-zA-Z0-9-_]+) (Lambda API
  Reference, AddPermission, StatementId).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from parliament import analyze_policy_string

from asyncapi_cli import ops, stack
from asyncapi_cli.config import FEATURES

from .conftest import deploy, stack_options

NAME = "lint-stack"


def findings(document: Any, kind: str) -> list[tuple[str, Any]]:
    text = document if isinstance(document, str) else json.dumps(document)
    policy = analyze_policy_string(text)
    found = []
    for finding in policy.findings:
        if (
            kind == "trust"
            and finding.issue == "MALFORMED"
            and "neither Resource nor NotResource" in str(finding.detail)
        ):
            continue
        if kind == "resource" and finding.issue == "INVALID_SID":
            sid = (finding.location or {}).get("string", "")
            if all(c.isalnum() or c in "-_" for c in sid):
                continue
        found.append((finding.issue, finding.detail))
    return found


# Every feature and every option that changes a policy: API keys, CORS, throttling, the processor's
# concurrency settings and extra tags (the features' roles, queues, secret, tables and APIs come with them).
EVERYTHING_ON: dict[str, Any] = {
    "features": frozenset(FEATURES),
    "overrides": {
        "auth": "api-key",
        "cors_origins": ("https://app.example.com",),
        "throttle_rate_limit": 5.0,
        "throttle_burst_limit": 10,
        "max_concurrency": 5,
        "reserved_concurrency": 5,
        "extra_tags": (("team", "lint"),),
    },
}


@pytest.fixture(params=["base stack", "every feature and option"])
def deployed_policies(request: pytest.FixtureRequest) -> Iterator[list[tuple[str, str, Any]]]:
    """(where, kind, document) for every policy of a freshly deployed stack."""
    from moto import mock_aws

    with mock_aws():
        opened = deploy(NAME, **(EVERYTHING_ON if request.param == "every feature and option" else {}))
        iam, lam = boto3.client("iam"), boto3.client("lambda")
        documents: list[tuple[str, str, Any]] = []
        for function_name, policy in inspect.getmembers(stack, inspect.isfunction):
            parameters = list(inspect.signature(policy).parameters)
            if (
                function_name.endswith("_policy")
                and not function_name.startswith("_")
                and parameters == ["ctx"]
            ):
                documents.append((f"stack.{function_name}", "identity", policy(opened.ctx)))
        for role in iam.list_roles()["Roles"]:
            if not role["RoleName"].startswith(NAME):
                continue
            documents.append((f"{role['RoleName']} trust", "trust", role["AssumeRolePolicyDocument"]))
            for policy_name in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
                document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=policy_name)
                documents.append(
                    (f"{role['RoleName']} {policy_name}", "identity", document["PolicyDocument"])
                )
        for function in lam.list_functions()["Functions"]:
            try:
                policy_text = lam.get_policy(FunctionName=function["FunctionName"])["Policy"]
            except lam.exceptions.ResourceNotFoundException:
                continue
            documents.append((f"{function['FunctionName']} permissions", "resource", policy_text))
        for queue_url in boto3.client("sqs").list_queues(QueueNamePrefix=NAME).get("QueueUrls", []):
            attributes = boto3.client("sqs").get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["Policy"]
            )
            if "Policy" in attributes.get("Attributes", {}):
                documents.append(
                    (f"{queue_url} queue policy", "resource", attributes["Attributes"]["Policy"])
                )
        sns = boto3.client("sns")
        for topic in sns.list_topics()["Topics"]:  # the alarms' topic: its resource policy as deployed
            if topic["TopicArn"].split(":")[-1].startswith(NAME):
                attributes = sns.get_topic_attributes(TopicArn=topic["TopicArn"])["Attributes"]
                documents.append((f"{topic['TopicArn']} topic policy", "resource", attributes["Policy"]))
        yield documents


def test_every_generated_policy_lints_clean(deployed_policies: list[tuple[str, str, Any]]) -> None:
    kinds = {kind for _, kind, _ in deployed_policies}
    assert kinds == {"identity", "trust", "resource"}  # all three kinds were found and linted
    assert any(where.endswith("topic policy") for where, _, _ in deployed_policies)  # the alarms' topic
    problems = {
        where: found for where, kind, document in deployed_policies if (found := findings(document, kind))
    }
    assert problems == {}


def test_every_role_of_a_stack_with_everything_on_is_linted() -> None:
    """The features' roles are among the linted documents: the scheduler's, the webhook notifier's, the
    WebSocket route handler's and pusher's, the schedules API's and the high-priority processor's."""
    from moto import mock_aws

    with mock_aws():
        deploy(NAME, **EVERYTHING_ON)
        roles = {
            r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"] if r["RoleName"].startswith(NAME)
        }
        inline = sum(len(boto3.client("iam").list_role_policies(RoleName=r)["PolicyNames"]) for r in roles)
    assert {f"{NAME}-scheduler-role", f"{NAME}-schedules-role"} <= roles
    assert len(roles) >= 9 and inline >= len(roles)


def test_the_linter_does_find_problems() -> None:
    # The filter above removes only the documented false positives: a real mistake is still reported.
    bad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}],
    }
    assert findings(bad, "identity")
    spaced_sid = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "not a valid id",
                "Effect": "Allow",
                "Principal": {"Service": "apigateway.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
            }
        ],
    }
    assert findings(spaced_sid, "resource")


def test_stack_policies_are_generated_for_the_requested_partition() -> None:
    from moto import mock_aws

    with mock_aws():
        opened = ops.open_stack(stack_options(NAME, region="cn-north-1"), creating=True)
        document = stack.status_policy(opened.ctx)
    resources = [r for statement in document["Statement"] for r in statement["Resource"]]
    assert all(r.startswith("arn:aws-cn:") for r in resources)
