"""The library behind the CLI: resolve a stack (state, name, target), then plan, up, down or status."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import config, configuration, engine
from .alarms import check_recorded_endpoints, dashboard_url
from .aws import AwsClients, ClientHook
from .concurrency import check_account_concurrency
from .endpoints import is_localstack, localstack_api_url
from .engine import Context, Outcome, Reporter
from .errors import InputError, StateError
from .features import websocket as websocket_feature
from .names import (
    StackNames,
    dns_suffix_of,
    partition_of,
    random_name,
    validate_name,
    validate_region,
)
from .ownership import (
    check_ownership,
    claim_ownership,
    in_background,
    main_queue_tags_of,
    ownership_tags,
)
from .package import build_code
from .retry import Pacer
from .risks import deletion_risks
from .stack import APP_BUNDLE, build_units
from .state import (
    StackState,
    StateStore,
    Target,
    check_state_path,
    default_state_path,
    discover_state_path,
    read_state,
    state_lock,
)
from .teardown import down as down  # the library's entry for `down`, beside up and plan
from .teardown import locked, retired_units

LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class StackOptions:
    name: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    local: bool = False
    state_path: Path | None = None
    hooks: list[ClientHook] = field(default_factory=list)
    pacer: Pacer = field(default_factory=Pacer)
    config_path: Path | None = None  # --config; else ./asyncapi.toml when present
    use_config: bool = True  # False: the recipe's stack whatever the directory holds (demo)
    features: frozenset[str] = frozenset()  # --with: features turned on
    without: frozenset[str] = frozenset()  # --without: features turned off
    overrides: dict[str, Any] = field(default_factory=dict)  # --auth, --cors-origin, --throttle-*


@dataclass
class Stack:
    """A resolved stack: its state store, clients and engine context."""

    store: StateStore
    clients: AwsClients
    ctx: Context
    recorded_settings: dict[str, Any] = field(default_factory=dict)  # as the last `up` left them
    # The configuration the state recorded (before this run's flags and file), for `status`.
    recorded_configuration: configuration.Configuration = field(
        default_factory=lambda: configuration.Configuration()
    )
    code_info: dict[str, Any] = field(default_factory=dict)
    # The main queue's URL and tags (or None), looked up beside the preflight (open_stack).
    owner_lookup: Future[tuple[str, dict[str, str]] | None] | None = None

    @property
    def state(self) -> StackState:
        return self.store.state


def resolve_state_path(options: StackOptions, *, must_exist: bool) -> Path | None:
    if options.state_path is not None:
        return options.state_path
    if options.name is not None:
        validate_name(options.name)
        return default_state_path(options.name)
    found = discover_state_path()
    if found is None and must_exist:
        raise StateError(
            "no stack here (no .asyncapi/*.json); run 'asyncapi up' first, or pass --name or --state"
        )
    return found


def _requested_target(options: StackOptions) -> Target:
    endpoint = options.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    if options.local and endpoint:
        raise InputError("--local and --endpoint-url (or AWS_ENDPOINT_URL) are exclusive; choose one target")
    region = options.region
    if region is None:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    elif not region:
        validate_region(region, None)  # an explicit empty --region is an error, not "the default"
    if options.local:
        return Target(kind="local", region=region or "us-east-1")
    if not region and options.profile is None:
        region = "us-east-1"
    if not region:
        region = _profile_region(options.profile) or "us-east-1"
    return Target(
        kind="endpoint" if endpoint else "aws", region=region, endpoint_url=endpoint, profile=options.profile
    )


def _profile_region(profile: str | None) -> str | None:
    import boto3

    try:
        return boto3.session.Session(profile_name=profile).region_name
    except Exception as exc:
        raise InputError(f"cannot use AWS profile {profile!r}: {exc}") from None


def _check_same_target(state: StackState, options: StackOptions, path: Path) -> None:
    """Refuse flags that point a recorded stack somewhere else (never mix two stacks in one state)."""
    recorded = state.target
    requested_endpoint = options.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    if options.name is not None and options.name != state.name:
        raise StateError(f"{path} is the state of stack {state.name!r}, not {options.name!r}")
    if options.region and options.region != recorded.region:
        raise StateError(f"{path} targets region {recorded.region}, not {options.region}")
    if options.local and recorded.kind != "local":
        raise StateError(f"{path} targets {recorded.kind} ({recorded.region}), not the embedded local AWS")
    if options.endpoint_url and recorded.kind == "local":
        raise StateError(f"{path} targets the embedded local AWS, not {options.endpoint_url}")
    if requested_endpoint and recorded.kind == "endpoint" and requested_endpoint != recorded.endpoint_url:
        raise StateError(f"{path} targets {recorded.endpoint_url}, not {requested_endpoint}")


def _live_target(target: Target, *, start_local: bool) -> tuple[Target, dict[str, str] | None, str | None]:
    """For the embedded AWS, the endpoint is wherever it runs now; returns (target, creds, gateway)."""
    if target.kind != "local":
        return target, None, None
    from .local import manager

    info = manager.ensure_running() if start_local else manager.running_info()
    if info is None:
        raise StateError(
            "the embedded local AWS is not running (its stacks lived in memory); run 'asyncapi up --local'"
        )
    live = Target(
        kind="local",
        region=target.region,
        account=target.account,
        endpoint_url=info["endpoint"],
        instance=embedded_instance(info),
    )
    return live, LOCAL_CREDENTIALS, info["gateway"]


def embedded_instance(info: dict[str, Any]) -> str:
    """Which run of the embedded AWS this is (manager.running_info): a restart is another."""
    return f"{info.get('pid')}@{info.get('started_at')}"


def api_url(target: Target, api_id: str, stage: str, gateway: str | None) -> str:
    if target.kind == "aws":
        return f"https://{api_id}.execute-api.{target.region}.{dns_suffix_of(target.region)}/{stage}"
    if target.kind == "endpoint" and is_localstack(target.endpoint_url):
        return localstack_api_url(str(target.endpoint_url), api_id, stage)
    base = gateway if target.kind == "local" else target.endpoint_url
    # The path-style execute-api URL the embedded gateway serves (LocalStack's deprecated form).
    return f"{str(base).rstrip('/')}/restapis/{api_id}/{stage}/_user_request_"


def open_stack(
    options: StackOptions,
    *,
    creating: bool,
    start_local: bool = False,
    allow_missing_state: bool = False,
    look_for_owner: bool = False,
) -> Stack:
    """Resolve name, target and state; check credentials and account. Reads only.

    look_for_owner (`up`): look up the main queue's ownership tags while the preflight runs, for
    check_ownership (one serial call fewer before the first resource)."""
    loaded = config.apply_to(options)  # asyncapi.toml, validated before any AWS call
    flags = configuration.from_flags(options.overrides, options.features, options.without)
    path = resolve_state_path(options, must_exist=not creating and not allow_missing_state)
    if path is not None:
        check_state_path(path)  # bad input stops here, before the embedded AWS or any call
    state: StackState | None = None
    if path is not None and path.exists():
        state = read_state(path)
        _check_same_target(state, options, path)
    elif not creating and not allow_missing_state:
        raise StateError(f"no state file at {path}; run 'asyncapi up' first or pass --state")
    if state is None:
        name = validate_name(options.name) if options.name else random_name()
        if not creating and options.name is None:
            raise StateError("no state file: pass --name to find the stack's resources by name")
        state = StackState(name=name, target=_requested_target(options))
        path = path or default_state_path(name)
    # --- The configuration: flags over asyncapi.toml over what the state recorded over the defaults
    # (then the embedded AWS's shorter waits). The state keeps what the last `up` deployed, so that
    # plan/status say what the file changed since. ---
    recorded = configuration.recorded(state.configuration, state.settings)
    resolved = configuration.resolve(recorded, configuration.from_file(loaded), flags)
    settings = resolved.settings(local=state.target.kind == "local")
    state.configuration = resolved.to_json()
    recorded_settings = dict(state.settings)
    state.settings = config.settings_record(settings, loaded) | {
        "code_sha256": recorded_settings.get("code_sha256")
    }
    # Every target, before anything starts or changes: botocore's partition data knows the regions.
    validate_region(state.target.region)
    live_target, credentials, gateway = _live_target(state.target, start_local=start_local)
    clients = AwsClients(live_target, hooks=options.hooks, credentials=credentials)
    # `up`: the ownership check's lookup (reads only) beside the preflight. A daemon thread: when
    # the preflight fails (a dead endpoint), the CLI exits at once without waiting for it.
    owner_lookup = (
        in_background(main_queue_tags_of, clients, StackNames(state.name).main_queue)
        if look_for_owner
        else None
    )
    account = clients.account_id()
    if state.target.account and state.target.account != account and state.target.kind != "local":
        raise StateError(
            f"{path} belongs to account {state.target.account}, but the credentials are for account {account}"
        )
    state.target.account = account
    ctx = Context(
        clients=clients,
        names=StackNames(state.name),
        settings=settings,
        region=live_target.region,
        account=account,
        partition=partition_of(live_target.region),
        pacer=options.pacer,
        local=state.target.kind == "local",
        api_url_for=lambda api_id: api_url(live_target, api_id, settings.stage, gateway),
    )
    return Stack(
        StateStore(path, state),
        clients,
        ctx,
        recorded_settings,
        recorded_configuration=recorded,
        owner_lookup=owner_lookup,
    )


def _build_code(stack: Stack) -> None:
    """The function zip for the file's work and requirements (cached); its hash goes to the state."""
    build = build_code(stack.ctx.settings, local=stack.state.target.kind == "local")
    stack.ctx.code = {APP_BUNDLE: build.code}
    stack.code_info = build.info | {"sha256": build.code.sha256_b64}
    stack.state.settings["code_sha256"] = build.code.sha256_b64


