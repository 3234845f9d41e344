"""The feature commands (`schedules`, `webhook-secret`, `api-key`), `init`, `demo` and `local`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..errors import InputError
from ..options import output, stack_kwargs, stack_options


@click.command("schedules")
@stack_options
@stack_kwargs
def schedules(options: Any, out: Any, **_: Any) -> None:
    """List the stack's schedules (feature scheduling)."""
    from .. import ops
    from ..clients import schedules as schedule_api
    from ..features import scheduling

    stack = ops.open_stack(options, creating=False)
    schedule_api.require_feature(stack, "schedule_group", scheduling.FEATURE)
    found = schedule_api.list_schedules(stack.clients("scheduler"), schedule_api.group_of(stack))
    out.document({"command": "schedules", "name": stack.state.name, "schedules": found})
    columns = ["schedule", "state", "expression", "timezone", "endAt"]
    rows = [[str(s.get(c if c != "schedule" else "scheduleId") or "") for c in columns] for s in found]
    out.table(f"{len(found)} schedule(s)", columns, rows)


@click.command("webhook-secret")
@stack_options
@stack_kwargs
def webhook_secret(options: Any, out: Any, **_: Any) -> None:
    """Print the stack's webhook signing secret (receivers verify X-Asyncapi-Signature with it)."""
    from .. import ops
    from ..features import webhooks

    stack = ops.open_stack(options, creating=False)
    record = stack.state.resources.get("webhook_secret")
    if not record or not record.get("arn"):
        raise InputError(
            f"stack {stack.state.name} has no webhook signing secret: turn webhooks on "
            "(asyncapi up --with webhooks, or [features] webhooks = true in asyncapi.toml)"
        )
    # Read from Secrets Manager at the recorded ARN, now: never kept in the state.
    secret = webhooks.read_secret(stack.clients("secretsmanager"), record["arn"])
    found = {"secret": secret, "arn": str(record["arn"])}
    out.document({"command": "webhook-secret", "name": stack.state.name, **found})
    out.raw(found["secret"])


@click.command("api-key")
@stack_options
@stack_kwargs
def api_key(options: Any, out: Any, **_: Any) -> None:
    """Print the stack's API key (made by 'up --auth api-key') for other clients' x-api-key header."""
    from .. import ops
    from ..secure_api import stack_api_key

    stack = ops.open_stack(options, creating=False)
    key = stack_api_key(stack)
    if key is None:
        raise InputError("this stack has no API key: run 'asyncapi up --auth api-key' first")
    out.document(
        {"name": stack.state.name, "apiKeyId": stack.state.resources["api_key"]["id"], "apiKey": key}
    )
    out.raw(key)


@click.command()
def init() -> None:
    """Write asyncapi.toml, work.py and requirements.txt here (never over existing files)."""
    from ..scaffold import init_project

    for path in init_project(Path.cwd()):
        click.echo(f"wrote {path.name}")
    click.echo("Next: edit work.py, add requirements, then 'asyncapi up --local' and 'asyncapi test-job'.")


@click.command()
@click.option("--json", "json_mode", is_flag=True, help="Machine-readable JSON output.")
@click.option("--keep", is_flag=True, help="Leave the stack (and the embedded AWS) running afterwards.")
def demo(json_mode: bool, keep: bool) -> None:
    """The whole lifecycle on the embedded local AWS: up, a job, a failing job, down. No AWS account."""
    from ..demo import run_demo

    sys.exit(run_demo(output(json_mode), keep=keep))


@click.group()
def local() -> None:
    """Manage the embedded local AWS (moto + gateway + Lambda runtime on 127.0.0.1)."""


@local.command("start")
def local_start() -> None:
    """Start the embedded local AWS in the background."""
    from ..local import manager

    info = manager.ensure_running()
    click.echo(
        f"embedded AWS running: endpoint {info['endpoint']}, gateway {info['gateway']}, "
        f"pid {info['pid']}, log {info['log']}"
    )


@local.command("stop")
def local_stop() -> None:
    """Stop the embedded local AWS (its contents are lost)."""
    from ..local import manager

    click.echo("stopped" if manager.stop() else "not running")


@local.command("status")
@click.option("--json", "json_mode", is_flag=True)
def local_status(json_mode: bool) -> None:
    """Is the embedded local AWS running, and where?"""
    import json

    from ..local import manager

    info = manager.running_info()
    limits = manager.local_status() if info else {}
    if json_mode:
        click.echo(json.dumps({"running": info is not None, **(info or {}), "limits": limits}))
    elif info:
        click.echo(
            f"running: endpoint {info['endpoint']}, gateway {info['gateway']}, pid {info['pid']}, "
            f"log {info['log']}"
        )
        for line in manager.describe_limits(limits):
            click.echo(line)
        for line in manager.describe_compat(info.get("compat") or []):
            click.echo(line)
    else:
        click.echo("not running")


def register(group: click.Group) -> None:
    for command in (schedules, webhook_secret, api_key, init, demo, local):
        group.add_command(command)
