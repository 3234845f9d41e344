"""`[alarms] notify` URLs through the real CLI against a moto server: a URL's path can hold a credential
(an incident tool's integration key), so the state file and every output hold only its recorded form,
`https://host/… (sha256:<12 hex>)`. A run without asyncapi.toml keeps the recorded subscriptions as they
are; one deleted behind the tool's back cannot be subscribed again from a digest (one line, exit 2);
a file that no longer names it unsubscribes it; an old state file's full URLs are re-recorded as digests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from asyncapi_cli.notify_endpoints import endpoint_digest

from .conftest import run_cli

NAME = "notify-digest"
SECRET = "R0ut1ngK3yS3cr3t"
HOOK = f"https://events.pagerduty.example/integration/{SECRET}/enqueue"
OTHER = "https://hooks.example.com/services/T0/B0/another-secret"
EMAIL = "email:ops@example.com"
STATE = Path(f".asyncapi/{NAME}.json")


def _notify(*endpoints: str) -> None:
    Path("asyncapi.toml").write_text(f"[alarms]\nnotify = {json.dumps(list(endpoints))}\n", encoding="utf-8")


def _ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return result.stdout + result.stderr


def _json(*args: str) -> dict[str, Any]:
    result = run_cli(*args, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    return dict(json.loads(result.stdout))


def _assert_no_secret(*texts: str) -> None:
    for text in (*texts, STATE.read_text(encoding="utf-8")):
        assert SECRET not in text and "/integration/" not in text and "another-secret" not in text


def _subscriptions(endpoint: str) -> list[dict[str, Any]]:
    sns = boto3.client("sns", endpoint_url=endpoint, region_name="us-east-1")
    return list(sns.list_subscriptions()["Subscriptions"])


def _up_deployed(moto_server: str) -> dict[str, Any]:
    _notify(HOOK, EMAIL)
    return _json("up", "--endpoint-url", moto_server, "--name", NAME)


def test_the_state_and_every_output_hold_only_the_digest(moto_server: str) -> None:
    up = _up_deployed(moto_server)
    shown = f"https://events.pagerduty.example/… (sha256:{endpoint_digest(HOOK)})"
    state = json.loads(STATE.read_text(encoding="utf-8"))
    assert state["configuration"]["values"]["alarm_notify"] == [shown, EMAIL]
    assert state["settings"]["alarm_notify"] == [shown, EMAIL]
    # SNS was given the full URL all the same.
    assert sorted(s["Endpoint"] for s in _subscriptions(moto_server)) == sorted([HOOK, "ops@example.com"])

    rerun = _json("up")
    assert rerun["aws_calls"]["mutating"] == 0 and rerun["settings_changed"] == []
    plan = _json("plan")
    assert [r for r in plan["resources"] if r["action"] != "exists"] == [] and plan["settings_changed"] == []
    status = _json("status")
    assert shown in status["recorded_configuration"]["settings"]["alarm_notify"]
    texts = [json.dumps(d) for d in (up, rerun, plan, status, _json("alarms"))]
    texts += [_ok("up"), _ok("plan"), _ok("status"), _ok("alarms")]
    _assert_no_secret(*texts)

    # A change of the list: its line shows the recorded forms, never a path.
    _notify(HOOK, OTHER)
    changed = _ok("plan")
    assert f"alarm_notify ['{shown}', '{EMAIL}'] -> ['{shown}'," in changed, changed
    _assert_no_secret(changed, _ok("up", "--yes"), json.dumps(_json("status")))
    assert sorted(s["Endpoint"] for s in _subscriptions(moto_server)) == sorted([HOOK, OTHER])


def test_without_the_file_the_recorded_subscriptions_stand_and_a_file_without_notify_removes_them(
    moto_server: str,
) -> None:
    _up_deployed(moto_server)
    Path("asyncapi.toml").unlink()
    kept = _json("up")
    assert kept["aws_calls"]["mutating"] == 0
    assert {r["action"] for r in kept["resources"]} == {"exists"}
    assert [r for r in _json("plan")["resources"] if r["action"] != "exists"] == []
    status = run_cli("status", "--exit-code")
    assert status.returncode == 0, status.stdout + status.stderr
    assert len(_subscriptions(moto_server)) == 2
    _assert_no_secret(json.dumps(kept), status.stdout)

    # A file that exists and no longer names notify: back to the default (none), both unsubscribed.
    Path("asyncapi.toml").write_text("[alarms]\nenabled = true\n", encoding="utf-8")
    removed = _json("up")
    assert sorted(r["action"] for r in removed["resources"] if r["kind"] == "sns-subscription") == [
        "deleted",
        "deleted",
    ]
    assert _subscriptions(moto_server) == []


def test_a_subscription_deleted_behind_the_tools_back_is_named_with_the_fix(moto_server: str) -> None:
    _up_deployed(moto_server)
    Path("asyncapi.toml").unlink()
    sns = boto3.client("sns", endpoint_url=moto_server, region_name="us-east-1")
    [hook] = [s for s in _subscriptions(moto_server) if s["Protocol"] == "https"]
    sns.unsubscribe(SubscriptionArn=hook["SubscriptionArn"])

    status = _json("status")
    missing = [r for r in status["resources"] if r["kind"] == "sns-subscription" and r["action"] != "exists"]
    assert status["drifted"] and [r["action"] for r in missing] == ["create"]

    refused = run_cli("up")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert f"https://events.pagerduty.example/… (sha256:{endpoint_digest(HOOK)})" in line
    assert "[alarms] notify" in line and "Traceback" not in refused.stderr
    _assert_no_secret(refused.stdout, refused.stderr, json.dumps(status))
    assert len(_subscriptions(moto_server)) == 1  # nothing changed

    # Named again, it is subscribed again.
    _notify(HOOK, EMAIL)
    again = _json("up")
    assert [r["action"] for r in again["resources"] if r["action"] != "exists"] == ["created"]
    assert sorted(s["Endpoint"] for s in _subscriptions(moto_server)) == sorted([HOOK, "ops@example.com"])


def test_an_old_state_file_with_full_urls_keeps_working_and_is_rerecorded(moto_server: str) -> None:
    _up_deployed(moto_server)
    # What a state file written before digests holds: the full URL in both records.
    state = json.loads(STATE.read_text(encoding="utf-8"))
    state["configuration"]["values"]["alarm_notify"] = [HOOK, EMAIL]
    state["settings"]["alarm_notify"] = [HOOK, EMAIL]
    STATE.write_text(json.dumps(state), encoding="utf-8")

    plan = _json("plan")  # the file names the same endpoints: nothing changed
    assert plan["settings_changed"] == [] and {r["action"] for r in plan["resources"]} == {"exists"}
    Path("asyncapi.toml").unlink()
    rerun = _json("up")  # the old record's URLs apply: the subscriptions stand
    assert rerun["aws_calls"]["mutating"] == 0 and rerun["settings_changed"] == []
    _assert_no_secret(json.dumps(plan), json.dumps(rerun))  # re-recorded as digests
    assert len(_subscriptions(moto_server)) == 2
