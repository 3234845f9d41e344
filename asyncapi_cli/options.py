"""Options and decorators the commands share. Command modules import this, never cli.py (no cycle)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

FEATURE_LIST = "webhooks,priorities,batches,scheduling,websocket"


def stack_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--name", help="Project name (default: async-api-<random>, kept in the state file)."),
        click.option(
            "--region", help="AWS region (default: from the environment or profile, else us-east-1)."
        ),
        click.option("--profile", help="AWS named profile."),
        click.option(
            "--endpoint-url", help="Any AWS-compatible endpoint, e.g. LocalStack (or AWS_ENDPOINT_URL)."
        ),
        click.option("--local", is_flag=True, help="Use the embedded local AWS (moto on 127.0.0.1)."),
        click.option(
            "--state",
            "state_path",
            type=click.Path(path_type=Path),
            help="State file (default: .asyncapi/<name>.json).",
        ),
        click.option("--json", "json_mode", is_flag=True, help="Machine-readable JSON output."),
        click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path),
            help="Settings file (default: ./asyncapi.toml when present).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def configuration_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The stack's configuration flags (up, plan, status). Each overrides asyncapi.toml and what the
    last `up` recorded; what is not given keeps the recorded value (configuration.py)."""
    options = [
        click.option(
            "--with",
            "with_features",
            metavar="FEATURES",
            help=f"Features to turn on, comma-separated ({FEATURE_LIST}). They stay on for later "
            "runs until --without turns them off.",
        ),
        click.option(
            "--without",
            "without_features",
            metavar="FEATURES",
            help="Features to turn off, comma-separated (deleting a secret or data asks first).",
        ),
        click.option(
            "--auth",
            type=click.Choice(["none", "api-key"]),
            help="api-key: require x-api-key (usage plan); none turns it off. Kept for later runs.",
        ),
        click.option(
            "--cors-origin",
            "cors_origins",
            multiple=True,
            help="Allow this browser origin (repeatable); 'none' turns CORS off.",
        ),
        click.option("--throttle-rate", type=float, help="Stage steady rate, requests/second (default 50)."),
        click.option("--throttle-burst", type=int, help="Stage burst, requests (default 100)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def stack_options_from(**kwargs: Any) -> Any:
    """StackOptions from the parsed options (tests wrap this to attach fault hooks)."""
    from .ops import StackOptions

    options = StackOptions(
        name=kwargs.get("name"),
        region=kwargs.get("region"),
        profile=kwargs.get("profile"),
        endpoint_url=kwargs.get("endpoint_url"),
        local=bool(kwargs.get("local")),
        state_path=kwargs.get("state_path"),
        config_path=kwargs.get("config_path"),
    )
    if "with_features" in kwargs:  # the configuration flags, for the commands that take them
        from .secure_api import flag_overrides

        options.features = with_features(kwargs.get("with_features"))
        options.without = with_features(kwargs.get("without_features"), flag="--without")
        options.overrides = flag_overrides(
            kwargs.get("auth"),
            tuple(kwargs.get("cors_origins") or ()),
            kwargs.get("throttle_rate"),
            kwargs.get("throttle_burst"),
        )
    return options


def with_features(text: str | None, flag: str = "--with") -> frozenset[str]:
    """`--with webhooks,priorities` (or --without): the features named, each checked."""
    from .config import FEATURES
    from .errors import InputError

    names = frozenset(part.strip() for part in (text or "").split(",") if part.strip())
    unknown = sorted(names - set(FEATURES))
    if unknown:
        raise InputError(f"{flag}: unknown feature {unknown[0]!r}; choose from {', '.join(FEATURES)}")
    return names


def output(json_mode: bool) -> Any:
    from .output import Output

    return Output(json_mode=json_mode)


def stack_kwargs(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        # A global looked up at each call: tests replace stack_options_from to attach their hooks.
        options = stack_options_from(**kwargs)
        return fn(options=options, out=output(kwargs.pop("json_mode")), **kwargs)

    return wrapper
