"""The one place the gateway reads moto's internals (the embedded control plane runs in this process).

API Gateway serves a stage's *deployment*: a snapshot of the API taken at CreateDeployment. moto keeps
only the deployment's id and description, so `install()` wraps moto's CreateDeployment to take that
snapshot (resources, methods, integrations, validators, models, gateway responses, binary media types)
keyed by deployment id. A deployment made before `install()` is snapshotted the first time it is seen.

moto also replaces a stage (losing its method settings, variables and access logs) when
CreateDeployment names an existing stage; AWS only points the stage at the new deployment
(CreateDeployment API reference: "stageName: The name of the Stage resource for the Deployment
resource to create"; the stage keeps its configuration). The wrapper keeps the stage's settings.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..compat import moto_fixes
from ..compat.registry import REGISTRY

_SNAPSHOTS: dict[tuple[str, str], Deployment] = {}
_LOCK = threading.Lock()
_INSTALLED = False


@dataclass(frozen=True)
class Deployment:
    """An immutable view of what a deployment serves."""

    api_id: str
    deployment_id: str
    account: str
    region: str
    resources: tuple[dict[str, Any], ...]
    validators: dict[str, dict[str, Any]]
    models: dict[str, dict[str, Any]]
    gateway_responses: dict[str, dict[str, Any]]
    binary_media_types: tuple[str, ...]
    api_key_source: str = "HEADER"
    routes: dict[str, Any] = field(default_factory=dict, compare=False)  # per-deployment cache


@dataclass(frozen=True)
class StageConfig:
    name: str
    deployment_id: str
    variables: dict[str, str]
    method_settings: dict[str, dict[str, Any]]
    access_log: dict[str, Any] | None


def _apigateway_backends() -> Any:
    from moto.apigateway.models import apigateway_backends

    return apigateway_backends


def _snapshot(api: Any, deployment_id: str) -> Deployment:
    return Deployment(
        api_id=api.id,
        deployment_id=deployment_id,
        account=api.account_id,
        region=api.region_name,
        resources=tuple(copy.deepcopy(r.to_dict()) for r in list(api.resources.values())),
        validators={k: copy.deepcopy(v.to_dict()) for k, v in list(api.request_validators.items())},
        models={m.name: copy.deepcopy(m.to_json()) for m in list(api.models.values())},
        gateway_responses={k: copy.deepcopy(v.to_json()) for k, v in list(api.gateway_responses.items())},
        binary_media_types=tuple(api.binaryMediaTypes or ()),
        api_key_source=api.api_key_source or "HEADER",
    )


def _snapshot_deployment(api: Any, deployment: Any) -> None:
    with _LOCK:
        _SNAPSHOTS[(api.id, deployment.id)] = _snapshot(api, deployment.id)
        live = {api_id for api_id, _ in _SNAPSHOTS if find_api(api_id) is not None}
        for key in [k for k in _SNAPSHOTS if k[0] not in live]:
            del _SNAPSHOTS[key]  # the snapshots of deleted APIs


def install() -> None:
    """Snapshot every deployment when it is created (a watcher of compat's one CreateDeployment wrapper,
    which also keeps stage settings across redeployments)."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        moto_fixes.deployment_watchers.append(_snapshot_deployment)
        REGISTRY.apply(["stage-on-redeploy"])
        _INSTALLED = True


def find_api(api_id: str) -> Any | None:
    for _account, regions in list(_apigateway_backends().items()):
        for _region, backend in list(regions.items()):
            api = backend.apis.get(api_id)
            if api is not None:
                return api
    return None


def stage_config(api_id: str, stage_name: str) -> StageConfig | None:
    api = find_api(api_id)
    stage = api.stages.get(stage_name) if api is not None else None
    if stage is None or not stage.deployment_id:
        return None
    return StageConfig(
        name=stage_name,
        deployment_id=stage.deployment_id,
        variables=dict(stage.variables or {}),
        method_settings=copy.deepcopy(stage.method_settings or {}),
        access_log=dict(stage.access_log_settings) if stage.access_log_settings else None,
    )


