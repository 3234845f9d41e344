"""Stack names, their validation, and the settings the recipe specifies."""

from __future__ import annotations

import functools
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError

NAME_PREFIX = "async-api-"
TAG_KEY = "asyncapi:stack"

# The longest derived names bound the project name: IAM roles allow 64 characters
# ("<name>-api-gateway-role"), Lambda functions 64, S3 buckets 63 ("<name>-results").
_SUFFIXES = {
    "IAM role": ("-api-gateway-role", 64),
    "Lambda function": ("-status-checker", 64),
    "S3 bucket": ("-results", 63),
    "SQS queue": ("-main-queue", 80),
}
MAX_NAME_LENGTH = min(limit - len(suffix) for suffix, limit in _SUFFIXES.values())
_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
# The shape of every region name AWS uses (us-east-1, us-gov-west-1, us-isob-east-1, eusc-de-east-1);
# which ones exist is botocore's partition data's to say.
_REGION_RE = re.compile(r"^[a-z]{2,4}(?:-[a-z0-9]+)+-\d{1,2}$")


def random_name(alphabet: str = string.ascii_lowercase + string.digits) -> str:
    return NAME_PREFIX + "".join(secrets.choice(alphabet) for _ in range(6))


def validate_name(name: str) -> str:
    """Reject names that would break S3, SQS, IAM or Lambda naming rules, before any call."""
    if not 3 <= len(name) <= MAX_NAME_LENGTH:
        raise InputError(
            f"invalid name {name!r}: must be 3 to {MAX_NAME_LENGTH} characters "
            f"(the longest derived name, {name}-api-gateway-role, must fit IAM's 64)"
        )
    if not _NAME_RE.match(name):
        raise InputError(
            f"invalid name {name!r}: use lowercase letters, digits and hyphens, "
            "starting and ending with a letter or digit (S3 bucket rules)"
        )
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            raise InputError(f"invalid name {name!r}: S3 bucket names may not start with {prefix!r}")
    return name


@functools.lru_cache(maxsize=1)
def _partitions() -> tuple[dict[str, Any], ...]:
    """botocore's partitions: id, region regex, known regions, DNS suffix (partitions.json and
    endpoints.json, the data botocore itself resolves endpoints from)."""
    import botocore.exceptions

    from .aws import shared_loader

    loader = shared_loader()
    merged: dict[str, dict[str, Any]] = {}
    for part in loader.load_data("endpoints")["partitions"]:
        merged[part["partition"]] = {
            "id": part["partition"],
            "regex": part["regionRegex"],
            "regions": set(part.get("regions", {})),
            "dns_suffix": part.get("dnsSuffix", "amazonaws.com"),
        }
    try:
        newer = loader.load_data("partitions")["partitions"]  # botocore's newer, fuller list
    except botocore.exceptions.DataNotFoundError:
        newer = []
    for part in newer:
        entry = merged.setdefault(
            part["id"], {"id": part["id"], "regex": part["regionRegex"], "regions": set(), "dns_suffix": ""}
        )
        entry["regions"].update(r for r in part.get("regions", {}) if not r.endswith("-global"))
        entry["dns_suffix"] = part.get("outputs", {}).get("dnsSuffix") or entry["dns_suffix"]
    return tuple(merged.values())


def known_regions() -> frozenset[str]:
    return frozenset(region for part in _partitions() for region in part["regions"])


def validate_region(region: str, known: frozenset[str] | None = None) -> str:
    """Refuse a malformed or unknown region, for every target, before anything is created."""
    if not _REGION_RE.match(region or ""):
        raise InputError(f"invalid region {region!r}: expected a region such as us-east-1")
    if region not in (known if known is not None else known_regions()):
        raise InputError(f"unknown region {region!r}: not a region botocore knows (see --region)")
    return region


def _partition_entry(region: str) -> dict[str, Any]:
    parts = _partitions()
    for part in parts:
        if region in part["regions"]:
            return part
    for part in parts:
        if re.match(part["regex"], region):
            return part
    return next(part for part in parts if part["id"] == "aws")


def partition_of(region: str) -> str:
    """The ARN partition: aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, ..."""
    return str(_partition_entry(region)["id"])


def dns_suffix_of(region: str) -> str:
    """The partition's DNS suffix (amazonaws.com, amazonaws.com.cn, c2s.ic.gov, ...)."""
    return str(_partition_entry(region)["dns_suffix"] or "amazonaws.com")


