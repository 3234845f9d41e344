"""The AWS-like timing model of bench/: it forwards to moto, and settles as AWS documents.

A manual clock makes the deadlines exact (the model's sleeps are recorded, not slept); one test runs
the model on the real clock, 20 times faster, and waits on conditions. Sources for each behaviour
are cited beside it in bench/aws_model.py.
"""

from __future__ import annotations

import io
import json
import random
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest

from bench.aws_model import ROLE_NOT_ASSUMABLE, AwsModel, Timing
from bench.aws_proxy import AwsProxy
from bench.schedule import Step, best_schedule, down_plan, up_plan

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
KEY = [{"AttributeName": "k", "KeyType": "HASH"}]
ATTRIBUTES = [{"AttributeName": "k", "AttributeType": "S"}]


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def just_before(self, deadline: float) -> None:
        self.now = deadline - 0.001

    def at(self, deadline: float) -> None:
        # The model computes deadlines as `answered at + duration`; the same sum here is the same float.
        self.now = deadline


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def proxy(moto_server: str, clock: ManualClock, sleeps: list[float]) -> Iterator[AwsProxy]:
    model = AwsModel(Timing(), clock=clock, sleep=sleeps.append, rng=random.Random(7))
    running = AwsProxy(model, moto_server).start()
    yield running
    running.stop()


def client(url: str, service: str) -> Any:
    config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 1})
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", config=config)


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def create_function(url: str, name: str, role_arn: str) -> dict[str, Any]:
    return client(url, "lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": zip_bytes()},
    )


