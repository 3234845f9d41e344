"""How each AWS answer starts, ends or shows a settling period (aws_model.py has the model and its sources).

Each settler runs under the model's lock with moto's answer to one operation (`ok`: a 2xx answer) and
returns the body to send instead, or None to send moto's as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.aws_ops import Call, short_name

# bench.aws_model.AwsModel, which imports this module's settlers: named here, not imported (no cycle).
AwsModel = Any


@dataclass
class FunctionState:
    arn: str
    pending_until: float
    updating_until: float = 0.0


@dataclass
class TableState:
    creating_until: float
    deleting_until: float = 0.0
    description: dict[str, Any] = field(default_factory=dict)


@dataclass
class MappingState:
    function: str
    source: str
    creating_until: float
    deleting_until: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)


Settler = Callable[["AwsModel", Call, dict[str, Any], bool, float], "dict[str, Any] | None"]


def _create_role(m: AwsModel, call: Call, body: dict[str, Any], ok: bool, now: float) -> None:
    if ok:
        name = str(call.params.get("RoleName"))
        m._roles[name] = now + m.timing.role_propagation
        m._event("role usable", name, m._roles[name])


def _delete_role(m: AwsModel, call: Call, body: dict[str, Any], ok: bool, now: float) -> None:
    if ok:
        m._roles.pop(str(call.params.get("RoleName")), None)


def _create_function(m: AwsModel, call: Call, body: dict[str, Any], ok: bool, now: float) -> dict | None:
    if not ok:
        return None
    name = str(body.get("FunctionName"))
    m._observe("role usable", short_name(str(call.params.get("Role", ""))), now)
    m._functions[name] = FunctionState(str(body.get("FunctionArn")), now + m.timing.function_pending)
    m._event("function Active", name, now + m.timing.function_pending)
    return m._function_view(name, body, now)


def _update_function(m: AwsModel, call: Call, body: dict[str, Any], ok: bool, now: float) -> dict | None:
    name = str(body.get("FunctionName"))
    fn = m._functions.get(name)
    if not ok or fn is None:
        return None
    if call.params.get("Role"):
        m._observe("role usable", short_name(str(call.params["Role"])), now)
    fn.updating_until = now + m.timing.function_updating
    m._event("function updated", name, fn.updating_until)
    return m._function_view(name, body, now)


def _get_function_configuration(m: AwsModel, call: Call, body: dict, ok: bool, now: float) -> dict | None:
    return m._function_view(str(body.get("FunctionName")), body, now) if ok else None


def _get_function(m: AwsModel, call: Call, body: dict[str, Any], ok: bool, now: float) -> dict | None:
    if not ok or "Configuration" not in body:
        return None
    config = body["Configuration"]
    body["Configuration"] = m._function_view(str(config.get("FunctionName")), config, now)
    return body


def _delete_function(m: AwsModel, call: Call, body: dict[str, Any], ok: bool, now: float) -> None:
    if ok:
        m._functions.pop(short_name(str(call.params.get("FunctionName", ""))), None)


def _create_table(m: AwsModel, call: Call, body: dict[str, Any], ok: bool, now: float) -> dict | None:
    if not ok:
        return None
    name = str(call.params.get("TableName"))
    m._tables[name] = TableState(creating_until=now + m.timing.table_creating)
    m._event("table ACTIVE", name, now + m.timing.table_creating)
    if m.timing.table_creating > 0:
        body.setdefault("TableDescription", {})["TableStatus"] = "CREATING"
    return body


def _describe_table(m: AwsModel, call: Call, body: dict[str, Any], ok: bool, now: float) -> dict | None:
    name = str(call.params.get("TableName"))
    table = m._tables.get(name)
    if table is None:
        return None
    if not ok:  # ResourceNotFoundException after DELETING: gone
        m._observe("table deleted", name, now)
        return None
    if now < table.creating_until:
        body["Table"]["TableStatus"] = "CREATING"
    else:
        m._observe("table ACTIVE", name, now)
    return body


def _delete_table(m: AwsModel, call: Call, body: dict[str, Any], ok: bool, now: float) -> dict | None:
    name = str(call.params.get("TableName"))
    table = m._tables.setdefault(name, TableState(creating_until=0.0))
    if not ok:
        return None
    description = dict(body.get("TableDescription") or {"TableName": name})
    description["TableStatus"] = "DELETING"
    table.description = description
    table.deleting_until = now + m.timing.table_deleting
    m._event("table deleted", name, table.deleting_until)
    return {**body, "TableDescription": description} if m.timing.table_deleting > 0 else None


def _create_mapping(m: AwsModel, call: Call, body: dict[str, Any], ok: bool, now: float) -> dict | None:
    if not ok:
        return None
    function = short_name(str(body.get("FunctionArn", call.params.get("FunctionName", ""))))
    until = now + m.timing.mapping_creating
    m._mappings[str(body.get("UUID"))] = MappingState(function, str(body.get("EventSourceArn")), until)
    m._event("mapping Enabled", function, until)
    return m._mapping_view(body, now)


def _get_mapping(m: AwsModel, call: Call, body: dict[str, Any], ok: bool, now: float) -> dict | None:
    mapping = m._mappings.get(str(call.params.get("UUID")))
    if not ok:
        if mapping is not None:
            m._observe("mapping deleted", mapping.function, now)
        return None
    return m._mapping_view(body, now)


def _list_mappings(m: AwsModel, call: Call, body: dict[str, Any], ok: bool, now: float) -> dict | None:
    if not ok:
        return None
    listed = [m._mapping_view(config, now) for config in body.get("EventSourceMappings", [])]
    present = {config.get("UUID") for config in listed}
    source = call.params.get("EventSourceArn")
    function = short_name(str(call.params.get("FunctionName", ""))) or None
    for uuid, mapping in m._mappings.items():
        # moto forgot a deleted mapping at once; AWS still lists it while it is Deleting.
        deleting = now < mapping.deleting_until and uuid not in present
        if deleting and source in (None, mapping.source) and function in (None, mapping.function):
            listed.append(mapping.config)
    body["EventSourceMappings"] = listed
    return body


def _delete_mapping(m: AwsModel, call: Call, body: dict[str, Any], ok: bool, now: float) -> dict | None:
    mapping = m._mappings.get(str(call.params.get("UUID")))
    if not ok or mapping is None:
        return None
    config = {**body, "State": "Deleting", "StateTransitionReason": "USER_INITIATED"}
    mapping.config = config
    mapping.deleting_until = now + m.timing.mapping_deleting
    m._event("mapping deleted", mapping.function, mapping.deleting_until)
    return config if m.timing.mapping_deleting > 0 else None


SETTLERS: dict[str, Settler] = {
    "iam.CreateRole": _create_role,
    "iam.DeleteRole": _delete_role,
    "lambda.CreateFunction": _create_function,
    "lambda.UpdateFunctionConfiguration": _update_function,
    "lambda.UpdateFunctionCode": _update_function,
    "lambda.GetFunctionConfiguration": _get_function_configuration,
    "lambda.GetFunction": _get_function,
    "lambda.DeleteFunction": _delete_function,
    "dynamodb.CreateTable": _create_table,
    "dynamodb.DescribeTable": _describe_table,
    "dynamodb.DeleteTable": _delete_table,
    "lambda.CreateEventSourceMapping": _create_mapping,
    "lambda.GetEventSourceMapping": _get_mapping,
    "lambda.ListEventSourceMappings": _list_mappings,
    "lambda.DeleteEventSourceMapping": _delete_mapping,
}
