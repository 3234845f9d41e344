"""The best schedule the AWS-like model allows for `up` and `down`: a critical path over real dependencies.

Each plan lists the calls a client needs (no lookups: ids are in the state file or in earlier answers) and,
for each, what it really waits for, from AWS facts rather than from our engine's graph:
- `after`: answers it needs (an id, or an object AWS checks exists);
- `after_ready`: settling that must be over first (a waiter's last poll lands the moment it is);
- `ends_after_ready`: settling the call itself retries through (CreateFunction until the role is
  assumable: the successful attempt is answered at the earliest the moment the role propagated).
Every wait ends the moment AWS is ready; a call takes the median duration its operation had in the
same run (the model's mean latency when the run never made it). The command costs its process start-up
(until its preflight GetCallerIdentity is answered) and its exit, both measured in the same run.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.aws_model import Timing
from bench.aws_proxy import CallRecord

READ_PREFIXES = ("Get", "List", "Describe", "Head")


@dataclass(frozen=True)
class Step:
    key: str
    operation: str  # service.Operation
    after: tuple[str, ...] = ()
    after_ready: tuple[str, ...] = ()
    ends_after_ready: tuple[str, ...] = ()
    settle: str | None = None  # the Timing field whose settling starts when this call is answered
    finished_when_settled: bool = True  # False: nothing waits for it unless a step says so
    why: str = ""


@dataclass
class Schedule:
    finish: float  # seconds after the process started
    calls: int
    critical_path: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"seconds": round(self.finish, 3), "calls": self.calls, "critical_path": self.critical_path}


ROLES = ("api_role", "processor_role", "status_role", "recorder_role")
LOG_GROUPS = ("processor_logs", "status_logs", "recorder_logs", "access_logs")
# Each function, its role; the dead-letter recorder with them.
FUNCTIONS = (
    ("processor_fn", "processor_role"),
    ("status_fn", "status_role"),
    ("recorder_fn", "recorder_role"),
)
SUBMIT_CODES = ("202", "500", "503")


def up_plan() -> list[Step]:
    s = Step
    steps = [
        s("dlq.create", "sqs.CreateQueue"),
        s(
            "dlq_inbox.create",
            "sqs.CreateQueue",
            after=("dlq.create",),
            why="the dead-letter recorder's inbox redrives to the DLQ, which must exist",
        ),
        s(
            "main_queue.create",
            "sqs.CreateQueue",
            after=("dlq_inbox.create",),
            why="the redrive policy's target (the recorder's inbox) must exist",
        ),
        s("bucket.create", "s3.CreateBucket"),
        *(
            s(f"bucket.{op}", f"s3.{op}", after=("bucket.create",))
            for op in ("PutPublicAccessBlock", "PutBucketEncryption", "PutBucketTagging")
        ),
        s("rest_api.create", "apigateway.CreateRestApi", why="its answer carries rootResourceId"),
        s("table.create", "dynamodb.CreateTable", settle="table_creating"),
    ]
    for role in ROLES:
        # IAM does not check that the resources a policy names exist: no edge to the queue or table.
        steps.append(
            s(f"{role}.create", "iam.CreateRole", settle="role_propagation", finished_when_settled=False)
        )
        steps.append(s(f"{role}.policy", "iam.PutRolePolicy", after=(f"{role}.create",)))
    for group in LOG_GROUPS:
        steps.append(s(f"{group}.create", "logs.CreateLogGroup"))
        steps.append(s(f"{group}.retention", "logs.PutRetentionPolicy", after=(f"{group}.create",)))
    for fn, role in FUNCTIONS:
        # A function needs only its role, assumable by Lambda: the table and bucket names in its
        # environment and its log group's name are known before they exist. The recorder's
        # environment holds the DLQ's URL, which CreateQueue answers.
        steps.append(
            s(
                f"{fn}.create",
                "lambda.CreateFunction",
                after=("dlq.create",) if fn == "recorder_fn" else (),
                ends_after_ready=(f"{role}.create",),
                settle="function_pending",
            )
        )
    routes = [
        s("routes.model", "apigateway.CreateModel", after=("rest_api.create",)),
        s("routes.validator", "apigateway.CreateRequestValidator", after=("rest_api.create",)),
        s("routes.submit", "apigateway.CreateResource", after=("rest_api.create",)),
        s("routes.status", "apigateway.CreateResource", after=("rest_api.create",)),
        s("routes.job_id", "apigateway.CreateResource", after=("routes.status",), why="child of /status"),
        s("routes.post", "apigateway.PutMethod", after=("routes.submit", "routes.model", "routes.validator")),
        *(
            s(f"routes.post.{c}", "apigateway.PutMethodResponse", after=("routes.post",))
            for c in SUBMIT_CODES
        ),
        s(
            "routes.post.integration",
            "apigateway.PutIntegration",
            after=("routes.post", "api_role.create"),
            why="the integration's credentials are the API role; the queue's URI is known in advance",
        ),
        *(
            s(
                f"routes.post.integration.{c}",
                "apigateway.PutIntegrationResponse",
                after=("routes.post.integration", f"routes.post.{c}"),
                why="an integration response needs its integration and the method response of its code",
            )
            for c in SUBMIT_CODES
        ),
        s("routes.get", "apigateway.PutMethod", after=("routes.job_id",)),
        s(
            "routes.get.integration",
            "apigateway.PutIntegration",
            after=("routes.get",),
            why="the status function's ARN is known before the function exists",
        ),
    ]
    steps += routes
    steps += [
        s(
            "status_permission.add",
            "lambda.AddPermission",
            after=("status_fn.create", "rest_api.create"),
            why="the function must exist (AddPermission is not among the calls that fail while Pending)",
        ),
        s("stage.deploy", "apigateway.CreateDeployment", after=tuple(r.key for r in routes)),
        s("stage.tag", "apigateway.TagResource", after=("stage.deploy",)),
        s(
            "stage.settings",
            "apigateway.UpdateStage",
            after=("stage.deploy", "access_logs.create"),
            why="throttling and access logs: the stage and the log group must exist",
        ),
        s(
            "mapping.create",
            "lambda.CreateEventSourceMapping",
            after=("main_queue.create", "processor_role.policy"),
            after_ready=("processor_fn.create",),
            settle="mapping_creating",
            why="the function Active, the queue, and the role's permission to receive from it",
        ),
        s(
            "recorder_mapping.create",
            "lambda.CreateEventSourceMapping",
            after=("dlq_inbox.create", "recorder_role.policy"),
            after_ready=("recorder_fn.create",),
            settle="mapping_creating",
            why="the same for the dead-letter recorder on its inbox",
        ),
    ]
    return steps


def down_plan() -> list[Step]:
    """Only the deletion order that matters; the stage, routes and permission go with their parents."""
    s = Step
    steps = [
        s("mapping.delete", "lambda.DeleteEventSourceMapping", settle="mapping_deleting"),
        s("recorder_mapping.delete", "lambda.DeleteEventSourceMapping", settle="mapping_deleting"),
        s(
            "processor_fn.delete",
            "lambda.DeleteFunction",
            after_ready=("mapping.delete",),
            why="the function outlives its mapping (a Deleting mapping may still deliver a batch)",
        ),
        s("recorder_fn.delete", "lambda.DeleteFunction", after_ready=("recorder_mapping.delete",)),
        s(
            "rest_api.delete",
            "apigateway.DeleteRestApi",
            why="takes its stage, deployment and routes with it",
        ),
        s(
            "status_fn.delete",
            "lambda.DeleteFunction",
            after=("rest_api.delete",),
            why="traffic first: no GET /status reaches a missing function; its permission goes with it",
        ),
        s(
            "main_queue.delete",
            "sqs.DeleteQueue",
            after=("rest_api.delete",),
            after_ready=("mapping.delete",),
            why="nothing is accepted that cannot be queued; the mapping stops polling it first",
        ),
        s(
            "dlq_inbox.delete",
            "sqs.DeleteQueue",
            after=("main_queue.delete",),
            after_ready=("recorder_mapping.delete",),
            why="the redrive target outlives its source; the recorder's mapping stops polling it first",
        ),
        s(
            "dlq.delete",
            "sqs.DeleteQueue",
            after=("dlq_inbox.delete",),
            why="the redrive target outlives its source",
        ),
        s(
            "table.delete",
            "dynamodb.DeleteTable",
            settle="table_deleting",
            why="gone, so `up` can create it again",
        ),
        s("bucket.list", "s3.ListObjectVersions", why="what to empty is not in the state file"),
        s("bucket.delete", "s3.DeleteBucket", after=("bucket.list",)),
    ]
    for role in ROLES:
        first = ("rest_api.delete",) if role == "api_role" else ()
        steps.append(
            s(f"{role}.policy", "iam.DeleteRolePolicy", after=first, why="the API assumes the API role")
        )
        steps.append(
            s(
                f"{role}.delete",
                "iam.DeleteRole",
                after=(f"{role}.policy",),
                why="DeleteConflict while it has one",
            )
        )
    steps += [
        s(
            f"{group}.delete",
            "logs.DeleteLogGroup",
            after=("rest_api.delete",) if group == "access_logs" else (),
            why="the stage writes access logs to it until the API is gone" if group == "access_logs" else "",
        )
        for group in LOG_GROUPS
    ]
    return steps


def operation_durations(trace: Iterable[CallRecord]) -> dict[str, float]:
    """Median duration of each operation's successful calls."""
    seen: dict[str, list[float]] = {}
    for record in trace:
        if record.status < 300:
            seen.setdefault(record.operation, []).append(record.end - record.start)
    return {operation: statistics.median(values) for operation, values in seen.items()}


