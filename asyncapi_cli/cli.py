"""The thin command layer: parse options, call the library, render. boto3 is imported lazily."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .errors import EXIT_AWS, EXIT_DRIFT, EXIT_INTERRUPTED, AsyncApiError, InputError

EXIT_BUG = 70
EXIT_BROKEN_PIPE = 141


def _fail(ctx: click.Context, message: str, code: int) -> None:
    # Always one line, even when an AWS message spans several.
    one_line = " ".join(message.split())
    click.echo(f"asyncapi: error: {one_line}", err=True)
    ctx.exit(code)


# What is true after Ctrl-C, per command (a command may say more through ctx.meta["asyncapi.interrupt"]).
INTERRUPTED = {
    "up": "interrupted; everything created so far is recorded: run 'asyncapi up' again to resume",
    "down": "interrupted; everything deleted so far is recorded: run 'asyncapi down' again to finish",
    "test-job": "interrupted; jobs already submitted keep running on the stack ('asyncapi jobs' lists them)",
    "demo": "interrupted; the demo took its stack down where it could ('asyncapi local stop' ends the rest)",
}
READ_ONLY_INTERRUPTED = "interrupted; nothing was changed"


def _interrupt_message(ctx: click.Context) -> str:
    command = ctx.invoked_subcommand or ""
    message = INTERRUPTED.get(command, READ_ONLY_INTERRUPTED)
    # ctx.meta is shared by nested contexts: a subcommand (dlq redrive, logs) may have been more exact.
    return str(ctx.meta.get("asyncapi.interrupt", message))


def _silence_stdout() -> None:
    """After EPIPE (`asyncapi ... | head`): point stdout at /dev/null so the exit flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class Group(click.Group):
    """Turns every expected failure into one line on stderr and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug")) or os.environ.get("ASYNCAPI_DEBUG") == "1"
        try:
            try:
                return super().invoke(ctx)
            finally:
                # Flush here, not at interpreter exit, so a closed pipe is handled below.
                sys.stdout.flush()
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (head, less): stop quietly, as CLIs do; 141 = 128 + SIGPIPE.
            _silence_stdout()
            ctx.exit(EXIT_BROKEN_PIPE)
        except AsyncApiError as exc:
            if debug:
                raise
            _fail(ctx, str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail(ctx, _interrupt_message(ctx), EXIT_INTERRUPTED)
        except Exception as exc:
            if debug:
                raise
            message, code = _describe_unexpected(exc)
            _fail(ctx, message, code)


def _describe_unexpected(exc: Exception) -> tuple[str, int]:
    module = type(exc).__module__
    if module.startswith(("botocore", "boto3", "urllib3")):
        from .aws import describe_error

        return f"AWS call failed: {describe_error(exc) or exc}", EXIT_AWS
    return f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", EXIT_BUG


def stack_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--name", help="Project name (default: async-api-<random>, kept in the state file)."),
        click.option(
            "--region", help="AWS region (default: from the environment or profile, else us-east-1)."
        ),
        click.option("--profile", help="AWS named profile."),
        click.option(
            "--endpoint-url", help="Any AWS-compatible endpoint, e.g. LocalStack (or AWS_ENDPOINT_URL)."
        ),
        click.option("--local", is_flag=True, help="Use the embedded local AWS (moto on 127.0.0.1)."),
        click.option(
            "--state",
            "state_path",
            type=click.Path(path_type=Path),
            help="State file (default: .asyncapi/<name>.json).",
        ),
        click.option("--json", "json_mode", is_flag=True, help="Machine-readable JSON output."),
        click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path),
            help="Settings file (default: ./asyncapi.toml when present).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _options(**kwargs: Any) -> Any:
    from .ops import StackOptions

    return StackOptions(
        name=kwargs.get("name"),
        region=kwargs.get("region"),
        profile=kwargs.get("profile"),
        endpoint_url=kwargs.get("endpoint_url"),
        local=bool(kwargs.get("local")),
        state_path=kwargs.get("state_path"),
        config_path=kwargs.get("config_path"),
    )


def _output(json_mode: bool) -> Any:
    from .output import Output

    return Output(json_mode=json_mode)


def _stack_kwargs(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        return fn(options=_options(**kwargs), out=_output(kwargs.pop("json_mode")), **kwargs)

    return wrapper


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks (for bug reports).")
@click.version_option(package_name="asyncapi")
def main(debug: bool) -> None:
    """Stand up, exercise and tear down the asynchronous API pattern on AWS.

    API Gateway POST /submit queues jobs straight into SQS; a processor Lambda drains the queue
    (batches of 10, dead-letter queue after 3 receives); status lives in DynamoDB, results in S3;
    GET /status/{jobId} answers from a status Lambda.
    """


def _print_stack(out: Any, stack: Any, outcomes: list[Any], command: str) -> None:
    from collections import Counter

    from .ops import summary

    data = summary(stack) | {"command": command, "resources": [o.to_json() for o in outcomes]}
    out.document(data)
    # Each resource was already shown on its own line as it finished: summarise, never list them twice.
    counts = Counter(o.action.split(" ")[0] for o in outcomes)
    out.info(
        f"{len(outcomes)} resources: " + ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    )
    if command == "up":
        url = stack.state.outputs.get("api_url")
        out.line(("Endpoint: ", "bold"), str(url))
        out.info("Submit a job:", "bold")
        # Printed as is and never wrapped, so that it pastes as one command.
        out.raw(
            "  curl -sS -i -X POST -H 'Content-Type: application/json' "
            f'-d \'{{"task": "process_data", "data": {{"input": "test data"}}}}\' {url}/submit'
        )
        out.line(("Then: ", "bold"), "asyncapi test-job")
    _print_code_and_settings(out, data)
    calls = data["aws_calls"]
    out.info(
        f"{calls['calls']} AWS calls ({calls['mutating']} mutating, "
        f"{calls['retries'] + calls['engine_retries']} retries); state: {stack.store.path}",
        "dim",
    )


def _print_code_and_settings(out: Any, data: dict[str, Any]) -> None:
    code = data.get("code") or {}
    if code.get("work") and code.get("work") != "jobwork:run_job":
        local = (code.get("local_dependencies") or {}).get("source")
        dependencies = code.get("lambda_dependencies") or "none"
        out.raw(  # raw: paths and values are the user's, never rich markup
            f"code {code.get('sha256')}: work {code['work']}, dependencies {dependencies}"
            + (f"; the embedded AWS loads {local}" if local else "")
            + (" (cached build)" if code.get("cached") else "")
        )
    for change in data.get("settings_changed") or []:
        setting, recorded, now = change["setting"], change["recorded"], change["file"]
        out.raw(f"changed since the last up: {setting} {recorded!r} -> {now!r}")


@main.command()
@stack_options
@click.option("--dry-run", is_flag=True, help="Show what would change (same as 'asyncapi plan').")
@click.option(
    "--with",
    "with_features",
    metavar="FEATURES",
    help="Features to turn on, comma-separated (webhooks,priorities,batches,scheduling,websocket), "
    "besides asyncapi.toml's [features]. An 'up' without them turns them off again.",
)
@click.option(
    "--auth", type=click.Choice(["none", "api-key"]), help="api-key: require x-api-key (usage plan)."
)
@click.option("--cors-origin", "cors_origins", multiple=True, help="Allow this browser origin (repeatable).")
@click.option("--throttle-rate", type=float, help="Stage steady rate, requests/second (default 50).")
@click.option("--throttle-burst", type=int, help="Stage burst, requests (default 100).")
@_stack_kwargs
def up(
    options: Any,
    out: Any,
    dry_run: bool,
    with_features: str | None,
    auth: str | None,
    cors_origins: tuple[str, ...],
    throttle_rate: float | None,
    throttle_burst: int | None,
    **_: Any,
) -> None:
    """Provision (or converge) every resource of the stack. Safe to rerun; resumes after a crash."""
    from . import feature_client, ops
    from .secure_api import flag_overrides

    # These flags override asyncapi.toml's [api] for this run (put them in the file to keep them).
    options.overrides = flag_overrides(auth, cors_origins, throttle_rate, throttle_burst)

    options.features = feature_client.with_features(with_features)
    if dry_run:
        return _plan(options, out)
    stack = ops.open_stack(options, creating=True, start_local=True, look_for_owner=True)
    target = stack.state.target
    if target.kind == "local":
        from .local import manager

        info = manager.running_info() or {}
        out.line(
            ("embedded local AWS", "bold"),
            f": endpoint {info.get('endpoint')}, gateway {info.get('gateway')}, log {info.get('log')}",
        )
        from .local.lambda_python import interpreter_warning

        if python_warning := interpreter_warning(stack.ctx.settings.runtime):  # no such Python here
            out.raw(f"warning: {python_warning}")
    out.line(
        ("asyncapi up ", "bold"),
        f"{stack.state.name} -> {target.kind} {target.region} {stack.clients.target.endpoint_url or ''}",
    )
    outcomes = ops.up(stack, out)
    _print_stack(out, stack, outcomes, "up")
    from .secure_api import account_logging_note

    note = account_logging_note(outcomes)  # an account-wide setting changed: say so
    if note:
        out.raw(note)


def _plan(options: Any, out: Any) -> None:
    from . import ops

    stack = ops.open_stack(options, creating=True, start_local=False)
    outcomes = ops.plan(stack)
    data = ops.summary(stack) | {"command": "plan", "resources": [o.to_json() for o in outcomes]}
    out.document(data)
    out.plan_table(outcomes)
    _print_code_and_settings(out, data)


@main.command()
@stack_options
@_stack_kwargs
def plan(options: Any, out: Any, **_: Any) -> None:
    """Show what 'up' would do per resource (create / exists / update), changing nothing."""
    _plan(options, out)


@main.command()
@stack_options
@click.option(
    "--exit-code",
    "detailed_exit_code",
    is_flag=True,
    help=f"Exit {EXIT_DRIFT} when something drifted, 0 when nothing did (errors keep their own codes).",
)
@_stack_kwargs
def status(options: Any, out: Any, detailed_exit_code: bool, **_: Any) -> None:
    """Show the stack's resources, what drifted from the desired settings, and live queue figures."""
    from . import ops
    from .dayops.live import brief_change, figure_rows, live_figures

    stack = ops.open_stack(options, creating=False)
    outcomes = ops.plan(stack)
    drifted = [o for o in outcomes if o.action != "exists"]
    figures = live_figures(stack)
    data = ops.summary(stack) | {
        "command": "status",
        "drifted": bool(drifted),
        "resources": [o.to_json() for o in outcomes],
        "live": figures,
    }
    out.document(data)
    _print_code_and_settings(out, data)
    labels = {"create": "missing", "update": "drifted", "exists": "ok"}
    rows = [
        [labels.get(o.action, o.action), o.kind, o.name, "; ".join(brief_change(c) for c in o.changes)]
        for o in outcomes
    ]
    out.table(
        f"Stack {stack.state.name} ({stack.state.target.kind}, {stack.state.target.region})",
        ["status", "kind", "name", "drift"],
        rows,
    )
    out.table("Live", ["figure", "value"], figure_rows(figures))
    out.info(f"Endpoint: {stack.state.outputs.get('api_url')}")
    if drifted:
        out.info("Drift found: 'asyncapi up' repairs it.", "yellow")
    else:
        out.info("No drift.", "green")
    if detailed_exit_code and drifted:
        sys.exit(EXIT_DRIFT)