def plan(stack: Stack) -> list[Outcome]:
    _build_code(stack)
    outcomes = engine.plan(build_units(stack.ctx), stack.ctx, stack.store)
    retired = retired_units(stack)
    risks = deletion_risks(stack, retired)
    return outcomes + [
        Outcome(u.key, u.kind, u.name, "delete", deletes=risks.get(u.key, "")) for u in retired
    ]


def up(stack: Stack, reporter: Reporter, confirm: Callable[[list[str]], None] | None = None) -> list[Outcome]:
    """Converge the stack to its configuration. A change that deletes data or a credential goes to
    `confirm` first (it raises to refuse), under the lock and before any mutating call."""
    _build_code(stack)
    check_account_concurrency(stack.ctx)  # before any change: a reservation AWS would refuse midway
    check_recorded_endpoints(stack.ctx, stack.state.resources)  # before any change, likewise
    with locked(stack):
        retired = retired_units(stack)
        if confirm is not None:
            confirm(list(deletion_risks(stack, retired).values()))
        exists = check_ownership(stack)  # before any change: the lock covers one state file, not one name
        stack.ctx.likely_new = not exists and not stack.store.state.resources
        if stack.state.target.kind == "local":  # the embedded AWS's run that now holds the stack
            stack.state.target.instance = stack.clients.target.instance
        stack.store.save()  # the name, target and configuration are recorded before the first resource
        stack.ctx.owner_tags = ownership_tags(stack)  # a main queue created now carries them at once
        outcomes = engine.apply(build_units(stack.ctx), stack.ctx, stack.store, reporter, retired=retired)
        claim_ownership(stack)
        stage = stack.store.state.resources.get("stage", {})
        stack.store.set_outputs(
            api_url=stage.get("url"),
            submit_url=f"{stage.get('url')}/submit",
            results_bucket=stack.ctx.names.bucket,
            jobs_table=stack.ctx.names.table,
            dlq_url=stack.store.state.resources.get("dlq", {}).get("url"),
            main_queue_url=stack.store.state.resources.get("main_queue", {}).get("url"),
            # The CloudWatch console exists on AWS only (not the embedded AWS, nor another endpoint).
            dashboard_url=dashboard_url(stack.ctx)
            if stack.state.target.kind == "aws" and "dashboard" in stack.store.state.resources
            else None,
            **websocket_feature.outputs(
                stack.ctx, stack.store.state.resources, websocket_feature.local_base(stack.state.target.kind)
            ),
        )
    return outcomes


