"""M-Bus long frames (EN 13757-2) and the fixed header of a variable-data response (EN 13757-3).

A long frame is ``68 L L 68 C A CI …data… CS 16``: two start bytes around the length byte ``L``
(sent twice), then ``L`` bytes from the control field C up to the last data byte, the checksum CS
(the sum of those ``L`` bytes modulo 256) and the stop byte. Everything here is checked before a
decoder sees the frame, so that each kind of damage gets its own clear reason.

A response with CI 0x72 (variable data, least significant byte first) starts its data with a
12-byte header: the identification number (4 bytes BCD, least significant byte first), the
manufacturer (2 bytes, three letters in the FLAG association's code), version, medium, access
number, status and a 2-byte signature. No other CI field is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from infrastructure.text import printable

START_BYTE = 0x68
STOP_BYTE = 0x16
CI_VARIABLE_DATA = 0x72
# A long frame is at most 255 + 6 = 261 bytes; a request may send up to 600 hex digits per frame.
MAXIMUM_FRAME_HEX_DIGITS = 600
MAXIMUM_FRAME_BYTES = MAXIMUM_FRAME_HEX_DIGITS // 2
# Start, length twice, start; checksum and stop: the bytes a long frame has beyond its L bytes.
FRAME_OVERHEAD_BYTES = 6
# C, A and CI, then the 12-byte fixed data header.
FIXED_HEADER_BYTES = 12
MINIMUM_LENGTH_FIELD = 3 + FIXED_HEADER_BYTES
# Offsets in the frame.
_CONTROL, _ADDRESS, _CI, _HEADER = 4, 5, 6, 7

_WHITESPACE = re.compile(r"\s+")
_NOT_HEX_NOR_SPACE = re.compile(r"[^0-9A-Fa-f\s]")


class FrameRejected(Exception):
    """A frame that cannot become a reading: ``reason`` is a stable code, ``message`` English text,
    ``params`` the values a translated message is built from. ``header`` is the frame's fixed
    header when it could be read (so a rejection still names the meter)."""

    def __init__(
        self,
        reason: str,
        message: str,
        header: FixedHeader | None = None,
        message_key: str | None = None,
        **params: Any,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.header = header
        # The key of the translated message (api/messages.py): ``mbus.<reason>`` unless a
        # variant of the reason needs its own wording.
        self.message_key = message_key or f"mbus.{reason}"
        self.params = params


@dataclass(frozen=True)
class FixedHeader:
    """The 12-byte header of a CI 0x72 response: who the meter is and what it measures."""

    identification: str
    manufacturer: str
    version: int
    medium: int
    access_number: int
    status: int
    signature: int


@dataclass(frozen=True)
class LongFrame:
    """A long frame whose framing, checksum and header have been checked."""

    raw: bytes
    control: int
    address: int
    ci: int
    header: FixedHeader

    @property
    def records(self) -> bytes:
        """The data records after the fixed header (up to the checksum)."""
        return self.raw[_HEADER + FIXED_HEADER_BYTES : -2]

    @property
    def hex(self) -> str:
        return self.raw.hex(" ").upper()


def bytes_from_hex(text: str) -> bytes:
    """The bytes of a frame written as hex digits; spaces and line breaks may separate them."""
    found = _NOT_HEX_NOR_SPACE.search(text)
    if found is not None:
        character = printable(found.group())
        raise FrameRejected(
            "not_hex",
            f"the frame is not hex text: '{character}' at character {found.start()}",
            character=character,
            position=found.start(),
        )
    digits = _WHITESPACE.sub("", text)
    if len(digits) > MAXIMUM_FRAME_HEX_DIGITS:
        raise FrameRejected(
            "frame_too_long",
            f"the frame has {len(digits)} hex digits, more than {MAXIMUM_FRAME_HEX_DIGITS}",
            message_key="mbus.frame_too_long.digits",
            size=len(digits),
            limit=MAXIMUM_FRAME_HEX_DIGITS,
        )
    if len(digits) % 2:
        raise FrameRejected(
            "not_hex",
            f"the frame has an odd number of hex digits ({len(digits)})",
            message_key="mbus.not_hex.odd",
            digits=len(digits),
        )
    return bytes.fromhex(digits)


def check_long_frame(data: bytes) -> LongFrame:
    """The frame in ``data`` if it is one whole, undamaged long frame with CI 0x72; FrameRejected
    with the first fault found otherwise (start bytes, length bytes, size, stop byte, checksum,
    CI field, header)."""
    size = len(data)
    if size > MAXIMUM_FRAME_BYTES:
        raise FrameRejected(
            "frame_too_long",
            f"the frame has {size} bytes, more than {MAXIMUM_FRAME_BYTES}",
            message_key="mbus.frame_too_long.bytes",
            size=size,
            limit=MAXIMUM_FRAME_BYTES,
        )
    if size == 0:
        raise FrameRejected("frame_truncated", "the frame is empty", size=0, expected=FRAME_OVERHEAD_BYTES)
    if data[0] != START_BYTE or (size >= 4 and data[3] != START_BYTE):
        raise FrameRejected(
            "not_a_long_frame",
            "the frame does not start with 68 L L 68",
            start=data[:4].hex(" ").upper(),
        )
    if size < 4:
        raise FrameRejected(
            "frame_truncated", f"the frame ends after {size} bytes", size=size, expected=FRAME_OVERHEAD_BYTES
        )
    if data[1] != data[2]:
        raise FrameRejected(
            "length_mismatch",
            f"the two length bytes differ ({data[1]:02X} and {data[2]:02X})",
            message_key="mbus.length_mismatch.bytes",
            first=f"{data[1]:02X}",
            second=f"{data[2]:02X}",
        )
    length_field = data[1]
    expected = length_field + FRAME_OVERHEAD_BYTES
    if size < expected:
        raise FrameRejected(
            "frame_truncated",
            f"the frame has {size} bytes; its length field announces {expected}",
            size=size,
            expected=expected,
        )
    if size > expected:
        raise FrameRejected(
            "length_mismatch",
            f"the frame has {size} bytes; its length field announces {expected}",
            size=size,
            expected=expected,
        )
    if data[-1] != STOP_BYTE:
        raise FrameRejected(
            "bad_stop_byte", f"the frame ends with {data[-1]:02X} instead of 16", stop=f"{data[-1]:02X}"
        )
    computed = sum(data[_CONTROL:-2]) % 256
    if computed != data[-2]:
        raise FrameRejected(
            "bad_checksum",
            f"the checksum is {data[-2]:02X} but the frame's bytes add up to {computed:02X}",
            checksum=f"{data[-2]:02X}",
            computed=f"{computed:02X}",
        )
    if length_field < 3 or data[_CI] != CI_VARIABLE_DATA:
        ci = f"{data[_CI]:02X}" if length_field >= 3 else "none"
        raise FrameRejected(
            "unsupported_ci",
            f"the CI field is {ci}; only 72 (variable data response) is read",
            ci=ci,
        )
    if length_field < MINIMUM_LENGTH_FIELD:
        raise FrameRejected(
            "frame_truncated",
            f"the frame is too short for the {FIXED_HEADER_BYTES}-byte data header",
            size=size,
            expected=MINIMUM_LENGTH_FIELD + FRAME_OVERHEAD_BYTES,
        )
    header = read_fixed_header(data[_HEADER : _HEADER + FIXED_HEADER_BYTES])
    return LongFrame(bytes(data), data[_CONTROL], data[_ADDRESS], data[_CI], header)


def read_fixed_header(header: bytes) -> FixedHeader:
    """The 12 header bytes of a CI 0x72 response; FrameRejected when the id is not 8 BCD digits."""
    id_bytes = header[0:4]
    digits = id_bytes[::-1].hex().upper()
    manufacturer = manufacturer_code(header[4] | header[5] << 8)
    parsed = FixedHeader(
        identification=digits,
        manufacturer=manufacturer,
        version=header[6],
        medium=header[7],
        access_number=header[8],
        status=header[9],
        signature=header[10] | header[11] << 8,
    )
    if not digits.isdigit():
        raise FrameRejected(
            "bad_identification",
            f"the identification number {digits} is not 8 decimal (BCD) digits",
            header=parsed,
            identification=digits,
        )
    return parsed


def manufacturer_code(value: int) -> str:
    """The three letters of a manufacturer field (EN 13757-3: 5 bits a letter, A = 1)."""
    return "".join(chr(((value >> shift) & 0x1F) + 64) for shift in (10, 5, 0))


def split_frames(data: bytes) -> list[bytes]:
    """Cut concatenated raw frames apart, as a concentrator uploads them.

    A whole frame (68 L L 68, its length, stop byte and checksum all right) is one piece. Bytes
    that do not make one (a damaged frame, noise) run up to the next whole frame and form one
    piece of their own, so that each is reported, and rejected, on its own.
    """
    pieces: list[bytes] = []
    position, size = 0, len(data)
    while position < size:
        end = _whole_frame_end(data, position)
        if end is not None:
            pieces.append(data[position:end])
            position = end
            continue
        following = _next_whole_frame(data, position + 1)
        pieces.append(data[position:following])
        position = following
    return pieces


def _whole_frame_end(data: bytes, position: int) -> int | None:
    """Where the whole long frame starting at ``position`` ends, or None if none starts there."""
    if position + 4 > len(data) or data[position] != START_BYTE or data[position + 3] != START_BYTE:
        return None
    length_field = data[position + 1]
    if data[position + 2] != length_field:
        return None
    end = position + length_field + FRAME_OVERHEAD_BYTES
    if end > len(data) or data[end - 1] != STOP_BYTE:
        return None
    if sum(data[position + 4 : end - 2]) % 256 != data[end - 2]:
        return None
    return end


def _next_whole_frame(data: bytes, start: int) -> int:
    position = data.find(START_BYTE, start)
    while position != -1:
        if _whole_frame_end(data, position) is not None:
            return position
        position = data.find(START_BYTE, position + 1)
    return len(data)
