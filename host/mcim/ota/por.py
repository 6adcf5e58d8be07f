"""Response packets, the Proof of Receipt (ETSI TS 102 225 §5.2; SMS-PP dialect of 3GPP TS 31.115 §4.3).

SMS form: `02 71 00 | RPL(2) | RHL(1) | TAR | CNTR | PCNTR | RSC | RC/CC/DS | data | padding`; generic form:
`RPI 02 | RPL | RHI (null) | RHL | ...` with BER lengths.  Ciphering covers everything after TAR; the RC/CC
covers every clear byte except the RC/CC/DS field, including the UDH `02 71 00` for SMS [V: DIGEST §1.6-1.7].

RC/CC presence is read off RHL, never off the SPI: error PoRs may come without the security the SPI asked for;
they are accepted as such and flagged `integrity=NONE`, never reported as verified.  A PoR that reports
success without the requested RC/CC is refused.  Padding content is never checked.

`PorVerifier` is the hand-coded hot path; `parse_response_packet` and `build_response_packet` use the construct
definitions below, which the verifier is tested against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import construct as cs

from ..errors import DecodeError
from ..tlv import BerLength
from ._crypto import CbcCipher
from ._wire import parse_exact
from .errors import CipheringError, PorMismatch, PorStatus, Rejection
from .keys import KeyLookup, OtaContext, checksum_for, checksum_length, cipher_for, integrity_algorithm
from .packet import CommandHeader, Framing, verify_checksum
from .spi import Integrity, Spi

SMS_RESPONSE_UDH = b"\x02\x71\x00"  # UDHL 02, IEI 71 (response packet identifier), IEDL 00
RPI = 0x02  # TS 102 225 §5.2.1: response packet identifier of the generic format
FIXED_RESPONSE_HEADER = 10  # TAR(3) CNTR(5) PCNTR RSC: RHL without the RC/CC/DS field

# TS 102 225 §5.2.1 table 4: response header from TAR to RC/CC/DS; its length is RHL.
RESPONSE_HEADER = cs.Struct(
    "tar" / cs.Bytes(3),
    "cntr" / cs.BytesInteger(5),
    "pcntr" / cs.Int8ub,
    "status" / cs.Int8ub,
    "checksum" / cs.GreedyBytes,
)
# 3GPP TS 31.115 §4.3: SMS user data of a PoR; RPL counts from RHL to the end [V].
SMS_RESPONSE_UD = cs.Struct(
    "udh" / cs.Const(SMS_RESPONSE_UDH),
    "packet" / cs.Prefixed(cs.Int16ub, cs.Struct("header" / cs.Prefixed(cs.Int8ub, RESPONSE_HEADER),
                                                  "data" / cs.GreedyBytes)),
)
# TS 102 225 §5.2.1: RPI | RPL | RHI (null field) | RHL | header | data, BER lengths (as for commands).
GENERIC_RESPONSE_PACKET = cs.Struct(
    "rpi" / cs.Const(bytes((RPI,))),
    "packet" / cs.Prefixed(BerLength(), cs.Struct("header" / cs.Prefixed(BerLength(), RESPONSE_HEADER),
                                                    "data" / cs.GreedyBytes)),
)


class PorIntegrity(Enum):
    VERIFIED = "verified"  # the RC/CC was present and checked
    NONE = "none"  # no RC/CC in the PoR (RHL says so)
    UNCHECKED = "unchecked"  # an RC/CC is present but was not checked (decoding only)


@dataclass(frozen=True, slots=True)
class ResponsePacket:
    tar: bytes
    cntr: int
    status: PorStatus
    checksum: bytes
    data: bytes  # additional response data (compact or expanded remote response), padding removed
    padding: bytes
    ciphered: bool
    integrity: PorIntegrity


def build_response_packet(command: CommandHeader, keys: KeyLookup, cntr: int, status: PorStatus,
                          data: bytes = b"", *, secured: bool = True, cc_length: int = 8) -> bytes:
    """The PoR a receiving entity sends for `command` (SMS: the user data with its UDH; generic: from RPI).

    `secured=False` sends it without RC/CC and ciphering (what error PoRs before verification look like).
    Padding, when ciphering, is zeros (as sysmocom and Gemalto cards do, DIGEST §1.5).
    """
    spi = command.spi
    integrity = spi.por_integrity if secured else Integrity.NONE
    cl = checksum_length(integrity, integrity_algorithm(integrity, command.kid), cc_length)
    checksum = checksum_for(integrity, command.kid, keys, cl)
    cipher = cipher_for(command.kic, keys) if secured and spi.por_ciphered else None
    pad = -(7 + cl + len(data)) % cipher.block_size if cipher else 0
    body = data + bytes(pad)
    fields = {"header": {"tar": command.tar, "cntr": cntr, "pcntr": pad, "status": int(status),
                         "checksum": bytes(cl)}, "data": body}
    if command.framing is Framing.SMS:
        plain = SMS_RESPONSE_UD.build({"packet": fields})
    else:
        plain = GENERIC_RESPONSE_PACKET.build({"packet": fields})
    checksum_end = len(plain) - len(body)
    checksum_start = checksum_end - cl
    if checksum is not None:
        plain = plain[:checksum_start] + checksum(plain[:checksum_start] + plain[checksum_end:]) + \
            plain[checksum_end:]
    if cipher is None:
        return plain
    tar_end = checksum_start - 7
    return plain[:tar_end] + cipher.encrypt(plain[tar_end:])


def parse_response_packet(data: bytes, ctx: OtaContext, framing: Framing = Framing.SMS) -> ResponsePacket:
    """Decode a PoR, deciphering it when it is ciphered, without checking its RC/CC (see PorVerifier)."""
    fmt = SMS_RESPONSE_UD if framing is Framing.SMS else GENERIC_RESPONSE_PACKET
    parsed = parse_exact(fmt, data, f"{framing.value} response packet",
                         "UDH 027100 (SMS) or RPI 02, RPL, RHL >= 10, TAR, CNTR, PCNTR, RSC")
    cl = len(parsed.packet.header.checksum)
    protected_length = 7 + cl + len(parsed.packet.data)
    return _Opener(ctx).open(data[:-protected_length], data[-protected_length:], cl)


class PorVerifier:
    """Verifies PoRs for one OtaContext (the OTA server's side); ciphers are prepared once."""

    __slots__ = ("_ctx", "_opener", "_framing")

    def __init__(self, ctx: OtaContext, framing: Framing = Framing.SMS) -> None:
        self._ctx = ctx
        self._opener = _Opener(ctx)
        self._framing = framing

    def verify(self, data: bytes, expected_cntr: int | None = None) -> ResponsePacket:
        """Decipher and check a PoR against the command it answers.

        Raises DecodeError (malformed), CipheringError, ChecksumFailed / RedundancyCheckFailed (RC/CC wrong),
        PorMismatch (TAR or counter echo differs, or success claimed without the requested RC/CC).
        """
        prefix, protected, cl = self._split(data)
        por = self._opener.open(prefix, protected, cl)
        if cl:
            por = self._opener.verify_checksum(prefix, por)
        return self._check_claims(por, expected_cntr)

    def _split(self, data: bytes) -> tuple[bytes, bytes, int]:
        """(clear bytes up to TAR, protected bytes, RC/CC length)."""
        if self._framing is Framing.GENERIC:
            parsed = parse_exact(GENERIC_RESPONSE_PACKET, data, "generic response packet",
                                 "RPI 02, RPL, RHL >= 10, TAR, CNTR, PCNTR, RSC")
            cl = len(parsed.packet.header.checksum)
            protected_length = 7 + cl + len(parsed.packet.data)
            return data[:-protected_length], data[-protected_length:], cl
        if data[:3] != SMS_RESPONSE_UDH:
            raise DecodeError(f"user data starts {data[:3].hex() or 'empty'}", where="PoR UDH",
                              expected="02 71 00")
        if len(data) < 16 or int.from_bytes(data[3:5], "big") != len(data) - 5:
            raise DecodeError(f"{len(data)} bytes", where="RPL", expected="RPL = length - 5, at least 16 bytes")
        cl = data[5] - FIXED_RESPONSE_HEADER
        if cl < 0 or 6 + data[5] > len(data):
            raise DecodeError(f"RHL {data[5]}", where="RHL", expected="10 + RC/CC/DS length, within the packet")
        return data[:9], data[9:], cl

    def _check_claims(self, por: ResponsePacket, expected_cntr: int | None) -> ResponsePacket:
        ctx = self._ctx
        if por.tar != ctx.tar:
            raise PorMismatch(f"PoR for TAR {por.tar.hex()}", where="PoR TAR", expected=ctx.tar.hex())
        if por.integrity is PorIntegrity.NONE and ctx.spi.por_integrity is not Integrity.NONE \
                and por.status is PorStatus.POR_OK:
            raise PorMismatch("PoR reports success without the RC/CC the SPI asks for", where="PoR RHL",
                              expected=f"an {ctx.spi.por_integrity.name}")
        trusted = por.integrity is PorIntegrity.VERIFIED or por.status is PorStatus.POR_OK
        if expected_cntr is not None and trusted and por.cntr != expected_cntr:
            raise PorMismatch(f"counter echo {por.cntr:010x}", where="PoR CNTR",
                              expected=f"{expected_cntr:010x}, the counter of the command")
        return por


def verify_response_packet(data: bytes, ctx: OtaContext, expected_cntr: int | None = None,
                           framing: Framing = Framing.SMS) -> ResponsePacket:
    return PorVerifier(ctx, framing).verify(data, expected_cntr)


class _Opener:
    """Deciphering and RC/CC checking shared by the verifier and the decoder."""

    __slots__ = ("_spi", "_cipher", "_checksum", "_cl")

    def __init__(self, ctx: OtaContext) -> None:
        spi: Spi = ctx.spi
        self._spi = spi
        self._cipher: CbcCipher | None = cipher_for(ctx.kic, ctx.keys) if spi.por_ciphered else None
        algorithm = integrity_algorithm(spi.por_integrity, ctx.kid)
        self._cl = checksum_length(spi.por_integrity, algorithm, ctx.cc_length)
        self._checksum: Callable[[bytes], bytes] | None = checksum_for(spi.por_integrity, ctx.kid, ctx.keys,
                                                                       self._cl)

    def open(self, prefix: bytes, protected: bytes, cl: int) -> ResponsePacket:
        if cl not in (0, self._cl):
            raise DecodeError(f"{cl}-byte RC/CC/DS", where="PoR RHL",
                              expected=f"0 or {self._cl} bytes for the SPI {self._spi.to_bytes().hex()}")
        # An error PoR without RC/CC was not ciphered either, unless the SPI asks for ciphering alone.
        ciphered = self._cipher is not None and (cl > 0 or self._spi.por_integrity is Integrity.NONE)
        if ciphered:
            assert self._cipher is not None
            if len(protected) % self._cipher.block_size:
                raise CipheringError(f"{len(protected)} ciphered bytes", where="PoR after TAR",
                                     expected=f"a multiple of {self._cipher.block_size}")
            protected = self._cipher.decrypt(protected)
        body = protected[7 + cl:]
        pcntr = protected[5]
        if pcntr > len(body):
            error = CipheringError if ciphered else DecodeError
            raise error(f"PCNTR {pcntr} but only {len(body)} data bytes", where="PoR PCNTR",
                        expected="at most the length of the response data")
        integrity = PorIntegrity.UNCHECKED if cl else PorIntegrity.NONE
        return ResponsePacket(prefix[-3:], int.from_bytes(protected[:5], "big"), PorStatus(protected[6]),
                              protected[7:7 + cl], body[:len(body) - pcntr], body[len(body) - pcntr:], ciphered,
                              integrity)

    def verify_checksum(self, prefix: bytes, por: ResponsePacket) -> ResponsePacket:
        assert self._checksum is not None
        header = por.cntr.to_bytes(5, "big") + bytes((len(por.padding), por.status))
        try:
            verify_checksum(self._spi.por_integrity, self._checksum, prefix + header + por.data + por.padding,
                            por.checksum, "PoR")
        except Rejection as exc:
            exc.cntr = por.cntr
            raise
        return _with_integrity(por, PorIntegrity.VERIFIED)


def _with_integrity(por: ResponsePacket, integrity: PorIntegrity) -> ResponsePacket:
    return ResponsePacket(por.tar, por.cntr, por.status, por.checksum, por.data, por.padding, por.ciphered,
                          integrity)
