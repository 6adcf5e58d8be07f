"""In-process transport: drives a Python card object directly (the reference UICC, test cards).

The card object interface is shared with the vpcd server: `atr()`, `power_on()`, `power_off()`, `reset()`,
`process(command) -> response`.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import TransportError


class Card(Protocol):
    def atr(self) -> bytes: ...
    def power_on(self) -> None: ...
    def power_off(self) -> None: ...
    def reset(self) -> None: ...
    def process(self, command: bytes) -> bytes: ...


class InProcessTransport:
    def __init__(self, card: Card) -> None:
        self.card = card
        self._open = True
        card.power_on()

    def transmit(self, command: bytes) -> bytes:
        if not self._open:
            raise TransportError("in-process card is closed")
        return self.card.process(command)

    def reset(self) -> bytes:
        self.card.reset()
        self._open = True
        return self.card.atr()

    def close(self) -> None:
        if self._open:
            self._open = False
            self.card.power_off()
