"""The SMS side of an SMS-PP data download on the card: which messages are taken, and the reassembly of
concatenated command packets in card RAM.

A message is taken when it is an SMS-DELIVER for the (U)SIM data download (TP-PID 7F, TS 23.040 §9.2.3.9) of class 2
with 8-bit data (TP-DCS, TS 23.038 §4), whose user data header names a command packet (IEI 70, TS 31.115 §4.2) or
carries a concatenation element (IEI 00/08, TS 23.040 §9.2.3.24.1/.8).

Reassembly policy (our choice, close to the only public card-side implementation, onomondo `uicc_sms_rx.c`):
- one message is assembled at a time; a segment of another message (originator, reference or reference width
  differ) discards the pending one and starts anew;
- segments are accepted in any order; nothing is answered besides the status word until the last one arrives;
- a repeated segment with the same content is a network retransmission and is ignored; a repeated segment with
  different content, a segment announcing another number of parts, or a sequence number outside 1..n makes the
  message inconsistent: all of it is discarded, silently (there is no authentic header to answer to);
- the first segment carries the command packet header in clear: when its CPL announces more than the buffer can
  hold, the message is refused at once with PoR status 07 (TS 102 225 §5.2.2 "insufficient memory to store the
  incoming message"), and its later segments are dropped;
- the buffer is volatile: a reset loses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mcim.errors import BadInput, DecodeError, McimError
from mcim.ota.cat import parse_envelope
from mcim.ota.errors import PorStatus, Rejection
from mcim.ota.packet import FIXED_HEADER_LENGTH, CommandHeader
from mcim.ota.sms import (
    COMMAND_PACKET_IEI,
    PID_USIM_DATA_DOWNLOAD,
    Address,
    Concatenation,
    SmsDeliver,
    concatenation_of,
    parse_sms_deliver,
    parse_user_data,
    reassemble,
)
from mcim.ota.spi import KeyRef, Spi

SMS_HEADER_BYTES = 10  # CPL(2) CHL SPI(2) KIc KID TAR(3): what the first segment shows in clear


class NotForTheCard(McimError):
    """An ENVELOPE that is not an SMS-PP download of a secured packet this card takes."""


class InsufficientMemory(Rejection, McimError):
    """TS 102 225 §5.2.2 status 07: the incoming message does not fit the receiving buffer."""

    por_status = PorStatus.INSUFFICIENT_MEMORY


def is_class2_8bit(dcs: int) -> bool:
    """TS 23.038 §4: general data coding (00xx, 01xx: uncompressed, class bits meaningful, alphabet 01 = 8-bit)
    or data coding/message class (1111, b3 = 8-bit), with message class 2 ((U)SIM specific)."""
    if dcs >> 6 in (0, 1):
        return dcs & 0x3F == 0x16
    return dcs & 0xF7 == 0xF6  # b4 of the 1111 group is reserved: ignored


@dataclass(frozen=True, slots=True)
class Delivery:
    """One SMS-PP download as the card reads it."""

    sms: SmsDeliver
    concatenation: Concatenation | None


def read_envelope(data: bytes) -> Delivery:
    """The SMS of an ENVELOPE (SMS-PP DOWNLOAD) data field, or NotForTheCard."""
    try:
        sms = parse_sms_deliver(parse_envelope(data).tpdu)
        if sms.pid != PID_USIM_DATA_DOWNLOAD or not is_class2_8bit(sms.dcs):
            raise NotForTheCard(f"TP-PID {sms.pid:02x}, TP-DCS {sms.dcs:02x}", where="SMS-DELIVER",
                                expected="PID 7F ((U)SIM data download), class 2 8-bit DCS such as F6 or 16")
        if not sms.udhi:
            raise NotForTheCard("no user data header", where="SMS-DELIVER", expected="TP-UDHI set")
        header = parse_user_data(sms.user_data)
        concat = concatenation_of(header)
    except BadInput as exc:  # malformed, or an alphabet other than 8-bit data
        raise NotForTheCard(exc.message, where=exc.where, expected=exc.expected) from None
    if concat is None and header.find(COMMAND_PACKET_IEI) is None:
        raise NotForTheCard("no command packet identifier", where="UDH", expected="IEI 70 or a concatenation IE")
    return Delivery(sms, concat)


def clear_header(body: bytes) -> CommandHeader | None:
    """The clear command header at the start of a first segment (TS 31.115 §4.2), if it is all there."""
    if len(body) < SMS_HEADER_BYTES:
        return None
    return CommandHeader(Spi.from_bytes(body[3:5]), KeyRef.from_byte(body[5]), KeyRef.from_byte(body[6]),
                         bytes(body[7:10]), max(0, body[2] - FIXED_HEADER_LENGTH))


@dataclass
class _Pending:
    key: tuple[Address, int, bool]
    total: int
    parts: dict[int, bytes] = field(default_factory=dict)

    def size(self) -> int:
        return sum(len(ud) for ud in self.parts.values())


class Reassembly:
    """Concatenated command packets in card RAM (see the module docstring for the policy)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pending: _Pending | None = None
        self._refused: tuple[Address, int, bool] | None = None

    def clear(self) -> None:
        self._pending = self._refused = None

    def add(self, delivery: Delivery) -> bytes | None:
        """The whole command packet (from CPL) once the message is complete, else None.

        Raises InsufficientMemory (with the clear header) when the first segment announces too long a packet.
        """
        concat = delivery.concatenation
        if concat is None:
            return parse_user_data(delivery.sms.user_data).body
        key = (delivery.sms.originator, concat.reference, concat.wide)
        if key == self._refused:
            return None
        pending = self._pending
        if pending is None or pending.key != key:
            pending = self._pending = _Pending(key, concat.total)
            self._refused = None
        if not self._consistent(pending, concat, delivery.sms.user_data):
            self._pending = None
            return None
        pending.parts[concat.sequence] = delivery.sms.user_data
        self._check_room(pending, concat)
        if len(pending.parts) < pending.total:
            return None
        self._pending = None
        try:
            joined = reassemble(list(pending.parts.values()))
        except DecodeError:
            return None
        return joined.packet if joined.iei == COMMAND_PACKET_IEI else None

    @staticmethod
    def _consistent(pending: _Pending, concat: Concatenation, user_data: bytes) -> bool:
        if concat.total != pending.total or not 1 <= concat.sequence <= concat.total:
            return False
        seen = pending.parts.get(concat.sequence)
        return seen is None or seen == user_data

    def _check_room(self, pending: _Pending, concat: Concatenation) -> None:
        first = pending.parts.get(1)
        announced = 0
        if first is not None:
            body = parse_user_data(first).body
            announced = 2 + int.from_bytes(body[:2], "big") if len(body) >= 2 else 0
        if max(announced, pending.size()) <= self.limit:
            return
        self._pending = None
        self._refused = pending.key
        header = clear_header(parse_user_data(first).body) if first is not None else None
        error = InsufficientMemory(f"a {max(announced, pending.size())}-byte command packet",
                                   where=f"concatenated SMS reference {concat.reference}",
                                   expected=f"at most {self.limit} bytes")
        error.header = header
        raise error
