"""A small IAM policy evaluator: enough to decide what the gateway's integrations may do.

Semantics (AWS docs "Policy evaluation logic", "IAM JSON policy elements"): an explicit Deny wins, else
an Allow is needed, else the request is implicitly denied. Action and Resource (and NotAction,
NotResource) match with `*` and `?` wildcards, actions case-insensitively. Conditions: the String*,
Arn* and Bool operators with their IfExists forms; condition keys are case-insensitive.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

ALLOW, DENY, IMPLICIT_DENY = "Allow", "Deny", "ImplicitDeny"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


@functools.lru_cache(maxsize=1024)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    # A pure function of the pattern: cached, since building it a character at a time (re.escape each)
    # was most of an evaluation's cost; re's own cache only skips the compile, not this.
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    return _wildcard_regex(pattern).fullmatch(value) is not None


def _matches_any(patterns: Iterable[str], value: str, ignore_case: bool = False) -> bool:
    return any(_wildcard(str(p), value, ignore_case) for p in patterns)


def _condition_holds(operator: str, values: Mapping[str, Any], keys: Mapping[str, str]) -> bool:
    lowered = {k.lower(): v for k, v in keys.items()}
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    for key, wanted in values.items():
        actual = lowered.get(key.lower())
        if actual is None:
            if if_exists:
                continue
            return base.startswith("StringNot") or base.startswith("ArnNot")
        wanted_values = [str(w) for w in _as_list(wanted)]
        if base in ("StringEquals", "ArnEquals"):
            ok = actual in wanted_values
        elif base == "StringEqualsIgnoreCase":
            ok = actual.lower() in [w.lower() for w in wanted_values]
        elif base in ("StringLike", "ArnLike"):
            ok = _matches_any(wanted_values, actual)
        elif base in ("StringNotEquals", "ArnNotEquals"):
            ok = actual not in wanted_values
        elif base in ("StringNotLike", "ArnNotLike"):
            ok = not _matches_any(wanted_values, actual)
        elif base == "Bool":
            ok = actual.lower() in [w.lower() for w in wanted_values]
        else:  # an operator we do not model never grants (and so can never widen) access
            return False
        if not ok:
            return False
    return True


def _statement_applies(
    statement: Mapping[str, Any], action: str, resource: str, keys: Mapping[str, str]
) -> bool:
    if "Action" in statement and not _matches_any(_as_list(statement["Action"]), action, ignore_case=True):
        return False
    if "NotAction" in statement and _matches_any(_as_list(statement["NotAction"]), action, ignore_case=True):
        return False
    if "Resource" in statement and not _matches_any(_as_list(statement["Resource"]), resource):
        return False
    if "NotResource" in statement and _matches_any(_as_list(statement["NotResource"]), resource):
        return False
    for operator, values in (statement.get("Condition") or {}).items():
        if not _condition_holds(operator, values, keys):
            return False
    return True


def _statements(documents: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [s for doc in documents for s in _as_list(doc.get("Statement"))]


def evaluate(
    documents: Iterable[Mapping[str, Any]], action: str, resource: str, keys: Mapping[str, str] | None = None
) -> str:
    """Allow, Deny (explicit) or ImplicitDeny for one action on one resource."""
    decision = IMPLICIT_DENY
    for statement in _statements(documents):
        if not _statement_applies(statement, action, resource, keys or {}):
            continue
        if statement.get("Effect") == "Deny":
            return DENY
        if statement.get("Effect") == "Allow":
            decision = ALLOW
    return decision


def _principal_is(statement: Mapping[str, Any], service: str) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        if principal.get("AWS") == "*":
            return True
        return service in _as_list(principal.get("Service"))
    return False


def service_may_assume(trust_policy: Mapping[str, Any], service: str) -> bool:
    """Does a role's trust policy let a service (e.g. apigateway.amazonaws.com) assume it?"""
    allowed = False
    for statement in _statements([trust_policy]):
        if not _principal_is(statement, service):
            continue
        if not _matches_any(_as_list(statement.get("Action")), "sts:AssumeRole", ignore_case=True):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def resource_policy_allows(
    policy: Mapping[str, Any], service: str, action: str, resource: str, keys: Mapping[str, str]
) -> bool:
    """A resource-based policy (e.g. a Lambda function's) granting a service principal an action."""
    granted = [s for s in _statements([policy]) if _principal_is(s, service)]
    return evaluate([{"Statement": granted}], action, resource, keys) == ALLOW


__all__ = ["evaluate", "service_may_assume", "resource_policy_allows", "ALLOW", "DENY", "IMPLICIT_DENY"]
