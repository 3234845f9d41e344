"""`asyncapi init`: a starting asyncapi.toml, work.py and requirements.txt in the current directory."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError

CONFIG_TEMPLATE = """\
# asyncapi.toml: your own asynchronous API (API Gateway -> SQS -> your work on Lambda -> DynamoDB/S3).
# Every setting is optional; a commented line shows the default (the recipe's) and AWS's limits.
# Command-line options (--name, --region) override this file. Reference: README, "asyncapi.toml".

[stack]
# name = "async-api-xxxxxx"   # default: async-api- + 6 random characters, kept in .asyncapi/<name>.json;
#                             # 3-47 lowercase letters, digits and hyphens (S3, SQS, IAM, Lambda rules)
# region = "us-east-1"        # default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, else us-east-1

[processor]
work = "work.py:handle"       # "<file>.py:<function>" each job runs (default: the built-in demo work)
requirements = "requirements.txt"  # vendored for the Lambda platform (default: none)
# memory = 512                # MB, 128-10240
# timeout = 300               # seconds, 1-900; the queue's visibility timeout is 6 x this + batching_window
# architecture = "x86_64"     # x86_64 or arm64 (wheels are fetched for this platform)
# runtime = "python3.12"      # python3.12 or python3.13
# batch_size = 10             # messages per invocation, 1-10000; above 10 needs batching_window >= 1
# batching_window = 5         # seconds Lambda gathers a batch, 0-300 (the embedded AWS uses at most 1)
# max_receives = 3            # receives before a message moves to the dead-letter queue, 1-1000
# retry_backoff = 2           # seconds before a failed job's retry, doubling each attempt, 0-43200
# max_concurrency = 10        # the mapping's maximum concurrent invocations, 2-1000 (default: unset)
# reserved_concurrency = 10   # concurrency reserved for the processor, >= 0 (default: unset)

[status]
# memory = 256                # MB, 128-10240
# timeout = 30                # seconds, 1-900

[queue]
# retention_days = 14         # 1-14 (or retention_seconds = 60-1209600), both queues

[logs]
# retention_days = 14         # 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
#                             # 2192, 2557, 2922, 3288 or 3653 (CloudWatch Logs)

[tags]
# team = "data"               # extra tags on every resource: keys 1-128, values 0-256 characters of
#                             # letters, digits, spaces and _ . : / = + - @; not aws: or asyncapi:

[features]                    # all off by default
# webhooks = false
# priorities = false
# batches = false
# scheduling = false
# websocket = false

[scheduling]
# max_active = 100            # schedules the stack keeps at once; POST /schedules beyond it answers 409

[api]
# throttle_rate = 50.0        # steady requests per second on the stage, above 0
# throttle_burst = 100        # burst, >= 0
# auth = "none"               # none or api-key
# cors_origins = []           # e.g. ["https://app.example.com"]; "*" allows any origin

[alarms]                      # CloudWatch alarms to an SNS topic, and a dashboard (README, "Alarms")
# enabled = true              # false deletes the alarms, topic, subscriptions and dashboard
# notify = []                 # e.g. ["https://hooks.example.com/x", "email:ops@example.com"]
# oldest_message_seconds = 900  # main queue age alarm, 60-1209600 (default: timeout x max_receives)
# api_5xx_rate = 0.05         # share of requests answered 5XX, 3 minutes running, above 0 and at most 1
# processor_errors = 1        # processor function errors (crashes, timeouts) a minute, >= 1
# processor_throttles = 1     # throttled invocations a minute, 5 minutes running, >= 1
# dlq_messages = 1            # messages visible in a dead-letter queue, >= 1
# dashboard = true            # the stack's CloudWatch dashboard
"""

WORK_TEMPLATE = '''\
"""Your job's work. asyncapi calls handle(payload) once per job, on Lambda and on the embedded AWS.

- payload: the JSON body that was POSTed to /submit (a dict, as the API accepts only JSON objects).
- return: anything JSON can encode; it is stored in S3 as results/<jobId>.json and the job is
  marked completed.
- raise: the job is retried (SQS redelivers it) and marked failed after [processor] max_receives
  attempts, when its message moves to the dead-letter queue. The error text is stored with the job.

A job may run more than once (SQS delivers at least once): keep side effects idempotent.
Imports from requirements.txt work here: asyncapi vendors them into the function's package.
"""

from __future__ import annotations

from typing import Any


def handle(payload: dict[str, Any]) -> dict[str, Any]:
    text = str(payload.get("text", ""))
    return {"words": len(text.split()), "characters": len(text)}
'''

REQUIREMENTS_TEMPLATE = """\
# Your job's dependencies, one per line (pip's requirements format); pin versions for repeatable builds.
# asyncapi installs wheels built for Lambda (manylinux2014, the runtime's CPython) into the package.
"""

FILES = {
    "asyncapi.toml": CONFIG_TEMPLATE,
    "work.py": WORK_TEMPLATE,
    "requirements.txt": REQUIREMENTS_TEMPLATE,
}


def init_project(directory: Path) -> list[Path]:
    """Write the three files, or none: refuses when any of them exists."""
    paths = [directory / name for name in FILES]
    existing = [p.name for p in paths if p.exists() or p.is_symlink()]
    if existing:
        raise InputError(
            f"{', '.join(existing)} already {'exists' if len(existing) == 1 else 'exist'} here; "
            "init writes nothing over existing files"
        )
    written: list[Path] = []
    try:
        for path in paths:
            # O_EXCL: a file that appeared meanwhile is never overwritten.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(FILES[path.name])
            written.append(path)
    except FileExistsError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise InputError(f"{Path(str(exc.filename)).name} already exists here; init wrote nothing") from None
    return written
