"""`[alarms] notify` in its recorded form: what the state keeps of a URL that can hold a credential, how
a subscription known only by that digest is found (in-process moto), and when the record applies."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from asyncapi_cli import alarms, configuration, ops
from asyncapi_cli.alarms import subscription_key
from asyncapi_cli.config import LoadedConfig
from asyncapi_cli.engine import SilentReporter
from asyncapi_cli.errors import InputError
from asyncapi_cli.notify_endpoints import digest_only, endpoint_digest, notify_problem, recorded_form

from .conftest import ACCOUNT, deploy, stack_options

NAME = "notify-units"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:{NAME}-alarms"
# Two endpoints on one host: only the digest tells them apart.
HOOK = "https://events.pagerduty.example/integration/first-key/enqueue"
SAME_HOST = "https://events.pagerduty.example/integration/second-key/enqueue"


def test_the_recorded_form_keeps_scheme_host_and_the_unit_keys_digest() -> None:
    shown = recorded_form(HOOK)
    digest = endpoint_digest(HOOK)
    assert shown == f"https://events.pagerduty.example/… (sha256:{digest})"
    assert recorded_form(shown) == shown and digest_only(shown) == ("https", digest)
    assert subscription_key(HOOK) == subscription_key(shown) == f"alarm_notify_{digest}"
    assert recorded_form(SAME_HOST) != shown
    # Email addresses are kept as they are (not a credential; SNS needs them to subscribe again).
    assert recorded_form("email:ops@example.com") == "email:ops@example.com"
    assert digest_only("email:ops@example.com") is None and digest_only(HOOK) is None
    # The recorded form is not a valid entry of asyncapi.toml: a digest never reaches Subscribe.
    assert notify_problem([shown]) is not None


def test_the_record_applies_only_without_a_file() -> None:
    recorded = configuration.Configuration({"alarm_notify": [recorded_form(HOOK)]}, {"alarm_notify": "file"})
    none = configuration.Configuration()
    no_file = configuration.from_file(LoadedConfig())
    assert configuration.resolve(recorded, no_file, none).values == {"alarm_notify": [recorded_form(HOOK)]}
    empty_file = configuration.from_file(LoadedConfig(path=Path("asyncapi.toml")))
    assert configuration.resolve(recorded, empty_file, none).values == {}
    # The full URL from the file is what converges, but never what is recorded or described.
    given = configuration.from_file(LoadedConfig(overrides={"alarm_notify": (HOOK,)}))
    resolved = configuration.resolve(recorded, given, none)
    assert resolved.settings(local=False).alarm_notify == (HOOK,)
    assert "first-key" not in json.dumps([resolved.to_json(), resolved.describe()])


def test_a_digest_finds_its_own_subscription_and_never_subscribes_again(mocked_aws: None) -> None:
    deploy(NAME, overrides={"alarm_notify": (HOOK, SAME_HOST)})
    # A later run given no list: the record's digests apply.
    again = ops.open_stack(stack_options(NAME), creating=False)
    assert again.ctx.settings.alarm_notify == (recorded_form(HOOK), recorded_form(SAME_HOST))
    outcomes = ops.up(again, SilentReporter())
    assert {o.action for o in outcomes} == {"exists"}
    sns = boto3.client("sns", region_name="us-east-1")
    listed = {
        s["Endpoint"]: s["SubscriptionArn"]
        for s in sns.list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"]
    }
    for endpoint in (HOOK, SAME_HOST):  # each digest found its own endpoint's ARN
        assert again.state.resources[subscription_key(endpoint)]["arn"] == listed[endpoint]

    sns.unsubscribe(SubscriptionArn=listed[HOOK])
    gone = ops.open_stack(stack_options(NAME), creating=False)
    planned = {o.key: o.action for o in ops.plan(gone)}
    assert planned[subscription_key(HOOK)] == "create" and planned[subscription_key(SAME_HOST)] == "exists"
    with pytest.raises(InputError, match=r"events\.pagerduty\.example/… \(sha256:[0-9a-f]{12}\) is gone"):
        ops.up(gone, SilentReporter())
    # The engine's own guard, were the check before any change skipped: create refuses, calls nothing.
    [unit] = [u for u in alarms.units(gone.ctx) if u.key == subscription_key(HOOK)]
    with pytest.raises(InputError, match=r"known only by its digest; name the endpoint again"):
        unit.create(gone.ctx)
    assert [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"]] == [
        SAME_HOST
    ]
