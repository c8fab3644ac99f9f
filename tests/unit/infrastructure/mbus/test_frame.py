"""Framing: hex text, the long frame's bytes, the fixed header, and cutting a raw upload apart."""

from __future__ import annotations

import pytest

from infrastructure.mbus.frame import (
    FrameRejected,
    bytes_from_hex,
    check_long_frame,
    manufacturer_code,
    split_frames,
)
from tests.unit.infrastructure.mbus.encoder import Frame, energy_vib, long_frame, numeric

GOOD = Frame(records=[numeric(energy_vib("Wh", 3)[0], 12345)]).encode()


def rejection(data: bytes) -> FrameRejected:
    with pytest.raises(FrameRejected) as caught:
        check_long_frame(data)
    return caught.value


def test_a_good_frame_gives_its_header() -> None:
    frame = check_long_frame(GOOD)
    assert frame.header.identification == "12345678"
    assert frame.header.manufacturer == "KAM"
    assert frame.header.medium == 0x04
    assert (frame.control, frame.address, frame.ci) == (0x08, 0x01, 0x72)
    assert frame.records == GOOD[19:-2]


def test_hex_text_may_have_spaces_and_line_breaks() -> None:
    text = GOOD.hex(" ").upper()
    assert bytes_from_hex(text) == GOOD
    assert bytes_from_hex(text.replace(" ", "\n").lower() + "\r\n") == GOOD
    assert bytes_from_hex(GOOD.hex()) == GOOD


@pytest.mark.parametrize(
    ("text", "reason", "key"),
    [
        ("68 0G", "not_hex", "mbus.not_hex"),
        ("0x68", "not_hex", "mbus.not_hex"),
        ("68 3", "not_hex", "mbus.not_hex.odd"),
        ("68" * 301, "frame_too_long", "mbus.frame_too_long.digits"),
    ],
)
def test_text_that_is_not_a_frame_is_named(text: str, reason: str, key: str) -> None:
    with pytest.raises(FrameRejected) as caught:
        bytes_from_hex(text)
    assert (caught.value.reason, caught.value.message_key) == (reason, key)


def test_six_hundred_digits_are_allowed() -> None:
    assert len(bytes_from_hex("AB" * 300)) == 300


def with_byte(data: bytes, position: int, value: int) -> bytes:
    return data[:position] + bytes([value]) + data[position + 1 :]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "frame_truncated"),
        (b"\xe5", "not_a_long_frame"),
        (bytes.fromhex("10 5B 01 5C 16"), "not_a_long_frame"),
        (with_byte(GOOD, 3, 0x69), "not_a_long_frame"),
        (b"\x68\x10", "frame_truncated"),
        (GOOD[:-5], "frame_truncated"),
        (with_byte(GOOD, 2, GOOD[2] + 1), "length_mismatch"),
        (GOOD + b"\x00", "length_mismatch"),
        (with_byte(with_byte(GOOD, 1, GOOD[1] - 1), 2, GOOD[2] - 1), "length_mismatch"),
        (with_byte(GOOD, len(GOOD) - 1, 0x17), "bad_stop_byte"),
        (with_byte(GOOD, len(GOOD) - 2, (GOOD[-2] + 1) % 256), "bad_checksum"),
        (with_byte(GOOD, 20, GOOD[20] ^ 0x01), "bad_checksum"),
        (long_frame(bytes([0x08, 0x01, 0x78, 0x04, 0x06, 0x01, 0x00, 0x00, 0x00])), "unsupported_ci"),
        (long_frame(bytes([0x08, 0x01, 0x76]) + GOOD[7:-2]), "unsupported_ci"),
        (long_frame(bytes([0x53, 0xFE])), "unsupported_ci"),
        (long_frame(bytes([0x08, 0x01, 0x72, 0x78, 0x56])), "frame_truncated"),
        (long_frame(bytes([0x08, 0x01, 0x72, 0x7A, 0x56, 0x34, 0x12]) + GOOD[11:-2]), "bad_identification"),
        (b"\x68" * 301, "frame_too_long"),
    ],
)
def test_each_fault_of_a_frame_has_its_reason(data: bytes, reason: str) -> None:
    assert rejection(data).reason == reason


def test_a_rejection_after_the_header_still_names_the_meter() -> None:
    body = bytes([0x08, 0x01, 0x72, 0x7A, 0x56, 0x34, 0x12]) + GOOD[11:-2]
    caught = rejection(long_frame(body))
    assert caught.header is not None and caught.header.manufacturer == "KAM"
    assert caught.params == {"identification": "1234567A"}


def test_checksum_rejection_says_both_sums() -> None:
    caught = rejection(with_byte(GOOD, len(GOOD) - 2, 0x00))
    assert caught.params == {"checksum": "00", "computed": f"{GOOD[-2]:02X}"}


def test_manufacturer_codes() -> None:
    assert manufacturer_code(0x2C2D) == "KAM"
    assert manufacturer_code(0x4DEE) == "SON"


def test_concatenated_frames_are_cut_apart() -> None:
    other = Frame(identification="87654321", records=[numeric(energy_vib("J", 6)[0], 5)]).encode()
    assert split_frames(GOOD + other + GOOD) == [GOOD, other, GOOD]


def test_damaged_bytes_between_frames_form_their_own_piece() -> None:
    damaged = with_byte(GOOD, len(GOOD) - 2, (GOOD[-2] + 1) % 256)
    noise = bytes([0x00, 0x68, 0x68, 0x12])
    pieces = split_frames(noise + GOOD + damaged + GOOD + GOOD[:10])
    assert pieces == [noise, GOOD, damaged, GOOD, GOOD[:10]]
    assert [rejection(piece).reason for piece in (noise, damaged, GOOD[:10])] == [
        "not_a_long_frame",
        "bad_checksum",
        "frame_truncated",
    ]


def test_nothing_to_cut() -> None:
    assert split_frames(b"") == []