def error_of(excinfo: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def test_forwards_every_call_to_moto_with_latency_and_traces_it(
    proxy: AwsProxy, moto_server: str, sleeps: list[float]
) -> None:
    url = client(proxy.url, "sqs").create_queue(QueueName="forwarded")["QueueUrl"]
    client(proxy.url, "s3").create_bucket(Bucket="forwarded-bucket")
    client(proxy.url, "s3").put_bucket_tagging(
        Bucket="forwarded-bucket", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
    )
    client(proxy.url, "apigateway").create_rest_api(name="forwarded-api")
    client(proxy.url, "iam").create_role(RoleName="forwarded-role", AssumeRolePolicyDocument=TRUST)
    client(proxy.url, "sts").get_caller_identity()
    # moto itself holds what went through the proxy.
    assert client(moto_server, "sqs").get_queue_url(QueueName="forwarded")["QueueUrl"].endswith("/forwarded")
    assert url.endswith("/forwarded")
    assert (
        client(moto_server, "iam").get_role(RoleName="forwarded-role")["Role"]["RoleName"] == "forwarded-role"
    )
    trace = proxy.take_trace()
    # The operation comes from X-Amz-Target (SQS), Action= (IAM, STS), method+path (S3, API Gateway).
    assert [(r.operation, r.resource, r.status) for r in trace] == [
        ("sqs.CreateQueue", "sqs:forwarded", 200),
        ("s3.CreateBucket", "s3:forwarded-bucket", 200),
        ("s3.PutBucketTagging", "s3:forwarded-bucket", 204),
        ("apigateway.CreateRestApi", f"apigateway:{trace[3].resource.split(':')[1]}", 200),  # moto's status
        ("iam.CreateRole", "iam:forwarded-role", 200),
        ("sts.GetCallerIdentity", "sts", 200),
    ]
    assert len(sleeps) == 6 and all(0.060 <= s <= 0.120 for s in sleeps)
    assert len(set(sleeps)) == 6  # drawn per call


def test_role_is_not_assumable_by_lambda_until_it_propagated(
    proxy: AwsProxy, clock: ManualClock, sleeps: list[float]
) -> None:
    answered = clock.now  # the manual clock stands still during a call
    role = client(proxy.url, "iam").create_role(RoleName="young-role", AssumeRolePolicyDocument=TRUST)["Role"]
    clock.just_before(answered + 8.0)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        create_function(proxy.url, "too-early", role["Arn"])
    assert error_of(excinfo) == ("InvalidParameterValueException", ROLE_NOT_ASSUMABLE)
    assert ROLE_NOT_ASSUMABLE == "The role defined for the function cannot be assumed by Lambda."
    clock.at(answered + 8.0)
    created = create_function(proxy.url, "in-time", role["Arn"])
    assert created["FunctionName"] == "in-time"
    assert sleeps[-1] == 1.5  # CreateFunction's own latency
    events = {(e.kind, e.resource): e for e in proxy.model.take_events()}
    assert events[("role usable", "young-role")].lag == 0.0


def test_function_is_pending_then_active_and_updates_settle(proxy: AwsProxy, clock: ManualClock) -> None:
    role = client(proxy.url, "iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument=TRUST)["Role"]
    clock.advance(8)
    answered = clock.now
    created = create_function(proxy.url, "settling-fn", role["Arn"])
    lam = client(proxy.url, "lambda")
    # As AWS answered CreateFunction (LocalStack test_lambda_api.snapshot.json, test_function_lifecycle).
    assert (created["State"], created["StateReason"], created["StateReasonCode"]) == (
        "Pending",
        "The function is being created.",
        "Creating",
    )
    clock.just_before(answered + 3.0)
    assert lam.get_function_configuration(FunctionName="settling-fn")["State"] == "Pending"
    assert lam.get_function(FunctionName="settling-fn")["Configuration"]["State"] == "Pending"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        lam.update_function_configuration(FunctionName="settling-fn", Timeout=10)
    assert error_of(excinfo)[0] == "ResourceConflictException"
    assert "currently in the following state: Pending" in error_of(excinfo)[1]
    clock.at(answered + 3.0)
    assert lam.get_function_configuration(FunctionName="settling-fn")["State"] == "Active"
    updated = lam.update_function_configuration(FunctionName="settling-fn", Timeout=10)
    assert (updated["State"], updated["LastUpdateStatus"]) == ("Active", "InProgress")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        lam.update_function_code(FunctionName="settling-fn", ZipFile=zip_bytes())
    busy = "The operation cannot be performed at this time. An update is in progress for resource: "
    assert error_of(excinfo) == ("ResourceConflictException", busy + created["FunctionArn"])
    clock.just_before(answered + 3.0 + 3.0)
    assert lam.get_function_configuration(FunctionName="settling-fn")["LastUpdateStatus"] == "InProgress"
    clock.at(answered + 3.0 + 3.0)
    assert lam.get_function_configuration(FunctionName="settling-fn")["LastUpdateStatus"] == "Successful"


def test_table_is_creating_then_active_and_deleting_then_gone(
    proxy: AwsProxy, clock: ManualClock, moto_server: str
) -> None:
    ddb = client(proxy.url, "dynamodb")
    answered = clock.now
    created = ddb.create_table(
        TableName="settling", KeySchema=KEY, AttributeDefinitions=ATTRIBUTES, BillingMode="PAY_PER_REQUEST"
    )
    assert created["TableDescription"]["TableStatus"] == "CREATING"
    clock.just_before(answered + 6.0)
    assert ddb.describe_table(TableName="settling")["Table"]["TableStatus"] == "CREATING"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        ddb.delete_table(TableName="settling")
    assert error_of(excinfo)[0] == "ResourceInUseException"
    clock.at(answered + 6.0)
    assert ddb.describe_table(TableName="settling")["Table"]["TableStatus"] == "ACTIVE"
    deleted = ddb.delete_table(TableName="settling")
    assert deleted["TableDescription"]["TableStatus"] == "DELETING"
    clock.just_before(answered + 6.0 + 4.0)
    # moto has forgotten it already; the model still answers DescribeTable, as AWS does while DELETING.
    with pytest.raises(botocore.exceptions.ClientError):
        client(moto_server, "dynamodb").describe_table(TableName="settling")
    assert ddb.describe_table(TableName="settling")["Table"]["TableStatus"] == "DELETING"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        ddb.create_table(
            TableName="settling",
            KeySchema=KEY,
            AttributeDefinitions=ATTRIBUTES,
            BillingMode="PAY_PER_REQUEST",
        )
    assert error_of(excinfo) == (
        "ResourceInUseException",
        "Attempt to change a resource which is still in use: Table is being deleted: settling",
    )
    clock.at(answered + 6.0 + 4.0)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        ddb.describe_table(TableName="settling")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    waits = {e.kind: e.lag for e in proxy.model.take_events()}
    assert waits == {"table ACTIVE": 0.0, "table deleted": 0.0}


def test_mapping_is_creating_then_enabled_and_deleting_then_gone(proxy: AwsProxy, clock: ManualClock) -> None:
    role = client(proxy.url, "iam").create_role(RoleName="esm-role", AssumeRolePolicyDocument=TRUST)["Role"]
    clock.advance(8)
    create_function(proxy.url, "esm-fn", role["Arn"])
    clock.advance(3)
    sqs = client(proxy.url, "sqs")
    queue_url = sqs.create_queue(QueueName="esm-queue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    lam = client(proxy.url, "lambda")
    answered = clock.now
    mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="esm-fn", BatchSize=10)
    uuid = mapping["UUID"]
    assert mapping["State"] == "Creating"
    clock.just_before(answered + 3.0)
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Creating"
    clock.at(answered + 3.0)
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    assert lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    clock.just_before(answered + 3.0 + 5.0)
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    listed = lam.list_event_source_mappings(EventSourceArn=queue_arn, FunctionName="esm-fn")[
        "EventSourceMappings"
    ]
    assert [(m["UUID"], m["State"]) for m in listed] == [(uuid, "Deleting")]
    clock.at(answered + 3.0 + 5.0)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        lam.get_event_source_mapping(UUID=uuid)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    assert lam.list_event_source_mappings(EventSourceArn=queue_arn)["EventSourceMappings"] == []


def test_time_scale_runs_the_model_twenty_times_faster(moto_server: str) -> None:
    model = AwsModel(Timing(), time_scale=20)  # real clock and sleep
    proxy = AwsProxy(model, moto_server).start()
    try:
        ddb = client(proxy.url, "dynamodb")
        started = time.monotonic()
        created = ddb.create_table(
            TableName="fast", KeySchema=KEY, AttributeDefinitions=ATTRIBUTES, BillingMode="PAY_PER_REQUEST"
        )
        # The answer to CreateTable itself says CREATING (a first DescribeTable may come after the 0.3 s
        # of real time CREATING lasts here, on a busy machine).
        statuses = [created["TableDescription"]["TableStatus"]]
        while not statuses or statuses[-1] != "ACTIVE":
            assert time.monotonic() - started < 30, statuses
            statuses.append(ddb.describe_table(TableName="fast")["Table"]["TableStatus"])
        elapsed = time.monotonic() - started
    finally:
        proxy.stop()
    assert statuses[0] == "CREATING" and statuses[-1] == "ACTIVE"
    assert elapsed >= 6.0 / 20  # CREATING lasts 6 s of model time
    assert model.timing.latency_max == pytest.approx(
        0.006
    ) and model.timing.role_propagation == pytest.approx(0.4)


def test_best_schedule_is_the_critical_path_of_the_documented_dependencies() -> None:
    timing = Timing()
    durations = {step.operation: 0.1 for step in up_plan() + down_plan()}
    durations |= {"lambda.CreateFunction": 1.5, "lambda.CreateEventSourceMapping": 1.0}
    up = best_schedule(up_plan(), timing, durations, startup=0.5, tail=0.2)
    # CreateRole, 8 s until assumable (the CreateFunction that succeeds is answered then), Pending 3 s,
    # CreateEventSourceMapping, Creating 3 s.
    assert up.finish == pytest.approx(0.5 + 0.1 + 8 + 3 + 1.0 + 3 + 0.2)
    assert [link.split(" [")[0] for link in up.critical_path[1:]] == [
        "iam.CreateRole",
        "lambda.CreateFunction",
        "lambda.CreateEventSourceMapping",
    ]
    down = best_schedule(down_plan(), timing, durations, startup=0.5, tail=0.0)
    # DeleteEventSourceMapping, Deleting 5 s, then the main queue, the recorder's inbox and the DLQ
    # (one after the other: each redrives to the next).
    assert down.finish == pytest.approx(0.5 + 0.1 + 5 + 0.1 + 0.1 + 0.1)
    alone = best_schedule(up_plan(), timing.latency_only(), durations, startup=0.5, tail=0.0)
    # Without settling: the recorder's CreateQueue of the DLQ (its URL in the function's environment),
    # CreateFunction, CreateEventSourceMapping.
    assert alone.finish == pytest.approx(0.5 + 0.1 + 1.5 + 1.0)
    # Probes: the table, three functions, two mappings; and the preflight.
    assert up.calls == len(up_plan()) + 6 + 1


def test_best_schedule_waits_only_for_what_a_step_needs() -> None:
    plan = [
        Step("a", "x.A", settle="table_creating"),
        Step("b", "x.B", after=("a",)),
        Step("c", "x.C", after_ready=("a",), finished_when_settled=False),
    ]
    schedule = best_schedule(plan, Timing(), {"x.A": 1, "x.B": 1, "x.C": 1}, startup=0, tail=0)
    assert schedule.finish == pytest.approx(1 + 6 + 1)  # c waits for a's settling; b does not
