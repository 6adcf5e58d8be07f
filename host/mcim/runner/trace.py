"""Recording the exchanges of a run, and redacting secrets out of everything the run reports.

The trace is JSON Lines, one exchange per line, `{"command": HEX, "response": HEX, ...}` (a reset is
`{"atr": HEX, ...}`), the exact format `mcim.transport.replay.ReplayTransport` plays back.  Every byte sequence
that came from a secret (a key file, a `secret` variable, a secret capture, key material a directive marks) is
written as `**` per byte wherever it appears, unless the run asked for an unsafe trace.  A replay treats `**` in a
command as "any byte".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..transport.base import Transport
from .result import TraceEntry

REDACTED = "**"


class Redactor:
    """Masks every occurrence of every secret value (over-masking is safe, leaking is not)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._secrets: set[bytes] = set()

    def add(self, value: bytes) -> None:
        if value:
            self._secrets.add(value)

    def text(self, message: str) -> str:
        """`message` with the hex of every secret (in either case) masked, for error texts that quote bytes."""
        if self.enabled:
            for secret in sorted(self._secrets, key=len, reverse=True):
                message = re.sub(secret.hex(), REDACTED * len(secret), message, flags=re.IGNORECASE)
        return message

    def hex(self, data: bytes) -> str:
        hidden = bytearray(len(data))
        if self.enabled:
            for secret in self._secrets:
                start = data.find(secret)
                while start >= 0:
                    hidden[start:start + len(secret)] = b"\x01" * len(secret)
                    start = data.find(secret, start + 1)
        return "".join(REDACTED if hide else f"{b:02x}" for b, hide in zip(data, hidden, strict=True))


@dataclass
class _Exchange:
    start: float
    duration: float
    where: str | None
    command: bytes | None
    response: bytes | None = None
    atr: bytes | None = None


class Recorder:
    """A Transport that forwards to the card and notes every exchange with its timing."""

    def __init__(self, inner: Transport, clock: Callable[[], float], origin: float) -> None:
        self.inner = inner
        self.clock = clock
        self.origin = origin
        self.where: str | None = None
        self.exchanges: list[_Exchange] = []

    def transmit(self, command: bytes) -> bytes:
        start = self.clock()
        response = self.inner.transmit(command)
        self.exchanges.append(_Exchange(start - self.origin, self.clock() - start, self.where, command, response))
        return response

    def reset(self) -> bytes:
        start = self.clock()
        atr = self.inner.reset()
        self.exchanges.append(_Exchange(start - self.origin, self.clock() - start, self.where, None, atr=atr))
        return atr

    def close(self) -> None:
        self.inner.close()

    def entries(self, redactor: Redactor) -> tuple[TraceEntry, ...]:
        return tuple(TraceEntry(e.start, e.duration, e.where,
                                None if e.command is None else redactor.hex(e.command),
                                None if e.response is None else redactor.hex(e.response),
                                None if e.atr is None else redactor.hex(e.atr)) for e in self.exchanges)


def trace_lines(entries: Iterable[TraceEntry]) -> str:
    return "".join(json.dumps(e.to_json()) + "\n" for e in entries)
