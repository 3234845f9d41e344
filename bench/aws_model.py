"""AWS-like timing in front of a moto server: per-call latency and AWS's documented settling.

moto answers at once and every resource is ready the moment it exists. AWS is slower and settles:
a loopback HTTP proxy (`AwsProxy`) forwards every call to moto, adds latency, and makes resources
go through the transient states AWS documents, by rejecting calls that AWS would reject and by
rewriting moto's JSON answers to show the state AWS would show. The figures are the model's;
the sources say that the states exist (and, where they say so, roughly how long they last):

- IAM is eventually consistent: a new role is not usable by Lambda for a few seconds
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
  CreateFunction with it answers `InvalidParameterValueException: The role defined for the function
  cannot be assumed by Lambda.` (LocalStack's provider raises the message recorded from AWS:
  localstack-core/localstack/services/lambda_/provider.py, create_function). Model: 8 s.
- A new function is `State: Pending` (`StateReason: The function is being created.`, `StateReasonCode:
  Creating`), then `Active`; an update leaves it Active with `LastUpdateStatus: InProgress`, then
  `Successful`. While Pending, UpdateFunctionCode/UpdateFunctionConfiguration fail; while an update is
  InProgress, another one fails (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html;
  answers recorded from AWS: LocalStack tests/aws/services/lambda_/test_lambda_api.snapshot.json,
  TestLambdaFunction::test_function_lifecycle and ::test_lambda_concurrent_code_updates). Model: 3 s each.
- CreateTable answers `TableStatus: CREATING`, ACTIVE later; after DeleteTable the table is `DELETING`
  and DescribeTable keeps answering until it is gone; DeleteTable of a CREATING table and CreateTable of
  a DELETING one answer ResourceInUseException
  (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html,
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteTable.html; the message as AWS
  words it: hashicorp/terraform-provider-aws#3355). Model: CREATING 6 s, DELETING 4 s.
- An event source mapping is `Creating`, then `Enabled`; after DeleteEventSourceMapping it "enters a
  Deleting state and might not be completely deleted for several seconds"
  (https://docs.aws.amazon.com/lambda/latest/api/API_DeleteEventSourceMapping.html, and the `State`
  values of https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html;
  answers recorded from AWS: LocalStack test_lambda_integration_sqs.snapshot.json (Creating,
  USER_INITIATED), test_lambda_api.snapshot.json test_event_source_mapping_lifecycle (Deleting)).
  Model: Creating 3 s, Deleting 5 s.

Timeline of one call: it arrives (gates such as role propagation are checked now), waits its latency
(AWS's processing and the network), is forwarded to moto, and the answer is rewritten from the model's
state at that moment; a settling period starts when the answer leaves. Clock, sleep and randomness are
injected; `time_scale` divides every duration (20 runs the model 20 times faster).
"""

from __future__ import annotations

import json
import random
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bench.aws_ops import Call, short_name
from bench.aws_settling import SETTLERS, FunctionState, MappingState, TableState

ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."
TABLE_IN_USE = "Attempt to change a resource which is still in use: Table is being {doing}: {name}"
BUSY = "The operation cannot be performed at this time."


@dataclass(frozen=True)
class Timing:
    """Seconds. Latency is drawn uniformly per call; slow calls take their own figure instead."""

    latency_min: float = 0.060
    latency_max: float = 0.120
    slow_calls: tuple[tuple[str, float], ...] = (
        ("lambda.CreateFunction", 1.5),
        ("lambda.CreateEventSourceMapping", 1.0),
    )
    role_propagation: float = 8.0
    function_pending: float = 3.0
    function_updating: float = 3.0
    table_creating: float = 6.0
    table_deleting: float = 4.0
    mapping_creating: float = 3.0
    mapping_deleting: float = 5.0

    def latency_only(self) -> Timing:
        """The same latency, no settling: every resource ready the moment it exists (moto's own view)."""
        return replace(
            self,
            role_propagation=0.0,
            function_pending=0.0,
            function_updating=0.0,
            table_creating=0.0,
            table_deleting=0.0,
            mapping_creating=0.0,
            mapping_deleting=0.0,
        )

    def scaled(self, time_scale: float) -> Timing:
        """Every duration divided by time_scale."""
        values = {
            name: getattr(self, name) / time_scale
            for name in self.__dataclass_fields__
            if name != "slow_calls"
        }
        slow = tuple((name, seconds / time_scale) for name, seconds in self.slow_calls)
        return replace(self, slow_calls=slow, **values)

    def mean_latency(self, operation: str) -> float:
        return dict(self.slow_calls).get(operation, (self.latency_min + self.latency_max) / 2)

    @property
    def settles(self) -> bool:
        return self.role_propagation > 0 or self.function_pending > 0 or self.table_creating > 0


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass
class SettleEvent:
    """A resource becoming ready (or gone), and when the client first saw it so."""

    kind: str
    resource: str
    ready_at: float
    observed_at: float | None = None

    @property
    def lag(self) -> float | None:
        return None if self.observed_at is None else self.observed_at - self.ready_at


def lambda_error(status: int, code: str, message: str) -> Answer:
    # Lambda's REST-JSON errors: the code in x-amzn-ErrorType, {"Type", "message"} in the body.
    body = json.dumps({"Type": "User", "message": message}).encode()
    return Answer(status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, body)


def dynamodb_error(code: str, message: str) -> Answer:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()
    return Answer(400, {"Content-Type": "application/x-amz-json-1.0"}, body)


def json_answer(status: int, value: dict[str, Any], content_type: str = "application/json") -> Answer:
    return Answer(status, {"Content-Type": content_type}, json.dumps(value).encode())


