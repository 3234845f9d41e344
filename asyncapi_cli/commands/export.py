"""`asyncapi export`: the stack as a CloudFormation template, its API as OpenAPI. No AWS call."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def export_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options that choose the stack's configuration, as `up` takes them."""
    options = [
        click.option("--name", help="Project name (default: the state file's, asyncapi.toml's)."),
        click.option("--state", "state_path", type=click.Path(path_type=Path), help="State file."),
        click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path),
            help="Settings file (default: ./asyncapi.toml when present).",
        ),
        click.option(
            "--with", "with_features", metavar="FEATURES", help="Features to include, as up --with."
        ),
        click.option("--auth", type=click.Choice(["none", "api-key"]), help="As up --auth."),
        click.option("--cors-origin", "cors_origins", multiple=True, help="As up --cors-origin."),
        click.option("--throttle-rate", type=float, help="As up --throttle-rate (the parameter's default)."),
        click.option("--throttle-burst", type=int, help="As up --throttle-burst (the parameter's default)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def configuration(kwargs: dict[str, Any]) -> Any:
    from ..export.configuration import export_configuration
    from ..names import validate_name
    from ..ops import StackOptions
    from ..options import with_features
    from ..secure_api import flag_overrides

    if kwargs.get("name") is not None:
        validate_name(kwargs["name"])
    options = StackOptions(
        name=kwargs.get("name"), state_path=kwargs.get("state_path"), config_path=kwargs.get("config_path")
    )
    options.overrides = flag_overrides(
        kwargs.get("auth"),
        tuple(kwargs.get("cors_origins") or ()),
        kwargs.get("throttle_rate"),
        kwargs.get("throttle_burst"),
    )
    options.features = with_features(kwargs.get("with_features"))
    return export_configuration(options)


def dump(document: Any, path: Path | None) -> str:
    """YAML, or JSON when the file's name ends in .json."""
    if path is not None and path.suffix == ".json":
        return json.dumps(document, indent=2) + "\n"
    import yaml

    class NoAliases(yaml.SafeDumper):
        """Every value written out in full: CloudFormation reads YAML without anchors and aliases."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    return str(yaml.dump(document, Dumper=NoAliases, sort_keys=False, width=110, allow_unicode=True))


@click.group()
def export() -> None:
    """Write the stack as infrastructure code (CloudFormation) or its API as OpenAPI 3."""


@export.command("openapi")
@export_options
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="File (default: stdout)."
)
def export_openapi(output: Path | None, **kwargs: Any) -> None:
    """The API as OpenAPI 3: routes of the enabled features, models, responses, the API-key scheme."""
    from ..export.openapi import openapi_document

    chosen = configuration(kwargs)
    text = dump(openapi_document(chosen.settings, chosen.name, chosen.api_url), output)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text)
    click.echo(f"wrote {output} (OpenAPI 3 of {chosen.name}, settings from {chosen.source})", err=True)


@export.command("cloudformation")
@export_options
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("cloudformation"),
    show_default=True,
    help="Where template.yaml and function.zip go.",
)
@click.option(
    "--format", "template_format", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True
)
def export_cloudformation(output_dir: Path, template_format: str, **kwargs: Any) -> None:
    """The stack as CloudFormation: DIR/template.yaml and the functions' DIR/function.zip.

    Every resource `up` deploys for this configuration, names derived from the ProjectName parameter.
    No AWS call."""
    from ..export.cloudformation import CODE_KEY, export_stack

    chosen = configuration(kwargs)
    exported = export_stack(chosen.name, chosen.settings)
    output_dir.mkdir(parents=True, exist_ok=True)
    template = output_dir / f"template.{template_format}"
    template.write_text(dump(exported.template, template))
    (output_dir / CODE_KEY).write_bytes(exported.code_zip)
    resources = len(exported.template["Resources"])
    features = ", ".join(sorted(chosen.settings.features)) or "none"
    click.echo(
        f"wrote {template} ({resources} resources; features: {features}; settings from {chosen.source}) "
        f"and {output_dir / CODE_KEY} (sha256 {exported.code_sha256})"
    )
    # --s3-bucket: a template over 51,200 bytes (features on) must reach CloudFormation through S3.
    click.echo(
        f"deploy: aws s3 cp {output_dir / CODE_KEY} s3://BUCKET/{CODE_KEY} && aws cloudformation deploy "
        f"--template-file {template} --s3-bucket BUCKET --stack-name {chosen.name} "
        f"--capabilities CAPABILITY_NAMED_IAM --parameter-overrides ProjectName={chosen.name} "
        f"CodeS3Bucket=BUCKET CodeS3Key={CODE_KEY}"
    )


def register(group: click.Group) -> None:
    group.add_command(export)
