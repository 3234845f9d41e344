"""fast_headers: the embedded AWS's header parsing gives the message http.client's own parse gives."""

from __future__ import annotations

import email.parser
import http.client
import io
from typing import Any

import pytest

from asyncapi_cli.local import fast_headers

# Header blocks as clients send them (the fast path), and every kind the email parser must keep
# answering (a folded line, no colon, an empty name, a bare CR, a "From " line, no blank line at the end).
BLOCKS = [
    b"Host: 127.0.0.1:4566\r\nContent-Length: 3\r\n\r\n",
    b"X-Amz-Target: DynamoDB_20120810.UpdateItem\r\nAuthorization: AWS4-HMAC-SHA256 a=b, c=d\r\n\r\n",
    b"A: b\r\nA: c\n\n",  # repeated, bare LF
    b"A:\r\n\r\n",  # empty value
    b"A:  lead \t\r\n\r\n",  # spaces around the value
    b"A: \xe9t\xe9\r\n\r\n",  # Latin-1 in a value
    b"\r\n",  # no header at all
    b"Fold: a\r\n  b\r\n\r\n",
    b"A: b\r\nno colon\r\n\r\n",
    b":x\r\n\r\n",
    b"A: b\rc\r\n\r\n",
    b"From me\r\n\r\n",
    b"\xe9: v\r\n\r\n",
    b"Name : v\r\n\r\n",
    b"A: b",
    b"A: b\r\n",
]


def comparable(message: Any) -> dict[str, Any]:
    state = dict(vars(message))
    state["defects"] = [(type(d), str(d)) for d in message.defects]  # defects compare by identity
    return state


@pytest.mark.parametrize("block", BLOCKS)
def test_a_header_block_parses_as_http_client_parses_it(block: bytes) -> None:
    lines = fast_headers.read_header_lines(io.BytesIO(block))
    text = b"".join(lines).decode("iso-8859-1")
    original = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)
    fast = fast_headers.message_from_lines(lines)
    assert type(fast) is type(original)
    assert comparable(fast) == comparable(original)
    assert fast.items() == original.items()


def test_what_follows_the_block_is_left_unread() -> None:
    stream = io.BytesIO(b"Content-Length: 4\r\n\r\nbody")
    message = fast_headers.parse_headers(stream)
    assert message["Content-Length"] == "4" and stream.read() == b"body"


def test_limits_are_http_clients() -> None:
    # http.client: a line over _MAXLINE is LineTooLong, more than _MAXHEADERS lines an HTTPException.
    with pytest.raises(http.client.LineTooLong):
        fast_headers.parse_headers(io.BytesIO(b"A: " + b"x" * (http.client._MAXLINE + 1) + b"\r\n\r\n"))
    many = b"".join(b"H%d: v\r\n" % i for i in range(http.client._MAXHEADERS + 1)) + b"\r\n"
    with pytest.raises(http.client.HTTPException, match="got more than"):
        fast_headers.parse_headers(io.BytesIO(many))
