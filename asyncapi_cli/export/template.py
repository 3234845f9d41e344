"""The CloudFormation template of a stack: its units rendered resource by resource (kinds.py), their
references as Ref / Fn::GetAtt / Fn::Sub, the marker strings as Fn::Sub of the parameters.

A unit's `after` (ordering no value carries) becomes DependsOn.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..engine import Context, Unit
from ..refs import Json, Ref, Sub, refs_in
from .configuration import MARKS, SENTINEL_PARAMETERS

Resources = dict[str, dict[str, Any]]


def logical_id(*parts: str) -> str:
    """CloudFormation logical ids are alphanumeric: "main_queue" -> "MainQueue"."""
    words = [w for part in parts for w in re.split(r"[^A-Za-z0-9]+", part) if w]
    return "".join(w[:1].upper() + w[1:] for w in words)


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _escaped(text: str) -> str:
    """Literal text inside an Fn::Sub string: "${" is written "${!"; markers become parameters."""
    text = text.replace("${", "${!")
    for mark, parameter in MARKS.items():
        text = text.replace(mark, parameter)
    return text


def _marked(text: str) -> bool:
    return any(mark in text for mark in MARKS)


@dataclass
class Builder:
    """Renders the values of one stack's units; kinds.py's renderers call it."""

    ctx: Context
    units: dict[str, Unit]
    # The renderer of each unit kind (kinds.RENDERERS), given by the caller: kinds.py builds on this module.
    renderers: dict[str, KindRenderer]
    # What each unit rendered to (logical ids), for DependsOn and fingerprints.
    rendered: dict[str, Resources] = field(default_factory=dict)
    # Parameters and conditions a renderer adds (beside the template's own).
    parameters: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)

    def id_of(self, key: str) -> str:
        return logical_id(key)

    # --- values ---------------------------------------------------------------------------------

    def value(self, value: Any) -> Any:
        if isinstance(value, Ref):
            return self.ref(value)
        if isinstance(value, Sub):
            return self.sub(value)
        if isinstance(value, Json):
            return self.value(value.document)  # CloudFormation takes JSON-typed properties as objects
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            if value in MARKS:  # the project name or a pseudo parameter alone
                return {"Ref": MARKS[value][2:-1]}
            return {"Fn::Sub": _escaped(value)} if _marked(value) else value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value in SENTINEL_PARAMETERS:
            return {"Ref": SENTINEL_PARAMETERS[value]}
        return value

    def ref(self, reference: Ref) -> Any:
        unit = self.units[reference.key]
        attributes = self.renderers[unit.kind].attributes
        if reference.attr not in attributes:
            raise KeyError(f"no CloudFormation rendering of {unit.kind} attribute {reference.attr!r}")
        return attributes[reference.attr](self, unit)

    def sub(self, value: Sub) -> Any:
        values = dict(value.values)
        text: list[str] = []
        variables: dict[str, Any] = {}
        for literal, name, _, _ in string.Formatter().parse(value.template):
            text.append(_escaped(literal))
            if name is None:
                continue
            item = values[name]
            if isinstance(item, str):
                text.append(_escaped(item))
                continue
            rendered = self.value(item)
            if isinstance(rendered, str):  # a fingerprint: plain text
                text.append(_escaped(rendered))
            elif isinstance(rendered, (int, float)):
                text.append(str(rendered))
            elif isinstance(rendered, dict) and set(rendered) == {"Ref"}:
                text.append("${" + rendered["Ref"] + "}")
            elif isinstance(rendered, dict) and set(rendered) == {"Fn::GetAtt"}:
                text.append("${" + ".".join(rendered["Fn::GetAtt"]) + "}")
            elif (
                isinstance(rendered, dict)
                and set(rendered) == {"Fn::Sub"}
                and isinstance(rendered["Fn::Sub"], str)
            ):
                text.append(rendered["Fn::Sub"])
            else:
                variables[name] = rendered
                text.append("${" + name + "}")
        joined = "".join(text)
        if variables:
            return {"Fn::Sub": [joined, variables]}
        return {"Fn::Sub": joined} if "${" in joined.replace("${!", "") else joined.replace("${!", "${")

    def ref_attr(self, key: str, attr: str) -> Any:
        return self.ref(Ref(key, attr))

    def tags(self) -> list[dict[str, Any]]:
        return [{"Key": k, "Value": self.value(v)} for k, v in sorted(self.ctx.tags.items())]

    def tag_map(self) -> dict[str, Any]:
        return {k: self.value(v) for k, v in sorted(self.ctx.tags.items())}

    def fingerprint(self, key: str) -> str:
        """A digest of what a unit renders to (for a deployment's description, as `up` uses one)."""
        if key not in self.rendered:
            unit = self.units[key]
            self.rendered[key] = self.renderers[unit.kind].render(self, unit)
        return digest(self.rendered[key])

    def resource_ids(self, key: str) -> list[str]:
        """What waits on a unit waits on these: its resources that always exist (no Condition)."""
        return sorted(
            name for name, resource in self.rendered.get(key, {}).items() if "Condition" not in resource
        )


def render_resources(
    ctx: Context, units: list[Unit], renderers: dict[str, KindRenderer]
) -> tuple[Resources, Builder]:
    """Every unit's resources, in the units' order, DependsOn added from `after`."""
    builder = Builder(ctx, {unit.key: unit for unit in units}, renderers)
    for unit in units:
        if unit.kind not in renderers:
            raise KeyError(f"no CloudFormation renderer for {unit.kind} ({unit.key})")
        if unit.key not in builder.rendered:
            builder.rendered[unit.key] = renderers[unit.kind].render(builder, unit)
    resources: Resources = {}
    for unit in units:
        # An `after` a Ref or GetAtt already carries needs no DependsOn (cfn-lint W3005).
        referenced = refs_in(getattr(unit, "attributes", {}))
        after = [
            logical
            for key in getattr(unit, "after", ())
            if key in builder.units and key not in referenced
            for logical in builder.resource_ids(key)
        ]
        for name, resource in builder.rendered[unit.key].items():
            if after:
                depends = sorted(set(resource.get("DependsOn", [])) | set(after))
                resource["DependsOn"] = depends
            resources[name] = resource
    return resources, builder


Intrinsic = Callable[[Builder, Unit], Any]


@dataclass(frozen=True)
class KindRenderer:
    """How one kind of unit renders: its resources, and its record's attributes as intrinsics."""

    render: Callable[[Builder, Unit], Resources]
    attributes: dict[str, Intrinsic]


def ref_of(b: Builder, unit: Unit) -> Any:
    return {"Ref": b.id_of(unit.key)}


def get_att(name: str) -> Intrinsic:
    return lambda b, unit: {"Fn::GetAtt": [b.id_of(unit.key), name]}


def name_of(b: Builder, unit: Unit) -> Any:
    return b.value(unit.name)
