"""The embedded AWS's CPU for each request a Lambda worker makes per job (issue 13).

    python bench/bench_moto_ops.py [--requests 400] [--threads 8]

Starts the embedded AWS (`asyncapi_cli.local.manager`, as `up --local` does) in a scratch home, makes a
table and a bucket, then sends the processor's three writes of a job from `--threads` boto3 clients: the
claim (UpdateItem with its condition, on a new item), the result (PutObject), the final write (UpdateItem).
Each kind is sent `--requests` times; the server process's CPU (/proc) per request is printed for each,
with the rate. The expressions are the processor's own (handlers/job_processor.py). CPU per request
depends less on how busy the machine is than the rate does.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

CLAIM = (
    "SET #s = :processing, createdAt = if_not_exists(createdAt, :created), "
    "startedAt = if_not_exists(startedAt, :now), updatedAt = :now, attempts = :attempt"
)
FINISH = "SET #s = :status, updatedAt = :now, attempts = :attempt, completedAt = :now, #r = :result REMOVE #e"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    os.environ["ASYNCAPI_HOME"] = tempfile.mkdtemp(prefix="asyncapi-moto-ops-")
    import boto3

    from asyncapi_cli.local import manager

    info = manager.ensure_running()
    pid, endpoint = int(info["pid"]), info["endpoint"]
    tick = os.sysconf("SC_CLK_TCK")

    def server_cpu() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    local = threading.local()

    def client(service: str) -> Any:
        if not hasattr(local, service):
            made = boto3.client(
                service,
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            setattr(local, service, made)
        return getattr(local, service)

    def claim(i: int) -> None:
        client("dynamodb").update_item(
            TableName="jobs",
            Key={"jobId": {"S": f"j{i}"}},
            UpdateExpression=CLAIM,
            ConditionExpression="attribute_not_exists(jobId) OR NOT (#s IN (:completed, :failed))",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":processing": {"S": "processing"},
                ":created": {"S": "2026-01-01T00:00:00Z"},
                ":now": {"S": str(time.time())},
                ":attempt": {"N": "1"},
                ":completed": {"S": "completed"},
                ":failed": {"S": "failed"},
            },
        )

    def put(i: int) -> None:
        body = json.dumps({"jobId": f"j{i}", "result": None}).encode()
        client("s3").put_object(
            Bucket="results", Key=f"results/j{i}.json", Body=body, ContentType="application/json"
        )

    def finish(i: int) -> None:
        client("dynamodb").update_item(
            TableName="jobs",
            Key={"jobId": {"S": f"j{i}"}},
            UpdateExpression=FINISH,
            ConditionExpression="attribute_exists(jobId) AND NOT (#s IN (:completed, :failed))",
            ExpressionAttributeNames={"#s": "status", "#r": "result", "#e": "error"},
            ExpressionAttributeValues={
                ":status": {"S": "completed"},
                ":now": {"S": str(time.time())},
                ":attempt": {"N": "1"},
                ":completed": {"S": "completed"},
                ":failed": {"S": "failed"},
                ":result": {"S": f"s3://results/results/j{i}.json"},
            },
        )

    try:
        client("dynamodb").create_table(
            TableName="jobs",
            KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client("s3").create_bucket(Bucket="results")
        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(lambda i: (claim(-i - 1), put(-i - 1), finish(-i - 1)), range(40)))  # warm-up
            for name, send in (("claim UpdateItem", claim), ("PutObject", put), ("final UpdateItem", finish)):
                before, started = server_cpu(), time.perf_counter()
                list(pool.map(send, range(args.requests)))
                elapsed = time.perf_counter() - started
                cpu_ms = 1000 * (server_cpu() - before) / args.requests
                print(
                    f"{name}: {cpu_ms:.2f} ms of the server's CPU a request, {args.requests / elapsed:.0f}/s"
                )
    finally:
        manager.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
