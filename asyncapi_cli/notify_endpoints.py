"""`[alarms] notify`: the endpoints SNS may send the stack's alarm and OK transitions to.

HTTPS and email on AWS; a loopback http:// endpoint for the embedded AWS only (alarms.check_notify
refuses it elsewhere, before any change). Standard library only: config.py checks the file with it.

A URL's path and query can hold a credential (PagerDuty's SNS integration URL carries its integration
key), so the state file and every output hold a URL only in its recorded form: scheme, host and the
first 12 hex digits of the entry's SHA-256 (the digest the subscription's unit key carries). An email
address is kept as it is: it is where SNS sends, not a credential. A subscription known only by its
recorded form is found by hashing ListSubscriptionsByTopic's endpoints, but cannot be subscribed again.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

HTTPS = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/\S*)?$")
LOOPBACK_HTTP = re.compile(r"^http://(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?(?:/\S*)?$")
EMAIL = re.compile(r"^email:[^@\s:]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
MAX_NOTIFY = 20
DIGEST_HEX = 12
# The recorded form of a URL entry: "https://hooks.example.com/… (sha256:1a2b3c4d5e6f)".
RECORDED = re.compile(r"^(https?)://([^/\s]+)/… \(sha256:([0-9a-f]{12})\)$")
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


def endpoint_digest(entry: str) -> str:
    """The first 12 hex digits of a `notify` entry's SHA-256 (for a URL: of the URL SNS is given)."""
    return hashlib.sha256(entry.encode()).hexdigest()[:DIGEST_HEX]


def recorded_form(entry: str) -> str:
    """What the state and every output hold of a `notify` entry (an entry already in that form as is)."""
    if entry.startswith("email:") or RECORDED.match(entry):
        return entry
    parts = urlsplit(entry)
    return f"{parts.scheme}://{parts.netloc}/… (sha256:{endpoint_digest(entry)})"


def recorded_forms(value: Any) -> Any:
    """A recorded `notify` list in its recorded form (an old state file's full URLs digested)."""
    if not isinstance(value, list | tuple):
        return value
    return [recorded_form(v) if isinstance(v, str) else v for v in value]


def digest_only(entry: str) -> tuple[str, str] | None:
    """(Protocol, digest) of an entry known only by its recorded form; None for a full entry."""
    match = RECORDED.match(entry)
    return (match[1], match[3]) if match else None