class AwsModel:
    """The settling state of the resources seen through the proxy, and the decisions it implies."""

    def __init__(
        self,
        timing: Timing | None = None,
        *,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.timing = (timing or Timing()).scaled(time_scale)
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random(0)
        self._lock = threading.RLock()
        self._roles: dict[str, float] = {}  # role name -> usable by Lambda from
        self._functions: dict[str, FunctionState] = {}
        self._tables: dict[str, TableState] = {}
        self._mappings: dict[str, MappingState] = {}
        self.events: dict[tuple[str, str], SettleEvent] = {}

    def latency(self, call: Call) -> float:
        slow = dict(self.timing.slow_calls).get(call.name)
        if slow is not None:
            return slow
        with self._lock:
            return self.rng.uniform(self.timing.latency_min, self.timing.latency_max)

    # --- before moto: answers AWS would give that moto does not -----------------------------------

    def intercept(self, call: Call) -> Answer | None:
        """An answer of the model's own, decided when the call is processed, or None to ask moto."""
        now = self.clock()
        p = call.params
        with self._lock:
            if call.name in ("lambda.CreateFunction", "lambda.UpdateFunctionConfiguration") and p.get("Role"):
                usable_from = self._roles.get(short_name(str(p["Role"])))
                if usable_from is not None and now < usable_from:
                    return lambda_error(400, "InvalidParameterValueException", ROLE_NOT_ASSUMABLE)
            if call.name in ("lambda.UpdateFunctionConfiguration", "lambda.UpdateFunctionCode"):
                fn = self._functions.get(short_name(str(p.get("FunctionName", ""))))
                if fn is not None and now < fn.pending_until:
                    message = f"{BUSY} The function is currently in the following state: Pending"
                    return lambda_error(409, "ResourceConflictException", message)
                if fn is not None and now < fn.updating_until:
                    message = f"{BUSY} An update is in progress for resource: {fn.arn}"
                    return lambda_error(409, "ResourceConflictException", message)
            if call.service == "dynamodb":
                return self._table_intercept(call, now)
            if call.name == "lambda.GetEventSourceMapping":
                mapping = self._mappings.get(str(p.get("UUID")))
                if mapping is not None and now < mapping.deleting_until:
                    return json_answer(200, mapping.config)
        return None

    def _table_intercept(self, call: Call, now: float) -> Answer | None:
        name = str(call.params.get("TableName", ""))
        table = self._tables.get(name)
        if table is None:
            return None
        deleting = now < table.deleting_until
        content_type = "application/x-amz-json-1.0"
        if call.operation == "DescribeTable" and deleting:  # moto has forgotten it; AWS still answers
            return json_answer(200, {"Table": table.description}, content_type)
        # DeleteTable docs: "If table is already in the DELETING state, no error is returned."
        if call.operation == "DeleteTable" and deleting:
            return json_answer(200, {"TableDescription": table.description}, content_type)
        if call.operation == "DeleteTable" and now < table.creating_until:
            return dynamodb_error("ResourceInUseException", TABLE_IN_USE.format(doing="created", name=name))
        if call.operation == "CreateTable" and deleting:
            return dynamodb_error("ResourceInUseException", TABLE_IN_USE.format(doing="deleted", name=name))
        return None

    # --- after moto: start settling periods, show transient states --------------------------------

    def settle(self, call: Call, answer: Answer) -> Answer:
        """Record what the answer created or deleted, and rewrite it to show the state AWS would show."""
        now = self.clock()
        ok = answer.status < 300
        handler = SETTLERS.get(call.name)
        if handler is None:
            return answer
        with self._lock:
            body = answer.json()
            changed = handler(self, call, body, ok, now)
        if changed is None:
            return answer
        body = json.dumps(changed).encode()
        headers = dict(answer.headers)
        for name in headers:
            if name.lower() == "x-amz-crc32":  # DynamoDB's checksum of the body; botocore checks it
                headers[name] = str(zlib.crc32(body))
        return Answer(answer.status, headers, body)

    def _event(self, kind: str, resource: str, ready_at: float) -> None:
        if ready_at > self.clock():  # no settling (latency alone): nothing to wait for
            self.events[(kind, resource)] = SettleEvent(kind, resource, ready_at)

    def _observe(self, kind: str, resource: str, now: float) -> None:
        event = self.events.get((kind, resource))
        if event is not None and event.observed_at is None and now >= event.ready_at:
            event.observed_at = now

    def take_events(self) -> list[SettleEvent]:
        with self._lock:
            events = list(self.events.values())
            self.events.clear()
            return events

    def _function_view(self, name: str, config: dict[str, Any], now: float) -> dict[str, Any]:
        fn = self._functions.get(name)
        if fn is None:
            return config
        if now < fn.pending_until:
            for key in ("LastUpdateStatus", "LastUpdateStatusReason", "LastUpdateStatusReasonCode"):
                config.pop(key, None)
            config.update(
                State="Pending", StateReason="The function is being created.", StateReasonCode="Creating"
            )
        elif now < fn.updating_until:
            config.update(
                State="Active",
                LastUpdateStatus="InProgress",
                LastUpdateStatusReason="The function is being created.",
                LastUpdateStatusReasonCode="Creating",
            )
        else:
            self._observe("function Active", name, now)
            self._observe("function updated", name, now)
        return config

    def _mapping_view(self, config: dict[str, Any], now: float) -> dict[str, Any]:
        mapping = self._mappings.get(str(config.get("UUID")))
        if mapping is not None and now < mapping.creating_until:
            config.update(State="Creating", StateTransitionReason="USER_INITIATED")
        elif mapping is not None:
            self._observe("mapping Enabled", mapping.function, now)
        return config
