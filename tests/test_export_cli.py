"""`asyncapi export cloudformation`: what it writes (template, the zip `up` deploys), without any AWS
call, for the configuration `up` would deploy (flags, asyncapi.toml, a state file's features); the
template passes cfn-lint (no errors and no warnings) for the base stack and with every feature."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from asyncapi_cli.export.cloudformation import export_stack
from asyncapi_cli.names import StackSettings
from asyncapi_cli.state import StackState, StateStore, Target

from .conftest import run_cli

EVERY_FEATURE = "webhooks,priorities,batches,scheduling,websocket"
# No AWS: a dead endpoint and no credentials; an export that called AWS would fail.
OFFLINE = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}


def _export(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "out"
    result = run_cli(
        "export", "cloudformation", "--output-dir", str(out), *args, env={"HOME": str(tmp_path), **OFFLINE}
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize(
    "flags",
    [
        (),
        ("--with", EVERY_FEATURE),
        ("--with", EVERY_FEATURE, "--auth", "api-key", "--cors-origin", "https://a.example"),
    ],
    ids=["base", "every-feature", "every-feature-auth-cors"],
)
def test_cfn_lint_finds_nothing(tmp_path: Path, flags: tuple[str, ...]) -> None:
    out = _export(tmp_path, "--name", "lint-me", *flags)
    text = (out / "template.yaml").read_text()
    matches = lint(text, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [f"{m.rule.id} {m.message} ({m.path})" for m in matches] == []


def test_the_package_is_the_zip_up_deploys_and_names_derive_from_project_name(tmp_path: Path) -> None:
    out = _export(tmp_path, "--name", "pkg-check", "--format", "json")
    template = json.loads((out / "template.json").read_text())
    assert template["Parameters"]["ProjectName"]["Default"] == "pkg-check"
    # No resource name is a literal: each is an Fn::Sub of ProjectName.
    text = json.dumps(template["Resources"])
    assert "pkg-check" not in text
    assert (out / "function.zip").read_bytes() == export_stack("pkg-check", StackSettings()).code_zip
    with zipfile.ZipFile(out / "function.zip") as bundle:
        assert {"job_processor.py", "status_checker.py", "dead_letter_recorder.py"} <= set(bundle.namelist())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            assert resource["Properties"]["Code"] == {
                "S3Bucket": {"Ref": "CodeS3Bucket"},
                "S3Key": {"Ref": "CodeS3Key"},
            }


def test_settings_come_from_asyncapi_toml_and_a_state_files_features(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".asyncapi").mkdir(parents=True)
    (project / "asyncapi.toml").write_text(
        '[stack]\nname = "from-toml"\n[api]\nthrottle_rate = 7.5\nthrottle_burst = 15\n'
        "[features]\nbatches = true\n"
    )
    # What a stack deployed with webhooks records (the state's own writer).
    state = StackState(name="from-toml", target=Target(kind="aws", region="us-east-1"))
    state.settings = {"features": ["webhooks"]}
    StateStore(project / ".asyncapi" / "from-toml.json", state).save()
    out = project / "cfn"
    result = run_cli(
        "export",
        "cloudformation",
        "--config",
        str(project / "asyncapi.toml"),
        "--state",
        str(project / ".asyncapi" / "from-toml.json"),
        "--output-dir",
        str(out),
        env={"HOME": str(tmp_path), **OFFLINE},
    )
    assert result.returncode == 0, result.stderr
    template = yaml.safe_load((out / "template.yaml").read_text())
    assert template["Parameters"]["ProjectName"]["Default"] == "from-toml"
    assert template["Parameters"]["ThrottleRateLimit"]["Default"] == 7.5
    assert template["Parameters"]["ThrottleBurstLimit"]["Default"] == 15
    types = {logical: resource["Type"] for logical, resource in template["Resources"].items()}
    assert "BatchesPermission" in types  # asyncapi.toml's feature
    assert types.get("WebhookFn") == "AWS::Lambda::Function"  # the state's deployed feature
    assert "WebSocketUrl" not in template["Outputs"]


def test_the_recorded_configuration_is_exported_as_up_would_deploy_it(tmp_path: Path) -> None:
    # A stack whose last `up` recorded api-key auth, a throttle and a log retention (configuration.py's own
    # record): a plain export is that stack, as a plain `up` would converge it; a flag still wins.
    project = tmp_path / "project"
    (project / ".asyncapi").mkdir(parents=True)
    state = StackState(name="recorded", target=Target(kind="aws", region="us-east-1"))
    state.configuration = {
        "values": {
            "auth": "api-key",
            "throttle_rate_limit": 3.0,
            "log_retention_days": 30,
            "feature:batches": True,
        },
        "sources": {"auth": "flag", "throttle_rate_limit": "flag", "log_retention_days": "file"},
    }
    StateStore(project / ".asyncapi" / "recorded.json", state).save()
    base = ["export", "cloudformation", "--state", str(project / ".asyncapi" / "recorded.json")]

    def exported(*flags: str) -> dict[str, Any]:
        out = project / f"cfn{len(flags)}"
        result = run_cli(*base, "--output-dir", str(out), *flags, env={"HOME": str(tmp_path), **OFFLINE})
        assert result.returncode == 0, result.stderr
        return yaml.safe_load((out / "template.yaml").read_text())  # type: ignore[no-any-return]

    template = exported()
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert "AWS::ApiGateway::ApiKey" in types and "ApiKeyId" in template["Outputs"]
    assert template["Parameters"]["ThrottleRateLimit"]["Default"] == 3.0
    # The file set the retention, and no asyncapi.toml sets it now: back to the default, as for `up`.
    assert template["Parameters"]["LogRetentionDays"]["Default"] == 14
    assert "BatchesThrottleRateLimit" in template["Parameters"]  # the recorded feature
    overridden = exported("--auth", "none")
    assert "AWS::ApiGateway::ApiKey" not in {r["Type"] for r in overridden["Resources"].values()}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--name", "Bad_Name"), "asyncapi: error: invalid name 'Bad_Name'"),
        (("--with", "nope"), "asyncapi: error: --with: unknown feature 'nope'"),
        (("--throttle-rate", "-1"), "asyncapi: error: --throttle-rate"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run_cli(
        "export", "cloudformation", "--output-dir", str(tmp_path / "o"), *args, env={"HOME": str(tmp_path)}
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    assert not (tmp_path / "o").exists()
