"""Stage access logs: one line per request, the stage's format with $context substituted, written to
the CloudWatch log group named by `accessLogSettings.destinationArn` (AWS docs "Set up CloudWatch
logging for REST APIs in API Gateway": access logging variables are `$context.*`, not Velocity).
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import moto_seam

VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.]+)")


def format_line(template: str, context: dict[str, Any]) -> str:
    def lookup(match: re.Match[str]) -> str:
        current: Any = context
        for part in match.group(1).split("."):
            current = current.get(part) if isinstance(current, dict) else None
        if current is None:
            return "-"  # what API Gateway writes for a variable without a value
        if isinstance(current, (dict, list)):
            return json.dumps(current)
        return str(current)

    return VARIABLE.sub(lookup, template)


def write(settings: dict[str, Any] | None, context: dict[str, Any], stream: str) -> bool:
    if not settings or not settings.get("destinationArn") or not settings.get("format"):
        return False
    return moto_seam.put_log_line(
        settings["destinationArn"], stream, format_line(settings["format"], context)
    )
