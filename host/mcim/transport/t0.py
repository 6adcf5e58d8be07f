"""T=0 procedure handling as a layer over any transport (ISO/IEC 7816-4 §5.3.4 and §5.6; ETSI TS 102 221 §7.3.1.1).

- 61xx: response data waiting -> GET RESPONSE with Le = xx, repeated while the card says more is waiting.
- 9Fxx: the GSM (TS 51.011) form of the same; GET RESPONSE with the GSM class 'A0' when the command used it.
- 6Cxx: wrong Le -> the same command re-issued with Le = xx.
- 91xx (proactive command pending) and everything else are returned to the caller untouched.
"""

from __future__ import annotations

from ..apdu import CommandApdu, decode_cla
from ..errors import TransportError
from .base import Transport

MAX_GET_RESPONSE_ROUNDS = 64


def get_response(cla: int, length: int) -> bytes:
    """GET RESPONSE on the channel of the command it continues (TS 102 221 §10.1.1: same logical channel)."""
    if cla == 0xA0:
        return bytes((0xA0, 0xC0, 0x00, 0x00, length & 0xFF))
    channel = decode_cla(cla)[0]
    return CommandApdu(0x00, 0xC0, 0x00, 0x00, le=length or 256).on_channel(channel).to_bytes()


class T0Layer:
    """Wraps a Transport; `transmit` returns the complete response as a T=1 reader would deliver it."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def transmit(self, command: bytes) -> bytes:
        response = self.inner.transmit(command)
        if len(response) >= 2 and response[-2] == 0x6C and len(command) >= 4:
            response = self.inner.transmit(_with_le(command, response[-1]))
        return self._collect(command[0] if command else 0x00, response)

    def _collect(self, cla: int, response: bytes) -> bytes:
        data = bytearray()
        for _ in range(MAX_GET_RESPONSE_ROUNDS):
            if len(response) < 2 or response[-2] not in (0x61, 0x9F):
                return bytes(data) + response
            data += response[:-2]
            response = self.inner.transmit(get_response(cla, response[-1]))
        raise TransportError(f"card still answered {response[-2:].hex()} after {MAX_GET_RESPONSE_ROUNDS} "
                             "GET RESPONSE rounds")

    def reset(self) -> bytes:
        return self.inner.reset()

    def close(self) -> None:
        self.inner.close()


def _with_le(command: bytes, le: int) -> bytes:
    """Re-issue `command` with Le = `le` (0 meaning 256), keeping header and data."""
    apdu = CommandApdu.parse(command)
    return CommandApdu(apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data, le or 256).to_bytes()
