"""Lambda functions: zipped from handlers/, created once the role is assumable, waited until Active."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..aws import error_code, error_message
from ..engine import Change, Context, Found
from . import ignore_not_found, or_none


@dataclass
class Function:
    key: str
    function_name: Callable[[Context], str]
    handler: str
    memory: Callable[[Context], int]
    timeout: Callable[[Context], int]
    role_key: str
    environment: Callable[[Context], dict[str, str]]
    kind: str = "lambda-function"
    depends_on: tuple[str, ...] = ()

    def name(self, ctx: Context) -> str:
        return self.function_name(ctx)

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {
            "Runtime": ctx.settings.runtime,
            "Handler": self.handler,
            "MemorySize": self.memory(ctx),
            "Timeout": self.timeout(ctx),
            "Role": ctx.record_of(self.role_key)["arn"],
            "Environment": {"Variables": self.environment(ctx)},
        }

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name(ctx), "arn": ctx.arn("lambda", f"function:{self.name(ctx)}")}

    def _configuration(self, ctx: Context) -> dict[str, Any] | None:
        return or_none(lambda: ctx.clients("lambda").get_function_configuration(FunctionName=self.name(ctx)))

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        config = self._configuration(ctx)
        if config is None:
            return None
        return Found({"name": config["FunctionName"], "arn": config["FunctionArn"]}, config)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        live = found.observed
        changes = []
        for key, desired in self.desired(ctx).items():
            current = live.get(key)
            if key == "Environment":
                current = {"Variables": (current or {}).get("Variables", {})}
            if current != desired:
                changes.append(Change(key, current, desired))
        assert ctx.code is not None
        if live.get("CodeSha256") != ctx.code.sha256_b64:
            changes.append(Change("CodeSha256", live.get("CodeSha256"), ctx.code.sha256_b64))
        return changes

    def _retry_while_settling(self, ctx: Context, call: Callable[[], Any], what: str) -> Any:
        def settling(exc: Exception) -> bool:
            code, message = error_code(exc), error_message(exc)
            # A new role is not assumable by Lambda for a few seconds (IAM is eventually consistent);
            # a function mid-update answers ResourceConflictException.
            return (code == "InvalidParameterValueException" and "cannot be assumed" in message) or (
                code == "ResourceConflictException" and "in progress" in message.lower()
            )

        return ctx.pacer_retry(call, retry_if=settling, what=what, timeout=120, base=0.5, cap=8.0)

    def _wait_ready(self, ctx: Context) -> None:
        def ready() -> bool:
            config = self._configuration(ctx) or {}
            state = config.get("State", "Active")
            if state == "Failed":
                from ..errors import AwsError

                raise AwsError(f"function {self.name(ctx)} failed: {config.get('StateReason')}")
            return state == "Active" and config.get("LastUpdateStatus", "Successful") != "InProgress"

        ctx.wait(ready, what=f"function {self.name(ctx)} to become Active")

    def create(self, ctx: Context) -> dict[str, Any]:
        assert ctx.code is not None
        code = ctx.code
        lam = ctx.clients("lambda")

        def create() -> dict[str, Any]:
            return lam.create_function(
                FunctionName=self.name(ctx),
                Code={"ZipFile": code.zip_bytes},
                Publish=False,
                PackageType="Zip",
                Tags=ctx.tags,
                **self.desired(ctx),
            )

        try:
            config = self._retry_while_settling(ctx, create, f"creating function {self.name(ctx)}")
        except Exception as exc:
            if error_code(exc) != "ResourceConflictException" or "exist" not in error_message(exc).lower():
                raise
            config = lam.get_function_configuration(FunctionName=self.name(ctx))
        self._wait_ready(ctx)
        return {"name": config["FunctionName"], "arn": config["FunctionArn"]}

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        assert ctx.code is not None
        code = ctx.code
        lam = ctx.clients("lambda")
        settings = {c.setting for c in changes}
        if settings - {"CodeSha256"}:
            self._retry_while_settling(
                ctx,
                lambda: lam.update_function_configuration(FunctionName=self.name(ctx), **self.desired(ctx)),
                f"updating function {self.name(ctx)}",
            )
            self._wait_ready(ctx)
        if "CodeSha256" in settings:
            self._retry_while_settling(
                ctx,
                lambda: lam.update_function_code(FunctionName=self.name(ctx), ZipFile=code.zip_bytes),
                f"updating the code of {self.name(ctx)}",
            )
            self._wait_ready(ctx)
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        ignore_not_found(lambda: ctx.clients("lambda").delete_function(FunctionName=record["name"]))
