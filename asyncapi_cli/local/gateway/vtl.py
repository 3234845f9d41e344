"""API Gateway mapping templates (Velocity 1.7, as API Gateway runs them) rendered with airspeed.

airspeed is a Python VTL engine; API Gateway's engine is Java. The differences that show in output are
bridged here, each after what AWS answers (see tests/test_fidelity_vtl.py for the sources):
- a null or undefined reference renders as the empty string (Java Velocity in API Gateway), not as its
  own text;
- values render as Java's toString does: maps `{foo=bar}`, lists `[a, b]`, booleans `true`; a JSON list
  read by `$input.path` renders as JSON (API Gateway keeps it as a JSON node);
- string literals take no backslash escapes (Velocity 1.7), so `replaceAll("\\'", "'")` sees the
  regex `\\'`; `replaceAll` follows java.lang.String (regex, `$1` in the replacement);
- `$util.escapeJavaScript` is commons-lang's StringEscapeUtils.escapeJavaScript.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

import airspeed

from ..compat.registry import REGISTRY, Patch, register


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


def _calculate(original_calculate: Any) -> Any:
    def calculate(self: Any, namespace: Any, loader: Any, global_namespace: Any = None) -> Any:
        value = original_calculate(self, namespace, loader, global_namespace)
        return "" if value is None else value

    return calculate


def _reference_evaluate_raw(_: Any) -> Any:
    def evaluate_raw(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
        value = self.expression.calculate(namespace, loader) if self.expression is not None else None
        if value is None and self.alternate is not None:
            value = self.alternate.calculate(namespace, loader)
        if value is None and self.expression is None:
            value = self.my_text()
        stream.write(to_vtl_string(value))

    return evaluate_raw


def _no_escapes(_: Any) -> Any:
    return re.compile(r"(?!)")


def _java_methods(methods: Any) -> Any:
    """airspeed's table of methods by type, with Java's String, Map and List methods templates use."""
    methods = {kind: dict(table) for kind, table in methods.items()}
    string_methods = {
        "replaceAll": java_replace_all,
        "replace": lambda s, a, b: s.replace(to_vtl_string(a), to_vtl_string(b)),
        "toLowerCase": lambda s: s.lower(),
        "toUpperCase": lambda s: s.upper(),
        "trim": lambda s: s.strip(),
        "equals": lambda s, other: s == other,
        "isEmpty": lambda s: not s,
        "endsWith": lambda s, suffix: s.endswith(suffix),
        "indexOf": lambda s, sub: s.find(sub),
        "substring": lambda s, start, end=None: s[start:end],
        "toString": lambda s: s,
    }
    methods[str].update(string_methods)
    map_methods = {
        **methods[dict],
        "size": len,
        "containsKey": lambda m, key: key in m,
        "get": lambda m, key: m.get(key),
        "values": lambda m: list(m.values()),
        "toString": to_vtl_string,
        "entrySet": lambda m: [{"key": k, "value": v} for k, v in m.items()],
    }
    methods[dict] = map_methods
    methods[JsonMap] = map_methods
    methods[list].update({"isEmpty": lambda s: not s, "toString": to_vtl_string})
    methods[JsonList] = methods[list]
    return methods


SET_PLACE = re.compile(
    r"\s*\$([a-z_][a-z0-9_]*)((?:\.[a-z_][a-z0-9_]*|\[\s*(?:\"[^\"]*\"|'[^']*'|\$[a-z_][a-z0-9_]*|\d+)\s*\])*)",
    re.S | re.I,
)
SET_TERM = re.compile(
    r"\.([a-z_][a-z0-9_]*)|\[\s*(?:\"([^\"]*)\"|'([^']*)'|\$([a-z_][a-z0-9_]*)|(\d+))\s*\]", re.I
)


def _set_parse(_: Any) -> Any:
    """`#set($a.b[$key] = v)` and `#set($a["k"].b = v)`: Velocity assigns into maps by index too
    (LocalStack snapshot test_integration_mock_with_vtl_map_assignation); airspeed only knows dots."""
    ops_expression = airspeed.__dict__["Expression"]

    def parse(self: Any) -> None:
        self.identity_match(self.START)
        root, suffix = self.require_match(SET_PLACE, "place")
        self.terms = [root]
        for name, double, single, var, number in SET_TERM.findall(suffix):
            if name:
                self.terms.append(("key", name))
            elif var:
                self.terms.append(("var", var))
            elif number:
                self.terms.append(("key", int(number)))
            else:
                self.terms.append(("key", double or single))
        self.require_match(self.EQUALS, "=")
        self.value = self.require_next_element(ops_expression, "expression")
        self.require_match(self.END, "closing paren")

    return parse


def _set_evaluate_raw(_: Any) -> Any:
    def evaluate_raw(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
        value = self.value.calculate(namespace, loader)
        if len(self.terms) == 1:
            namespace.set_inherited(self.terms[0], value)
            return
        keys = [namespace[var] if kind == "var" else var for kind, var in self.terms[1:]]
        current = namespace[self.terms[0]]
        for key in keys[:-1]:
            current = current[key]
        current[keys[-1]] = value

    return evaluate_raw


# Java Velocity's output and literals (see the module docstring); the embedded AWS renders only API
# Gateway templates with airspeed.
VERIFIED = ("airspeed", "0.7.1")
register(
    Patch(
        "airspeed:VariableExpression.calculate",
        _calculate,
        "fidelity",
        "null renders as empty",
        "vtl",
        VERIFIED,
        params=("self", "namespace", "loader", "global_namespace"),
    ),
    Patch(
        "airspeed:FormalReference.evaluate_raw",
        _reference_evaluate_raw,
        "fidelity",
        "references render as Velocity's",
        "vtl",
        VERIFIED,
        params=("self", "stream", "namespace", "loader"),
    ),
    Patch(
        "airspeed:SetDirective.parse",
        _set_parse,
        "fidelity",
        "#set into maps by index",
        "vtl",
        VERIFIED,
        params=("self",),
    ),
    Patch(
        "airspeed:SetDirective.evaluate_raw",
        _set_evaluate_raw,
        "fidelity",
        "#set into maps by index",
        "vtl",
        VERIFIED,
        params=("self", "stream", "namespace", "loader"),
    ),
    Patch(
        "airspeed:StringLiteral.ESCAPED_CHAR",
        _no_escapes,
        "fidelity",
        "Velocity has no escapes",
        "vtl",
        VERIFIED,
    ),
    Patch(
        "airspeed:InterpolatedStringLiteral.ESCAPED_CHAR",
        _no_escapes,
        "fidelity",
        "Velocity has no escapes",
        "vtl",
        VERIFIED,
    ),
    Patch(
        "airspeed:__additional_methods__",
        _java_methods,
        "fidelity",
        "Java's String/Map/List methods",
        "vtl",
        VERIFIED,
    ),
)


@functools.lru_cache(maxsize=256)
def _compiled(template: str) -> airspeed.Template:
    REGISTRY.apply(["vtl"])  # once applied, a no-op (templates are rendered in the embedded AWS only)
    return airspeed.Template(template)


def render(
    template: str,
    *,
    input_variable: InputVariable,
    context: dict[str, Any],
    stage_variables: dict[str, str] | None = None,
) -> str:
    namespace = {
        "input": input_variable,
        "util": UtilVariable(),
        "context": context,
        "stageVariables": stage_variables or {},
    }
    try:
        return str(_compiled(template).merge(namespace))
    except Exception as exc:
        cause: BaseException | None = exc
        while cause is not None:  # airspeed wraps what a method raised in TemplateExecutionError
            if isinstance(cause, GatewayTemplateError):
                raise cause from None
            cause = cause.__cause__
        # A template that cannot run is the API's configuration error, not ours.
        raise GatewayTemplateError(f"Unable to transform: {type(exc).__name__}: {exc}") from exc
