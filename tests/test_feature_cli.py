"""The features' CLI bits: `up --with`, `webhook-secret`, `test-job --batch` input errors.
Against a moto server through the real CLI; bad input is one line on stderr and exit 2."""

from __future__ import annotations

import json

import boto3

from .conftest import run_cli

NAME = "feat-cli"


def test_bad_feature_input_is_one_line_and_exit_2() -> None:
    cases = [
        (("up", "--local", "--name", NAME, "--with", "webhooks,telepathy"), "unknown feature 'telepathy'"),
        (("plan", "--name", NAME, "--without", "telepathy"), "--without: unknown feature 'telepathy'"),
        (("up", "--name", NAME, "--with", "webhooks", "--without", "webhooks"), "both name 'webhooks'"),
        (("status", "--name", NAME, "--cors-origin", "none", "--cors-origin", "http://a.b"), "origins"),
        (("test-job", "--batch", "0"), "--batch must be 1 to 100 jobs"),
        (("test-job", "--batch", "101"), "--batch must be 1 to 100 jobs"),
        (("test-job", "--batch", "2", "--payload", "[{}]"), "holds 1 jobs but --batch asks for 2"),
        (("test-job", "--batch", "2", "--payload", "[1, 2]"), "must be a JSON object"),
        (("test-job", "--batch", "2", "--priority", "high"), "--priority applies to /submit"),
    ]
    for args, message in cases:
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("asyncapi: error: "), (args, result.stderr)
        assert message in lines[0], (args, lines[0])


def test_webhook_secret_prints_the_secret_only_when_webhooks_are_on(moto_server: str) -> None:
    assert run_cli("up", "--endpoint-url", moto_server, "--name", NAME).returncode == 0
    off = run_cli("webhook-secret")
    assert off.returncode == 2 and "has no webhook signing secret" in off.stderr

    on = run_cli("up", "--with", "webhooks", "--json")
    assert on.returncode == 0, on.stderr
    plain = run_cli("webhook-secret")
    as_json = run_cli("webhook-secret", "--json")
    assert plain.returncode == 0 and as_json.returncode == 0, plain.stderr + as_json.stderr
    document = json.loads(as_json.stdout)
    manager = boto3.client("secretsmanager", endpoint_url=moto_server)
    stored = manager.get_secret_value(SecretId=f"asyncapi/{NAME}/webhook-signing-secret")
    assert plain.stdout.strip() == document["secret"] == stored["SecretString"]
    assert document["arn"] == stored["ARN"]
    assert document["secret"] not in on.stdout  # `up` never shows it

    # A plain `up` keeps the recorded configuration: the secret stays, every receiver's key with it.
    assert run_cli("up").returncode == 0
    assert len(manager.list_secrets()["SecretList"]) == 1
    # Off again (--without): the secret is deleted only once confirmed, and the command says so.
    refused = run_cli("up", "--without", "webhooks")
    assert refused.returncode == 2 and "webhook secret" in refused.stderr, refused.stderr
    assert len(manager.list_secrets()["SecretList"]) == 1
    assert run_cli("up", "--without", "webhooks", "--yes").returncode == 0
    assert manager.list_secrets()["SecretList"] == []
    assert run_cli("webhook-secret").returncode == 2
    assert run_cli("down", "--yes").returncode == 0
