"""`[alarms] notify`: the endpoints SNS may send the stack's alarm and OK transitions to.

HTTPS and email on AWS; a loopback http:// endpoint for the embedded AWS only (alarms.check_notify
refuses it elsewhere, before any change). Standard library only: config.py checks the file with it.
"""

from __future__ import annotations

import re
from typing import Any

HTTPS = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/\S*)?$")
LOOPBACK_HTTP = re.compile(r"^http://(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?(?:/\S*)?$")
EMAIL = re.compile(r"^email:[^@\s:]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
MAX_NOTIFY = 20
ALLOWED = 'must be a list of "https://...", "email:ops@example.com" or, locally, "http://127.0.0.1:PORT/..."'


def notify_problem(value: Any) -> str | None:
    """What is wrong with a `notify` value, or None."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return ALLOWED
    if len(value) > MAX_NOTIFY:
        return f"at most {MAX_NOTIFY} endpoints"
    for endpoint in value:
        if not (HTTPS.match(endpoint) or EMAIL.match(endpoint) or LOOPBACK_HTTP.match(endpoint)):
            shown = endpoint if len(endpoint) <= 60 else endpoint[:57] + "..."
            return f"{ALLOWED} (got {shown!r})"
    if len(set(value)) != len(value):
        return "names an endpoint twice"
    return None
