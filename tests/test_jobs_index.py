"""The jobs table's index by status and creation time: converged by `up` (also onto an existing table),
and `asyncapi jobs` pages through it newest first, reading about a page of items, never the table."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from asyncapi_cli import cli
from asyncapi_cli.dayops import jobs as job_records
from asyncapi_cli.errors import InputError
from asyncapi_cli.jobs_index import INDEX_NAME

from .conftest import deploy

TABLE = "idx-stack-jobs"


def put_jobs(count: int, status: str = "completed", prefix: str = "job", second: int = 0) -> list[str]:
    dynamodb = boto3.client("dynamodb")
    ids = []
    for i in range(count):
        job_id = f"{prefix}{i:04d}"
        created = f"2026-12-07T05:{second + i // 60:02d}:{i % 60:02d}.000Z"
        dynamodb.put_item(
            TableName=TABLE,
            Item={"jobId": {"S": job_id}, "status": {"S": status}, "createdAt": {"S": created}},
        )
        ids.append(job_id)
    return ids


class ReadCounter:
    """Sums what DynamoDB answers it read (ScannedCount, per the Query/Scan API reference) per operation."""

    def __init__(self, client: Any) -> None:
        self.read: dict[str, int] = {}
        client.meta.events.register("after-call.dynamodb", self.count)

    def count(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if "ScannedCount" in parsed:
            self.read[model.name] = self.read.get(model.name, 0) + int(parsed["ScannedCount"])


def drop_index() -> None:
    boto3.client("dynamodb").update_table(
        TableName=TABLE, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": INDEX_NAME}}]
    )


def indexes(table: str = TABLE) -> dict[str, Any]:
    described = boto3.client("dynamodb").describe_table(TableName=table)["Table"]
    return {index["IndexName"]: index for index in described.get("GlobalSecondaryIndexes") or []}


def test_up_creates_the_index_and_jobs_pages_through_it(mocked_aws: None) -> None:
    stack = deploy("idx-stack")
    index = indexes()[INDEX_NAME]
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["status", "createdAt"]
    assert index["IndexStatus"] == "ACTIVE"
    completed = put_jobs(30)
    failed = put_jobs(5, "failed", prefix="bad", second=10)
    # A schedule's record (no status) and a flag (no createdAt) are not jobs: the sparse index skips them.
    boto3.client("dynamodb").put_item(
        TableName=TABLE, Item={"jobId": {"S": "schedule#x"}, "createdAt": {"S": "2026-12-07T06:00:00Z"}}
    )
    counter = ReadCounter(stack.clients("dynamodb"))
    page, cursor = job_records.newest_jobs(stack, status=None, limit=10)
    assert [job["jobId"] for job in page] == failed[::-1] + completed[::-1][:5]
    seen = [job["jobId"] for job in page]
    while cursor:
        page, cursor = job_records.newest_jobs(stack, status=None, limit=10, cursor=cursor)
        seen += [job["jobId"] for job in page]
    assert seen == failed[::-1] + completed[::-1]  # every job once, newest first, across statuses
    assert "Scan" not in counter.read

    counter.read.clear()
    page, cursor = job_records.newest_jobs(stack, status="failed", limit=3)
    assert [job["jobId"] for job in page] == failed[::-1][:3] and cursor
    assert counter.read == {"Query": 4}  # a page and one more (to know whether there is a next page)

    shown = CliRunner().invoke(cli.main, ["jobs", "--name", "idx-stack", "--status", "failed", "--json"])
    assert shown.exit_code == 0, shown.output
    assert [job["jobId"] for job in json.loads(shown.output)["jobs"]] == failed[::-1]


def test_jobs_created_in_the_same_millisecond_are_each_listed_once(mocked_aws: None) -> None:
    stack = deploy("idx-stack")
    dynamodb = boto3.client("dynamodb")
    for i in range(7):
        dynamodb.put_item(
            TableName=TABLE,
            Item={
                "jobId": {"S": f"twin{i}"},
                "status": {"S": "queued"},
                "createdAt": {"S": "2026-12-07T05:00:00.000Z"},
            },
        )
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = job_records.newest_jobs(stack, status=None, limit=2, cursor=cursor)
        seen += [job["jobId"] for job in page]
        if cursor is None:
            break
    assert seen == [f"twin{i}" for i in range(6, -1, -1)]


def test_up_adds_the_index_to_an_existing_table(mocked_aws: None) -> None:
    stack = deploy("idx-stack")
    # The table as a stack deployed before the index existed has it: no index.
    drop_index()
    assert indexes() == {}
    put_jobs(3)
    # Until `up` converges, listing still works (the old Scan).
    page, _ = job_records.newest_jobs(stack, status=None, limit=2)
    assert [job["jobId"] for job in page] == ["job0002", "job0001"]
    redeployed = deploy("idx-stack")
    assert indexes()[INDEX_NAME]["IndexStatus"] == "ACTIVE"
    counter = ReadCounter(redeployed.clients("dynamodb"))
    page, _ = job_records.newest_jobs(redeployed, status="completed", limit=2)
    assert [job["jobId"] for job in page] == ["job0002", "job0001"]
    assert set(counter.read) == {"Query"}


def test_up_replaces_an_index_of_another_shape(mocked_aws: None) -> None:
    deploy("idx-stack")
    dynamodb = boto3.client("dynamodb")
    drop_index()
    dynamodb.update_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "status", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": INDEX_NAME,
                    "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            }
        ],
    )
    deploy("idx-stack")
    index = indexes()[INDEX_NAME]
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["status", "createdAt"]
    assert index["Projection"]["ProjectionType"] == "ALL"


@pytest.mark.parametrize("cursor", ["%%%", "bm8tc2VwYXJhdG9y"])  # not base64; base64 of "no-separator"
def test_a_bad_cursor_is_bad_input(cursor: str, mocked_aws: None) -> None:
    stack = deploy("idx-stack")
    with pytest.raises(InputError, match="invalid page cursor"):
        job_records.newest_jobs(stack, status=None, limit=5, cursor=cursor)
