"""The variables API Gateway's mapping templates read: `$input` (the body, by JSONPath, and the request's
parameters) and `$util` ("API Gateway mapping template and access logging variable reference"), with
values rendered as Java renders them (toString) and read as Jackson reads JSON. vtl.py renders the
templates with these; see tests/test_fidelity_vtl.py for the AWS sources of each behaviour.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any


class GatewayTemplateError(Exception):
    """A template could not be applied; `bad_body` when the request body was not JSON."""

    def __init__(self, message: str, bad_body: bool = False) -> None:
        super().__init__(message)
        self.bad_body = bad_body


class JsonMap(dict):  # type: ignore[type-arg]
    """A JSON object read by $input.path: renders {k=v}, its lists as JSON."""


class JsonList(list):  # type: ignore[type-arg]
    """A JSON array read by $input.path: renders as compact JSON."""


def wrap_json(value: Any) -> Any:
    if isinstance(value, dict):
        return JsonMap({k: wrap_json(v) for k, v in value.items()})
    if isinstance(value, list):
        return JsonList(wrap_json(v) for v in value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_vtl_string(value: Any) -> str:
    """How Java's toString (as API Gateway's Velocity calls it) renders a value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, JsonList):
        return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={to_vtl_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(to_vtl_string(v) for v in value) + "]"
    return str(value)


def java_replace_all(text: Any, regex: Any, replacement: Any) -> str:
    """java.lang.String.replaceAll: `$n` is a group, a backslash quotes the next character."""

    def expand(match: re.Match[str]) -> str:
        out, i, repl = [], 0, str(replacement)
        while i < len(repl):
            char = repl[i]
            if char == "\\" and i + 1 < len(repl):
                out.append(repl[i + 1])
                i += 2
            elif char == "$" and i + 1 < len(repl) and repl[i + 1].isdigit():
                out.append(match.group(int(repl[i + 1])) or "")
                i += 2
            else:
                out.append(char)
                i += 1
        return "".join(out)

    return re.sub(str(regex), expand, to_vtl_string(text))


def escape_javascript(value: Any) -> str:
    """commons-lang StringEscapeUtils.escapeJavaScript (what API Gateway's $util.escapeJavaScript is)."""
    out = []
    for char in to_vtl_string(value):
        code = ord(char)
        if code > 0x7F:
            out.append("".join(f"\\u{unit:04X}" for unit in _utf16_units(char)))
        elif char in "\b\n\t\f\r":
            out.append({"\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}[char])
        elif code < 0x20:
            out.append(f"\\u{code:04X}")
        elif char in "'\"\\/":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def _utf16_units(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def select_json_path(data: Any, path: str) -> Any:
    """The JSONPath subset templates use: $, $.a.b, $['a'], $.list[0]."""
    if path in ("$", ""):
        return data
    current = data
    token = ""
    i = 1 if path.startswith("$") else 0
    parts: list[Any] = []
    while i < len(path):
        char = path[i]
        if char == ".":
            if token:
                parts.append(token)
            token = ""
        elif char == "[":
            if token:
                parts.append(token)
                token = ""
            end = path.index("]", i)
            inner = path[i + 1 : end].strip("'\"")
            parts.append(int(inner) if inner.lstrip("-").isdigit() else inner)
            i = end
        else:
            token += char
        i += 1
    if token:
        parts.append(token)
    for part in parts:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return None
    return current


def parse_json_strictly(text: str) -> Any:
    """JSON as Jackson reads it: no NaN/Infinity, no trailing garbage; too deep is an error too."""

    def reject(name: str) -> Any:
        raise ValueError(f"Non-standard token '{name}'")

    try:
        return json.loads(text, parse_constant=reject)
    except RecursionError as exc:
        raise ValueError("document nested too deeply") from exc


class InputVariable:
    """$input: the request (or integration response) body and the method request parameters.

    `strict` is for request templates: there API Gateway refuses a body that is not JSON when a
    template reads it with $input.path/$input.json (400 "Could not parse request body into json").
    """

    def __init__(self, body: str, params: dict[str, Mapping[str, str]] | None = None, strict: bool = False):
        self._body = body
        self._params = params or {"path": {}, "querystring": {}, "header": {}}
        self._strict = strict

    @property
    def body(self) -> str:
        # An empty body reads as "{}" (LocalStack snapshot test_input_body_formatting, recorded on AWS).
        return self._body or "{}"

    def _value(self, path: str) -> Any:
        if not self._body:
            return None
        try:
            data = parse_json_strictly(self._body)
        except ValueError as exc:
            if self._strict:
                raise GatewayTemplateError(f"Could not parse request body into json: {exc}", True) from exc
            return None
        return select_json_path(data, path or "$")

    def json(self, path: str = "$") -> str:
        return json.dumps(self._value(path), ensure_ascii=False)

    def path(self, path: str = "$") -> Any:
        return wrap_json(self._value(path))

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return {k: dict(v) for k, v in self._params.items()}
        for source in ("path", "querystring"):
            if name in self._params.get(source, {}):
                return self._params[source][name]
        wanted = name.lower()
        for header, value in self._params.get("header", {}).items():
            if header.lower() == wanted:  # header names are case-insensitive (RFC 9110)
                return value
        return ""


class UtilVariable:
    """$util, as API Gateway defines it ("API Gateway mapping template and access logging variable
    reference")."""

    @staticmethod
    def urlEncode(value: Any) -> str:  # noqa: N802 - VTL names
        # Java's URLEncoder: space as '+', '*' kept, everything else outside [A-Za-z0-9._-] escaped.
        return urllib.parse.quote_plus(to_vtl_string(value), safe="*").replace("~", "%7E")

    @staticmethod
    def urlDecode(value: Any) -> str:  # noqa: N802
        return urllib.parse.unquote_plus(to_vtl_string(value))

    @staticmethod
    def escapeJavaScript(value: Any) -> str:  # noqa: N802
        return escape_javascript(value)

    @staticmethod
    def base64Encode(value: Any) -> str:  # noqa: N802
        return base64.b64encode(to_vtl_string(value).encode("utf-8")).decode("ascii")

    @staticmethod
    def base64Decode(value: Any) -> str:  # noqa: N802
        return base64.b64decode(to_vtl_string(value)).decode("utf-8", errors="replace")

    @staticmethod
    def parseJson(value: Any) -> Any:  # noqa: N802
        return wrap_json(json.loads(to_vtl_string(value)))
