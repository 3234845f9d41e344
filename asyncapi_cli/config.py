"""asyncapi.toml: the user's own stack settings, validated before any AWS call.

Every key maps to one `StackSettings` field (or the stack's name and region). Every value AWS
would refuse is refused here first, as one line naming the file, the key and the allowed values.
Defaults are the recipe's: a key left out keeps the `StackSettings` default.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .names import StackSettings, validate_name, validate_region
from .notify_endpoints import notify_problem, recorded_forms

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_FILE = "asyncapi.toml"

# CloudWatch Logs PutRetentionPolicy accepts only these retentionInDays values (botocore's logs model,
# PutRetentionPolicy.retentionInDays documentation).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
FEATURES = ("webhooks", "priorities", "batches", "scheduling", "websocket")
# AWS tagging rules (docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html): keys 1-128 and values
# 0-256 Unicode letters, digits, spaces and _ . : / = + - @; "aws:" is AWS's prefix. "asyncapi:" is ours.
_TAG_CHARS = re.compile(r"^[\w\s.:/=+\-@]*$", re.UNICODE)
MAX_EXTRA_TAGS = 40  # AWS allows 50 tags per resource; asyncapi keeps 10 for its own
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?$")
_WORK = re.compile(r"^(?P<file>[^:]+\.py):(?P<function>[A-Za-z_][A-Za-z0-9_]*)$")
HANDLER_MODULES = ("job_processor", "jobwork", "status_checker")


class Invalid(Exception):
    """A value outside what AWS accepts; the message says what is allowed."""


def _integer(low: int, high: int | None, unit: str = "") -> Callable[[Any], int]:
    allowed = f"an integer from {low} to {high}" if high is not None else f"an integer of at least {low}"
    allowed += f" ({unit})" if unit else ""

    def parse(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise Invalid(f"must be {allowed}")
        if value < low or (high is not None and value > high):
            raise Invalid(f"must be {allowed}")
        return value

    return parse


def _choice(*choices: Any, unit: str = "") -> Callable[[Any], Any]:
    listed = ", ".join(str(c) for c in choices)

    def parse(value: Any) -> Any:
        if isinstance(value, bool) or value not in choices:
            raise Invalid(f"must be one of {listed}{f' ({unit})' if unit else ''}")
        return value

    return parse


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("must be true or false")
    return value


def _rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise Invalid("must be a number of requests per second above 0")
    return float(value)


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("must be a string")
    try:
        return validate_name(value)
    except InputError as exc:
        raise Invalid(str(exc).split(": ", 1)[-1]) from None


def _region(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("must be a string such as us-east-1")
    try:
        return validate_region(value, None)
    except InputError:
        raise Invalid("must be a region such as us-east-1") from None


def _work(value: Any) -> str:
    match = _WORK.match(value) if isinstance(value, str) else None
    if match is None:
        raise Invalid('must be "<file>.py:<function>", e.g. "work.py:handle"')
    module = Path(match["file"]).stem
    if not module.isidentifier() or module in HANDLER_MODULES:
        raise Invalid(
            "must name a file whose name is a Python identifier, other than " + ", ".join(HANDLER_MODULES)
        )
    return value


def _path(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid('must be a file path, e.g. "requirements.txt"')
    return value


def _origins(value: Any) -> tuple[str, ...]:
    allowed = 'must be a list of origins, "*" or "https://host[:port]"'
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(allowed)
    for origin in value:
        if origin != "*" and not _ORIGIN.match(origin):
            raise Invalid(f"{allowed} (got {origin!r})")
    return tuple(value)


def _notify(value: Any) -> tuple[str, ...]:
    problem = notify_problem(value)
    if problem:
        raise Invalid(problem)
    return tuple(value)


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise Invalid("must be a fraction above 0 and at most 1 (0.05 is 5% of requests)")
    return float(value)


@dataclass(frozen=True)
class Key:
    parse: Callable[[Any], Any]
    setting: str  # the StackSettings field ("" for the stack's name and region)


SCHEMA: dict[str, dict[str, Key]] = {
    "stack": {"name": Key(_name, ""), "region": Key(_region, "")},
    # Lambda quotas (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): memory 128-10,240 MB,
    # timeout up to 900 s (botocore's model allows more, for compute types asyncapi does not use).
    # botocore's lambda model: CreateEventSourceMapping BatchSize 1-10000 (SQS standard queues),
    # MaximumBatchingWindowInSeconds 0-300, ScalingConfig.MaximumConcurrency 2-1000,
    # PutFunctionConcurrency ReservedConcurrentExecutions >= 0; SQS RedrivePolicy maxReceiveCount 1-1000.
    "processor": {
        "memory": Key(_integer(128, 10240, "MB; Lambda's limits"), "processor_memory"),
        "timeout": Key(_integer(1, 900, "seconds; Lambda's limits"), "processor_timeout"),
        "architecture": Key(_choice("x86_64", "arm64"), "architecture"),
        "runtime": Key(_choice("python3.12", "python3.13"), "runtime"),
        "batch_size": Key(_integer(1, 10000, "SQS standard queues"), "batch_size"),
        "batching_window": Key(_integer(0, 300, "seconds"), "batching_window"),
        "max_receives": Key(_integer(1, 1000, "SQS maxReceiveCount"), "max_receive_count"),
        # ChangeMessageVisibility's VisibilityTimeout is 0-43,200 s (SQS API reference).
        "retry_backoff": Key(_integer(0, 43200, "seconds; SQS's visibility limit"), "retry_backoff"),
        "max_concurrency": Key(_integer(2, 1000, "the mapping's MaximumConcurrency"), "max_concurrency"),
        "reserved_concurrency": Key(
            _integer(0, None, "up to your account's unreserved limit"), "reserved_concurrency"
        ),
        "work": Key(_work, "work"),
        "requirements": Key(_path, "requirements"),
    },
    "status": {
        "memory": Key(_integer(128, 10240, "MB; Lambda's limits"), "status_memory"),
        "timeout": Key(_integer(1, 900, "seconds; Lambda's limits"), "status_timeout"),
    },
    # SQS MessageRetentionPeriod: 60 to 1,209,600 seconds (14 days).
    "queue": {
        "retention_days": Key(_integer(1, 14, "days; SQS allows 60 s to 14 days"), "retention_seconds"),
        "retention_seconds": Key(_integer(60, 1_209_600, "SQS MessageRetentionPeriod"), "retention_seconds"),
    },
    "logs": {
        "retention_days": Key(_choice(*LOG_RETENTION_DAYS, unit="CloudWatch Logs"), "log_retention_days")
    },
    "features": {name: Key(_boolean, "features") for name in FEATURES},
    "scheduling": {
        "max_active": Key(_integer(1, 100_000, "schedules in the stack's group"), "max_active_schedules")
    },
    "api": {
        "throttle_rate": Key(_rate, "throttle_rate_limit"),
        "throttle_burst": Key(_integer(0, None, "requests"), "throttle_burst_limit"),
        "auth": Key(_choice("none", "api-key"), "auth"),
        "cors_origins": Key(_origins, "cors_origins"),
    },
    # CloudWatch alarms (alarms.py). Thresholds compare with 1-minute data points; an age is bounded by
    # SQS's longest retention (14 days), beyond which no message is left to be old.
    "alarms": {
        "enabled": Key(_boolean, "alarms"),
        "notify": Key(_notify, "alarm_notify"),
        "oldest_message_seconds": Key(
            _integer(60, 1_209_600, "seconds; up to SQS's 14-day retention"), "alarm_oldest_message_seconds"
        ),
        "api_5xx_rate": Key(_fraction, "alarm_api_5xx_rate"),
        "processor_errors": Key(_integer(1, None, "function errors a minute"), "alarm_processor_errors"),
        "processor_throttles": Key(
            _integer(1, None, "throttled invocations a minute"), "alarm_processor_throttles"
        ),
        "dlq_messages": Key(_integer(1, None, "messages visible"), "alarm_dlq_messages"),
        "dashboard": Key(_boolean, "alarm_dashboard"),
    },
}


@dataclass
class LoadedConfig:
    """A parsed, validated configuration file (or none: path None, every default)."""

    path: Path | None = None
    name: str | None = None
    region: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # StackSettings field -> value
    features_off: frozenset[str] = frozenset()  # [features] the file sets to false

    @property
    def base_dir(self) -> Path:
        return self.path.resolve().parent if self.path is not None else Path.cwd()

    def settings(self, *, local: bool) -> StackSettings:
        """The file's settings over the recipe's defaults; then, for the embedded AWS, its shortened waits.

        A local stack keeps a batching window no longer than `StackSettings.local()`'s 1 s, whatever the
        file says, so that a job starts within a second. Everything a job experiences (its timeout, the
        visibility timeout, the retry backoff) is the file's, on AWS as locally.
        """
        settings = dataclasses.replace(StackSettings(), **self.overrides)
        if local:
            shortened = StackSettings.local()
            settings = dataclasses.replace(
                settings, batching_window=min(settings.batching_window, shortened.batching_window)
            )
        return settings


def _fail(path: Path, where: str, message: str) -> InputError:
    return InputError(f"{path}: {where} {message}")


def _closest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}(known: {', '.join(choices)})"


def find_config(explicit: Path | None) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(f"--config {explicit}: no such file")
        return explicit
    default = Path(CONFIG_FILE)
    return default if default.is_file() else None


def load(explicit: Path | None = None) -> LoadedConfig:
    """Read ./asyncapi.toml (or --config PATH); no file means every default."""
    path = find_config(explicit)
    if path is None:
        return LoadedConfig()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it: {exc}") from None
    return parse(document, path)


def parse(document: dict[str, Any], path: Path) -> LoadedConfig:
    loaded = LoadedConfig(path=path)
    features: set[str] = set()
    features_off: set[str] = set()
    for section, table in document.items():
        if section == "tags":
            tags = _tags(table, path)
            if tags:
                loaded.overrides["extra_tags"] = tags
            continue
        keys = SCHEMA.get(section)
        if keys is None:
            sections = [*SCHEMA, "tags"]
            raise _fail(path, f"unknown section [{section}];", _closest(section, sections))
        if not isinstance(table, dict):
            raise _fail(path, f"{section}", "must be a [section] table")
        for name, value in table.items():
            key = keys.get(name)
            if key is None:
                raise _fail(path, f"unknown key [{section}] {name};", _closest(name, list(keys)))
            try:
                parsed = key.parse(value)
            except Invalid as exc:
                raise _fail(path, f"[{section}] {name} = {_show(value)}:", str(exc)) from None
            if section == "stack":
                setattr(loaded, name, parsed)
            elif section == "features":
                (features if parsed else features_off).add(name)
            elif name == "retention_days" and section == "queue":
                loaded.overrides[key.setting] = parsed * 86_400
            elif name in ("work", "requirements"):  # relative to the file, wherever asyncapi runs
                loaded.overrides[key.setting] = str((path.parent / parsed).resolve())
            else:
                loaded.overrides[key.setting] = parsed
    if features:
        loaded.overrides["features"] = frozenset(features)
    loaded.features_off = frozenset(features_off)
    _check_together(document, path)
    return loaded


def _check_together(document: dict[str, Any], path: Path) -> None:
    processor = document.get("processor", {})
    size = processor.get("batch_size", StackSettings.batch_size)
    window = processor.get("batching_window", StackSettings.batching_window)
    # AWS Lambda API reference, CreateEventSourceMapping / EventSourceMappingConfiguration: "When you set
    # BatchSize to a value greater than 10, you must set MaximumBatchingWindowInSeconds to at least 1."
    if size > 10 and window < 1:
        raise _fail(
            path,
            f"[processor] batch_size = {size}:",
            "above 10 needs batching_window of at least 1 second (Lambda's rule for SQS mappings)",
        )
    queue = document.get("queue", {})
    if "retention_days" in queue and "retention_seconds" in queue:
        raise _fail(path, "[queue] retention_days:", "give retention_days or retention_seconds, not both")


def _tags(table: Any, path: Path) -> tuple[tuple[str, str], ...]:
    if not isinstance(table, dict):
        raise _fail(path, "tags", 'must be a [tags] table of key = "value"')
    if len(table) > MAX_EXTRA_TAGS:
        raise _fail(path, "[tags]:", f"at most {MAX_EXTRA_TAGS} tags (AWS allows 50 per resource)")
    for key, value in table.items():
        where = f"[tags] {key} = {_show(value)}:"
        if not isinstance(value, str):
            raise _fail(path, where, "tag values must be strings")
        if not 1 <= len(key) <= 128 or not _TAG_CHARS.match(key):
            raise _fail(
                path, where, "keys are 1-128 letters, digits, spaces or _ . : / = + - @ (AWS tag rules)"
            )
        if key.lower().startswith(("aws:", "asyncapi:")):
            raise _fail(path, where, "keys may not start with aws: (AWS's) or asyncapi: (asyncapi's)")
        if len(value) > 256 or not _TAG_CHARS.match(value):
            raise _fail(
                path, where, "values are 0-256 letters, digits, spaces or _ . : / = + - @ (AWS tag rules)"
            )
    return tuple(sorted(table.items()))


def _show(value: Any) -> str:
    text = (
        repr(value)
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )
    return text if len(text) <= 60 else text[:57] + "..."


def settings_record(settings: StackSettings, loaded: LoadedConfig) -> dict[str, Any]:
    """What the state remembers of the settings (JSON), to show what changed since the last `up`."""
    record: dict[str, Any] = {}
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        if isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        record[item.name] = value
    record["alarm_notify"] = recorded_forms(record["alarm_notify"])  # never a URL's secret path
    record["visibility_timeout"] = settings.main_visibility_timeout
    record["config"] = str(loaded.path) if loaded.path is not None else None
    return record


def changed_since(recorded: dict[str, Any], current: dict[str, Any]) -> list[dict[str, Any]]:
    """Settings (and the code hash) that differ from what the last `up` recorded."""
    if not recorded:
        return []
    skip = {"config"}
    # An old state file recorded full URLs: compare in the recorded form, which is all the state keeps.
    recorded = recorded | {"alarm_notify": recorded_forms(recorded.get("alarm_notify"))}
    return [
        {"setting": key, "recorded": recorded.get(key), "file": value}
        for key, value in sorted(current.items())
        if key not in skip and key in recorded and recorded.get(key) != value
    ]


def apply_to(options: Any) -> LoadedConfig:
    """Load the file for these StackOptions; its name and region apply unless the command line gave them."""
    loaded = load(options.config_path) if options.use_config else LoadedConfig()
    if options.name is None:
        options.name = loaded.name
    if options.region is None:
        options.region = loaded.region
    return loaded
