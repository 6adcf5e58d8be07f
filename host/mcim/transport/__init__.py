"""Transports: the only place where mcim does I/O with a card.

The whole contract is `Transport.transmit(command) -> response`: a command APDU in, a response APDU (data
followed by SW1 SW2) out.  Everything else (secure channels, OTA wrapping, T=0 procedure bytes) is layered on top.
"""

from .base import Transport

__all__ = ["Transport"]
