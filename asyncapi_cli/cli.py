"""The thin command layer: parse options, call the library, render. boto3 is imported lazily."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .errors import EXIT_AWS, EXIT_INTERRUPTED, AsyncApiError, InputError

EXIT_BUG = 70


def _fail(ctx: click.Context, message: str, code: int) -> None:
    # Always one line, even when an AWS message spans several.
    one_line = " ".join(message.split())
    click.echo(f"asyncapi: error: {one_line}", err=True)
    ctx.exit(code)


class Group(click.Group):
    """Turns every expected failure into one line on stderr and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug")) or os.environ.get("ASYNCAPI_DEBUG") == "1"
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except AsyncApiError as exc:
            if debug:
                raise
            _fail(ctx, str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail(
                ctx,
                "interrupted; everything created so far is recorded: run the command again to resume",
                EXIT_INTERRUPTED,
            )
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
    from .ops import summary

    data = summary(stack) | {"command": command, "resources": [o.to_json() for o in outcomes]}
    out.document(data)
    if command == "up":
        records = stack.state.resources
        rows = [[o.key, o.kind, _identity(records.get(o.key, {})), o.action] for o in outcomes]
        out.table(f"Stack {stack.state.name}", ["resource", "kind", "id", "this run"], rows)
        url = stack.state.outputs.get("api_url")
        out.info(f"[bold]Endpoint:[/] {url}")
        out.info("[bold]Submit a job:[/]")
        # Printed as is and never wrapped, so that it pastes as one command.
        out.raw(
            "  curl -sS -i -X POST -H 'Content-Type: application/json' "
            f'-d \'{{"task": "process_data", "data": {{"input": "test data"}}}}\' {url}/submit'
        )
        out.info("[bold]Then:[/] asyncapi test-job")
    _print_code_and_settings(out, data)
    calls = data["aws_calls"]
    out.info(
        f"[dim]{calls['calls']} AWS calls ({calls['mutating']} mutating, "
        f"{calls['retries'] + calls['engine_retries']} retries); state: {stack.store.path}[/]"
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


def _identity(record: dict[str, Any]) -> str:
    for key in ("name", "id", "uuid", "sid", "api_id"):
        if record.get(key):
            return str(record[key])
    return ""


def _with_features(text: str | None) -> frozenset[str]:
    """`--with webhooks,priorities`: features added to the file's [features] for this run."""
    from .config import FEATURES

    names = frozenset(part.strip() for part in (text or "").split(",") if part.strip())
    unknown = sorted(names - set(FEATURES))
    if unknown:
        raise InputError(f"--with: unknown feature {unknown[0]!r}; choose from {', '.join(FEATURES)}")
    return names


@main.command()
@stack_options
@click.option("--dry-run", is_flag=True, help="Show what would change (same as 'asyncapi plan').")
@click.option(
    "--with",
    "with_features",
    metavar="FEATURES",
    help="Features to turn on, comma-separated (webhooks,priorities,batches), besides asyncapi.toml's "
    "[features]. An 'up' without them turns them off again.",
)
@_stack_kwargs
def up(options: Any, out: Any, dry_run: bool, with_features: str | None, **_: Any) -> None:
    """Provision (or converge) every resource of the stack. Safe to rerun; resumes after a crash."""
    from . import ops

    options.features = _with_features(with_features)
    if dry_run:
        return _plan(options, out)
    stack = ops.open_stack(options, creating=True, start_local=True)
    target = stack.state.target
    if target.kind == "local":
        from .local import manager

        info = manager.running_info() or {}
        out.info(
            f"[bold]embedded local AWS[/]: endpoint {info.get('endpoint')}, gateway {info.get('gateway')}, "
            f"log {info.get('log')}"
        )
    out.info(
        f"[bold]asyncapi up[/] {stack.state.name} -> {target.kind} {target.region} "
        f"{stack.clients.target.endpoint_url or ''}"
    )
    outcomes = ops.up(stack, out)
    _print_stack(out, stack, outcomes, "up")


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
@_stack_kwargs
def status(options: Any, out: Any, **_: Any) -> None:
    """Show the stack's resources and what drifted from the desired settings."""
    from . import ops

    stack = ops.open_stack(options, creating=False)
    outcomes = ops.plan(stack)
    drifted = [o for o in outcomes if o.action != "exists"]
    data = ops.summary(stack) | {
        "command": "status",
        "drifted": bool(drifted),
        "resources": [o.to_json() for o in outcomes],
    }
    out.document(data)
    _print_code_and_settings(out, data)
    labels = {"create": "missing", "update": "drifted", "exists": "ok"}
    rows = [
        [labels.get(o.action, o.action), o.kind, o.name, "; ".join(str(c) for c in o.changes)]
        for o in outcomes
    ]
    out.table(
        f"Stack {stack.state.name} ({stack.state.target.kind}, {stack.state.target.region})",
        ["status", "kind", "name", "drift"],
        rows,
    )
    out.info(f"Endpoint: {stack.state.outputs.get('api_url')}")
    out.info("[yellow]Drift found: 'asyncapi up' repairs it.[/]" if drifted else "[green]No drift.[/]")


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
    out.info(f"[bold]asyncapi down[/] {stack.state.name}")
    outcomes = ops.down(stack, out)
    _print_stack(out, stack, outcomes, "down")


@main.command("test-job")
@stack_options
@click.option("--payload", help="Job payload: JSON text, or @file.json.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Overall seconds to wait.")
@click.option("--count", type=int, default=1, show_default=True, help="Number of jobs to submit.")
@click.option("--concurrency", type=int, default=1, show_default=True, help="Jobs in flight at once.")
@click.option(
    "--priority", type=click.Choice(["high", "normal"]), help="Submit with ?priority= (feature priorities)."
)
@click.option(
    "--batch",
    type=int,
    help="Submit one batch of N jobs to POST /batches and follow it (feature batches); --payload may "
    "then be an array of N objects.",
)
@click.option("--at", help="Schedule the job once: +10s, +5m, +2h or an ISO 8601 time (feature scheduling).")
@click.option("--every", help='Schedule it repeatedly: "rate(1 minute)" or "cron(...)" (feature scheduling).')
@click.option("--runs", type=int, default=3, show_default=True, help="With --every: runs to wait for.")
@click.option(
    "--watch", is_flag=True, help="Follow the job over the WebSocket (feature websocket; else polls)."
)
@_stack_kwargs
def test_job(
    options: Any,
    out: Any,
    payload: str | None,
    timeout: float,
    count: int,
    concurrency: int,
    priority: str | None,
    batch: int | None,
    at: str | None,
    every: str | None,
    runs: int,
    watch: bool,
    **_: Any,
) -> None:
    """Submit a real job through the API, follow it to completion, show the result."""
    from . import client, feature_client, ops, schedule_cli

    if timeout <= 0:
        raise InputError(f"--timeout must be above zero, got {timeout:g}")
    if at is not None or every is not None or watch:
        stack = ops.open_stack(options, creating=False)
        if watch:
            sys.exit(schedule_cli.run_watched(stack, out, client.parse_payload(payload), timeout=timeout))
        parsed = client.parse_payload(payload)
        sys.exit(
            schedule_cli.run_scheduled(stack, out, parsed, at=at, every=every, runs=runs, timeout=timeout)
        )
    if batch is not None:
        sys.exit(_test_batch(options, out, payload, batch, timeout, priority))
    parsed = client.parse_payload(payload)
    if count < 1 or concurrency < 1:
        raise InputError("--count and --concurrency must be at least 1")
    stack = ops.open_stack(options, creating=False)
    query = feature_client.priority_query(priority)
    code = client.run_test_jobs(
        stack, out, parsed, timeout=timeout, count=count, concurrency=concurrency, query=query
    )
    sys.exit(code)


def _test_batch(
    options: Any, out: Any, payload: str | None, count: int, timeout: float, priority: str | None
) -> int:
    from . import client, feature_client, ops

    if priority is not None:
        raise InputError("--priority applies to /submit; a batch goes to POST /batches (drop one of them)")
    jobs = feature_client.batch_jobs(payload, count, client.DEFAULT_PAYLOAD)
    stack = ops.open_stack(options, creating=False)
    return feature_client.run_batch(stack, out, jobs, timeout=timeout)


@main.command("schedules")
@stack_options
@_stack_kwargs
def schedules(options: Any, out: Any, **_: Any) -> None:
    """List the stack's schedules (feature scheduling)."""
    from . import ops, schedule_cli

    sys.exit(schedule_cli.list_schedules(ops.open_stack(options, creating=False), out))


@main.command("webhook-secret")
@stack_options
@_stack_kwargs
def webhook_secret(options: Any, out: Any, **_: Any) -> None:
    """Print the stack's webhook signing secret (receivers verify X-Asyncapi-Signature with it)."""
    from . import feature_client, ops

    stack = ops.open_stack(options, creating=False)
    found = feature_client.webhook_secret(stack)
    out.document({"command": "webhook-secret", "name": stack.state.name, **found})
    out.raw(found["secret"])


@main.command()
def init() -> None:
    """Write asyncapi.toml, work.py and requirements.txt here (never over existing files)."""
    from .scaffold import init_project

    for path in init_project(Path.cwd()):
        click.echo(f"wrote {path.name}")
    click.echo("Next: edit work.py, add requirements, then 'asyncapi up --local' and 'asyncapi test-job'.")


@main.command()
@click.option("--json", "json_mode", is_flag=True, help="Machine-readable JSON output.")
@click.option("--keep", is_flag=True, help="Leave the stack (and the embedded AWS) running afterwards.")
def demo(json_mode: bool, keep: bool) -> None:
    """The whole lifecycle on the embedded local AWS: up, a job, a failing job, down. No AWS account."""
    from .demo import run_demo

    sys.exit(run_demo(_output(json_mode), keep=keep))


@main.group()
def local() -> None:
    """Manage the embedded local AWS (moto + gateway + Lambda runtime on 127.0.0.1)."""


@local.command("start")
def local_start() -> None:
    """Start the embedded local AWS in the background."""
    from .local import manager

    info = manager.ensure_running()
    click.echo(
        f"embedded AWS running: endpoint {info['endpoint']}, gateway {info['gateway']}, "
        f"pid {info['pid']}, log {info['log']}"
    )


@local.command("stop")
def local_stop() -> None:
    """Stop the embedded local AWS (its contents are lost)."""
    from .local import manager

    click.echo("stopped" if manager.stop() else "not running")


@local.command("status")
@click.option("--json", "json_mode", is_flag=True)
def local_status(json_mode: bool) -> None:
    """Is the embedded local AWS running, and where?"""
    import json

    from .local import manager

    info = manager.running_info()
    if json_mode:
        click.echo(json.dumps({"running": info is not None, **(info or {})}))
    elif info:
        click.echo(
            f"running: endpoint {info['endpoint']}, gateway {info['gateway']}, pid {info['pid']}, "
            f"log {info['log']}"
        )
    else:
        click.echo("not running")
