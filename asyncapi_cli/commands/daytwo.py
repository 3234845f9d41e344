"""Day-two commands: `jobs`, `dlq` and `logs` (same options, target resolution and exit codes as the rest)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from typing import Any

import click

from ..errors import InputError
from ..options import stack_kwargs, stack_options

STATUS_STYLE = {"completed": "green", "failed": "red", "retrying": "yellow", "processing": "cyan"}


def _open(options: Any) -> Any:
    from .. import ops
    from ..dayops.target import require_deployed

    stack = ops.open_stack(options, creating=False)
    require_deployed(stack)
    return stack


def _inherit(ctx: click.Context, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`asyncapi jobs --name x show ID`: options given before the subcommand count too."""
    parent = ctx.parent.params if ctx.parent else {}
    return {k: (v if v not in (None, False) else parent.get(k, v)) for k, v in kwargs.items()}


# ---- jobs ---------------------------------------------------------------------------------------


@click.group(invoke_without_command=True)
@stack_options
@click.option(
    "--status",
    "status_filter",
    type=click.Choice(["queued", "processing", "retrying", "completed", "failed"]),
)
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many jobs.")
@click.pass_context
def jobs(ctx: click.Context, status_filter: str | None, limit: int, **kwargs: Any) -> None:
    """Recent jobs, newest first (id, status, attempts, age); 'jobs show ID' for one job."""
    if ctx.invoked_subcommand is not None:
        return
    stack_kwargs(_list_jobs)(status_filter=status_filter, limit=limit, **kwargs)


def _list_jobs(options: Any, out: Any, status_filter: str | None, limit: int, **_: Any) -> None:
    from ..dayops.jobs import age_text, list_jobs

    if limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    stack = _open(options)
    rows = list_jobs(stack, status=status_filter, limit=limit, now=dt.datetime.now(dt.timezone.utc))
    out.document({"command": "jobs", "name": stack.state.name, "status": status_filter, "jobs": rows})
    with_priority = any("priority" in row for row in rows)
    columns = ["job id", "status", "attempts", "age"] + (["priority"] if with_priority else []) + ["error"]
    table = []
    for row in rows:
        cells = [
            row["jobId"],
            str(row.get("status", "-")),
            str(row.get("attempts", "-")),
            age_text(row["ageSeconds"]),
        ]
        if with_priority:
            cells.append(str(row.get("priority", "-")))
        table.append(cells + [str(row.get("error") or "")])
    out.table(f"Jobs of {stack.state.name} (newest first, at most {limit})", columns, table)


# A job id is URL-safe base64 (the API's extendedRequestId), so one in 64 starts with "-": it is the
# job id, not an unknown option (an unknown option still fails, as an extra argument or a missing job);
# nor is one starting "-h" the help option, so this command's help is --help alone.
@jobs.command("show", context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]})
@click.argument("job_id")
@stack_options
@click.pass_context
def jobs_show(ctx: click.Context, job_id: str, **kwargs: Any) -> None:
    """One job: its record, its error and its result (from the results bucket)."""
    stack_kwargs(_show_job)(job_id=job_id, **_inherit(ctx, kwargs))


def _show_job(options: Any, out: Any, job_id: str, **_: Any) -> None:
    from ..dayops.jobs import show_job
    from ..dayops.logs import check_job_id

    check_job_id(job_id)
    shown = show_job(_open(options), job_id)
    out.document({"command": "jobs show", **shown})
    record = shown["record"]
    out.line(
        "job ",
        (job_id, "bold"),
        "  ",
        (str(record.get("status")), STATUS_STYLE.get(str(record.get("status")), "")),
    )
    for key in sorted(record):
        if key not in ("jobId", "status", "error", "errorDetail"):
            out.info(f"  {key}: {record[key]}")
    if shown["error"]:
        out.line(("  error: ", "red"), str(shown["error"]))
    detail = record.get("errorDetail")
    if isinstance(detail, dict) and detail.get("file"):  # the innermost frame of the user's own code
        out.raw(f"  at {detail['file']}, line {detail.get('line')}, in {detail.get('function')}")
    if shown["result"] is not None:
        out.info("result:", "bold")
        out.raw(json.dumps(shown["result"], indent=2, ensure_ascii=False))


# ---- dlq ----------------------------------------------------------------------------------------


@click.group(invoke_without_command=True)
@stack_options
@click.pass_context
def dlq(ctx: click.Context, **kwargs: Any) -> None:
    """The dead-letter queue: list (the default), redrive, purge."""
    if ctx.invoked_subcommand is None:
        stack_kwargs(_dlq_list)(**kwargs)


@dlq.command("list")
@stack_options
@click.pass_context
def dlq_list(ctx: click.Context, **kwargs: Any) -> None:
    """Dead-lettered messages (job id, receive count, sent time, the job's error), none consumed."""
    stack_kwargs(_dlq_list)(**_inherit(ctx, kwargs))


def _dlq_list(options: Any, out: Any, **_: Any) -> None:
    from ..dayops.dlq import list_dead_letters
    from ..dayops.feature_dlqs import list_feature_dead_letters

    stack = _open(options)
    rows = list_dead_letters(stack)
    features = list_feature_dead_letters(stack)
    out.document(
        {"command": "dlq list", "name": stack.state.name, "messages": rows, "featureQueues": features}
    )
    out.table(
        f"Dead-letter queue of {stack.state.name}: {len(rows)} message(s)",
        ["job id", "receives", "sent", "status", "error"],
        [
            [
                str(r["jobId"] or "-"),
                str(r["receiveCount"]),
                str(r["sentAt"] or "-"),
                str(r["status"] or "-"),
                str(r["error"] or ""),
            ]
            for r in rows
        ],
    )
    for queue in features:
        out.table(
            f"{queue['queue']}: {len(queue['messages'])} message(s)",
            ["about", "receives", "sent", "error"],
            [
                [str(r[k] or "-") for k in ("about", "receiveCount", "sentAt")] + [str(r["error"] or "")]
                for r in queue["messages"]
            ],
        )
    if (rows or any(q["messages"] for q in features)) and not out.json_mode:
        out.info("Listing adds one to each message's receive count (SQS has no peek).", "dim")


