"""SMS bearer for secured packets: SMS-DELIVER / SMS-SUBMIT TPDUs (3GPP TS 23.040 §9.2.2), user data headers
(§9.2.3.24) and concatenation of long packets (3GPP TS 31.115 §6 / TS 23.048 §6.2, DIGEST §2).

A command packet goes in TP-UD after the UDH `02 70 00` (IEI 70, command packet identifier); a PoR after
`02 71 00`.  A packet longer than one SMS (137 bytes from CPL on) is secured first, then cut: the first segment's
UDH carries IEI 70 and the concatenation IE (00 with an 8-bit reference, or 08 with a 16-bit one), the others
only the concatenation IE [I: njiwa Sms.java, onomondo uicc_sms_rx.c].  Only octet-coded user data (DCS 8-bit
or UCS2) is handled: TP-UDL then counts octets, UDH included.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import construct as cs

from ..errors import DecodeError, UnsupportedError
from ._wire import parse_exact

COMMAND_PACKET_IEI = 0x70
RESPONSE_PACKET_IEI = 0x71
CONCAT_8BIT_IEI = 0x00
CONCAT_16BIT_IEI = 0x08
MAX_USER_DATA = 140
PID_USIM_DATA_DOWNLOAD = 0x7F  # TS 23.040 §9.2.3.9
DCS_CLASS2_8BIT = 0xF6  # TS 23.038 §4: data coding/message class, class 2 (U)SIM specific, 8-bit data

_SEMI_OCTETS = "0123456789*#abc"  # TS 23.040 §9.1.2.3: BCD digits, A-E as * # a b c, F filler


@dataclass(frozen=True, slots=True)
class Address:
    """An address field (TS 23.040 §9.1.2.5): digit count, type of number / numbering plan, swapped BCD.

    `bcd` is kept as received, filler nibble included, so addresses round-trip byte for byte.
    """

    length: int
    ton_npi: int
    bcd: bytes

    @classmethod
    def from_digits(cls, digits: str, ton_npi: int = 0x91) -> Address:
        if not digits or any(d not in _SEMI_OCTETS for d in digits.lower()):
            raise DecodeError(f"address {digits!r}", where="address", expected="digits 0-9 * # a b c")
        nibbles = [_SEMI_OCTETS.index(d) for d in digits.lower()] + [0xF] * (len(digits) % 2)
        bcd = bytes(nibbles[i] | nibbles[i + 1] << 4 for i in range(0, len(nibbles), 2))
        return cls(len(digits), ton_npi, bcd)

    @classmethod
    def from_tlv_value(cls, value: bytes) -> Address:
        """The value of an Address COMPREHENSION-TLV (TS 102 223 §8.1): TON/NPI then BCD, no digit count."""
        if not value:
            raise DecodeError("empty", where="address TLV", expected="TON/NPI and BCD digits")
        bcd = value[1:]
        filler = 1 if bcd and bcd[-1] >> 4 == 0xF else 0
        return cls(2 * len(bcd) - filler, value[0], bcd)

    def tlv_value(self) -> bytes:
        return bytes((self.ton_npi,)) + self.bcd

    @property
    def digits(self) -> str:
        nibbles = [n for b in self.bcd for n in (b & 0xF, b >> 4)][: self.length]
        return "".join(_SEMI_OCTETS[n] if n < 0xF else "?" for n in nibbles)


# TS 23.040 §9.1.2.5: address length in semi-octets, type of address, then the digits.
ADDRESS = cs.Struct("length" / cs.Int8ub, "ton_npi" / cs.Int8ub, "bcd" / cs.Bytes((cs.this.length + 1) // 2))

# TS 23.040 §9.2.2.1 SMS-DELIVER; TP-UDL counts octets for 8-bit data (UDH included).
SMS_DELIVER = cs.Struct(
    "flags" / cs.BitStruct(
        "reply_path" / cs.Flag, "udhi" / cs.Flag, "status_report" / cs.Flag, "unused" / cs.BitsInteger(1),
        "loop_prevention" / cs.Flag, "no_more_messages" / cs.Flag, "mti" / cs.Const(0, cs.BitsInteger(2)),
    ),
    "originator" / ADDRESS,
    "pid" / cs.Int8ub,
    "dcs" / cs.Int8ub,
    "scts" / cs.Bytes(7),
    "user_data" / cs.Prefixed(cs.Int8ub, cs.GreedyBytes),
)

# TS 23.040 §9.2.2.2 SMS-SUBMIT; TP-VP is 0, 1 (relative) or 7 (enhanced, absolute) octets by TP-VPF.
SMS_SUBMIT = cs.Struct(
    "flags" / cs.BitStruct(
        "reply_path" / cs.Flag, "udhi" / cs.Flag, "status_report_request" / cs.Flag, "vpf" / cs.BitsInteger(2),
        "reject_duplicates" / cs.Flag, "mti" / cs.Const(1, cs.BitsInteger(2)),
    ),
    "message_reference" / cs.Int8ub,
    "destination" / ADDRESS,
    "pid" / cs.Int8ub,
    "dcs" / cs.Int8ub,
    "validity" / cs.Bytes(lambda ctx: (0, 7, 1, 7)[ctx.flags.vpf]),
    "user_data" / cs.Prefixed(cs.Int8ub, cs.GreedyBytes),
)

# TS 23.040 §9.2.3.24: UDHL, then information elements IEI, IEDL, data.
USER_DATA_HEADER = cs.Prefixed(cs.Int8ub, cs.GreedyRange(cs.Struct("iei" / cs.Int8ub,
                                                                    "data" / cs.Prefixed(cs.Int8ub, cs.GreedyBytes))))


@dataclass(frozen=True, slots=True)
class SmsDeliver:
    originator: Address
    scts: bytes  # service centre time stamp, 7 swapped-BCD octets as sent
    user_data: bytes  # TP-UD, UDH included
    pid: int = PID_USIM_DATA_DOWNLOAD
    dcs: int = DCS_CLASS2_8BIT
    udhi: bool = True
    no_more_messages: bool = True  # TP-MMS = 1
    loop_prevention: bool = False
    status_report: bool = False
    reply_path: bool = False

    def to_bytes(self) -> bytes:
        _require_octets(self.dcs, self.user_data)
        return SMS_DELIVER.build({
            "flags": {"reply_path": self.reply_path, "udhi": self.udhi, "status_report": self.status_report,
                      "unused": 0, "loop_prevention": self.loop_prevention,
                      "no_more_messages": self.no_more_messages},
            "originator": _address_fields(self.originator), "pid": self.pid, "dcs": self.dcs, "scts": self.scts,
            "user_data": self.user_data,
        })


@dataclass(frozen=True, slots=True)
class SmsSubmit:
    destination: Address
    user_data: bytes
    pid: int = PID_USIM_DATA_DOWNLOAD
    dcs: int = DCS_CLASS2_8BIT
    message_reference: int = 0
    udhi: bool = True
    validity_format: int = 0  # TP-VPF: 0 none, 2 relative, 1 enhanced, 3 absolute
    validity: bytes = b""
    status_report_request: bool = False
    reject_duplicates: bool = False
    reply_path: bool = False

    def to_bytes(self) -> bytes:
        _require_octets(self.dcs, self.user_data)
        return SMS_SUBMIT.build({
            "flags": {"reply_path": self.reply_path, "udhi": self.udhi,
                      "status_report_request": self.status_report_request, "vpf": self.validity_format,
                      "reject_duplicates": self.reject_duplicates},
            "message_reference": self.message_reference, "destination": _address_fields(self.destination),
            "pid": self.pid, "dcs": self.dcs, "validity": self.validity, "user_data": self.user_data,
        })


def _address_fields(address: Address) -> dict[str, object]:
    if len(address.bcd) != (address.length + 1) // 2:
        raise DecodeError(f"{address.length} digits in {len(address.bcd)} bytes", where="address",
                          expected=f"{(address.length + 1) // 2} BCD bytes")
    return {"length": address.length, "ton_npi": address.ton_npi, "bcd": address.bcd}


def parse_sms_deliver(tpdu: bytes) -> SmsDeliver:
    c = parse_exact(SMS_DELIVER, tpdu, "SMS-DELIVER", "first octet with MTI 00, TP-OA, PID, DCS, SCTS, UDL, UD")
    _require_octets(c.dcs, c.user_data)
    f = c.flags
    return SmsDeliver(Address(c.originator.length, c.originator.ton_npi, c.originator.bcd), c.scts, c.user_data,
                      c.pid, c.dcs, f.udhi, f.no_more_messages, f.loop_prevention, f.status_report, f.reply_path)


def parse_sms_submit(tpdu: bytes) -> SmsSubmit:
    c = parse_exact(SMS_SUBMIT, tpdu, "SMS-SUBMIT", "first octet with MTI 01, TP-MR, TP-DA, PID, DCS, VP, UDL, UD")
    _require_octets(c.dcs, c.user_data)
    f = c.flags
    return SmsSubmit(Address(c.destination.length, c.destination.ton_npi, c.destination.bcd), c.user_data, c.pid,
                     c.dcs, c.message_reference, f.udhi, f.vpf, c.validity, f.status_report_request,
                     f.reject_duplicates, f.reply_path)


def _require_octets(dcs: int, user_data: bytes) -> None:
    """TS 23.038 §4: only 8-bit and UCS2 alphabets make TP-UDL count octets."""
    group = dcs >> 4
    if group <= 0x7:
        if dcs & 0x20:
            raise UnsupportedError(f"DCS {dcs:02x} (compressed)", where="TP-DCS", expected="uncompressed data")
        octets = (dcs >> 2) & 0x3 in (1, 2)
    elif group == 0xF:
        octets = bool(dcs & 0x04)
    else:
        octets = group == 0xE  # E0-EF: UCS2 message waiting groups; C0-DF are GSM 7-bit, 80-BF reserved
    if not octets:
        raise UnsupportedError(f"DCS {dcs:02x} is not 8-bit or UCS2 data", where="TP-DCS",
                               expected="an 8-bit data coding such as F6 or 16")
    if len(user_data) > MAX_USER_DATA:
        raise DecodeError(f"{len(user_data)} bytes", where="TP-UD", expected=f"at most {MAX_USER_DATA} bytes")


# --- user data header and concatenation -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InformationElement:
    iei: int
    data: bytes


@dataclass(frozen=True, slots=True)
class UserData:
    elements: tuple[InformationElement, ...]
    body: bytes

    def to_bytes(self) -> bytes:
        header = USER_DATA_HEADER.build([{"iei": e.iei, "data": e.data} for e in self.elements])
        return header + self.body

    def find(self, iei: int) -> InformationElement | None:
        return next((e for e in self.elements if e.iei == iei), None)


def parse_user_data(user_data: bytes) -> UserData:
    """Split TP-UD (with UDHI set) into its information elements and the rest."""
    if not user_data or user_data[0] + 1 > len(user_data):
        raise DecodeError(f"UDHL {user_data[:1].hex() or 'missing'} in {len(user_data)} bytes", where="UDH",
                          expected="a UDHL within the user data")
    try:
        elements = USER_DATA_HEADER.parse(user_data)
    except cs.ConstructError:
        raise DecodeError("information elements overrun the UDH", where="UDH",
                          expected="IEI, IEDL and IEDL bytes, within UDHL") from None
    parsed = tuple(InformationElement(e.iei, e.data) for e in elements)
    if sum(2 + len(e.data) for e in parsed) != user_data[0]:
        raise DecodeError("information elements do not fill the UDH", where="UDH", expected="whole IEs")
    return UserData(parsed, user_data[1 + user_data[0]:])


@dataclass(frozen=True, slots=True)
class Concatenation:
    reference: int
    total: int
    sequence: int
    wide: bool  # IEI 08, 16-bit reference

    @property
    def element(self) -> InformationElement:
        if self.wide:
            return InformationElement(CONCAT_16BIT_IEI, self.reference.to_bytes(2, "big") +
                                      bytes((self.total, self.sequence)))
        return InformationElement(CONCAT_8BIT_IEI, bytes((self.reference, self.total, self.sequence)))


def concatenation_of(user_data: UserData) -> Concatenation | None:
    for element, wide, size in ((user_data.find(CONCAT_8BIT_IEI), False, 3),
                                (user_data.find(CONCAT_16BIT_IEI), True, 4)):
        if element is not None:
            if len(element.data) != size:
                raise DecodeError(f"{len(element.data)} bytes", where=f"concatenation IE {element.iei:02x}",
                                  expected=f"{size} bytes")
            d = element.data
            return Concatenation(int.from_bytes(d[:-2], "big"), d[-2], d[-1], wide)
    return None


def packet_user_data(packet: bytes, iei: int = COMMAND_PACKET_IEI, *, reference: int | None = None,
                     wide_reference: bool = False) -> list[bytes]:
    """TP-UD for each SMS carrying `packet` (from CPL/RPL on): one if it fits, else concatenated segments.

    `reference` defaults to a random value (8 or 16 bits).
    """
    single = USER_DATA_HEADER.build([{"iei": iei, "data": b""}]) + packet
    if len(single) <= MAX_USER_DATA:
        return [single]
    if reference is None:
        reference = secrets.randbelow(1 << (16 if wide_reference else 8))
    first_room = MAX_USER_DATA - (9 if wide_reference else 8)
    other_room = MAX_USER_DATA - (7 if wide_reference else 6)
    pieces = [packet[:first_room]] + [packet[i:i + other_room] for i in range(first_room, len(packet), other_room)]
    if len(pieces) > 255:
        raise DecodeError(f"{len(packet)}-byte packet needs {len(pieces)} SMS", where="concatenated SMS",
                          expected="at most 255 segments")
    out = []
    for seq, piece in enumerate(pieces, 1):
        concat = Concatenation(reference, len(pieces), seq, wide_reference).element
        elements = (InformationElement(iei, b""), concat) if seq == 1 else (concat,)
        out.append(UserData(elements, piece).to_bytes())
    return out


@dataclass(frozen=True, slots=True)
class Reassembled:
    iei: int  # 70 command packet, 71 response packet
    packet: bytes
    parts: int


def reassemble(user_datas: Sequence[bytes]) -> Reassembled:
    """Join the TP-UD of one packet's SMS (in any order) into the packet.

    Raises DecodeError naming the problem: no packet identifier, parts of different messages, a sequence number
    out of range, a duplicate, or missing parts.
    """
    if not user_datas:
        raise DecodeError("no user data", where="SMS reassembly", expected="at least one SMS")
    parsed = [parse_user_data(ud) for ud in user_datas]
    concats = [concatenation_of(p) for p in parsed]
    if len(parsed) == 1 and concats[0] is None:
        return Reassembled(_packet_iei(parsed[0], "SMS"), parsed[0].body, 1)
    present = [c for c in concats if c is not None]
    if len(present) != len(concats):
        raise DecodeError("a part without concatenation IE", where="SMS reassembly",
                          expected="IE 00 or 08 in every part")
    first = present[0]
    by_seq: dict[int, UserData] = {}
    for concat, part in zip(present, parsed, strict=True):
        if (concat.reference, concat.total, concat.wide) != (first.reference, first.total, first.wide):
            raise DecodeError(f"reference {concat.reference}/{concat.total} parts", where="SMS reassembly",
                              expected=f"reference {first.reference} with {first.total} parts in every part")
        if not 1 <= concat.sequence <= concat.total:
            raise DecodeError(f"sequence number {concat.sequence}", where="SMS reassembly",
                              expected=f"1..{concat.total}")
        if concat.sequence in by_seq:
            raise DecodeError(f"part {concat.sequence} twice", where="SMS reassembly", expected="each part once")
        by_seq[concat.sequence] = part
    missing = sorted(set(range(1, first.total + 1)) - set(by_seq))
    if missing:
        raise DecodeError(f"part(s) {', '.join(map(str, missing))} of {first.total} missing",
                          where="SMS reassembly", expected="all parts")
    iei = _packet_iei(by_seq[1], "part 1")
    return Reassembled(iei, b"".join(by_seq[n].body for n in range(1, first.total + 1)), first.total)


def _packet_iei(user_data: UserData, where: str) -> int:
    for iei in (COMMAND_PACKET_IEI, RESPONSE_PACKET_IEI):
        if user_data.find(iei) is not None:
            return iei
    raise DecodeError("no packet identifier", where=f"UDH of {where}",
                      expected="IEI 70 (command packet) or 71 (response packet)")


def scts_from_datetime(moment: datetime) -> bytes:
    """TS 23.040 §9.2.3.11: YY MM DD hh mm ss TZ as swapped BCD; TZ in quarter hours, bit 3 = negative."""
    if moment.tzinfo is None:
        raise DecodeError("naive or missing time", where="SCTS", expected="a timezone-aware datetime")
    offset = moment.utcoffset()
    quarters = int(offset.total_seconds() // 900) if offset is not None else 0
    fields = [moment.year % 100, moment.month, moment.day, moment.hour, moment.minute, moment.second, abs(quarters)]
    octets = bytes((v % 10) << 4 | v // 10 for v in fields)
    return octets[:6] + bytes((octets[6] | (0x08 if quarters < 0 else 0),))
