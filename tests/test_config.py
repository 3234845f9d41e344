"""asyncapi.toml: every value AWS would refuse is refused first (one line: file, key, allowed values; exit 2),
the file's settings reach the stack, command-line options win, and `init` writes three files or none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from asyncapi_cli import config, ops
from asyncapi_cli.cli import main
from asyncapi_cli.names import StackSettings
from asyncapi_cli.scaffold import FILES

from .conftest import run_cli, stack_options

# A closed port on loopback: any AWS call would fail with exit 3 ("endpoint unreachable"), so exit 2
# with the file's message proves the check ran before any call.
NO_AWS = "http://127.0.0.1:9"

# (file contents, what the one line must name: the key as written, and the allowed values)
CASES = [
    # Unknown keys and sections: the closest known one is suggested.
    ("[processor]\nmemroy = 512\n", "unknown key [processor] memroy", "did you mean 'memory'"),
    ("[procesor]\nmemory = 512\n", "unknown section [procesor]", "did you mean 'processor'"),
    ("[features]\nwebhook = true\n", "unknown key [features] webhook", "did you mean 'webhooks'"),
    # Types.
    ('[processor]\nmemory = "512"\n', "[processor] memory = '512'", "an integer from 128 to 10240"),
    ("[processor]\nmemory = true\n", "[processor] memory = true", "an integer from 128 to 10240"),
    ("[processor]\ntimeout = 1.5\n", "[processor] timeout = 1.5", "an integer from 1 to 900"),
    # Lambda quotas (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): 128-10,240 MB, 900 s.
    ("[processor]\nmemory = 64\n", "[processor] memory = 64", "an integer from 128 to 10240"),
    ("[processor]\nmemory = 10241\n", "[processor] memory = 10241", "an integer from 128 to 10240"),
    ("[processor]\ntimeout = 0\n", "[processor] timeout = 0", "an integer from 1 to 900"),
    ("[processor]\ntimeout = 901\n", "[processor] timeout = 901", "an integer from 1 to 900"),
    ("[status]\nmemory = 127\n", "[status] memory = 127", "an integer from 128 to 10240"),
    ("[status]\ntimeout = 1000\n", "[status] timeout = 1000", "an integer from 1 to 900"),
    # botocore lambda model: Architecture enum; the runtimes asyncapi supports.
    ('[processor]\narchitecture = "arm"\n', "[processor] architecture = 'arm'", "one of x86_64, arm64"),
    ('[processor]\nruntime = "python3.11"\n', "runtime = 'python3.11'", "one of python3.12, python3.13"),
    # botocore lambda model, CreateEventSourceMapping: BatchSize 1-10000, MaximumBatchingWindow... 0-300.
    ("[processor]\nbatch_size = 0\n", "[processor] batch_size = 0", "an integer from 1 to 10000"),
    ("[processor]\nbatch_size = 10001\n", "[processor] batch_size = 10001", "an integer from 1 to 10000"),
    ("[processor]\nbatching_window = 301\n", "[processor] batching_window = 301", "an integer from 0 to 300"),
    # Lambda API reference, EventSourceMappingConfiguration.BatchSize: "When you set BatchSize to a value
    # greater than 10, you must set MaximumBatchingWindowInSeconds to at least 1."
    (
        "[processor]\nbatch_size = 100\nbatching_window = 0\n",
        "[processor] batch_size = 100",
        "batching_window of at least 1",
    ),
    # SQS RedrivePolicy maxReceiveCount 1-1000; ScalingConfig.MaximumConcurrency 2-1000; reserved >= 0.
    ("[processor]\nmax_receives = 0\n", "[processor] max_receives = 0", "an integer from 1 to 1000"),
    ("[processor]\nretry_backoff = -1\n", "[processor] retry_backoff = -1", "an integer from 0 to 43200"),
    ("[processor]\nmax_concurrency = 1\n", "[processor] max_concurrency = 1", "an integer from 2 to 1000"),
    ("[processor]\nmax_concurrency = 1001\n", "max_concurrency = 1001", "an integer from 2 to 1000"),
    ("[processor]\nreserved_concurrency = -1\n", "reserved_concurrency = -1", "an integer of at least 0"),
    ('[processor]\nwork = "work"\n', "[processor] work = 'work'", '"<file>.py:<function>"'),
    ('[processor]\nwork = "jobwork.py:run"\n', "[processor] work = 'jobwork.py:run'", "other than"),
    ("[processor]\nrequirements = 3\n", "[processor] requirements = 3", "a file path"),
    # SQS MessageRetentionPeriod: 60 s to 1,209,600 s (14 days).
    ("[queue]\nretention_days = 15\n", "[queue] retention_days = 15", "an integer from 1 to 14"),
    ("[queue]\nretention_seconds = 59\n", "[queue] retention_seconds = 59", "from 60 to 1209600"),
    (
        "[queue]\nretention_days = 2\nretention_seconds = 600\n",
        "[queue] retention_days",
        "not both",
    ),
    # CloudWatch Logs PutRetentionPolicy.retentionInDays (botocore logs model): a fixed list.
    ("[logs]\nretention_days = 10\n", "[logs] retention_days = 10", "one of 1, 3, 5, 7, 14, 30"),
    # AWS tag rules: aws: is reserved (asyncapi: is ours); 1-128 / 0-256 characters of a fixed set.
    ('[tags]\n"aws:owner" = "me"\n', "[tags] aws:owner = 'me'", "may not start with aws:"),
    ('[tags]\n"asyncapi:stack" = "x"\n', "[tags] asyncapi:stack = 'x'", "asyncapi:"),
    ('[tags]\n"a*b" = "x"\n', "[tags] a*b = 'x'", "keys are 1-128 letters"),
    ('[tags]\nteam = "' + "v" * 257 + '"\n', "[tags] team = ", "values are 0-256"),
    ("[tags]\nteam = 1\n", "[tags] team = 1", "must be strings"),
    ('[features]\nwebhooks = "yes"\n', "[features] webhooks = 'yes'", "true or false"),
    ("[api]\nthrottle_rate = 0\n", "[api] throttle_rate = 0", "above 0"),
    ("[api]\nthrottle_burst = -1\n", "[api] throttle_burst = -1", "an integer of at least 0"),
    ('[api]\nauth = "iam"\n', "[api] auth = 'iam'", "one of none, api-key"),
    ('[api]\ncors_origins = "https://a.example"\n', "[api] cors_origins", "a list of origins"),
    ('[api]\ncors_origins = ["ftp://a.example"]\n', "[api] cors_origins", "https://host[:port]"),
    # [alarms]: SNS endpoints asyncapi subscribes (https, email; loopback http for the embedded AWS);
    # a 5XX rate is an Average of 0/1 data points (AWS/ApiGateway 5XXError); an age within SQS's retention.
    ('[alarms]\nnotify = ["ftp://a.example"]\n', "[alarms] notify", "email:ops@example.com"),
    ('[alarms]\nnotify = ["http://hooks.example.com/x"]\n', "[alarms] notify", "http://127.0.0.1:PORT"),
    ('[alarms]\nnotify = ["email:nobody"]\n', "[alarms] notify", "got 'email:nobody'"),
    ('[alarms]\nnotify = "email:a@b.example"\n', "[alarms] notify", "must be a list"),
    ('[alarms]\nnotify = ["email:a@b.example", "email:a@b.example"]\n', "[alarms] notify", "twice"),
    ("[alarms]\napi_5xx_rate = 0\n", "[alarms] api_5xx_rate = 0", "above 0 and at most 1"),
    ("[alarms]\napi_5xx_rate = 5\n", "[alarms] api_5xx_rate = 5", "above 0 and at most 1"),
    ("[alarms]\noldest_message_seconds = 59\n", "oldest_message_seconds = 59", "from 60 to 1209600"),
    ("[alarms]\nprocessor_errors = 0\n", "[alarms] processor_errors = 0", "at least 1"),
    ('[alarms]\nenabled = "no"\n', "[alarms] enabled = 'no'", "true or false"),
    ("[alarms]\nemails = []\n", "unknown key [alarms] emails", "known: enabled, notify"),
    # Name rules (names.validate_name: S3/SQS/IAM/Lambda) and region shape.
    ('[stack]\nname = "Bad_Name"\n', "[stack] name = 'Bad_Name'", "lowercase letters, digits and hyphens"),
    ('[stack]\nname = "ab"\n', "[stack] name = 'ab'", "3 to 47 characters"),
    ('[stack]\nregion = "mars"\n', "[stack] region = 'mars'", "a region such as us-east-1"),
    ("[processor\nmemory = 1\n", "not valid TOML", "line 1"),
]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("text", "names", "allowed"), CASES, ids=[c[1] for c in CASES])
def test_each_invalid_value_is_one_line_naming_file_key_and_allowed_values(
    text: str, names: str, allowed: str
) -> None:
    Path("asyncapi.toml").write_text(text, encoding="utf-8")
    code, stdout, stderr = invoke("up", "--endpoint-url", NO_AWS)
    assert code == 2, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("asyncapi: error: asyncapi.toml: ")
    assert names in stderr and allowed in stderr
    assert stdout == ""
    assert not Path(".asyncapi").exists()  # nothing recorded, nothing created


def test_config_option_names_its_file_and_a_missing_one_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text("[processor]\nmemory = 1\n", encoding="utf-8")
    code, _, stderr = invoke("plan", "--config", str(other), "--endpoint-url", NO_AWS)
    assert code == 2 and stderr.startswith(f"asyncapi: error: {other}: [processor] memory = 1:")
    code, _, stderr = invoke("plan", "--config", "missing.toml", "--endpoint-url", NO_AWS)
    assert code == 2 and "--config missing.toml: no such file" in stderr


def test_every_key_reaches_the_settings_and_defaults_stay_the_recipes(tmp_path: Path) -> None:
    path = tmp_path / "asyncapi.toml"
    path.write_text(
        """
