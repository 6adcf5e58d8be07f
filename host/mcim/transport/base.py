"""The transport contract (DESIGN.md §3.1): send a command APDU, get a response APDU."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Transport(Protocol):
    """Anything that answers command APDUs: a PC/SC reader, an in-process card, a replayed trace, a writer."""

    def transmit(self, command: bytes) -> bytes:
        """Send one command APDU; return the response APDU as received (data || SW1 SW2).

        Raises mcim.errors.TransportError (or CardTimeout) when the card or reader cannot be reached.
        """
        ...

    def reset(self) -> bytes:
        """Reset the card (warm reset where possible); return the ATR."""
        ...

    def close(self) -> None:
        """Release the card/reader; safe to call twice."""
        ...
