"""The atomic-s3 patch (compat/moto_fixes.py): operations AWS applies atomically run one at a time in
moto (the DynamoDB case is in test_local_perf_moto_dynamodb.py, beside its table helper)."""

from __future__ import annotations

import threading

import boto3
import pytest

from asyncapi_cli.local.compat import REGISTRY

from .faults import hold_first_call


def test_an_object_read_waits_while_the_object_is_being_replaced(
    mocked_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 reads after a write see it, and concurrent PUTs of a key leave the later one (S3 User Guide,
    "Amazon S3 data consistency model"). moto's PutObject closed the replaced value's buffer while another
    thread read it ("I/O operation on closed file": two deliveries of one job writing its result). Here
    a PutObject is held inside moto's backend; a GetObject of the key must wait for it, then read it."""
    from moto.s3.models import S3Backend

    REGISTRY.apply(["atomic-s3"])
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="results")
    s3.put_object(Bucket="results", Key="results/job-1.json", Body=b"first")
    inside, release = hold_first_call(monkeypatch, S3Backend, "put_object")  # the second PutObject
    read: dict[str, bytes] = {}
    writer = threading.Thread(
        target=lambda: s3.put_object(Bucket="results", Key="results/job-1.json", Body=b"second")
    )
    writer.start()
    assert inside.wait(30)
    reader = threading.Thread(
        target=lambda: read.update(
            body=s3.get_object(Bucket="results", Key="results/job-1.json")["Body"].read()
        )
    )
    reader.start()
    reader.join(0.5)
    still_waiting = reader.is_alive()  # moto's own GetObject answered here, with the old value
    release.set()
    writer.join(30)
    reader.join(30)
    assert still_waiting
    assert read == {"body": b"second"}
