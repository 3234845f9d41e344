"""Alarms through the real CLI against a moto server: `up` creates the topic, the `notify` subscriptions,
the alarms (the features' too) and the dashboard; a rerun changes nothing; `alarms` and `status` show
each alarm's state; an endpoint removed from `notify` is unsubscribed and nothing else changes; `down`,
with the state file or by name without it, leaves none of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from .conftest import run_cli
from .test_lifecycle_record import named

NAME = "alarm-life"
HOOK = "https://hooks.example.com/services/T0/B0/secret-path"
ALARM_KINDS = ("topics", "subscriptions", "alarms", "dashboards")


def _json(result: Any) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr[-2000:]
    return dict(json.loads(result.stdout))


def _notify(*endpoints: str) -> None:
    Path("asyncapi.toml").write_text(f"[alarms]\nnotify = {json.dumps(list(endpoints))}\n", encoding="utf-8")


def test_up_rerun_unsubscribe_and_down_of_every_alarm_kind(moto_server: str) -> None:
    _notify(HOOK, "email:ops@example.com")
    up = _json(
        run_cli(
            "up", "--endpoint-url", moto_server, "--name", NAME, "--with", "webhooks,priorities", "--json"
        )
    )
    created = {(r["kind"], r["action"]) for r in up["resources"]}
    assert {
        ("sns-topic", "created"),
        ("sns-subscription", "created"),
        ("cloudwatch-dashboard", "created"),
    } <= created
    inventory = named(NAME, moto_server)
    assert len(inventory["alarms"]) == 8 and len(inventory["subscriptions"]) == 2
    assert inventory["dashboards"] == [f"{NAME}-dashboard"]
    # The hook's path may hold a credential: output and state show its host only.
    assert "secret-path" not in json.dumps(up["resources"])
    assert "secret-path" not in json.dumps(
        json.loads(Path(f".asyncapi/{NAME}.json").read_text())["resources"]
    )
    # No dashboard URL off AWS (no console there).
    assert up["outputs"].get("dashboard_url") is None

    rerun = _json(run_cli("up", "--json"))
    assert rerun["aws_calls"]["mutating"] == 0
    assert [r for r in _json(run_cli("plan", "--json"))["resources"] if r["action"] != "exists"] == []

    listed = _json(run_cli("alarms", "--json"))
    assert sorted(a["name"] for a in listed["alarms"]) == sorted(inventory["alarms"])
    cloudwatch = boto3.client("cloudwatch", endpoint_url=moto_server, region_name="us-east-1")
    cloudwatch.set_alarm_state(
        AlarmName=f"{NAME}-dlq-messages", StateValue="ALARM", StateReason="1 dead letter"
    )
    shown = {a["name"]: a for a in _json(run_cli("status", "--json"))["alarms"]}
    assert (shown[f"{NAME}-dlq-messages"]["state"], shown[f"{NAME}-dlq-messages"]["reason"]) == (
        "ALARM",
        "1 dead letter",
    )
    text = run_cli("alarms")
    assert f"In alarm: {NAME}-dlq-messages" in text.stdout

    _notify("email:ops@example.com")
    changed = [
        (r["kind"], r["action"])
        for r in _json(run_cli("up", "--json"))["resources"]
        if r["action"] != "exists"
    ]
    assert changed == [("sns-subscription", "deleted")]
    assert len(named(NAME, moto_server)["subscriptions"]) == 1

    assert run_cli("down", "--yes").returncode == 0
    left = named(NAME, moto_server)
    assert {kind: left[kind] for kind in ALARM_KINDS} == dict.fromkeys(ALARM_KINDS, [])


def test_down_by_name_without_the_state_finds_topic_alarms_and_dashboard(moto_server: str) -> None:
    _notify("email:ops@example.com")
    assert (
        run_cli("up", "--endpoint-url", moto_server, "--name", NAME, "--with", "priorities").returncode == 0
    )
    Path(f".asyncapi/{NAME}.json").unlink()
    Path("asyncapi.toml").unlink()  # nothing left to say what was deployed
    gone = run_cli("down", "--endpoint-url", moto_server, "--name", NAME, "--yes")
    assert gone.returncode == 0, gone.stderr
    left = named(NAME, moto_server)
    assert {kind: left[kind] for kind in ALARM_KINDS} == dict.fromkeys(ALARM_KINDS, [])


def test_alarms_of_a_stack_without_them_say_so(moto_server: str) -> None:
    Path("asyncapi.toml").write_text("[alarms]\nenabled = false\n", encoding="utf-8")
    up = _json(run_cli("up", "--endpoint-url", moto_server, "--name", NAME, "--json"))
    assert not {r["kind"] for r in up["resources"]} & {
        "sns-topic",
        "cloudwatch-alarm",
        "cloudwatch-dashboard",
    }
    listed = run_cli("alarms")
    assert listed.returncode == 0 and "No alarms recorded" in listed.stdout
