"""IAM for function code in the embedded AWS: workers run with their role's credentials, and moto's
own IAM evaluation (moto.iam.access_control) judges every request signed with them.

moto can enforce IAM only for every request (settings.INITIAL_NO_AUTH_ACTION_COUNT), which would also
judge our own control-plane calls made with placeholder keys. So enforcement is switched per
request: a request signed with temporary credentials from sts:AssumeRole (what each Lambda worker
gets, as on AWS: "Lambda execution role",
docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html)
is checked against its role's inline and attached policies (signature, explicit Deny, Allow); any
other request passes as before. The same evaluation tells whether a role holds the SQS rights an
event source mapping needs (sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes:
"Execution role permissions" in docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from .compat.registry import REGISTRY, Patch, register

SQS_MAPPING_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
SESSION_SECONDS = 12 * 3600

_credentials: dict[tuple[str, str], dict[str, str]] = {}
_lock = threading.Lock()


def _temporary_key(access_key_id: str) -> bool:
    # STS temporary credentials start with ASIA (moto's and AWS's); our control plane signs with
    # placeholder keys. An unknown or stale ASIA key is refused by moto (InvalidClientTokenId), as
    # an expired session is on AWS: enforcement fails closed.
    return access_key_id.startswith("ASIA")


def _still_assumed(account: str, access_key_id: str) -> bool:
    from moto.sts.models import sts_backends

    return any(
        role.access_key_id == access_key_id
        for backend in list(sts_backends[account].values())
        for role in list(backend.assumed_roles)
    )


def _request_key(headers: Any) -> str | None:
    authorization = headers.get("Authorization") or headers.get("authorization") or ""
    if "Credential=" not in authorization:
        return None
    return str(authorization.split("Credential=", 1)[1].split("/", 1)[0])


def _authenticate_and_authorize(original: Any) -> Any:
    def authenticate_and_authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        key = _request_key(self.headers)
        if key is None or not _temporary_key(key):
            return original(self, iam_request_cls, resource)
        from urllib.parse import urlparse

        parsed = urlparse(self.uri)
        path = self.raw_path + ("?" + parsed.query if parsed.query else "")
        request = iam_request_cls(
            account_id=self.current_account,
            method=self.method,
            path=path,
            # A request without a body (a REST GET or DELETE such as scheduler:GetSchedule, whose
            # parameters are in the query string) was signed over an empty payload; moto's self.data
            # holds the query parameters there, which moto would hash as a form body
            # (SignatureDoesNotMatch).
            data=self.data if self.raw_body else {},
            body=self.raw_body,
            headers=self.headers,
            action=self._get_action(),
        )
        request.check_signature()
        request.check_action_permitted(resource)

    return authenticate_and_authorize


def _dynamodb_resource(_: Any) -> Any:
    def dynamodb_resource(self: Any) -> str:
        # moto judges DynamoDB calls against "*": name the table, as AWS does, so policies scoped to
        # the table's ARN match.
        params = getattr(self, "params", None) or {}
        table = params.get("TableName") or next(iter(params.get("RequestItems") or {}), None)
        if not table:
            return "*"
        return f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{table}"

    return dynamodb_resource


def _secret_resource(_: Any) -> Any:
    def secret_resource(self: Any) -> str:
        # Likewise Secrets Manager: judge GetSecretValue & co. against the secret's ARN (a name given as
        # SecretId is looked up), so a policy naming the exact secret matches as on AWS.
        try:
            secret_id = json.loads(self.body or "{}").get("SecretId")
        except ValueError:
            secret_id = None
        if not secret_id:
            return "*"
        if str(secret_id).startswith("arn:"):
            return str(secret_id)
        from moto.secretsmanager.models import secretsmanager_backends

        secrets = secretsmanager_backends[self.current_account][self.region].secrets
        secret = secrets.get(secret_id) if hasattr(secrets, "get") else None
        return getattr(secret, "arn", "*")

    return secret_resource


def _schedule_resource(_: Any) -> Any:
    def schedule_resource(self: Any) -> str:
        # EventBridge Scheduler: CreateSchedule, GetSchedule, DeleteSchedule and UpdateSchedule act on
        # the resource type "schedule", arn:...:schedule/<group>/<name> (the group "default" when none
        # is given), per the Service Authorization Reference; moto would judge them against "*".
        path = self.uri.split("?", 1)[0].rstrip("/")
        parts = path.split("/")
        if len(parts) < 2 or parts[-2] != "schedules" or not parts[-1]:
            return "*"
        from urllib.parse import unquote

        name = unquote(parts[-1])
        group = self._get_param("GroupName") or self._get_param("groupName") or "default"
        return f"arn:aws:scheduler:{self.region}:{self.current_account}:schedule/{group}/{name}"

    return schedule_resource


# Role sessions (the Lambda workers' credentials) are judged by their role's policies, against the resource
# each call acts on, as IAM does; moto enforces nothing by default.
VERIFIED = ("moto", "5.2.5")
register(
    Patch(
        "moto.core.authorization:ActionAuthenticatorMixin._authenticate_and_authorize_action",
        _authenticate_and_authorize,
        "fidelity",
        "role sessions judged by their policies",
        "iam-enforcement",
        params=("self", "iam_request_cls", "resource"),
    ),
    Patch(
        "moto.dynamodb.responses:DynamoHandler._determine_resource",
        _dynamodb_resource,
        "fidelity",
        "DynamoDB calls judged against the table",
        "iam-enforcement",
        adds=True,
    ),
    Patch(
        "moto.secretsmanager.responses:SecretsManagerResponse._determine_resource",
        _secret_resource,
        "fidelity",
        "secret calls judged against the secret",
        "iam-enforcement",
        adds=True,
    ),
    Patch(
        "moto.scheduler.responses:EventBridgeSchedulerResponse._determine_resource",
        _schedule_resource,
        "fidelity",
        "schedule calls judged against the schedule",
        "iam-enforcement",
        adds=True,
    ),
)


def install_role_enforcement() -> None:
    """Through the compat registry (idempotent)."""
    REGISTRY.apply(["iam-enforcement"])


def role_credentials(account: str, region: str, role_arn: str, session: str) -> dict[str, str]:
    """Temporary credentials of role_arn (one session per role and function, reused)."""
    from moto.sts.models import sts_backends

    with _lock:
        found = _credentials.get((role_arn, session))
        if found is None or not _still_assumed(account, found["AccessKeyId"]):  # moto was reset
            backend = sts_backends[account]["aws"]
            role = backend.assume_role(region, session, role_arn, None, SESSION_SECONDS, None)
            found = {
                "AccessKeyId": role.access_key_id,
                "SecretAccessKey": role.secret_access_key,
                "SessionToken": role.session_token,
            }
            _credentials[(role_arn, session)] = found
        return found


def _role_policies(account: str, role_arn: str) -> list[Any]:
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["aws"]
    name = role_arn.rsplit("/", 1)[-1]
    policies: list[Any] = [backend.get_role_policy(name, p)[1] for p in backend.list_role_policies(name)]
    attached, _ = backend.list_attached_role_policies(name)
    return policies + list(attached)


def role_allows(account: str, role_arn: str, action: str, resource: str) -> bool:
    """moto's evaluation: any explicit Deny wins, else some Allow is needed."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    try:
        policies = _role_policies(account, role_arn)
    except Exception:
        return False  # the role does not exist
    allowed = False
    for policy in policies:
        result = IAMPolicy(policy).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return False
        allowed = allowed or result == PermissionResult.PERMITTED
    return allowed


def sqs_mapping_check(account: str, region: str, role_arn: str, queue_arn: str) -> str | None:
    """Why the mapping cannot poll its queue with the function's role, or None when it can."""
    missing = [a for a in SQS_MAPPING_ACTIONS if not role_allows(account, role_arn, a, queue_arn)]
    if missing:
        return f"the function's execution role does not allow {', '.join(missing)} on {queue_arn}"
    return None