def forget_local_stack(options: StackOptions) -> StackState | None:
    """A local stack whose embedded AWS has stopped, or restarted since the stack's last `up`, is gone
    with its memory: drop its state file."""
    config.apply_to(options)
    path = resolve_state_path(options, must_exist=False)
    if path is None or not path.exists():
        return None
    state = read_state(path)
    if state.target.kind != "local":
        return None
    from .local import manager

    info = manager.running_info()
    if info is not None and state.target.instance in (None, embedded_instance(info)):
        return None  # running, and the run that holds it (or a state written before runs were recorded)
    with state_lock(path):
        StateStore(path, state).delete_file()
    return state


def summary(stack: Stack) -> dict[str, Any]:
    return {
        "name": stack.state.name,
        "target": stack.state.target.to_json(),
        "state": str(stack.store.path),
        "outputs": stack.state.outputs,
        "aws_calls": stack.clients.counter.summary() | {"engine_retries": stack.ctx.retries},
        "aws_calls_by_operation": dict(sorted(stack.clients.counter.by_operation.items())),
        "config": stack.state.settings.get("config"),
        "configuration": configuration.Configuration.from_json(stack.state.configuration).describe(),
        "settings_changed": config.changed_since(stack.recorded_settings, stack.state.settings),
        "code": stack.code_info,
    }
