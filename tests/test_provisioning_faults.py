"""AWS answers moto never gives, injected through botocore's event hooks.

Each fault is modelled on AWS's documented (or observed and reported) behaviour, cited beside it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncapi_cli import ops
from asyncapi_cli.engine import SilentReporter

from .conftest import ACCOUNT, deploy, no_sleep_pacer, stack_options
from .faults import Refuse
from .stack_units import expected_inventory, live_inventory, stack_units

NAME = "test-stack"
COMPLETE = expected_inventory(NAME)
EMPTY = dict.fromkeys(COMPLETE, 0)


def _down(**kwargs: Any) -> ops.Stack:
    stack = ops.open_stack(stack_options(NAME, **kwargs), creating=False)
    ops.down(stack, SilentReporter())
    return stack


def test_create_function_retries_kms_create_grant_of_a_fresh_role(mocked_aws: None) -> None:
    # A role a few seconds old: Lambda cannot yet create the KMS grant for the environment variables.
    # terraform-provider-aws #4633 (the error) and #5849 (the retry); Chalice PR #1069.
    kms = Refuse(
        "lambda",
        "CreateFunction",
        times=3,
        status=400,
        code="InvalidParameterValueException",
        message=(
            "Lambda was unable to configure access to your environment variables because the KMS key "
            "is invalid for CreateGrant. Please check your KMS key settings. KMS Exception: "
            "InvalidArnException KMS Message: ARN does not refer to a valid principal: "
            f"arn:aws:iam::{ACCOUNT}:role/{NAME}-lambda-role"
        ),
    )
    stack = deploy(NAME, hooks=[kms])
    assert kms.refused == 3
    assert stack.ctx.retries >= 3
    assert live_inventory() == COMPLETE


def _bucket_faults(case: str) -> list[Refuse]:
    if case == "create-aborted":
        return [
            Refuse(
                "s3",
                "CreateBucket",
                times=2,
                status=409,
                code="OperationAborted",
                message="A conflicting conditional operation is currently in progress against this "
                "resource. Please try again.",
            )
        ]
    return [
        Refuse(
            "s3",
            operation,
            times=1,
            status=404,
            code="NoSuchBucket",
            message="The specified bucket does not exist",
        )
        for operation in ("PutPublicAccessBlock", "PutBucketEncryption", "PutBucketTagging")
    ]


@pytest.mark.parametrize("case", ["create-aborted", "new-bucket-not-found-yet"])
def test_bucket_create_retries_while_s3_settles(mocked_aws: None, case: str) -> None:
    # CreateBucket while a same-named bucket is being deleted: 409 OperationAborted, "A conflicting
    # conditional operation is currently in progress against this resource" (S3 API reference, Error
    # codes); a bucket just created may answer NoSuchBucket to the calls that follow (S3 is
    # eventually consistent for bucket operations; terraform-provider-aws retries both).
    faults = _bucket_faults(case)
    deploy(NAME, hooks=list(faults))
    assert [f.refused for f in faults] == [f.times for f in faults]
    s3 = boto3.client("s3")
    block = s3.get_public_access_block(Bucket=f"{NAME}-results")["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert live_inventory() == COMPLETE


class QueueStillAnswering:
    """SQS: "The deletion process takes up to 60 seconds" (SQS API reference, DeleteQueue).

    Until then GetQueueUrl still answers with the queue's URL; after, QueueDoesNotExist.
    """

    def __init__(self, pacer: Any, seconds: float) -> None:
        self.pacer, self.seconds = pacer, seconds
        self.deleted_at: dict[str, float] = {}
        self.answered = 0
        self._calling = threading.local()

    def __call__(self, client: Any) -> None:
        if client.meta.service_model.service_name != "sqs":
            return
        client.meta.events.register("provide-client-params.sqs", self._remember)
        client.meta.events.register("after-call.sqs.DeleteQueue", self._deleted)
        client.meta.events.register_first("before-send.sqs.GetQueueUrl", self._still_there)

    def _remember(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["params"] = dict(params)
        # before-send sees only the prepared request, which has no `context` before botocore 1.44:
        # the call's parameters go there through the calling thread (a call and its retries share it).
        self._calling.params = dict(params)

    def _deleted(self, context: dict[str, Any], **_: Any) -> None:
        name = context["params"]["QueueUrl"].rsplit("/", 1)[1]
        self.deleted_at[name] = self.pacer.clock()

    def _still_there(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        from .faults import _Body

        name = self._calling.params["QueueName"]
        deleted = self.deleted_at.get(name)
        if deleted is None or self.pacer.clock() >= deleted + self.seconds:
            return None
        self.answered += 1
        url = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{name}"
        return AWSResponse(request.url, 200, {}, _Body(json.dumps({"QueueUrl": url}).encode()))


def test_down_waits_until_deleted_queues_are_gone(mocked_aws: None) -> None:
    deploy(NAME)
    pacer = no_sleep_pacer()
    dying = QueueStillAnswering(pacer, seconds=45.0)
    _down(hooks=[dying], pacer=pacer)
    assert set(dying.deleted_at) == {unit.name for unit in stack_units(NAME) if unit.kind == "sqs-queue"}
    assert dying.answered >= 2
    # `down` returned only once both names stopped answering (on the injected clock).
    assert pacer.clock() >= max(dying.deleted_at.values()) + 45.0
    assert live_inventory() == EMPTY


def test_down_after_an_interrupted_up_retries_resources_still_in_use(mocked_aws: None) -> None:
    # Lambda API reference, DeleteEventSourceMapping, Errors: ResourceInUseException, "... you tried
    # to update an event source mapping in the CREATING state, or ... delete an event source mapping
    # currently UPDATING". DynamoDB API reference, DeleteTable, Errors: ResourceInUseException,
    # "... tried to delete a table currently in the CREATING state".
    deploy(NAME)
    mapping_busy = Refuse(
        "lambda",
        "DeleteEventSourceMapping",
        times=3,
        status=400,
        code="ResourceInUseException",
        message="Cannot delete the event source mapping because it is in use.",
    )
    table_busy = Refuse(
        "dynamodb",
        "DeleteTable",
        times=3,
        status=400,
        code="com.amazonaws.dynamodb.v20120810#ResourceInUseException",
        message=f"Attempt to change a resource which is still in use: Table is being created: {NAME}-jobs",
    )
    stack = _down(hooks=[mapping_busy, table_busy])
    assert (mapping_busy.refused, table_busy.refused) == (3, 3)
    assert stack.ctx.retries >= 6
    assert live_inventory() == EMPTY


class PendingFunction:
    """A function just created is Pending for a few seconds (Lambda developer guide, "Lambda function
    states"): GetFunctionConfiguration says State Pending, then Active."""

    def __init__(self, name: str, pending_reads: int) -> None:
        self.name, self.pending_reads = name, pending_reads
        self.answers: list[str] = []

    def __call__(self, client: Any) -> None:
        if client.meta.service_model.service_name == "lambda":
            client.meta.events.register("after-call.lambda.GetFunctionConfiguration", self._pending)

    def _pending(self, parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("FunctionName") != self.name:
            return
        if len(self.answers) < self.pending_reads:
            parsed["State"], parsed["StateReasonCode"] = "Pending", "Creating"
            parsed["LastUpdateStatus"] = "InProgress"
        self.answers.append(str(parsed.get("State")))


def test_resume_waits_for_an_adopted_pending_function(mocked_aws: None) -> None:
    stack = deploy(NAME)
    # `up` was killed between CreateFunction and recording it: the state does not know the function.
    state = json.loads(stack.store.path.read_text())
    del state["resources"]["processor_fn"]
    stack.store.path.write_text(json.dumps(state))
    pending = PendingFunction(f"{NAME}-job-processor", pending_reads=3)
    resumed = deploy(NAME, hooks=[pending])
    assert pending.answers[:4] == ["Pending", "Pending", "Pending", "Active"]
    assert {o.key: o.action for o in ops.plan(resumed)}["processor_fn"] == "exists"
    assert resumed.store.state.resources["processor_fn"]["name"] == f"{NAME}-job-processor"


class LostAnswer:
    """The first attempt of an operation reaches AWS, but its answer is lost (a read timeout), so
    botocore sends it again: the retry meets what the first attempt made."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.lost = 0

    def __call__(self, client: Any) -> None:
        event = f"needs-retry.{client.meta.service_model.service_id.hyphenize()}.{self.operation}"
        client.meta.events.register_first(event, self._retry_first)

    def _retry_first(self, attempts: int, caught_exception: Any, **_: Any) -> float | None:
        if attempts == 1 and caught_exception is None:
            self.lost += 1
            return 0.0  # retry at once: botocore sleeps this many seconds, then sends it again
        return None


def test_table_create_whose_answer_was_lost_succeeds(mocked_aws: None) -> None:
    # DynamoDB answers a second CreateTable of the same name with ResourceInUseException "Table
    # already exists" (DynamoDB API reference, CreateTable, Errors).
    lost = LostAnswer("CreateTable")
    stack = deploy(NAME, hooks=[lost])
    assert lost.lost == 1
    assert stack.state.resources["table"]["name"] == f"{NAME}-jobs"
    assert live_inventory() == COMPLETE


def test_one_down_empties_a_bucket_of_more_than_a_thousand_objects(mocked_aws: None) -> None:
    # ListObjectVersions returns at most 1,000 entries a page (S3 API reference); paging on while
    # deleting skipped the rest: one `down` must still remove everything.
    deploy(NAME)
    s3 = boto3.client("s3")
    bucket = f"{NAME}-results"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for index in range(1100):
        s3.put_object(Bucket=bucket, Key=f"results/{index:05d}.json", Body=b"{}")
    s3.delete_object(Bucket=bucket, Key="results/00000.json")  # and a delete marker
    _down()
    assert live_inventory() == EMPTY
    assert not Path(".asyncapi", f"{NAME}.json").exists()
