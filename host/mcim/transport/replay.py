"""Replay transport: plays a recorded trace back, for regression tests of the host without any card.

The trace is JSON Lines as `mcim run --record` writes it (mcim.runner.trace): `{"command": HEX, "response": HEX}`
per exchange, `{"atr": HEX}` per reset; other keys are ignored.  `**` in a recorded command stands for a redacted
byte and matches any byte.  The first command that differs from the recording, a command past its end, or a
response that was redacted when recorded fails loudly with the exchange number and both values.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput, DecodeError, ExpectationFailed, TransportError
from ..hexutil import parse_hex

REDACTED = "**"


class ReplayDivergence(ExpectationFailed):
    """The host did not do what the recording did."""


@dataclass(frozen=True)
class RecordedExchange:
    where: str  # trace file:line
    command: str | None  # lowercase hex, ** for redacted bytes; None for a reset
    response: bytes | None  # None when redacted in the recording
    atr: bytes | None = None


class ReplayTransport:
    def __init__(self, exchanges: list[RecordedExchange], source: str = "trace") -> None:
        self.exchanges = exchanges
        self.source = source
        self.index = 0
        self.closed = False

    @classmethod
    def from_file(cls, path: str) -> ReplayTransport:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise BadInput(f"cannot read trace {path}: {reason}", where="replay:" + path) from None
        return cls(parse_trace(text, path), path)

    @property
    def remaining(self) -> int:
        return len(self.exchanges) - self.index

    def _next(self, what: str) -> RecordedExchange:
        if self.closed:
            raise TransportError("replay transport is closed", where=self.source)
        if self.index >= len(self.exchanges):
            raise ReplayDivergence(f"exchange {self.index + 1}: the host sent {what}, but the recording ends "
                                   f"after {len(self.exchanges)} exchange(s)", where=self.source)
        self.index += 1
        return self.exchanges[self.index - 1]

    def transmit(self, command: bytes) -> bytes:
        sent = command.hex()
        recorded = self._next(sent)
        if recorded.command is None or not _matches(recorded.command, sent):
            want = "a reset" if recorded.command is None else recorded.command
            raise ReplayDivergence(f"exchange {self.index}: the host sent {sent}, the recording has {want}",
                                   where=recorded.where, expected=want)
        if recorded.response is None:
            raise TransportError(f"exchange {self.index}: the recorded response was redacted",
                                 where=recorded.where, expected="a trace recorded with --unsafe-trace")
        return recorded.response

    def reset(self) -> bytes:
        recorded = self._next("a reset")
        if recorded.atr is None:
            raise ReplayDivergence(f"exchange {self.index}: the host reset the card, the recording has "
                                   f"{recorded.command}", where=recorded.where, expected=recorded.command)
        return recorded.atr

    def close(self) -> None:
        self.closed = True

    def verify_complete(self) -> None:
        """Raise ReplayDivergence when the host stopped before the end of the recording."""
        if self.remaining:
            nxt = self.exchanges[self.index]
            raise ReplayDivergence(f"the host stopped after {self.index} exchange(s); the recording has "
                                   f"{self.remaining} more, starting with {nxt.command or 'a reset'}",
                                   where=nxt.where)


def _matches(recorded: str, sent: str) -> bool:
    return len(recorded) == len(sent) and all(
        recorded[k:k + 2] in (sent[k:k + 2], REDACTED) for k in range(0, len(sent), 2))


def parse_trace(text: str, source: str) -> list[RecordedExchange]:
    exchanges: list[RecordedExchange] = []
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip():
            exchanges.append(_exchange(line, f"{source}:{number}"))
    return exchanges


def _exchange(line: str, where: str) -> RecordedExchange:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"not JSON: {exc}", where=where, expected="one JSON object per line") from None
    if not isinstance(obj, dict):
        raise DecodeError("not a JSON object", where=where, expected='{"command": HEX, "response": HEX}')
    if "atr" in obj:
        return RecordedExchange(where, None, None, _hex(obj, "atr", where))
    command, response = obj.get("command"), obj.get("response")
    if not isinstance(command, str) or not isinstance(response, str):
        raise DecodeError("an exchange needs 'command' and 'response' as hex strings", where=where,
                          expected='{"command": HEX, "response": HEX} or {"atr": HEX}')
    pattern = command.lower().replace(" ", "")
    pairs = [pattern[k:k + 2] for k in range(0, len(pattern), 2)]
    if len(pattern) % 2 or not all(p == REDACTED or all(c in string.hexdigits for c in p) for p in pairs):
        raise DecodeError("'command' is not hex", where=where, expected="hex bytes, ** for a redacted byte")
    return RecordedExchange(where, pattern, None if REDACTED in response else _hex(obj, "response", where))


def _hex(obj: dict[str, object], key: str, where: str) -> bytes:
    value = obj.get(key)
    if not isinstance(value, str):
        raise DecodeError(f"{key!r} is not a hex string", where=where, expected=f'"{key}": HEX')
    return parse_hex(value, where=f"{where} {key}")
