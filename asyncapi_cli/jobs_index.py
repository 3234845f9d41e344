"""The jobs table's index of jobs by status and creation time: newest jobs without a Scan.

DynamoDB has no "newest items" read on a table keyed by jobId alone: a Scan reads every item. A global
secondary index keyed by (status, createdAt) answers "the newest N jobs with status S" with one Query
that reads about N items (DynamoDB developer guide, "Using Global Secondary Indexes": a Query on an
index reads only the items of one partition key value, in sort key order, up to Limit).

The index is keyed by the attributes the handlers already write on every job record (status, and
createdAt set once with if_not_exists), so no second copy of the status can drift from the record.
It is sparse: items without both attributes (schedules, flags, connection records) are not in it
(developer guide, "Take advantage of sparse indexes").

One partition key value per status means every job write of a status lands on one index partition
(about 1,000 writes a second per partition: developer guide, "Partitions and data distribution").
Above that rate the status would need sharding (status#0..status#n), queried n times per page.
"""

from __future__ import annotations

from typing import Any

INDEX_NAME = "byStatusCreated"
STATUS_ATTRIBUTE = "status"
TIME_ATTRIBUTE = "createdAt"
# Every status a record in the jobs table can have ("partial" is a batch's).
INDEXED_STATUSES = ("queued", "processing", "retrying", "completed", "failed", "partial")


def table_attributes() -> dict[str, Any]:
    """What the jobs table unit adds: the index and its key attributes' definitions (CreateTable names)."""
    return {
        "AttributeDefinitions": [
            {"AttributeName": STATUS_ATTRIBUTE, "AttributeType": "S"},
            {"AttributeName": TIME_ATTRIBUTE, "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": INDEX_NAME,
                "KeySchema": [
                    {"AttributeName": STATUS_ATTRIBUTE, "KeyType": "HASH"},
                    {"AttributeName": TIME_ATTRIBUTE, "KeyType": "RANGE"},
                ],
                # Job records are small (the payload is not stored; the result is an S3 URI): the whole
                # record in the index lets a page show attempts and errors without a second read.
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }
