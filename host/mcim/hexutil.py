"""Hex as people paste it: spaces, colons and case do not matter; anything else is a clear BadInput."""

from __future__ import annotations

import string

from .errors import BadInput

_SEPARATORS = str.maketrans("", "", " \t\r\n:_")
_HEX = frozenset(string.hexdigits)


def parse_hex(text: str, *, where: str = "hex", length: int | None = None) -> bytes:
    """Decode `text` as hex bytes; `length` (in bytes), when given, is enforced."""
    cleaned = text.translate(_SEPARATORS)
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    bad = next((i for i, ch in enumerate(cleaned) if ch not in _HEX), None)
    if bad is not None:
        raise BadInput(f"{cleaned[bad]!r} at position {bad} is not a hex digit", where=where,
                       expected="hex digits 0-9 a-f")
    if len(cleaned) % 2:
        raise BadInput(f"odd number of hex digits ({len(cleaned)})", where=where, expected="whole bytes")
    value = bytes.fromhex(cleaned)
    if length is not None and len(value) != length:
        raise BadInput(f"{len(value)} bytes", where=where, expected=f"{length} bytes")
    return value


def hexlify(data: bytes) -> str:
    """Lowercase hex without separators: the one form mcim prints and writes to JSON."""
    return data.hex()
