"""Parsing with the construct definitions: whole input consumed, failures as DecodeError naming where."""

from __future__ import annotations

import io

import construct as cs

from ..errors import DecodeError


def parse_exact(fmt: cs.Construct, data: bytes, where: str, expected: str) -> cs.Container:
    """Parse `data` with `fmt`, which must consume all of it; DecodeError otherwise."""
    stream = io.BytesIO(data)
    try:
        parsed = fmt.parse_stream(stream)
    except (cs.ConstructError, ValueError) as exc:
        raise DecodeError(reason(exc), where=where, expected=expected) from None
    if stream.tell() != len(data):
        raise DecodeError(f"{len(data) - stream.tell()} bytes beyond the encoded length", where=where,
                          expected="a length field matching the data")
    return parsed


def reason(exc: Exception) -> str:
    text = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
    if "stream read less than specified" in text or "could not read enough bytes" in text:
        return "truncated"
    return text.removeprefix("Error in path (parsing) -> ").strip() or "malformed"
