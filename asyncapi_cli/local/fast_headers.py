"""The embedded AWS's HTTP request headers parsed without the email package.

Every request the embedded AWS answers (moto's endpoint and the API gateway, both `http.server`
handlers), and every answer a Lambda worker's SDK reads, has its header block parsed by
`http.client.parse_headers`, which hands the block to
`email.parser.Parser`: a feed parser built for MIME messages, about 5% of the server's CPU for a
DynamoDB UpdateItem. HTTP headers as clients send them are one `Name: value` a line; for exactly those
lines this builds the same `HTTPMessage` directly (what compat32's `header_source_parse` and
`Message.set_raw` make of each line). Anything else - a folded line, a line without a colon or with a
name the email parser does not take as one, a bare CR, a first line starting "From " - goes to the email
parser as before. tests/test_local_fast_headers.py compares whole message objects with the original's.
"""

from __future__ import annotations

import email.parser
import http.client
import re
import threading
from typing import Any

_lock = threading.Lock()
_original: dict[str, Any] = {}
# email.feedparser's headerRE, without its continuation and "From " branches (which fall back).
_PLAIN_HEADER = re.compile(r"[\041-\071\073-\176]+:[^\r\n]*\r?\n\Z")


def read_header_lines(fp: Any) -> list[bytes]:
    """http.client's own reading of a header block: the same limits and errors."""
    headers: list[bytes] = []
    while True:
        line = fp.readline(http.client._MAXLINE + 1)  # type: ignore[attr-defined]
        if len(line) > http.client._MAXLINE:  # type: ignore[attr-defined]
            raise http.client.LineTooLong("header line")
        headers.append(line)
        if len(headers) > http.client._MAXHEADERS:  # type: ignore[attr-defined]
            raise http.client.HTTPException(f"got more than {http.client._MAXHEADERS} headers")  # type: ignore[attr-defined]
        if line in (b"\r\n", b"\n", b""):
            return headers


def message_from_lines(lines: list[bytes], _class: Any = http.client.HTTPMessage) -> Any:
    """What email.parser.Parser(_class=_class).parsestr makes of the block, built directly when every
    line is a plain header line; otherwise the email parser's own answer."""
    text = [line.decode("iso-8859-1") for line in lines]
    if text and text[-1] in ("\r\n", "\n"):
        fields, ending = text[:-1], text[-1]
    else:
        fields, ending = text, None
    if ending is None or any(line.startswith("From ") or not _PLAIN_HEADER.match(line) for line in fields):
        return email.parser.Parser(_class=_class).parsestr("".join(text))
    message = _class()
    for line in fields:
        name, value = line.split(":", 1)
        message.set_raw(name, value.lstrip(" \t").rstrip("\r\n"))
    message.set_payload("")  # the empty body after the blank line, as the feed parser sets it
    return message


def parse_headers(fp: Any, _class: Any = http.client.HTTPMessage) -> Any:
    return message_from_lines(read_header_lines(fp), _class)


def apply() -> None:
    """Idempotent; in the embedded AWS's process and its Lambda zygote (workers' answers) only."""
    with _lock:
        if "parse_headers" not in _original:
            _original["parse_headers"] = http.client.parse_headers
            http.client.parse_headers = parse_headers  # type: ignore[assignment]
