"""The stack's lifecycle: up, plan, status and down (the library behind them is ops.py)."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import click

from ..errors import EXIT_DRIFT, InputError
from ..options import configuration_options, stack_kwargs, stack_options


def _print_stack(out: Any, stack: Any, outcomes: list[Any], command: str) -> None:
    from ..ops import summary

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
        from ..clients.jobs import submit_example

        out.raw(submit_example(str(url), stack.state.name, "api_key" in stack.state.resources))
        out.line(("Then: ", "bold"), "asyncapi test-job")
        if dashboard := stack.state.outputs.get("dashboard_url"):
            out.line(("Dashboard: ", "bold"), str(dashboard))
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


def confirm_deletions(yes: bool, command: str) -> Any:
    """For ops.up: what `up` does when its change would delete data or a credential. --yes goes on;
    a terminal asks; anything else refuses (exit 2) naming what would be deleted, before any change."""

    def confirm(deleting: list[str]) -> None:
        if yes or not deleting:
            return
        listed = "; ".join(deleting)
        if not sys.stdin.isatty():
            raise InputError(
                f"{command} would delete {listed}; pass --yes to confirm when not interactive "
                "(or keep it: --with turns a feature back on)"
            )
        click.confirm(f"{command} will delete {listed}. Go on?", abort=True, err=True)

    return confirm


@click.command()
@stack_options
@configuration_options
@click.option("--dry-run", is_flag=True, help="Show what would change (same as 'asyncapi plan').")
@click.option(
    "--yes", "-y", is_flag=True, help="Do not ask before deleting data or a credential (a secret, API keys)."
)
@stack_kwargs
def up(options: Any, out: Any, dry_run: bool, yes: bool, **_: Any) -> None:
    """Provision (or converge) every resource of the stack. Safe to rerun; resumes after a crash.

    Without flags, the stack keeps the configuration the last 'up' recorded (features, auth, CORS,
    throttling, settings); flags, then asyncapi.toml, override it."""
    from .. import ops

    if dry_run:
        return _plan(options, out)
    stack = ops.open_stack(options, creating=True, start_local=True, look_for_owner=True)
    target = stack.state.target
    if target.kind == "local":
        from ..local import manager

        info = manager.running_info() or {}
        out.line(
            ("embedded local AWS", "bold"),
            f": endpoint {info.get('endpoint')}, gateway {info.get('gateway')}, log {info.get('log')}",
        )
        from ..lambda_interpreters import interpreter_warning

        if python_warning := interpreter_warning(stack.ctx.settings.runtime):  # no such Python here
            out.raw(f"warning: {python_warning}")
    out.line(
        ("asyncapi up ", "bold"),
        f"{stack.state.name} -> {target.kind} {target.region} {stack.clients.target.endpoint_url or ''}",
    )
    outcomes = ops.up(stack, out, confirm=confirm_deletions(yes, "up"))
    _print_stack(out, stack, outcomes, "up")
    from ..secure_api import account_logging_note

    note = account_logging_note(outcomes)  # an account-wide setting changed: say so
    if note:
        out.raw(note)


def _plan(options: Any, out: Any) -> None:
    from .. import ops

    stack = ops.open_stack(options, creating=True, start_local=False)
    outcomes = ops.plan(stack)
    data = ops.summary(stack) | {"command": "plan", "resources": [o.to_json() for o in outcomes]}
    out.document(data)
    out.plan_table(outcomes)
    _print_code_and_settings(out, data)


@click.command()
@stack_options
@configuration_options
@stack_kwargs
def plan(options: Any, out: Any, **_: Any) -> None:
    """Show what 'up' would do per resource (create / exists / update / delete), changing nothing.

    Takes up's configuration flags; a deletion of data or a credential is marked."""
    _plan(options, out)


def _url_status(url: str, out: Any) -> None:
    """`status --url`: does the API answer GET /status/{jobId} as an asyncapi stack does? Reads only."""
    from ..clients.url_api import api_base, check_probe, probe_status, use_api_key

    base = api_base(url)
    use_api_key()
    answer, seconds = probe_status(base)
    out.document(
        {"command": "status", "url": base, "status_probe": {"http": answer.status, "seconds": seconds}}
    )
    check_probe(base, answer)
    out.info(
        f"API {base}: GET /status answers ({seconds:.3f} s); submit with 'asyncapi test-job --url {base}'"
    )


@click.command()
@stack_options
@configuration_options
@click.option(
    "--exit-code",
    "detailed_exit_code",
    is_flag=True,
    help=f"Exit {EXIT_DRIFT} when something drifted, 0 when nothing did (errors keep their own codes).",
)
@click.option("--url", help="Probe a deployed API by URL instead (no state file; reads only).")
@stack_kwargs
def status(options: Any, out: Any, detailed_exit_code: bool, url: str | None = None, **_: Any) -> None:
    """Show the stack's recorded configuration, its resources, what drifted, and live queue figures."""
    if url is not None:
        return _url_status(url, out)
    from .. import configuration, ops
    from ..dayops.alarms import alarm_rows, alarm_states, recorded_alarm_names
    from ..dayops.live import brief_change, figure_rows, live_figures

    stack = ops.open_stack(options, creating=False)
    outcomes = ops.plan(stack)
    drifted = [o for o in outcomes if o.action != "exists"]
    figures = live_figures(stack)
    alarm_names = recorded_alarm_names(stack.state)
    alarm_list = alarm_states(stack.clients("cloudwatch"), alarm_names) if alarm_names else []
    recorded = stack.recorded_configuration.describe()
    data = ops.summary(stack) | {
        "command": "status",
        "drifted": bool(drifted),
        "recorded_configuration": recorded,
        "resources": [o.to_json() for o in outcomes],
        "live": figures,
        "alarms": alarm_list,
    }
    out.document(data)
    out.raw(configuration.summary_line(recorded))
    _print_code_and_settings(out, data)
    labels = {"create": "missing", "update": "drifted", "exists": "ok", "delete": "not wanted"}
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
    if alarm_list:
        out.table("Alarms", ["alarm", "state", "since"], alarm_rows(alarm_list, reasons=False))
    out.info(f"Endpoint: {stack.state.outputs.get('api_url')}")
    if drifted:
        out.info("Drift found: 'asyncapi up' repairs it.", "yellow")
    else:
        out.info("No drift.", "green")
    if detailed_exit_code and drifted:
        sys.exit(EXIT_DRIFT)


@click.command()
@stack_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@stack_kwargs
def down(options: Any, out: Any, yes: bool, **_: Any) -> None:
    """Delete every resource the state file records (reverse order), then the state file. Resumable.

    Without a state file, --name finds every kind of resource the stack can have by its name."""
    from .. import ops

    gone = ops.forget_local_stack(options)
    if gone is not None:
        out.info(
            f"The embedded local AWS is not running, or restarted, so stack {gone.name} went with it; "
            "state file removed."
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


def register(group: click.Group) -> None:
    for command in (up, plan, status, down):
        group.add_command(command)