@dlq.command("redrive")
@click.option("--job", "job_id", help="Redrive this job's message only.")
@click.option("--all", "all_messages", is_flag=True, help="Redrive every message (StartMessageMoveTask).")
@stack_options
@click.pass_context
def dlq_redrive(ctx: click.Context, job_id: str | None, all_messages: bool, **kwargs: Any) -> None:
    """Send dead-lettered messages back to the main queue; their jobs show 'queued' again."""
    if (job_id is None) == (not all_messages):
        raise InputError("dlq redrive: pass exactly one of --job ID or --all")
    ctx.meta["asyncapi.interrupt"] = (
        "interrupted; a redrive may have moved some messages already: 'asyncapi dlq list' shows what is left"
    )
    stack_kwargs(_dlq_redrive)(job_id=job_id, all_messages=all_messages, **_inherit(ctx, kwargs))


def _dlq_redrive(options: Any, out: Any, job_id: str | None, all_messages: bool, **_: Any) -> None:
    from ..dayops import dlq as dead_letters
    from ..dayops.logs import check_job_id

    stack = _open(options)
    if job_id is not None:
        check_job_id(job_id)
        done = dead_letters.redrive_one(stack, job_id)
        out.info(f"job {job_id}: {done['messages']} message(s) back in the main queue; status queued")
    else:
        done = dead_letters.redrive_all(stack, options.pacer)
        out.info(f"moved {done['moved']} message(s) back to the main queue ({len(done['jobs'])} job(s))")
    out.document({"command": "dlq redrive", "name": stack.state.name, **done})


@dlq.command("purge")
@click.option("--yes", "-y", is_flag=True, help="Confirm: the messages are deleted for good.")
@stack_options
@click.pass_context
def dlq_purge(ctx: click.Context, yes: bool, **kwargs: Any) -> None:
    """Delete every message in the dead-letter queue (asks first unless --yes)."""
    stack_kwargs(_dlq_purge)(yes=yes, **_inherit(ctx, kwargs))


def _dlq_purge(options: Any, out: Any, yes: bool, **_: Any) -> None:
    from ..dayops.dlq import purge

    stack = _open(options)
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("dlq purge deletes every dead-lettered message; pass --yes to confirm")
        click.confirm(f"Delete every message in {stack.ctx.names.dlq}?", abort=True)
    done = purge(stack)
    out.info(f"purged {stack.ctx.names.dlq}")
    out.document({"command": "dlq purge", "name": stack.state.name, **done})


# ---- logs ---------------------------------------------------------------------------------------


@click.command()
@click.argument("function", default="processor")
@click.option("--job", "job_id", help="Only this job's lines.")
@click.option("--since", default="10m", show_default=True, help="How far back: 30s, 10m, 2h, 1d.")
@click.option("--follow", "-f", is_flag=True, help="Keep polling for new lines until Ctrl-C.")
@stack_options
@click.pass_context
def logs(
    ctx: click.Context, function: str, job_id: str | None, since: str, follow: bool, **kwargs: Any
) -> None:
    """CloudWatch Logs of a function (processor, status, or another function key), made readable."""
    ctx.meta["asyncapi.interrupt"] = "stopped following the logs"
    stack_kwargs(_logs)(function=function, job_id=job_id, since=since, follow=follow, **kwargs)


def _logs(
    options: Any, out: Any, function: str, job_id: str | None, since: str, follow: bool, **_: Any
) -> None:
    from ..dayops import logs as cwlogs
    from ..names import StackNames

    seconds = cwlogs.parse_since(since)
    cwlogs.check_job_id(job_id)
    stack = _open(options)
    group = StackNames.log_group(cwlogs.function_name(stack, function))
    client = stack.clients("logs")
    start_ms = int((time.time() - seconds) * 1000)

    def show(event: dict[str, Any]) -> None:
        line = cwlogs.readable(event)
        if out.json_mode and follow:
            print(json.dumps(line, default=str, ensure_ascii=False), flush=True)  # one JSON document a line
            return
        level = line["level"]
        out.line(
            (line["time"], "dim"),
            " ",
            (f"{level:<5}", "red" if level == "ERROR" else "cyan" if level else ""),
            " ",
            (str(line["jobId"] or "-"), "bold"),
            " ",
            line["message"],
        )
        if follow:
            sys.stdout.flush()  # a pipe (`| grep`) sees each line as it comes

    if follow:
        now_ms = lambda: int(time.time() * 1000)  # noqa: E731
        for event in cwlogs.follow(
            client, group, start_ms=start_ms, job_id=job_id, pacer=options.pacer, now_ms=now_ms
        ):
            show(event)
        return
    events = cwlogs.fetch(client, group, start_ms=start_ms, job_id=job_id)
    for event in events:
        show(event)
    out.document(
        {
            "command": "logs",
            "logGroup": group,
            "jobId": job_id,
            "events": [cwlogs.readable(e) for e in events],
        }
    )
    if not events and not out.json_mode:
        out.info(
            f"no log lines in {group} since {since} ago" + (f" for job {job_id}" if job_id else ""), "dim"
        )


def register(group: click.Group) -> None:
    for command in (jobs, dlq, logs):
        group.add_command(command)
