"""Which stack to export (its name and settings), and the engine context the units are built with.

The units are built for a stack whose project name, region, account and partition are markers: every
string that carries one becomes an Fn::Sub of the ProjectName parameter or of the AWS:: pseudo
parameters, so that the template's names derive from ProjectName exactly as `up`'s do from --name.
The settings a team tunes per environment are sentinel numbers, rendered as Refs to parameters whose
defaults are the configured values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .. import config
from ..engine import Context, Unit
from ..errors import InputError
from ..names import StackNames, StackSettings
from ..notify_endpoints import digest_only
from ..retry import Pacer
from ..secure_api import batch_throttle
from ..stack import build_units
from ..state import read_state

PROJECT_MARK = "zqprojectzq"
REGION_MARK = "zqregionzq"
ACCOUNT_MARK = "zqaccountzq"
PARTITION_MARK = "zqpartitionzq"
# Marker -> what Fn::Sub says instead.
MARKS = {
    PROJECT_MARK: "${ProjectName}",
    REGION_MARK: "${AWS::Region}",
    ACCOUNT_MARK: "${AWS::AccountId}",
    PARTITION_MARK: "${AWS::Partition}",
}

# Settings rendered as parameters: sentinel values no setting takes (log retention accepts only
# CloudWatch's listed day counts; the throttle limits are far above what the defaults allow).
LOG_RETENTION_SENTINEL = 987_001
THROTTLE_BURST_SENTINEL = 987_002
THROTTLE_RATE_SENTINEL = 987_003.5
# POST /batches' own throttle derives from the stage's (CloudFormation cannot divide): its own parameters.
BATCH_THROTTLE_SENTINELS = batch_throttle(THROTTLE_RATE_SENTINEL, THROTTLE_BURST_SENTINEL)
SENTINEL_PARAMETERS = {
    LOG_RETENTION_SENTINEL: "LogRetentionDays",
    THROTTLE_BURST_SENTINEL: "ThrottleBurstLimit",
    THROTTLE_RATE_SENTINEL: "ThrottleRateLimit",
    BATCH_THROTTLE_SENTINELS["throttlingRateLimit"]: "BatchesThrottleRateLimit",
    BATCH_THROTTLE_SENTINELS["throttlingBurstLimit"]: "BatchesThrottleBurstLimit",
}


@dataclass(frozen=True)
class ExportConfiguration:
    """What `up` would deploy: the stack's name (ProjectName's default) and its settings."""

    name: str
    settings: StackSettings
    source: str  # where the settings came from, for the command's summary
    api_url: str | None = None  # the deployed stage's URL, when a state file records one


def export_configuration(options: Any) -> ExportConfiguration:
    """The stack's configuration exactly as `up` resolves it (flags over asyncapi.toml over what the state
    file recorded over the defaults: configuration.resolve), without any AWS call."""
    from .. import configuration
    from ..ops import resolve_state_path

    loaded = config.apply_to(options)
    flags = configuration.from_flags(options.overrides, options.features, options.without)
    path = resolve_state_path(options, must_exist=False)
    name = options.name
    api_url = None
    source = str(loaded.path) if loaded.path is not None else "defaults"
    recorded = configuration.Configuration()
    if path is not None and path.exists():
        state = read_state(path)
        name = name or state.name
        recorded = configuration.recorded(state.configuration, state.settings)
        recorded_url = state.outputs.get("api_url")
        api_url = recorded_url if isinstance(recorded_url, str) and recorded_url.startswith("http") else None
        source = f"{source} and {path}"
    resolved = configuration.resolve(recorded, configuration.from_file(loaded), flags)
    settings = resolved.settings(local=False)
    for entry in settings.alarm_notify if settings.alarms else ():
        if digest_only(entry):  # the state keeps a URL's digest only: the template needs the URL
            raise InputError(
                f"[alarms] notify {entry}: the state holds only its digest; name the endpoint in "
                "asyncapi.toml's [alarms] notify to export its subscription"
            )
    return ExportConfiguration(
        name=name or "async-api-stack",
        settings=settings,
        source=source,
        api_url=api_url,
    )


def parameter_settings(settings: StackSettings) -> StackSettings:
    """The settings with the per-environment ones replaced by their sentinels."""
    return dataclasses.replace(
        settings,
        log_retention_days=LOG_RETENTION_SENTINEL,
        throttle_burst_limit=THROTTLE_BURST_SENTINEL,
        throttle_rate_limit=THROTTLE_RATE_SENTINEL,
    )


def export_context(settings: StackSettings) -> Context:
    """An engine context for building units only: no clients, marker names and ARN parts."""
    return Context(
        clients=None,  # type: ignore[arg-type]  # building units never calls AWS
        names=StackNames(PROJECT_MARK),
        settings=parameter_settings(settings),
        region=REGION_MARK,
        account=ACCOUNT_MARK,
        partition=PARTITION_MARK,
        pacer=Pacer(),
    )


def export_units(settings: StackSettings) -> tuple[Context, list[Unit]]:
    ctx = export_context(settings)
    return ctx, build_units(ctx)
