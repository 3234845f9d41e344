"""`up` after `down` with webhooks: the signing secret's name is free only once AWS has finished deleting it.

AWS deletes a ForceDeleteWithoutRecovery secret asynchronously ("there might be a short delay before the
secret is permanently deleted. If you delete a secret and then immediately create a secret with the same
name, use appropriate back off and retry logic": Secrets Manager API reference, DeleteSecret). Meanwhile
CreateSecret answers InvalidRequestException "You can't create this secret because a secret with this name
is already scheduled for deletion." (LocalStack's parity snapshot, recorded against AWS:
tests/aws/services/secretsmanager/test_secretsmanager.snapshot.json,
test_exp_raised_on_creation_of_secret_scheduled_for_deletion). moto frees the name at once, so the window
is injected (tests/faults.Refuse) in AWS's own wire format.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from asyncapi_cli import ops
from asyncapi_cli.engine import SilentReporter
from asyncapi_cli.errors import AwsError

from .conftest import deploy, stack_options

NAME = "secret-again"
SECRET = f"asyncapi/{NAME}/webhook-signing-secret"
SCHEDULED = "You can't create this secret because a secret with this name is already scheduled for deletion."


class Calls:
    """Every Secrets Manager operation the CLI calls, in order."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, client: Any) -> None:
        if client.meta.service_model.service_name == "secretsmanager":
            client.meta.events.register("before-call.secrets-manager.*", self._seen)

    def _seen(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.names.append(model.name)


class NameStillBeingDeleted:
    """Answers the first `times` CreateSecret calls as AWS does while the name's force-deleted secret is
    still being deleted. The answer replaces the call (botocore's before-call event), so in-process moto
    never sees it (a before-send answer would not stop moto's own before-send handler)."""

    def __init__(self, times: int) -> None:
        self.times, self.refused = times, 0
        self._lock = threading.Lock()

    def __call__(self, client: Any) -> None:
        if client.meta.service_model.service_name == "secretsmanager":
            client.meta.events.register_first("before-call.secrets-manager.CreateSecret", self._refuse)

    def _refuse(self, **_: Any) -> Any:
        with self._lock:
            if self.refused >= self.times:
                return None
            self.refused += 1
        error = {"Error": {"Code": "InvalidRequestException", "Message": SCHEDULED}, "Message": SCHEDULED}
        return AWSResponse("https://secretsmanager.invalid/", 400, {}, None), error


def _name_still_being_deleted(times: int) -> NameStillBeingDeleted:
    return NameStillBeingDeleted(times)


def _webhooks_up(*hooks: Any) -> ops.Stack:
    options = stack_options(NAME, features=frozenset({"webhooks"}), hooks=list(hooks))
    stack = ops.open_stack(options, creating=True)
    ops.up(stack, SilentReporter())
    return stack


def _down() -> None:
    ops.down(
        ops.open_stack(stack_options(NAME, features=frozenset({"webhooks"})), creating=False),
        SilentReporter(),
    )


def test_up_after_down_waits_for_the_name_and_never_restores(mocked_aws: None) -> None:
    deploy(NAME, features=frozenset({"webhooks"}))
    first_arn = boto3.client("secretsmanager").describe_secret(SecretId=SECRET)["ARN"]
    _down()
    refused, calls = _name_still_being_deleted(times=3), Calls()
    stack = _webhooks_up(refused, calls)
    assert refused.refused == 3  # three answers "still being deleted", then the name was free
    assert calls.names.count("CreateSecret") == 4
    assert "RestoreSecret" not in calls.names and "PutSecretValue" not in calls.names
    live = boto3.client("secretsmanager").describe_secret(SecretId=SECRET)
    assert live["ARN"] == stack.state.resources["webhook_secret"]["arn"] != first_arn
    assert "DeletedDate" not in live


def test_the_wait_is_bounded(mocked_aws: None) -> None:
    deploy(NAME, features=frozenset({"webhooks"}))
    _down()
    with pytest.raises(AwsError, match="still being deleted"):
        _webhooks_up(_name_still_being_deleted(times=10**6))


def test_a_secret_deleted_with_a_recovery_window_is_restored_with_a_fresh_value(mocked_aws: None) -> None:
    """Deleted outside asyncapi with a recovery window (7 to 30 days: DeleteSecret, RecoveryWindowInDays),
    the name stays taken for days: `up` restores it (moto schedules the deletion days ahead, as AWS)."""
    stack = deploy(NAME, features=frozenset({"webhooks"}))
    manager = boto3.client("secretsmanager")
    old_value = manager.get_secret_value(SecretId=SECRET)["SecretString"]
    manager.delete_secret(SecretId=SECRET, RecoveryWindowInDays=7)
    # AWS answers CreateSecret of that name "...already scheduled for deletion" (the snapshot above);
    # moto answers ResourceExistsException, so AWS's answer is given instead.
    calls = Calls()
    stack = _webhooks_up(_name_still_being_deleted(times=1), calls)
    assert "RestoreSecret" in calls.names
    live = manager.describe_secret(SecretId=SECRET)
    assert "DeletedDate" not in live and live["ARN"] == stack.state.resources["webhook_secret"]["arn"]
    assert manager.get_secret_value(SecretId=SECRET)["SecretString"] != old_value