@dataclass(frozen=True)
class StackNames:
    """Every resource name derives from the project name, as in the recipe."""

    project: str

    @property
    def dlq(self) -> str:
        return f"{self.project}-dlq"

    @property
    def main_queue(self) -> str:
        return f"{self.project}-main-queue"

    @property
    def table(self) -> str:
        return f"{self.project}-jobs"

    @property
    def bucket(self) -> str:
        return f"{self.project}-results"

    @property
    def api_role(self) -> str:
        return f"{self.project}-api-gateway-role"

    @property
    def processor_role(self) -> str:
        return f"{self.project}-lambda-role"

    @property
    def status_role(self) -> str:
        # Least privilege: the status checker only reads the table, so it gets its own role.
        return f"{self.project}-status-role"

    @property
    def processor(self) -> str:
        return f"{self.project}-job-processor"

    @property
    def status_checker(self) -> str:
        return f"{self.project}-status-checker"

    @property
    def api(self) -> str:
        return f"{self.project}-api"

    @staticmethod
    def log_group(function_name: str) -> str:
        return f"/aws/lambda/{function_name}"


@dataclass(frozen=True)
class StackSettings:
    """The recipe's settings, with its bugs fixed. `local()` shortens waits for the embedded AWS."""

    retention_seconds: int = 1_209_600  # 14 days on both queues
    max_receive_count: int = 3
    processor_timeout: int = 300
    processor_memory: int = 512
    status_timeout: int = 30
    status_memory: int = 256
    runtime: str = "python3.12"
    batch_size: int = 10
    batching_window: int = 5
    log_retention_days: int = 14
    stage: str = "prod"
    # AWS: at least 6 x the function timeout plus the batching window (the recipe's
    # "VisibilityTimeoutSeconds" attribute does not exist; the real one is VisibilityTimeout).
    visibility_timeout: int | None = None
    dlq_visibility_timeout: int = 300
    # The processor's own retry backoff: a failed job's message comes back after base * 2^(attempt-1)
    # seconds (ChangeMessageVisibility), not after the whole visibility timeout; the last attempt at
    # once, so SQS's redrive moves it to the DLQ on its next receive.
    retry_backoff: int = 2
    # --- The user's own stack (asyncapi.toml; see config.py). Defaults are the recipe's. ---
    architecture: str = "x86_64"  # x86_64 | arm64, for the processor (and vendored wheels)
    max_concurrency: int | None = None  # the SQS mapping's ScalingConfig.MaximumConcurrency (2-1000)
    reserved_concurrency: int | None = None  # the processor's reserved concurrency
    extra_tags: tuple[tuple[str, str], ...] = ()  # extra tags on every taggable resource
    work: str | None = None  # "work.py:handle" relative to the config file; None = the built-in demo work
    requirements: str | None = None  # "requirements.txt" relative to the config file
    # --- Features, each off by default: the base stack stays the recipe. ---
    features: frozenset[str] = field(default_factory=frozenset)
    # POST /schedules answers 409 beyond this many schedules in the stack's group (the API may be open).
    max_active_schedules: int = 100
    # --- Secure API defaults. ---
    throttle_rate_limit: float = 50.0  # steady requests per second on the stage
    throttle_burst_limit: int = 100
    auth: str = "none"  # none | api-key (usage plan with throttle and quota)
    api_key_quota_per_day: int = 100_000
    cors_origins: tuple[str, ...] = ()  # none by default: no CORS, as the recipe
    # --- Alarms (alarms.py): on by default; thresholds and who hears of them in [alarms]. ---
    alarms: bool = True
    alarm_notify: tuple[str, ...] = ()  # "https://...", "email:ops@example.com" (loopback http: local)
    alarm_oldest_message_seconds: int | None = None  # None: processor timeout x receives (alarms.py)
    alarm_api_5xx_rate: float = 0.05  # the share of requests answered 5XX in a minute
    alarm_processor_errors: int = 1  # function errors (crashes, timeouts) in a minute
    alarm_processor_throttles: int = 1  # throttled invocations a minute, five minutes running
    alarm_dlq_messages: int = 1  # messages visible in a dead-letter queue
    alarm_dashboard: bool = True  # the stack's CloudWatch dashboard (with the alarms)

    @property
    def main_visibility_timeout(self) -> int:
        if self.visibility_timeout is not None:
            return self.visibility_timeout
        return 6 * self.processor_timeout + self.batching_window

    @classmethod
    def local(cls) -> StackSettings:
        # On the embedded AWS a batching window of at most 1 s, so a job starts within a second. The
        # visibility timeout is AWS's (6 x the function timeout + the window): a long job is not
        # redelivered while it runs, and failed jobs come back at the processor's backoff, as on AWS.
        return cls(batching_window=1)
