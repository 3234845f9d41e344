"""The state file is the stack: the recorded configuration, confirmed deletions, teardown from the record.

Through the real CLI, against a moto server (and the embedded AWS in test_lifecycle_embedded.py): a
flagged `up` is recorded, so a plain `up` changes nothing, `status --exit-code` exits 0 and `plan`
proposes nothing; `--without` deletes a feature's secret only once confirmed; `down` (with or without
the state file) leaves nothing with the stack's name in any service.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from .conftest import run_cli

NAME = "rec-stack"
EVERYTHING = (
    "--with",
    "webhooks,priorities,batches,scheduling,websocket",
    "--auth",
    "api-key",
    "--cors-origin",
    "https://app.example.com",
    "--throttle-rate",
    "2",
    "--throttle-burst",
    "4",
)
WEBHOOK_KEYS = {
    "webhooks_dlq",
    "webhooks_queue",
    "webhook_secret",
    "webhook_role",
    "webhook_logs",
    "webhook_fn",
    "webhook_mapping",
    "alarm_webhooks_dlq",  # the feature's own alarm
}


def named(name: str, endpoint: str) -> dict[str, list[str]]:
    """Everything with the stack's name, service by service: every listing the stack's kinds appear in."""

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")

    apigw, v2, lam, logs = client("apigateway"), client("apigatewayv2"), client("lambda"), client("logs")
    scheduler = client("scheduler")
    groups = [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]]
    found = {
        "queues": client("sqs").list_queues().get("QueueUrls", []),
        "buckets": [b["Name"] for b in client("s3").list_buckets()["Buckets"]],
        "tables": client("dynamodb").list_tables()["TableNames"],
        "roles": [r["RoleName"] for r in client("iam").list_roles()["Roles"]],
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"]],
        "mappings": [m["FunctionArn"] for m in lam.list_event_source_mappings()["EventSourceMappings"]],
        "log_groups": [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]],
        "rest_apis": [a["name"] for a in apigw.get_rest_apis()["items"]],
        "api_keys": [k["name"] for k in apigw.get_api_keys()["items"]],
        "usage_plans": [p["name"] for p in apigw.get_usage_plans()["items"]],
        "websocket_apis": [a["Name"] for a in v2.get_apis()["Items"]],
        "secrets": [s["Name"] for s in client("secretsmanager").list_secrets()["SecretList"]],
        "schedule_groups": groups,
        "schedules": [s["Name"] for s in scheduler.list_schedules()["Schedules"]],
        "topics": [t["TopicArn"] for t in client("sns").list_topics()["Topics"]],
        "subscriptions": [s["TopicArn"] for s in client("sns").list_subscriptions()["Subscriptions"]],
        "alarms": [a["AlarmName"] for a in client("cloudwatch").describe_alarms()["MetricAlarms"]],
        "dashboards": [
            d["DashboardName"] for d in client("cloudwatch").list_dashboards()["DashboardEntries"]
        ],
    }
    return {kind: [n for n in names if name in n] for kind, names in found.items()}


def _mutating(result: Any) -> int:
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["aws_calls"]["mutating"])


def _changes(result: Any) -> list[tuple[str, str]]:
    assert result.returncode == 0, result.stderr
    return [
        (r["key"], r["action"]) for r in json.loads(result.stdout)["resources"] if r["action"] != "exists"
    ]


# Strict: once the preflights converge, this passes and the marker must go.
def test_every_feature_and_option_is_recorded_and_down_leaves_nothing(moto_server: str) -> None:
    flagged = run_cli("up", "--endpoint-url", moto_server, "--name", NAME, *EVERYTHING, "--json")
    assert _mutating(flagged) > 100
    inventory = named(NAME, moto_server)
    assert all(inventory[kind] for kind in ("api_keys", "usage_plans", "websocket_apis", "schedule_groups"))
    assert all(inventory[kind] for kind in ("topics", "alarms", "dashboards"))  # alarms are on by default
    assert inventory["secrets"] == [f"asyncapi/{NAME}/webhook-signing-secret"]

    # Without flags: the recorded configuration, so nothing to do.
    assert _mutating(run_cli("up", "--json")) == 0
    status = run_cli("status", "--exit-code", "--json")
    assert status.returncode == 0, status.stdout[-2000:] + status.stderr
    recorded = json.loads(status.stdout)["recorded_configuration"]
    assert recorded["features"] == ["batches", "priorities", "scheduling", "webhooks", "websocket"]
    assert (recorded["auth"], recorded["cors_origins"]) == ("api-key", ["https://app.example.com"])
    assert (recorded["throttle_rate"], recorded["throttle_burst"]) == (2.0, 4)
    text = run_cli("status")
    assert "configuration: features batches, priorities, scheduling, webhooks, websocket; auth api-key" in (
        text.stdout
    )
    assert _changes(run_cli("plan", "--json")) == []

    assert run_cli("down", "--yes").returncode == 0
    assert named(NAME, moto_server) == {kind: [] for kind in inventory}
    assert not Path(f".asyncapi/{NAME}.json").exists()


def test_down_by_name_without_the_state_file_finds_every_kind(moto_server: str) -> None:
    assert run_cli("up", "--endpoint-url", moto_server, "--name", NAME, *EVERYTHING).returncode == 0
    Path(f".asyncapi/{NAME}.json").unlink()
    gone = run_cli("down", "--endpoint-url", moto_server, "--name", NAME, "--yes")
    assert gone.returncode == 0, gone.stderr
    assert named(NAME, moto_server) == {kind: [] for kind in named(NAME, moto_server)}


def test_turning_webhooks_off_refuses_without_yes_then_deletes_exactly_the_feature(moto_server: str) -> None:
    up = run_cli("up", "--endpoint-url", moto_server, "--name", NAME, "--with", "webhooks,batches", "--json")
    assert up.returncode == 0, up.stderr
    before = set(json.loads(Path(f".asyncapi/{NAME}.json").read_text())["resources"])
    assert before >= WEBHOOK_KEYS
    secrets = boto3.client("secretsmanager", endpoint_url=moto_server, region_name="us-east-1")

    planned = run_cli("plan", "--without", "webhooks", "--json")
    deletions = {
        r["key"]: r.get("deletes") for r in json.loads(planned.stdout)["resources"] if r["action"] == "delete"
    }
    assert set(deletions) == WEBHOOK_KEYS
    assert "webhook secret" in str(deletions["webhook_secret"])  # marked: a credential goes

    refused = run_cli("up", "--without", "webhooks")  # stdin is not a terminal
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert f"webhook secret asyncapi/{NAME}/webhook-signing-secret" in line and "--yes" in line
    assert len(secrets.list_secrets()["SecretList"]) == 1  # refused before any change
    assert set(json.loads(Path(f".asyncapi/{NAME}.json").read_text())["resources"]) == before

    confirmed = run_cli("up", "--without", "webhooks", "--yes", "--json")
    deleted = {key for key, action in _changes(confirmed) if action in ("deleted", "absent")}
    assert deleted == WEBHOOK_KEYS
    after = json.loads(Path(f".asyncapi/{NAME}.json").read_text())
    assert set(after["resources"]) == before - WEBHOOK_KEYS
    assert secrets.list_secrets()["SecretList"] == []
    # Recorded: a plain `up` keeps webhooks off (and batches on).
    again = run_cli("up", "--json")
    assert _mutating(again) == 0, [r for r in json.loads(again.stdout)["resources"] if r["changes"]]
    assert after["configuration"]["values"]["feature:batches"] is True
    assert run_cli("down", "--yes").returncode == 0


def test_the_file_and_flags_override_the_record_in_that_order(moto_server: str) -> None:
    assert (
        run_cli("up", "--endpoint-url", moto_server, "--name", NAME, "--throttle-rate", "7").returncode == 0
    )
    Path("asyncapi.toml").write_text("[api]\nthrottle_rate = 9\n")
    planned = run_cli("plan", "--json")
    changes = [c for r in json.loads(planned.stdout)["resources"] for c in r["changes"]]
    assert any(c["desired"] and "9.0" in json.dumps(c["desired"]) for c in changes), changes
    flag_wins = run_cli("plan", "--throttle-rate", "7", "--json")
    assert _changes(flag_wins) == []
    # The file's value, once applied, is recorded as the file's: removing it from the file drops it.
    assert run_cli("up").returncode == 0
    Path("asyncapi.toml").write_text("")
    state = json.loads(Path(f".asyncapi/{NAME}.json").read_text())
    assert state["configuration"]["sources"]["throttle_rate_limit"] == "file"
    back = run_cli("status", "--json")
    assert json.loads(back.stdout)["configuration"]["throttle_rate"] == 50.0  # the default again
    assert run_cli("down", "--yes").returncode == 0


def test_a_state_file_without_a_recorded_configuration_keeps_its_features(moto_server: str) -> None:
    """A state written before the configuration was recorded: its settings record says what was on."""
    assert run_cli("up", "--endpoint-url", moto_server, "--name", NAME, "--with", "webhooks").returncode == 0
    path = Path(f".asyncapi/{NAME}.json")
    old = json.loads(path.read_text())
    del old["configuration"]
    path.write_text(json.dumps(old))
    assert _mutating(run_cli("up", "--json")) == 0
    assert run_cli("down", "--yes").returncode == 0
    assert named(NAME, moto_server)["secrets"] == []


def _gateway_origins(endpoint: str) -> set[str]:
    apigw = boto3.client("apigateway", endpoint_url=endpoint, region_name="us-east-1")
    (api,) = [a for a in apigw.get_rest_apis()["items"] if a["name"] == f"{NAME}-api"]
    return {
        value
        for item in apigw.get_gateway_responses(restApiId=api["id"])["items"]
        for header, value in (item.get("responseParameters") or {}).items()
        if header.endswith("Access-Control-Allow-Origin")
    }


def test_turning_cors_and_auth_off_deletes_exactly_what_they_created(moto_server: str) -> None:
    origin = "https://old.example.com"
    on = run_cli(
        "up", "--endpoint-url", moto_server, "--name", NAME, "--auth", "api-key", "--cors-origin", origin
    )
    assert on.returncode == 0, on.stderr
    assert _gateway_origins(moto_server) == {f"'{origin}'"}
    keys = set(json.loads(Path(f".asyncapi/{NAME}.json").read_text())["resources"])

    # CORS off: its gateway responses go (API Gateway's defaults again), nothing else does.
    off = run_cli("up", "--cors-origin", "none", "--json")
    assert {key for key, action in _changes(off) if action in ("deleted", "absent")} == {"gateway_responses"}
    assert _gateway_origins(moto_server) == set()
    assert _mutating(run_cli("up", "--json")) == 0

    # Auth off: the API key is a credential, so it is confirmed first; then the key and the plan go.
    refused = run_cli("up", "--auth", "none")
    assert refused.returncode == 2 and f"API key {NAME}-key" in refused.stderr, refused.stderr
    confirmed = run_cli("up", "--auth", "none", "--yes", "--json")
    gone = {key for key, action in _changes(confirmed) if action in ("deleted", "absent")}
    assert gone == {"api_key", "usage_plan"}
    left = set(json.loads(Path(f".asyncapi/{NAME}.json").read_text())["resources"])
    assert left == keys - {"gateway_responses", "api_key", "usage_plan"}
    assert named(NAME, moto_server)["api_keys"] == named(NAME, moto_server)["usage_plans"] == []
    assert _mutating(run_cli("up", "--json")) == 0
    assert run_cli("status", "--exit-code").returncode == 0
    assert run_cli("down", "--yes").returncode == 0


def test_down_deletes_records_the_code_builds_no_unit_for_from_their_recorded_kind(moto_server: str) -> None:
    """A state written by another asyncapi version may record a resource this code no longer builds:
    `down` deletes it from its recorded kind and ids; one of a kind it does not know is left, said
    (exit 2), and kept in the state file, while everything else goes."""
    assert run_cli("up", "--endpoint-url", moto_server, "--name", NAME).returncode == 0
    path = Path(f".asyncapi/{NAME}.json")
    state = json.loads(path.read_text())
    assert set(state["graph"]) == set(state["resources"])  # each record's kind, name and dependencies
    assert state["graph"]["mapping"]["depends_on"] == ["main_queue", "processor_fn"]
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    legacy = f"{NAME}-legacy"
    url = sqs.create_queue(QueueName=legacy)["QueueUrl"]
    state["resources"]["legacy_queue"] = {"name": legacy, "url": url}
    state["graph"]["legacy_queue"] = {"kind": "sqs-queue", "name": legacy, "depends_on": ["dlq"]}
    state["resources"]["gadget"] = {"id": "g-1"}
    state["graph"]["gadget"] = {"kind": "future-gadget", "name": "gadget", "depends_on": []}
    path.write_text(json.dumps(state))

    down = run_cli("down", "--yes")
    assert down.returncode == 2
    (line,) = down.stderr.strip().splitlines()
    assert "left gadget" in line and str(path) in line
    assert named(NAME, moto_server)["queues"] == []  # the legacy queue too
    assert set(json.loads(path.read_text())["resources"]) == {"gadget"}


def test_a_table_is_confirmed_only_when_it_holds_items(moto_server: str) -> None:
    """Data, unlike a credential, is asked about only where there is some (risks.py)."""
    assert run_cli("up", "--endpoint-url", moto_server, "--name", NAME, "--with", "websocket").returncode == 0
    empty = json.loads(run_cli("plan", "--without", "websocket", "--json").stdout)
    assert not [r for r in empty["resources"] if r.get("deletes")]
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_server, region_name="us-east-1")
    table = f"{NAME}-connections"
    key = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"][0]["AttributeName"]
    dynamodb.put_item(TableName=table, Item={key: {"S": "someone"}})
    marked = json.loads(run_cli("plan", "--without", "websocket", "--json").stdout)
    assert [r["key"] for r in marked["resources"] if r.get("deletes")] == ["connections_table"]
    refused = run_cli("up", "--without", "websocket")
    assert refused.returncode == 2 and f"the table {table} and its items" in refused.stderr, refused.stderr
    assert table in dynamodb.list_tables()["TableNames"]
    assert run_cli("up", "--without", "websocket", "--yes").returncode == 0
    assert table not in dynamodb.list_tables()["TableNames"]
    assert run_cli("down", "--yes").returncode == 0
