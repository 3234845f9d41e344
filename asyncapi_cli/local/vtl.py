"""API Gateway mapping templates (Velocity) rendered with airspeed, with $input, $util and $context."""

from __future__ import annotations

import base64
import functools
import json
import urllib.parse
from typing import Any

import airspeed


class InputVariable:
    """$input: the request (or integration response) body and parameters."""

    def __init__(self, body: str, params: dict[str, dict[str, str]] | None = None) -> None:
        self.body = body
        self._params = params or {"path": {}, "querystring": {}, "header": {}}

    def _value(self, path: str) -> Any:
        data = json.loads(self.body) if self.body else None
        return select_json_path(data, path)

    def json(self, path: str = "$") -> str:
        return json.dumps(self._value(path), ensure_ascii=False)

    def path(self, path: str = "$") -> Any:
        return self._value(path)

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return self._params
        for source in ("path", "querystring", "header"):
            if name in self._params.get(source, {}):
                return self._params[source][name]
        return ""


class UtilVariable:
    """$util, as API Gateway defines it."""

    @staticmethod
    def urlEncode(value: Any) -> str:  # noqa: N802 - VTL names
        # Java's URLEncoder: space as '+', '*' kept, everything else outside [A-Za-z0-9._-] escaped.
        return urllib.parse.quote_plus(str(value), safe="*").replace("~", "%7E")

    @staticmethod
    def urlDecode(value: Any) -> str:  # noqa: N802
        return urllib.parse.unquote_plus(str(value))

    @staticmethod
    def escapeJavaScript(value: Any) -> str:  # noqa: N802
        return json.dumps(str(value), ensure_ascii=False)[1:-1].replace("'", "\\'")

    @staticmethod
    def base64Encode(value: Any) -> str:  # noqa: N802
        return base64.b64encode(str(value).encode("utf-8")).decode("ascii")

    @staticmethod
    def base64Decode(value: Any) -> str:  # noqa: N802
        return base64.b64decode(str(value)).decode("utf-8")

    @staticmethod
    def parseJson(value: Any) -> Any:  # noqa: N802
        return json.loads(str(value))


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
            parts.append(int(inner) if inner.isdigit() else inner)
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


@functools.lru_cache(maxsize=256)
def _compiled(template: str) -> airspeed.Template:
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
    return str(_compiled(template).merge(namespace))
