"""RFC 6455 (WebSocket) framing, stdlib only: the handshake key, frames, masking, fragmentation.

Shared by the embedded AWS's WebSocket server (server side: client frames must be masked, ours are
not) and `test-job --watch`'s client (client side: ours are masked). Section numbers are RFC 6455's.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # 1.3
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CONTROL = (OP_CLOSE, OP_PING, OP_PONG)
# Close codes (7.4.1)
NORMAL, GOING_AWAY, PROTOCOL_ERROR, INVALID_DATA, TOO_BIG = 1000, 1001, 1002, 1007, 1009


class ProtocolError(Exception):
    """The peer broke RFC 6455; `code` is the close code to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class Frame:
    fin: bool
    opcode: int
    payload: bytes


def accept_key(client_key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (4.2.2)."""
    return base64.b64encode(hashlib.sha1((client_key + GUID).encode("ascii")).digest()).decode("ascii")


def new_client_key() -> str:
    return base64.b64encode(os.urandom(16)).decode("ascii")


def _masked(payload: bytes, key: bytes) -> bytes:
    """XOR with the 4-byte key (5.3); applying it twice gives the payload back."""
    if not payload:
        return payload
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")


def encode_frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = False) -> bytes:
    """One frame (5.2). Clients mask every frame; servers never do."""
    head = bytes([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if mask else 0
    length = len(payload)
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if mask:
        key = os.urandom(4)
        return head + key + _masked(payload, key)
    return head + payload


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode("utf-8")[:123]


def parse_close(payload: bytes) -> tuple[int, str]:
    if len(payload) < 2:
        return 1005, ""  # "no status received" (7.4.1)
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", errors="replace")


def read_frame(read: Callable[[int], bytes], *, expect_masked: bool, max_size: int) -> Frame:
    """One frame from `read(n)` (exactly n bytes, or EOFError)."""
    first, second = read(2)
    if first & 0x70:
        raise ProtocolError(PROTOCOL_ERROR, "reserved bits set without an extension")
    fin, opcode = bool(first & 0x80), first & 0x0F
    if opcode not in (OP_CONTINUATION, OP_TEXT, OP_BINARY, *CONTROL):
        raise ProtocolError(PROTOCOL_ERROR, f"unknown opcode {opcode}")
    masked, length = bool(second & 0x80), second & 0x7F
    if masked != expect_masked:
        raise ProtocolError(
            PROTOCOL_ERROR, "client frames must be masked" if expect_masked else "masked server frame"
        )
    if opcode in CONTROL and (length > 125 or not fin):
        raise ProtocolError(PROTOCOL_ERROR, "control frames are at most 125 bytes and never fragmented")
    if length == 126:
        length = struct.unpack("!H", read(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", read(8))[0]
    if length > max_size:
        raise ProtocolError(TOO_BIG, f"frame of {length} bytes is over the {max_size}-byte limit")
    key = read(4) if masked else b""
    payload = read(length) if length else b""
    return Frame(fin, opcode, _masked(payload, key) if masked else payload)


class MessageAssembler:
    """Joins fragmented data frames into messages (5.4); control frames pass through between them."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._opcode: int | None = None
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, frame: Frame) -> tuple[int, bytes] | None:
        """A complete (opcode, payload): a control frame, or a whole data message; None mid-message."""
        if frame.opcode in CONTROL:
            return frame.opcode, frame.payload
        if frame.opcode == OP_CONTINUATION:
            if self._opcode is None:
                raise ProtocolError(PROTOCOL_ERROR, "continuation frame without a message")
        elif self._opcode is not None:
            raise ProtocolError(PROTOCOL_ERROR, "new message before the last one finished")
        else:
            self._opcode = frame.opcode
        self._size += len(frame.payload)
        if self._size > self.max_size:
            raise ProtocolError(TOO_BIG, f"message over the {self.max_size}-byte limit")
        self._parts.append(frame.payload)
        if not frame.fin:
            return None
        opcode, payload = self._opcode, b"".join(self._parts)
        self._opcode, self._parts, self._size = None, [], 0
        if opcode == OP_TEXT:
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ProtocolError(INVALID_DATA, "text message is not UTF-8") from exc
        return opcode, payload


def exact_reader(recv: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """`read(n)` over a socket's recv: exactly n bytes, EOFError when the peer closed."""

    def read(count: int) -> bytes:
        chunks, needed = [], count
        while needed:
            chunk = recv(needed)
            if not chunk:
                raise EOFError("connection closed")
            chunks.append(chunk)
            needed -= len(chunk)
        return b"".join(chunks)

    return read
