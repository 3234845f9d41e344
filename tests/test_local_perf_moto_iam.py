"""moto's IAM policy decisions, kept per policy text and request (compat/moto_iam.py): same answers.

The decisions are compared with moto's own, made with the patches undone; a changed policy (a new text)
is judged anew. The role-credential path end to end is the IAM fidelity suites' (test_fidelity_*_iam.py).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from asyncapi_cli.local.compat import REGISTRY

GROUP = ["iam-decisions"]
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/jobs"


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_TABLE = _document(
    {"Effect": "Allow", "Action": ["dynamodb:UpdateItem", "dynamodb:Get*"], "Resource": TABLE}
)
DENY_GET = _document(
    {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
    {"Effect": "Deny", "Action": "dynamodb:GetItem", "Resource": TABLE},
)
NOT_ACTION = _document({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"})
CONDITIONED = _document(
    {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Resource": "*",
        "Condition": {"StringEquals": {"sts:ExternalId": "yes"}},
    }
)
REQUESTS = [
    ("dynamodb:UpdateItem", TABLE, None),
    ("dynamodb:GetItem", TABLE, None),
    ("dynamodb:UpdateItem", TABLE + "-other", None),
    ("s3:PutObject", "arn:aws:s3:::results/r.json", None),
    ("sqs:SendMessage", "*", None),
    ("sts:AssumeRole", "*", {"sts:ExternalId": ["yes"]}),
    ("sts:AssumeRole", "*", {"sts:ExternalId": ["no"]}),
]


def decisions(policies: list[Any]) -> list[str]:
    from moto.iam.access_control import IAMPolicy

    made = []
    for policy in policies:
        for action, resource, conditions in REQUESTS:
            for _ in range(2):  # the second one is the kept decision, when patched
                result = IAMPolicy(policy).is_action_permitted(action, resource, None, conditions)
                made.append(f"{action} {resource} {conditions}: {result}")
    return made


@pytest.fixture
def policies(mocked_aws: None) -> list[Any]:
    """Inline documents, a managed policy (moto's Policy object, its default version) and a dict."""
    from moto.iam.models import iam_backends

    iam = boto3.client("iam", region_name="us-east-1")
    arn = iam.create_policy(PolicyName="managed", PolicyDocument=DENY_GET)["Policy"]["Arn"]
    managed = iam_backends["123456789012"]["aws"].get_policy(arn)
    return [ALLOW_TABLE, DENY_GET, NOT_ACTION, CONDITIONED, managed, {"policy_document": ALLOW_TABLE}]


def test_decisions_are_moto_s_own(policies: list[Any]) -> None:
    REGISTRY.apply(GROUP)
    try:
        kept = decisions(policies)
    finally:
        REGISTRY.undo(GROUP)
    assert kept == decisions(policies)
    assert {line.rsplit(": ", 1)[1] for line in kept} >= {
        "PermissionResult.PERMITTED",
        "PermissionResult.DENIED",
        "PermissionResult.NEUTRAL",
    }


def test_a_changed_policy_is_judged_anew(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult

    REGISTRY.apply(GROUP)
    try:
        judged: list[Any] = []
        statement = IAMPolicyStatement.is_action_permitted

        def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
            judged.append(args[0])
            return statement(self, *args, **kwargs)

        monkeypatch.setattr(IAMPolicyStatement, "is_action_permitted", counting)
        allow = _document({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE})
        assert IAMPolicy(allow).is_action_permitted("dynamodb:PutItem", TABLE) == PermissionResult.PERMITTED
        assert IAMPolicy(allow).is_action_permitted("dynamodb:PutItem", TABLE) == PermissionResult.PERMITTED
        assert len(judged) == 1  # the second time, kept
        deny = allow.replace('"Allow"', '"Deny"')  # the role's policy replaced
        assert IAMPolicy(deny).is_action_permitted("dynamodb:PutItem", TABLE) == PermissionResult.DENIED
        assert len(judged) == 2
    finally:
        REGISTRY.undo(GROUP)
