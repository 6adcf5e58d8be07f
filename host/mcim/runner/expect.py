"""Checking a response against a command's expectation: pure, over bytes and the script's patterns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..script.ast import DataPattern, DataRegex, Expect, Masked, Var
from ..script.writer import format_data_pattern
from ..sw import describe


@dataclass(frozen=True)
class Mismatch:
    """How a response missed its expectation: `expected` as written in the script, `got` what came."""

    message: str
    expected: str
    got: bytes | int  # response data, or the status word


def check_response(expect: Expect, data: bytes, sw: int, value_of: Callable[[Var], bytes]) -> Mismatch | None:
    if not any(p.matches(sw) for p in expect.sw):
        return Mismatch(f"status word {sw:04X} ({describe(sw).meaning}), expected {expect.sw_text()}",
                        expect.sw_text(), sw)
    if expect.data is None:
        return None
    expected = "data " + format_data_pattern(expect.data)
    if isinstance(expect.data, DataRegex):
        if expect.data.compiled().search(data.hex()):
            return None
        return Mismatch("response data does not match the regular expression", expected, data)
    problem = _pattern_problem(expect.data, data, value_of)
    return None if problem is None else Mismatch(problem, expected, data)


def _pattern_problem(pattern: DataPattern, data: bytes, value_of: Callable[[Var], bytes]) -> str | None:
    want = b"".join(i.value if isinstance(i, Masked) else value_of(i) for i in pattern.items)
    mask = b"".join(i.mask if isinstance(i, Masked) else b"\xff" * len(value_of(i)) for i in pattern.items)
    if len(data) < len(want) or (len(data) > len(want) and not pattern.open_end):
        qualifier = "at least " if pattern.open_end else ""
        return f"response has {len(data)} data bytes, expected {qualifier}{len(want)}"
    if Masked(want, mask).matches(data[:len(want)]):
        return None
    first = next(k for k in range(len(want)) if data[k] & mask[k] != want[k])
    return f"response data differs from byte {first} on"