[stack]
name = "my-jobs"
region = "eu-west-1"
[processor]
memory = 1024
timeout = 60
architecture = "arm64"
runtime = "python3.13"
batch_size = 50
batching_window = 2
max_receives = 5
max_concurrency = 20
reserved_concurrency = 30
work = "src/work.py:run"
requirements = "reqs.txt"
[status]
memory = 512
timeout = 10
[queue]
retention_days = 4
[logs]
retention_days = 30
[tags]
team = "data"
"cost center" = "42"
[features]
webhooks = true
batches = true
scheduling = false
[api]
throttle_rate = 5.5
throttle_burst = 10
auth = "api-key"
cors_origins = ["https://app.example.com", "http://localhost:3000"]
[alarms]
enabled = true
notify = ["https://hooks.example.com/a", "email:ops@example.com", "http://127.0.0.1:8080/sns"]
oldest_message_seconds = 600
api_5xx_rate = 0.1
processor_errors = 2
processor_throttles = 3
dlq_messages = 4
dashboard = false
""",
        encoding="utf-8",
    )
    loaded = config.load(path)
    assert (loaded.name, loaded.region) == ("my-jobs", "eu-west-1")
    settings = loaded.settings(local=False)
    assert (settings.processor_memory, settings.processor_timeout) == (1024, 60)
    assert (settings.architecture, settings.runtime) == ("arm64", "python3.13")
    assert (settings.batch_size, settings.batching_window, settings.max_receive_count) == (50, 2, 5)
    assert (settings.max_concurrency, settings.reserved_concurrency) == (20, 30)
    assert settings.work == f"{tmp_path / 'src' / 'work.py'}:run"  # relative to the file, not the cwd
    assert settings.requirements == str(tmp_path / "reqs.txt")
    assert (settings.status_memory, settings.status_timeout) == (512, 10)
    assert settings.retention_seconds == 4 * 86_400
    assert settings.log_retention_days == 30
    assert settings.extra_tags == (("cost center", "42"), ("team", "data"))
    assert settings.features == frozenset({"webhooks", "batches"})
    assert (settings.throttle_rate_limit, settings.throttle_burst_limit, settings.auth) == (
        5.5,
        10,
        "api-key",
    )
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:3000")
    assert settings.alarm_notify == (
        "https://hooks.example.com/a",
        "email:ops@example.com",
        "http://127.0.0.1:8080/sns",
    )
    assert (settings.alarms, settings.alarm_dashboard, settings.alarm_oldest_message_seconds) == (
        True,
        False,
        600,
    )
    assert (settings.alarm_api_5xx_rate, settings.alarm_processor_errors) == (0.1, 2)
    assert (settings.alarm_processor_throttles, settings.alarm_dlq_messages) == (3, 4)
    # Derived stays derived: AWS's guidance, 6 x the function timeout + the batching window.
    assert settings.main_visibility_timeout == 6 * 60 + 2
    # The embedded AWS: the user's settings, then a batching window of at most 1 s; the visibility
    # timeout follows the function's timeout there too (no local-only redelivery pace).
    local = loaded.settings(local=True)
    assert (local.main_visibility_timeout, local.batching_window) == (6 * 60 + 1, 1)
    assert local.processor_memory == 1024 and local.batch_size == 50
    # No file: every default is the recipe's.
    assert config.LoadedConfig().settings(local=False) == StackSettings()


def test_file_settings_reach_the_stack_and_command_line_options_win(mocked_aws: None) -> None:
    Path("asyncapi.toml").write_text(
        '[stack]\nname = "from-file"\nregion = "eu-west-1"\n[processor]\nmemory = 2048\ntimeout = 100\n',
        encoding="utf-8",
    )
    stack = ops.open_stack(ops.StackOptions(), creating=True)
    assert (stack.state.name, stack.ctx.region) == ("from-file", "eu-west-1")
    assert stack.ctx.settings.processor_memory == 2048
    assert stack.state.settings["processor_memory"] == 2048
    assert stack.state.settings["visibility_timeout"] == 6 * 100 + 5
    overridden = ops.open_stack(stack_options("from-flags", region="us-west-2"), creating=True)
    assert (overridden.state.name, overridden.ctx.region) == ("from-flags", "us-west-2")
    assert overridden.ctx.settings.processor_memory == 2048  # flags override only what they name


def test_init_writes_three_files_and_never_overwrites() -> None:
    first = run_cli("init")
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in Path.cwd().iterdir()) == sorted(FILES)
    for name, text in FILES.items():
        assert Path(name).read_text(encoding="utf-8") == text
    # The written file is valid and says what it runs; its defaults are the recipe's.
    loaded = config.load(Path("asyncapi.toml"))
    assert loaded.settings(local=False).work == f"{Path.cwd() / 'work.py'}:handle"
    defaults = {k: v for k, v in loaded.overrides.items() if k not in ("work", "requirements")}
    assert defaults == {}
    # work.py's handle is documented and runs.
    namespace: dict[str, object] = {}
    exec(compile(Path("work.py").read_text(), "work.py", "exec"), namespace)
    assert namespace["handle"]({"text": "a b c"}) == {"words": 3, "characters": 5}  # type: ignore[operator]

    Path("work.py").write_text("# mine\n", encoding="utf-8")
    Path("asyncapi.toml").unlink()
    again = run_cli("init")
    assert again.returncode == 2
    assert again.stderr.strip() == (
        "asyncapi: error: work.py, requirements.txt already exist here; "
        "init writes nothing over existing files"
    )
    assert not Path("asyncapi.toml").exists()  # nothing written, not even the missing one
    assert Path("work.py").read_text(encoding="utf-8") == "# mine\n"


def test_every_setting_is_documented_in_the_init_file() -> None:
    text = FILES["asyncapi.toml"]
    for section, keys in config.SCHEMA.items():
        assert f"[{section}]" in text
        for key in keys:
            if section != "queue" or key != "retention_seconds":
                assert f"{key} = " in text, key
    assert "[tags]" in text
    json.dumps(text)  # plain text
