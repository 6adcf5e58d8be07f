"""Command and response APDUs (ISO/IEC 7816-4 §5.1 and §5.4, class byte coding; ETSI TS 102 221 §10.1.1).

Parsing resolves the four cases and the short/extended forms from the length alone, the way a card does.
`le` is the number of bytes expected (1..256 short, up to 65536 extended), or None when the command has no Le.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import DecodeError

SHORT_MAX_LC = 255
SHORT_MAX_LE = 256
EXT_MAX_LC = 65535
EXT_MAX_LE = 65536


def decode_cla(cla: int) -> tuple[int, int, bool]:
    """Return (logical channel, secure messaging indication, chaining) of a class byte.

    ISO 7816-4 §5.4.1: first interindustry values (b7=0) code channels 0-3 in b2b1 and SM in b4b3; further
    interindustry values (b7=1) code channels 4-19 in b4..b1 (+4) and SM in b6.  Proprietary classes with b8=1
    (GlobalPlatform '8X'/'CX'/'EX', ETSI TS 102 221 §10.1.1) reuse the same coding of the low bits.
    """
    if cla & 0x40:
        return (cla & 0x0F) + 4, (cla >> 5) & 0x01, bool(cla & 0x10)
    return cla & 0x03, (cla >> 2) & 0x03, bool(cla & 0x10)


def encode_cla(cla: int, channel: int) -> int:
    """`cla` moved to logical channel `channel`, keeping the proprietary bit, SM indication and chaining."""
    if not 0 <= channel <= 19:
        raise DecodeError(f"logical channel {channel}", where="CLA", expected="0..19")
    _, sm, chaining = decode_cla(cla)
    high = cla & 0x80 | (0x10 if chaining else 0)
    if channel <= 3:
        return high | (sm & 0x03) << 2 | channel
    if sm & 0x02:
        raise DecodeError("channels 4-19 cannot carry SM indication '1X'", where="CLA",
                          expected="no SM or SM without header authentication")
    return high | 0x40 | (0x20 if sm else 0) | (channel - 4)


@dataclass(frozen=True, slots=True)
class CommandApdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    extended: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise DecodeError(f"{name.upper()}={value}", where="APDU header", expected="one byte 00..FF")
        if len(self.data) > EXT_MAX_LC:
            raise DecodeError(f"{len(self.data)} data bytes", where="APDU", expected=f"at most {EXT_MAX_LC}")
        if self.le is not None and not 1 <= self.le <= EXT_MAX_LE:
            raise DecodeError(f"Le={self.le}", where="APDU", expected=f"1..{EXT_MAX_LE}")

    @property
    def case(self) -> int:
        """ISO 7816-4 §5.1 case: 1 (no data, no Le), 2 (Le), 3 (data), 4 (data and Le)."""
        return 1 + (self.le is not None) + 2 * bool(self.data)

    @property
    def is_extended(self) -> bool:
        return self.extended or len(self.data) > SHORT_MAX_LC or (self.le or 0) > SHORT_MAX_LE

    @property
    def channel(self) -> int:
        return decode_cla(self.cla)[0]

    @property
    def secure_messaging(self) -> int:
        return decode_cla(self.cla)[1]

    @property
    def header(self) -> bytes:
        return bytes((self.cla, self.ins, self.p1, self.p2))

    def on_channel(self, channel: int) -> CommandApdu:
        return CommandApdu(encode_cla(self.cla, channel), self.ins, self.p1, self.p2, self.data, self.le,
                           self.extended)

    def to_bytes(self) -> bytes:
        body = self.header
        if self.is_extended:
            if self.data:
                body += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                le = (self.le % EXT_MAX_LE).to_bytes(2, "big")
                body += le if self.data else b"\x00" + le
            return body
        if self.data:
            body += bytes((len(self.data),)) + self.data
        if self.le is not None:
            body += bytes((self.le % SHORT_MAX_LE,))
        return body

    __bytes__ = to_bytes

    @classmethod
    def parse(cls, raw: bytes) -> CommandApdu:
        """Decode a C-APDU, telling the case from the length bytes (ISO 7816-4 §5.1)."""
        n = len(raw)
        if n < 4:
            raise DecodeError(f"{n} bytes", where="APDU", expected="at least 4 header bytes CLA INS P1 P2")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        if n == 4:
            return cls(cla, ins, p1, p2)
        if n == 5:
            return cls(cla, ins, p1, p2, le=raw[4] or SHORT_MAX_LE)
        if raw[4]:
            lc = raw[4]
            if n == 5 + lc:
                return cls(cla, ins, p1, p2, raw[5:])
            if n == 6 + lc:
                return cls(cla, ins, p1, p2, raw[5:-1], raw[-1] or SHORT_MAX_LE)
            raise DecodeError(f"Lc={lc} but {n - 5} bytes follow it", where="APDU byte 4 (Lc)",
                              expected=f"{lc} data bytes, optionally followed by one Le byte")
        # raw[4] == 0 with more bytes: extended length (ISO 7816-4 §5.1, "00" then two bytes)
        if n < 7:
            raise DecodeError(f"{n} bytes with byte 4 = 00", where="APDU", expected="extended Lc/Le (3 bytes)")
        ext = int.from_bytes(raw[5:7], "big")
        if n == 7:
            return cls(cla, ins, p1, p2, le=ext or EXT_MAX_LE, extended=True)
        if ext == 0:
            raise DecodeError("extended Lc of 0", where="APDU bytes 4-6", expected="Lc 1..65535")
        if n == 7 + ext:
            return cls(cla, ins, p1, p2, raw[7:], extended=True)
        if n == 9 + ext:
            return cls(cla, ins, p1, p2, raw[7:-2], int.from_bytes(raw[-2:], "big") or EXT_MAX_LE, extended=True)
        raise DecodeError(f"extended Lc={ext} but {n - 7} bytes follow it", where="APDU bytes 4-6 (Lc)",
                          expected=f"{ext} data bytes, optionally followed by a 2-byte Le")


@dataclass(frozen=True, slots=True)
class ResponseApdu:
    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    def to_bytes(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    __bytes__ = to_bytes

    @classmethod
    def parse(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise DecodeError(f"{len(raw)} bytes", where="R-APDU", expected="at least SW1 SW2")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))


# Instruction names for people reading logs: ISO/IEC 7816-4 §5.4.2, ETSI TS 102 221 §10.1.2 and TS 102 222,
# 3GPP TS 31.102 §7, GlobalPlatform Card Spec v2.3 §11 (GP commands use a proprietary class, b8 = 1).
_INS_INTERINDUSTRY = {
    0x04: "DEACTIVATE FILE", 0x0E: "ERASE BINARY", 0x10: "TERMINAL PROFILE", 0x12: "FETCH",
    0x14: "TERMINAL RESPONSE", 0x20: "VERIFY PIN", 0x24: "CHANGE PIN", 0x26: "DISABLE PIN", 0x28: "ENABLE PIN",
    0x2C: "UNBLOCK PIN", 0x32: "INCREASE", 0x44: "ACTIVATE FILE", 0x70: "MANAGE CHANNEL", 0x73: "MANAGE SECURE CHANNEL",
    0x75: "TRANSACT DATA", 0x82: "EXTERNAL AUTHENTICATE", 0x84: "GET CHALLENGE", 0x88: "AUTHENTICATE",
    0x89: "AUTHENTICATE (odd)", 0xA2: "SEARCH RECORD", 0xA4: "SELECT", 0xAA: "TERMINAL CAPABILITY",
    0xB0: "READ BINARY", 0xB2: "READ RECORD", 0xC0: "GET RESPONSE", 0xC2: "ENVELOPE", 0xCA: "GET DATA",
    0xCB: "GET DATA (odd)", 0xD6: "UPDATE BINARY", 0xDA: "PUT DATA", 0xDC: "UPDATE RECORD", 0xE0: "CREATE FILE",
    0xE4: "DELETE FILE", 0xE6: "TERMINATE DF", 0xE8: "TERMINATE EF", 0xF2: "STATUS", 0xFE: "TERMINATE CARD USAGE",
}
_INS_PROPRIETARY = {
    **_INS_INTERINDUSTRY,
    0x50: "INITIALIZE UPDATE", 0x78: "END R-MAC SESSION", 0x7A: "BEGIN R-MAC SESSION", 0xD4: "RESIZE FILE",
    0xD8: "PUT KEY", 0xE2: "STORE DATA", 0xE4: "DELETE", 0xE6: "INSTALL", 0xE8: "LOAD", 0xF0: "SET STATUS",
    0xF2: "GET STATUS", 0xB8: "CREATE APPLET (jCardSim)", 0xCA: "GET DATA", 0xCB: "GET DATA",
}


def instruction_name(cla: int, ins: int) -> str:
    table = _INS_PROPRIETARY if cla & 0x80 and cla != 0xA0 else _INS_INTERINDUSTRY
    return table.get(ins, "unknown instruction")
