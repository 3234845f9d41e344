"""moto's IAM policy decisions, kept per policy text and request (speed; the same answers).

Every request a Lambda worker signs with its role's credentials is judged against the role's policies
(iam_policy.py): moto parses each policy document and walks its statements, every request, for the same
few documents, actions and resources. A decision (IAMPolicy.is_action_permitted) depends on the
document's text, the action, the resource, the principal and the request's condition values, and on
nothing else (moto reads no clock and no state there): it is kept under exactly those, so a changed
policy is a new text, judged anew, and never answered from what was kept for the old one. The signature
is still checked on every request, and the policies are still looked up (a detached policy is not
consulted). tests/test_local_perf_moto_iam.py compares decisions with moto's own.
"""

from __future__ import annotations

import threading
from typing import Any

from .registry import Patch, register

DECISIONS_KEPT = 4096
_decisions: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


def _document(policy: Any) -> str | None:
    """The text moto parses for `policy` (IAMPolicy.__init__): a string, a managed policy's default version,
    or a dict's "policy_document"; None when it is something else."""
    if isinstance(policy, str):
        return policy
    if isinstance(policy, dict):
        found = policy.get("policy_document")
        return found if isinstance(found, str) else None
    for version in getattr(policy, "versions", None) or ():
        if getattr(version, "is_default", False):
            return version.document if isinstance(version.document, str) else None
    return None


def _remembering_document(init: Any) -> Any:
    def remembering_init(self: Any, policy: Any) -> None:
        init(self, policy)  # parses, and raises on a malformed document as before
        self._asyncapi_document = _document(policy)

    return remembering_init


def _hashable(values: Any) -> Any:
    if values is None:
        return None
    if not isinstance(values, dict):
        raise TypeError
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items()))


def _kept_decision(is_action_permitted: Any) -> Any:
    def kept_decision(
        self: Any,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, Any] | None = None,
    ) -> Any:
        document = getattr(self, "_asyncapi_document", None)
        try:
            key = (document, action, resource, principal, _hashable(incoming_condition_values))
            hash(key)
        except TypeError:
            key = None
        if document is None or key is None:
            return is_action_permitted(self, action, resource, principal, incoming_condition_values)
        found = _decisions.get(key)
        if found is None:
            found = is_action_permitted(self, action, resource, principal, incoming_condition_values)
            with _lock:
                if len(_decisions) >= DECISIONS_KEPT:
                    _decisions.clear()  # a bound, not a policy: a stack has a handful of roles and calls
                _decisions[key] = found
        return found

    return kept_decision


register(
    Patch(
        "moto.iam.access_control:IAMPolicy.__init__",
        _remembering_document,
        "speed",
        "remembers the policy's text",
        "iam-decisions",
        params=("self", "policy"),
    ),
    Patch(
        "moto.iam.access_control:IAMPolicy.is_action_permitted",
        _kept_decision,
        "speed",
        "a policy decision kept per text and request",
        "iam-decisions",
        params=("self", "action", "resource", "principal", "incoming_condition_values"),
    ),
)
