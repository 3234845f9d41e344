"""A Lambda function: created once its role is assumable, waited until Active, code from a named bundle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..aws import error_code, error_message
from ..engine import Change, Context, Found
from ..errors import AwsError
from . import Resource, ignore_not_found, or_none

RESERVED = "ReservedConcurrentExecutions"  # managed with Put/DeleteFunctionConcurrency, None = unreserved
# Set by CreateFunction and UpdateFunctionCode; UpdateFunctionConfiguration does not take it.
ARCHITECTURES = "Architectures"
DEFAULT_ARCHITECTURES = ["x86_64"]


def _settling(exc: Exception) -> bool:
    """Errors of a role or function that is still settling; they pass on their own."""
    code, message = error_code(exc), error_message(exc)
    if code == "InvalidParameterValueException":
        # A new role is not assumable by Lambda for a few seconds (IAM is eventually consistent).
        # The same lag shows as "... the KMS key is invalid for CreateGrant" when the function has
        # environment variables (terraform-provider-aws #4633, fixed by a retry in #5849; Chalice #1069).
        return "cannot be assumed" in message or "CreateGrant" in message
    # A function mid-create or mid-update refuses other changes.
    return code == "ResourceConflictException" and "in progress" in message.lower()


@dataclass(kw_only=True)
class Function(Resource):
    """attributes: CreateFunction's configuration (Runtime, Handler, MemorySize, Timeout, Role,
    Environment, Architectures...) and, optionally, ReservedConcurrentExecutions."""

    code: str = "app"  # which bundle of ctx.code the function runs
    kind = "lambda-function"
    # CreateFunction, then Pending for a few seconds (Lambda developer guide, "Lambda function states").
    expected_seconds = 4.5
    known_before_create = frozenset({"name", "arn"})
    # Lambda stores environment values as given: the table and bucket need not exist yet.
    value_only_keys = frozenset({"Environment"})
    # Nothing it names must outlive it: its role and log group may go at the same time.
    deletion_keys = frozenset()

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name, "arn": ctx.arn("lambda", f"function:{self.name}")}

    def _configuration(self, ctx: Context) -> dict[str, Any] | None:
        return or_none(lambda: ctx.clients("lambda").get_function_configuration(FunctionName=self.name))

    def _bundle(self, ctx: Context) -> Any:
        if self.code not in ctx.code:
            raise AwsError(f"no code bundle {self.code!r} was built for function {self.name}")
        return ctx.code[self.code]

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        config = self._configuration(ctx)
        if config is None:
            return None
        if config.get("State") == "Pending" or config.get("LastUpdateStatus") == "InProgress":
            # A function adopted mid-create or mid-update (a resumed `up`) refuses changes until it
            # settles (Lambda developer guide, "Lambda function states"): wait here, reads only.
            config = self._wait_ready(ctx)
        observed = dict(config)
        if RESERVED in self.attributes:
            concurrency = ctx.clients("lambda").get_function_concurrency(FunctionName=self.name)
            observed[RESERVED] = concurrency.get(RESERVED)
        return Found({"name": config["FunctionName"], "arn": config["FunctionArn"]}, observed)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        live = found.observed
        changes = []
        for key, desired in self.desired(ctx).items():
            current = live.get(key)
            if key == "Environment":
                current = {"Variables": (current or {}).get("Variables", {})}
            elif key == ARCHITECTURES:
                current = current or DEFAULT_ARCHITECTURES
            if current != desired:
                changes.append(Change(key, current, desired))
        sha = self._bundle(ctx).sha256_b64
        if live.get("CodeSha256") != sha:
            changes.append(Change("CodeSha256", live.get("CodeSha256"), sha))
        return changes

    def _retry_while_settling(self, ctx: Context, call: Callable[[], Any], what: str) -> Any:
        # Role propagation (about 8 s) and a function's Pending (a few seconds) end by themselves:
        # retry on a waiter's interval, so that the call lands soon after they end.
        return ctx.pacer_retry(
            call, retry_if=_settling, what=what, timeout=120, base=0.5, cap=1.25, settling=True
        )

    def _wait_ready(self, ctx: Context, answer: dict[str, Any] | None = None) -> dict[str, Any]:
        """Until Active with no update in progress. `answer`: what the create or update call just
        answered (its State and LastUpdateStatus), so that no poll repeats what it said."""
        if answer and answer.get("State") == "Active" and _ready(answer):
            return answer

        def ready() -> dict[str, Any] | None:
            config = self._configuration(ctx) or {}
            if config.get("State") == "Failed":
                raise AwsError(f"function {self.name} failed: {config.get('StateReason')}")
            return config if config and _ready(config) else None

        result: dict[str, Any] = ctx.wait(
            ready, what=f"function {self.name} to become Active", seen_not_ready=bool(answer)
        )
        return result

    def create(self, ctx: Context) -> dict[str, Any]:
        bundle = self._bundle(ctx)
        lam = ctx.clients("lambda")
        desired = self.desired(ctx)
        reserved = desired.pop(RESERVED, None)

        def create() -> dict[str, Any]:
            return lam.create_function(
                FunctionName=self.name,
                Code={"ZipFile": bundle.zip_bytes},
                Publish=False,
                PackageType="Zip",
                Tags=ctx.tags,
                **desired,
            )

        try:
            config = self._retry_while_settling(ctx, create, f"creating function {self.name}")
        except Exception as exc:
            if error_code(exc) != "ResourceConflictException" or "exist" not in error_message(exc).lower():
                raise
            config = lam.get_function_configuration(FunctionName=self.name)
        # CreateFunction answers `State: Pending` (Lambda developer guide, "Lambda function states").
        self._wait_ready(ctx, config)
        if reserved is not None:
            self._reserve(ctx, reserved)
        return {"name": config["FunctionName"], "arn": config["FunctionArn"]}

    def _reserve(self, ctx: Context, reserved: int | None) -> None:
        lam = ctx.clients("lambda")
        if reserved is None:
            ignore_not_found(lambda: lam.delete_function_concurrency(FunctionName=self.name))
        else:
            lam.put_function_concurrency(FunctionName=self.name, ReservedConcurrentExecutions=reserved)

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        bundle = self._bundle(ctx)
        lam = ctx.clients("lambda")
        desired = self.desired(ctx)
        reserved = desired.pop(RESERVED, None)
        architectures = desired.pop(ARCHITECTURES, None)
        settings = {c.setting for c in changes}
        if settings - {"CodeSha256", ARCHITECTURES, RESERVED}:
            answer = self._retry_while_settling(
                ctx,
                lambda: lam.update_function_configuration(FunctionName=self.name, **desired),
                f"updating function {self.name}",
            )
            self._wait_ready(ctx, answer)
        if settings & {"CodeSha256", ARCHITECTURES}:
            extra = {ARCHITECTURES: architectures} if architectures else {}
            answer = self._retry_while_settling(
                ctx,
                lambda: lam.update_function_code(FunctionName=self.name, ZipFile=bundle.zip_bytes, **extra),
                f"updating the code of {self.name}",
            )
            self._wait_ready(ctx, answer)
        if RESERVED in settings:
            self._reserve(ctx, reserved)
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        ignore_not_found(lambda: ctx.clients("lambda").delete_function(FunctionName=record["name"]))


def _ready(config: dict[str, Any]) -> bool:
    return config.get("State", "Active") == "Active" and config.get("LastUpdateStatus") != "InProgress"
