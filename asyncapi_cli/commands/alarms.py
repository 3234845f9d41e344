"""`asyncapi alarms`: the stack's CloudWatch alarms with their state and last transition."""

from __future__ import annotations

from typing import Any

import click

from ..options import stack_kwargs, stack_options

STATE_STYLE = {"OK": "green", "ALARM": "red", "INSUFFICIENT_DATA": "yellow", "MISSING": "red"}


@click.command("alarms")
@stack_options
@stack_kwargs
def alarms(options: Any, out: Any, **_: Any) -> None:
    """The stack's alarms: state, when it last changed, and CloudWatch's reason."""
    from .. import ops
    from ..dayops.alarms import alarm_rows, alarm_states, recorded_alarm_names

    stack = ops.open_stack(options, creating=False)
    names = recorded_alarm_names(stack.state)
    states = alarm_states(stack.clients("cloudwatch"), names) if names else []
    topic = (stack.state.resources.get("alarm_topic") or {}).get("arn")
    out.document({"command": "alarms", "name": stack.state.name, "topic": topic, "alarms": states})
    if not states:
        out.info("No alarms recorded for this stack ([alarms] enabled = false, or no 'asyncapi up' yet).")
        return
    out.table(f"Alarms of {stack.state.name}", ["alarm", "state", "since", "reason"], alarm_rows(states))
    firing = [a["name"] for a in states if a["state"] != "OK"]
    if any(a["state"] == "ALARM" for a in states):
        out.info("In alarm: " + ", ".join(a["name"] for a in states if a["state"] == "ALARM"), "red")
    elif firing:
        out.info("Not OK yet: " + ", ".join(firing), "yellow")
    else:
        out.info("Every alarm OK.", "green")


def register(group: click.Group) -> None:
    group.add_command(alarms)
