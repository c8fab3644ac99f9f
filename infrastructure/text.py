"""Text that came from outside, made safe to store and log."""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` with every character that cannot be shown or stored as it is (NUL and other
    control characters, lone surrogates) written as an escape such as ``\\x00``; tabs and line
    breaks stay. PostgreSQL text holds no NUL and UTF-8 no lone surrogate, and what a caller sent
    is kept as evidence, not trusted."""
    if text.isprintable():
        return text
    return "".join(
        character if character.isprintable() or character in " \n\r\t" else _escape(character) for character in text
    )


def _escape(character: str) -> str:
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