def best_schedule(
    plan: list[Step], timing: Timing, durations: dict[str, float], *, startup: float, tail: float
) -> Schedule:
    """Earliest finish of the plan (ASAP list scheduling on unlimited concurrency is optimal for a DAG)."""
    by_key = {step.key: step for step in plan}
    start: dict[str, float] = {}
    end: dict[str, float] = {}
    ready: dict[str, float] = {}
    bound_by: dict[str, str] = {}

    def settle(step: Step) -> float:
        return float(getattr(timing, step.settle)) if step.settle else 0.0

    def place(key: str) -> None:
        if key in end:
            return
        step = by_key[key]
        duration = durations.get(step.operation, timing.mean_latency(step.operation))
        candidates = [(startup, "start-up")]
        for dep in step.after:
            place(dep)
            candidates.append((end[dep], dep))
        for dep in step.after_ready:
            place(dep)
            candidates.append((ready[dep], f"{dep} settled"))
        for dep in step.ends_after_ready:
            place(dep)
            candidates.append((ready[dep] - duration, f"{dep} settled"))
        start[key], bound_by[key] = max(candidates)
        end[key] = start[key] + duration
        ready[key] = end[key] + settle(step)

    for step in plan:
        place(step.key)
    finish_at = {
        step.key: ready[step.key] if step.settle and step.finished_when_settled else end[step.key]
        for step in plan
    }
    last = max(finish_at, key=lambda key: finish_at[key])
    chain: list[tuple[str, bool]] = []  # (step, whether what follows waited for its settling)
    key, settled = last, bool(by_key[last].settle and by_key[last].finished_when_settled)
    while True:
        chain.append((key, settled))
        cause = bound_by[key]
        if cause == "start-up":
            break
        key, settled = cause.removesuffix(" settled"), cause.endswith(" settled")
    path = [f"start-up until {startup:.2f} s"]
    for key, settled in reversed(chain):
        step = by_key[key]
        label = f"{step.operation} [{step.key}] {start[key]:.2f}-{end[key]:.2f} s"
        path.append(label + (f", {step.settle} until {ready[key]:.2f} s" if settled else ""))
    probes = sum(
        1
        for step in plan
        if settle(step) > 0 and (step.finished_when_settled or any(step.key in s.after_ready for s in plan))
    )
    return Schedule(finish_at[last] + tail, len(plan) + probes + 1, path)
