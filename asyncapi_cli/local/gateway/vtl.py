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
The variables (`$input`, `$util`) and Java's rendering of values are in vtl_variables.py; this module
makes airspeed run templates as Java Velocity does (through the compat registry) and renders them.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import airspeed

from ..compat.registry import REGISTRY, Patch, register
from .vtl_variables import (
    GatewayTemplateError,
    InputVariable,
    JsonList,
    JsonMap,
    UtilVariable,
    java_replace_all,
    to_vtl_string,
)


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
