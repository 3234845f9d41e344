"""Which deletions lose data or a credential: `plan` marks them and `up` asks before making them.

A credential is lost whatever it holds (the webhook secret: every receiver's verification key; an
API key: every client's). Data is lost only where there is some: a table with items, a bucket with
objects, a schedule group with schedules (DeleteScheduleGroup deletes its schedules too, EventBridge
Scheduler API reference). Each check reads one item at most.
"""

from __future__ import annotations

from typing import Any

from .resources import or_none

CREDENTIALS = {
    "secretsmanager-secret": "the webhook secret {name} (every receiver's signing key)",
    "apigateway-api-key": "the API key {name} (every client's key)",
}


def _table_has_items(clients: Any, record: dict[str, Any], name: str) -> bool:
    table = record.get("name") or name
    found = or_none(lambda: clients("dynamodb").scan(TableName=table, Limit=1, Select="COUNT"))
    return bool(found and (found.get("Count") or found.get("LastEvaluatedKey")))


def _bucket_has_objects(clients: Any, record: dict[str, Any], name: str) -> bool:
    bucket = record.get("name") or name
    found = or_none(lambda: clients("s3").list_objects_v2(Bucket=bucket, MaxKeys=1))
    return bool(found and found.get("KeyCount"))


def _group_has_schedules(clients: Any, record: dict[str, Any], name: str) -> bool:
    group = record.get("name") or name
    found = or_none(lambda: clients("scheduler").list_schedules(GroupName=group, MaxResults=1))
    return bool(found and found.get("Schedules"))


DATA = {
    "dynamodb-table": (_table_has_items, "the table {name} and its items"),
    "s3-bucket": (_bucket_has_objects, "the bucket {name} and its objects"),
    "scheduler-schedule-group": (_group_has_schedules, "the schedule group {name} and its schedules"),
}


def deletion_risks(stack: Any, units: list[Any]) -> dict[str, str]:
    """unit key -> what deleting it loses, for the units (about to be deleted) that lose something."""
    risks: dict[str, str] = {}
    for unit in units:
        record = stack.state.resources.get(unit.key) or {}
        if unit.kind in CREDENTIALS:
            risks[unit.key] = CREDENTIALS[unit.kind].format(name=unit.name)
        elif unit.kind in DATA:
            holds, text = DATA[unit.kind]
            if holds(stack.clients, record, unit.name):
                risks[unit.key] = text.format(name=unit.name)
    return risks
