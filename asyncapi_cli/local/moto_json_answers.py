"""moto's JSON-protocol answers (DynamoDB, SQS, Logs, EventBridge...) serialized at less CPU.

moto serializes a result by walking the operation's output shape and, for every member, asking a
value picker for it: six alias providers are built and tried per member (the member's own name, its
shape's name, its snake_case form, prefixes...), whatever the result is. For a DynamoDB UpdateItem that
was ~6% of the embedded AWS's CPU under load. Most results are already plain data keyed by the member
names (DynamoDB's are, after `dynamo_to_dict`); for those the walk is done directly here: the same
members in the same order, the same conversions (`int()`, `float()`, a string as it is).

Only what is certain to come out the same takes this way; anything else is moto's walk, whole: a result
that is not a dict, a key that is not a member, a member whose alias could name another member, a
serialization name, a timestamp, a blob, an Enum, a None inside a list or map, a response transformer.
tests/test_local_moto_json_answers.py compares answers with moto's for many operations.
"""

from __future__ import annotations

from typing import Any

from botocore import xform_name

from .moto_patches import originals


class _NotPlain(Exception):
    """The result is not plain data this module can serialize as moto would: moto's walk does it."""


_SCALARS: dict[str, type] = {
    "string": str,
    "boolean": bool,
    "integer": int,
    "long": int,
    "float": float,
    "double": float,
}


class PlainSerializer:
    """Output-shape walks of plain data, with each structure's member table computed once."""

    def __init__(self) -> None:
        self._members: dict[int, tuple[Any, dict[str, Any] | None]] = {}  # id(shape) -> (shape, members)

    def members(self, shape: Any) -> dict[str, Any]:
        """name -> shape, in the model's order; _NotPlain when an alias of one member could be another
        member's name (then moto's picker might take that value) or a member is renamed."""
        kept = self._members.get(id(shape))
        if kept is not None and kept[0] is shape:
            if kept[1] is None:
                raise _NotPlain
            return kept[1]
        members: dict[str, Any] | None = dict(shape.members)
        names = set(members or ())
        for name, member in (members or {}).items():
            # What moto's picker may try before or instead of the name: the shape's name, the name
            # without the structure's or the class's ("dict") prefix, and each in snake_case.
            shortened = {member.name}
            if name.lower().startswith(shape.name.lower()):
                shortened.add(name[len(shape.name) :])
            if name.lower().startswith("dict"):
                shortened.add(name[4:])
            aliases = shortened | {xform_name(alias) for alias in shortened | {name}}
            aliases.discard(name)
            if member.serialization.get("name", name) != name or aliases & names:
                members = None
                break
        self._members[id(shape)] = (shape, members)
        if members is None:
            raise _NotPlain
        return members

    def value(self, value: Any, shape: Any) -> Any:
        kind = shape.type_name
        scalar = _SCALARS.get(kind)
        if scalar is not None:
            if type(value) is not scalar:
                raise _NotPlain  # moto converts (str(), int(), an Enum's value): let it
            return value
        if kind == "structure":
            return value if shape.is_document_type else self.structure(value, shape)
        if kind == "map":
            if type(value) is not dict or shape.value.serialization.get("name") is not None:
                raise _NotPlain
            if not all(type(key) is str and key for key in value):
                raise _NotPlain  # moto merges a structure under an empty key into the map itself
            return {key: self.value(self.present(item), shape.value) for key, item in value.items()}
        if kind == "list":
            if type(value) is not list or shape.member.serialization.get("name") is not None:
                raise _NotPlain
            return [self.value(self.present(item), shape.member) for item in value]
        raise _NotPlain  # timestamp, blob, anything new

    @staticmethod
    def present(value: Any) -> Any:
        if value is None:
            raise _NotPlain  # moto keeps a None here, or drops it, by the shape: let it
        return value

    def structure(self, value: Any, shape: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise _NotPlain
        members = self.members(shape)
        if not value.keys() <= members.keys():
            raise _NotPlain  # a key moto would drop, or find through an alias
        return {
            name: self.value(value[name], member)
            for name, member in members.items()
            if value.get(name) is not None
        }


_plain = PlainSerializer()


def apply() -> None:
    """Once, from moto_patches.apply (under its lock); moto's own is kept in its `originals`."""
    from moto.core.serialize import JSONSerializer, XFormedAttributePicker

    if "JSONSerializer._serialize_result" in originals:
        return
    walk = originals["JSONSerializer._serialize_result"] = JSONSerializer._serialize_result

    def serialize_result(self: Any, resp: Any, result: Any) -> Any:
        output = self.operation_model.output_shape
        picker = self._value_picker
        if (
            output is None
            or type(self) is not JSONSerializer
            or type(picker) is not XFormedAttributePicker
            or picker.response_transformers
        ):
            return walk(self, resp, result)
        try:
            serialized = _plain.structure(result, output)
        except _NotPlain:
            return walk(self, resp, result)
        return self._serialized_result_to_response(resp, result, output, serialized)

    JSONSerializer._serialize_result = serialize_result  # type: ignore[method-assign]
