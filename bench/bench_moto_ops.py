"""The embedded AWS's CPU for each request a Lambda worker makes per job.

    python bench/bench_moto_ops.py [--requests 400] [--threads 8] [--role]

Starts the embedded AWS (`asyncapi_cli.local.manager`, as `up --local` does) in a scratch home, makes a
table and a bucket, then makes the processor's three writes of a job from `--threads` threads, with the
processor's own code and clients (handlers/job_processor.py: `claim`, an UpdateItem with its condition on a
new item; the result's PutObject; `finish`, the final UpdateItem). Each kind is made `--requests` times; the
server process's CPU per request (`load.cpu_seconds`, from /proc) is printed for each, with the rate. CPU
per request depends less on how busy the machine is than the rate does. `--role`: the writes are signed
with a role session's credentials (sts:AssumeRole, a role allowed exactly these writes), as a worker's are,
so the server also checks each one's signature and judges it against the role's policy (iam_policy.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: import bench.*
sys.path.insert(0, str(REPO / "handlers"))  # the processor's own modules, as its package lays them out
from bench.load import cpu_seconds  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--role", action="store_true", help="sign with a role session's credentials")
    args = parser.parse_args()
    os.environ["ASYNCAPI_HOME"] = tempfile.mkdtemp(prefix="asyncapi-moto-ops-")
    from asyncapi_cli.local import manager

    endpoint = manager.ensure_running()["endpoint"]
    # The processor's clients read these, as a worker's do (handler_shared.Clients: one per service).
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    import job_processor

    clients = job_processor._client

    def claim(i: int) -> None:
        job_processor.claim("jobs", f"j{i}", "2026-01-01T00:00:00Z", 1)

    def put(i: int) -> None:
        body = json.dumps({"jobId": f"j{i}", "result": None}).encode()
        clients("s3").put_object(
            Bucket="results", Key=f"results/j{i}.json", Body=body, ContentType="application/json"
        )

    def finish(i: int) -> None:
        job_processor.finish(
            "jobs", f"j{i}", "completed", result_uri=f"s3://results/results/j{i}.json", attempt=1
        )

    try:
        import boto3

        boto3.client("dynamodb").create_table(
            TableName="jobs",
            KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.client("s3").create_bucket(Bucket="results")
        if args.role:
            os.environ.update(_role_session())  # before the processor's clients are made
            boto3.DEFAULT_SESSION = None  # a new default session, reading them (the old one kept its own)
            _refused_outside_the_role()
        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(lambda i: (claim(-i - 1), put(-i - 1), finish(-i - 1)), range(40)))  # warm-up
            for name, send in (("claim UpdateItem", claim), ("PutObject", put), ("final UpdateItem", finish)):
                before, started = cpu_seconds()["server"], time.perf_counter()
                list(pool.map(send, range(args.requests)))
                elapsed = time.perf_counter() - started
                cpu_ms = 1000 * (cpu_seconds()["server"] - before) / args.requests
                rate = args.requests / elapsed
                print(f"{name}: {cpu_ms:.2f} ms of the server's CPU a request, {rate:.0f}/s")
    finally:
        manager.stop()
    return 0


def _role_session() -> dict[str, str]:
    """A role allowed the processor's writes on this table and bucket, assumed: its session's credentials."""
    import boto3

    iam = boto3.client("iam")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "dynamodb:UpdateItem",
                "Resource": "arn:aws:dynamodb:*:*:table/jobs",
            },
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::results/*"},
        ],
    }
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(RoleName="bench-processor", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    iam.put_role_policy(RoleName="bench-processor", PolicyName="writes", PolicyDocument=json.dumps(policy))
    found = boto3.client("sts").assume_role(RoleArn=arn, RoleSessionName="bench")["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": found["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": found["SecretAccessKey"],
        "AWS_SESSION_TOKEN": found["SessionToken"],
    }


def _refused_outside_the_role() -> None:
    """The server judges these credentials by the role's policy (else --role would measure nothing)."""
    import boto3
    from botocore.exceptions import ClientError

    try:
        boto3.client("dynamodb").describe_table(TableName="jobs")
    except ClientError as exc:
        if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403:  # AccessDenied
            return
    raise SystemExit("--role: the server did not judge the role session's request by its policy")


if __name__ == "__main__":
    raise SystemExit(main())
