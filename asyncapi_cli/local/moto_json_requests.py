"""moto's parse of JSON-protocol requests (DynamoDB, SQS's JSON, Logs...) at less CPU.

moto parses every request's parameters against the operation's input shape (moto/core/parse.py
JSONParser): `json.loads`, then a walk where each node looks its handler up by name
(`getattr(self, f"_parse_{type_name}")`) and each structure re-reads every member's serialization
name. A DynamoDB item is a map of AttributeValue structures with ten members each, so a worker's
UpdateItem walked ~100 members: ~3.5% of the embedded AWS's CPU per request.

Here the same walk is worked out once per input shape: a function per shape, each structure with its
members' wire names and their functions in moto's order, a string or boolean taken as it is (moto's
`_default_handle`). The steps are moto's, one for one (structure: None stays None, a document as it
is, members in shape order, a missing or null member left out; list: each item; map: each key and
value into the parser's map type; blob, timestamp: moto's default parsers; integers and floats:
`int()`/`float()`, UNDEFINED as it is). Only a plain JSONParser with moto's default blob and
timestamp parsers takes this way; tests/test_local_moto_json_requests.py compares the two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .moto_patches import originals

Parse = Callable[[Any], Any]
# Per input shape object (held, so its id is never reused) and map type: its compiled parse.
_compiled: dict[tuple[int, Any], tuple[Any, Parse]] = {}

_INTEGERS = frozenset({"integer", "long", "short", "byte"})
_FLOATS = frozenset({"float", "double"})


def _compile(shape: Any, map_type: Any, named: dict[str, Parse | None]) -> Parse | None:
    """The parse of `shape`'s values; None when moto takes the value as it is."""
    from moto.core.parse import UNDEFINED, default_blob_parser, default_timestamp_parser

    kind = shape.type_name
    if kind in _INTEGERS:
        return lambda value: value if value is UNDEFINED else int(value)
    if kind in _FLOATS:
        return lambda value: value if value is UNDEFINED else float(value)
    if kind == "blob":
        return default_blob_parser
    if kind == "timestamp":
        return default_timestamp_parser
    if kind not in ("structure", "list", "map"):
        return None  # string, boolean, ...: RequestParser._default_handle
    if kind == "structure" and shape.is_document_type:
        return None
    name = shape.name
    if name in named:  # a recursive shape (AttributeValue's M and L): resolved when called
        return lambda value: named[name](value)  # type: ignore[misc]
    named[name] = None
    if kind == "list":
        item = _compile(shape.member, map_type, named)
        parse: Parse = (lambda node: list(node)) if item is None else (lambda node: [item(v) for v in node])
    elif kind == "map":
        key, each = _compile(shape.key, map_type, named), _compile(shape.value, map_type, named)

        def parse(value: Any) -> Any:
            parsed = map_type()
            for raw_key, raw in value.items():
                parsed[raw_key if key is None else key(raw_key)] = raw if each is None else each(raw)
            return parsed
    else:
        members = [
            (member, member_shape.serialization.get("name", member), _compile(member_shape, map_type, named))
            for member, member_shape in shape.members.items()
        ]

        def parse(value: Any) -> Any:
            if value is None:
                return None
            parsed = map_type()
            for member, wire_name, member_parse in members:
                raw = value.get(wire_name)
                if raw is not None:
                    parsed[member] = raw if member_parse is None else member_parse(raw)
            return parsed

    named[name] = parse
    return parse


def compiled_parse(shape: Any, map_type: Any) -> Parse:
    key = (id(shape), map_type)
    found = _compiled.get(key)
    if found is None or found[0] is not shape:
        parse = _compile(shape, map_type, {})
        found = _compiled[key] = (shape, parse if parse is not None else (lambda value: value))
    return found[1]


def apply() -> None:
    """Once, from moto_patches.apply (under its lock); moto's own is kept in its `originals`."""
    from moto.core.parse import JSONParser, default_blob_parser, default_timestamp_parser

    if "JSONParser._parse_json_body" in originals:
        return
    walk = originals["JSONParser._parse_json_body"] = JSONParser._parse_json_body

    def parse_json_body(self: Any, raw_body: Any, shape: Any) -> Any:
        if (
            type(self) is not JSONParser
            or self._blob_parser is not default_blob_parser
            or self._timestamp_parser is not default_timestamp_parser
        ):
            return walk(self, raw_body, shape)
        try:
            parse = compiled_parse(shape, self.MAP_TYPE)
        except Exception:  # a shape this cannot read: moto's walk, which may explain it
            return walk(self, raw_body, shape)
        return parse(self._parse_body_as_json(raw_body))

    JSONParser._parse_json_body = parse_json_body  # type: ignore[method-assign]