@main.command()
@stack_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_stack_kwargs
def down(options: Any, out: Any, yes: bool, **_: Any) -> None:
    """Delete every resource of the stack (reverse order), then the state file. Resumable."""
    from . import ops

    gone = ops.forget_local_stack(options)
    if gone is not None:
        out.info(
            f"The embedded local AWS is not running, so stack {gone.name} went with it; state file removed."
        )
        out.document(
            {"command": "down", "name": gone.name, "resources": [], "note": "embedded AWS not running"}
        )
        return
    stack = ops.open_stack(options, creating=False, allow_missing_state=options.name is not None)
    target = stack.state.target
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("down deletes the whole stack; pass --yes to confirm when not interactive")
        click.confirm(
            f"Delete stack {stack.state.name} ({target.kind}, {target.region}, account {target.account})?",
            abort=True,
        )
    out.line(("asyncapi down ", "bold"), stack.state.name)
    outcomes = ops.down(stack, out)
    _print_stack(out, stack, outcomes, "down")


# The other commands register themselves on `main`: test-job; the feature commands, init, demo and
# local; the day-two groups (jobs, dlq, logs).
from .commands import daytwo as _daytwo  # noqa: E402, F401
from .commands import extras as _extras  # noqa: E402, F401
from .commands import test_job as _test_job  # noqa: E402, F401