def deployment(api_id: str, deployment_id: str) -> Deployment | None:
    with _LOCK:
        found = _SNAPSHOTS.get((api_id, deployment_id))
    if found is not None:
        return found
    api = find_api(api_id)
    if api is None or deployment_id not in api.deployments:
        return None
    with _LOCK:  # made before install(): the first sight is the best snapshot there is
        return _SNAPSHOTS.setdefault((api_id, deployment_id), _snapshot(api, deployment_id))


# --- API keys and usage plans -------------------------------------------------------------------


@dataclass(frozen=True)
class UsagePlanGrant:
    key_id: str
    plan_id: str
    throttle: dict[str, Any]
    quota: dict[str, Any]


def usage_plan_for_key(account: str, region: str, api_id: str, stage: str, key_value: str) -> Any:
    """The plan (bound to this API stage) holding an enabled key of this value; None, or "disabled"."""
    backend = _apigateway_backends()[account][region]
    keys = [k for k in list(backend.keys.values()) if k.value == key_value]
    if not keys:
        return None
    for plan in list(backend.usage_plans.values()):
        bound = any(s.get("apiId") == api_id and s.get("stage") == stage for s in plan.api_stages or [])
        if not bound:
            continue
        plan_keys = backend.usage_plan_keys.get(plan.id, {})
        for key in keys:
            if key.id in plan_keys:
                if not key.enabled:
                    return "disabled"
                return UsagePlanGrant(key.id, plan.id, dict(plan.throttle or {}), dict(plan.quota or {}))
    return None


# --- IAM -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RolePolicies:
    trust: dict[str, Any]
    identity: tuple[dict[str, Any], ...]


def _document(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    import urllib.parse

    text = str(value)
    if text.startswith("%7B") or text.startswith("%7b"):
        text = urllib.parse.unquote(text)
    return json.loads(text)


def role_policies(role_arn: str) -> RolePolicies | None:
    """A role's trust policy and identity policies (inline and attached), or None if it does not exist."""
    from moto.iam.models import iam_backends

    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    partition = role_arn.split(":")[1] if role_arn.count(":") >= 5 else "aws"
    try:
        backend = iam_backends[account][partition]
        role = backend.get_role_by_arn(role_arn)
    except Exception:
        return None
    documents = [_document(doc) for doc in list(role.policies.values())]
    for policy in list(role.managed_policies.values()):
        for version in policy.versions:
            if version.is_default:
                documents.append(_document(version.document))
    return RolePolicies(_document(role.assume_role_policy_document), tuple(documents))


def lambda_resource_policy(function_arn: str) -> dict[str, Any] | None:
    """The function's resource-based policy (GetPolicy), {} when it has none, None if no function."""
    from moto.awslambda.models import lambda_backends

    parts = function_arn.split(":")
    try:
        backend = lambda_backends[parts[4]][parts[3]]
        function = backend.get_function(function_arn)
    except Exception:
        return None
    try:
        return function.policy.get_policy()["Policy"] if function.policy else {}
    except Exception:  # moto raises when the policy has no statement
        return {}


# --- CloudWatch Logs -----------------------------------------------------------------------------


def put_log_line(log_group_arn: str, stream: str, message: str) -> bool:
    """Append one event to a log group (given by ARN); False when the group does not exist."""
    from moto.logs.models import logs_backends

    parts = log_group_arn.split(":")
    if len(parts) < 7 or parts[5] != "log-group":
        return False
    group = parts[6]
    try:
        backend = logs_backends[parts[4]][parts[3]]
        if group not in backend.groups:
            return False
        if stream not in backend.groups[group].streams:
            backend.create_log_stream(group, stream)
        backend.put_log_events(group, stream, [{"timestamp": int(time.time() * 1000), "message": message}])
    except Exception:
        return False
    return True
