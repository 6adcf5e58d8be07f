"""Command packets (ETSI TS 102 225 §5.1; SMS-PP dialect of 3GPP TS 31.115 §4.2): build, parse, open.

Byte coverage [V: DIGEST §1.5-1.6]: ciphering covers CNTR, PCNTR, RC/CC/DS, secured data and padding (zero IV,
CBC); the RC/CC covers every byte of the packet in clear except the RC/CC/DS field itself: CPL..PCNTR, data and
padding for SMS (never the UDH), CPI..PCNTR and the rest for the generic format.  Padding is added only when
ciphering, counted by PCNTR, and stripped without looking at what it contains.

`CommandBuilder` is the hand-coded hot path; the construct definitions below parse every packet and are what
the builder is tested against.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import construct as cs

from ..errors import BadInput, DecodeError, UnsupportedError
from ..tlv import BerLength, encode_ber_length
from ._crypto import CbcCipher, check_key
from ._wire import parse_exact
from .errors import ChecksumFailed, CipheringError, RedundancyCheckFailed, Rejection
from .keys import (
    KeyLookup,
    OtaContext,
    checksum_for,
    checksum_length,
    cipher_for,
    integrity_algorithm,
)
from .spi import KEY_REF, SPI, Algorithm, Integrity, KeyRef, Spi

MAX_CNTR = (1 << 40) - 1
FIXED_HEADER_LENGTH = 13  # SPI(2) KIc KID TAR(3) CNTR(5) PCNTR: CHL without the RC/CC/DS field
CPI = 0x01  # TS 102 225 §5.1.1: command packet identifier of the generic format


class Framing(Enum):
    SMS = "sms"  # TS 31.115: CPL 2 bytes, CHL 1 byte, no CPI/CHI (the UDH IEI 70 plays their part)
    GENERIC = "generic"  # TS 102 225 §5.1.1 for CAT_TP / TCP-IP: CPI 01, BER CPL, CHI null, BER CHL


# TS 102 225 §5.1.1 table 1: the command header from SPI to RC/CC/DS; its length is CHL.
COMMAND_HEADER = cs.Struct(
    "spi" / SPI,
    "kic" / KEY_REF,
    "kid" / KEY_REF,
    "tar" / cs.Bytes(3),
    "cntr" / cs.BytesInteger(5),
    "pcntr" / cs.Int8ub,
    "checksum" / cs.GreedyBytes,
)
_COMMAND_BODY = cs.Struct("header" / cs.Prefixed(cs.Int8ub, COMMAND_HEADER), "data" / cs.GreedyBytes)
# 3GPP TS 31.115 §4.2: CPL(2) counts from CHL to the end of the (padded) secured data [V].
SMS_COMMAND_PACKET = cs.Prefixed(cs.Int16ub, _COMMAND_BODY)
# TS 102 225 §5.1.1: CPI | CPL | CHI (null field, zero length) | CHL | header | data; CPL and CHL BER lengths
# [I: njiwa Ota.createSCP80Pkg(cpi >= 0)].
GENERIC_COMMAND_PACKET = cs.Struct(
    "cpi" / cs.Const(bytes((CPI,))),
    "body" / cs.Prefixed(BerLength(), cs.Struct("header" / cs.Prefixed(BerLength(), COMMAND_HEADER),
                                                  "data" / cs.GreedyBytes)),
)


@dataclass(frozen=True, slots=True)
class CommandHeader:
    """The part of a command packet that travels in clear."""

    spi: Spi
    kic: KeyRef
    kid: KeyRef
    tar: bytes
    checksum_length: int
    framing: Framing = Framing.SMS


@dataclass(frozen=True, slots=True)
class CommandPacket:
    """An opened command packet: deciphered and, when the SPI asks for it, checked."""

    header: CommandHeader
    cntr: int
    pcntr: int
    checksum: bytes
    secured_data: bytes
    padding: bytes


class CommandBuilder:
    """Builds command packets for one OtaContext; ciphers and fixed header bytes are prepared once.

    Single DES is legacy (pySim: "pre-Rel8 only"): it is opened but built only with `allow_legacy_des`.
    """

    __slots__ = ("_framing", "_fixed", "_chl", "_cl", "_block", "_cipher", "_checksum")

    def __init__(self, ctx: OtaContext, framing: Framing = Framing.SMS, *, allow_legacy_des: bool = False) -> None:
        spi = ctx.spi
        self._framing = framing
        self._cipher: CbcCipher | None = None
        self._checksum: Callable[[bytes], bytes] | None = None
        self._cl = 0
        if spi.ciphered:
            algorithm = _buildable(ctx.kic.cipher_algorithm(), allow_legacy_des, "KIc")
            check_key(algorithm, ctx.keys.kic, "KIc key")
            self._cipher = cipher_for(ctx.kic, ctx.keys)
        if spi.integrity is not Integrity.NONE:
            algorithm = _buildable(integrity_algorithm(spi.integrity, ctx.kid), allow_legacy_des, "KID")
            self._cl = checksum_length(spi.integrity, algorithm, ctx.cc_length)
            if spi.integrity is Integrity.CC:
                check_key(algorithm, ctx.keys.kid, "KID key")
            self._checksum = checksum_for(spi.integrity, ctx.kid, ctx.keys, self._cl)
        self._block = self._cipher.block_size if self._cipher else 1
        self._chl = FIXED_HEADER_LENGTH + self._cl
        self._fixed = spi.to_bytes() + bytes((ctx.kic.byte, ctx.kid.byte)) + ctx.tar

    def build(self, cntr: int, secured_data: bytes) -> bytes:
        """The command packet from CPL (SMS) or CPI (generic) on."""
        if not 0 <= cntr <= MAX_CNTR:
            raise BadInput(f"counter {cntr}", where="CNTR", expected=f"0..{MAX_CNTR}")
        pad = -(6 + self._cl + len(secured_data)) % self._block
        body = secured_data + bytes(pad)
        head = self._head(len(body))
        protected = cntr.to_bytes(5, "big") + bytes((pad,))
        if self._checksum is not None:
            protected += self._checksum(head + protected + body)
        protected += body
        if self._cipher is not None:
            protected = self._cipher.encrypt(protected)
        return head + protected

    def _head(self, body_length: int) -> bytes:
        if self._framing is Framing.SMS:
            cpl = 1 + self._chl + body_length
            if cpl > 0xFFFF:
                raise BadInput(f"{cpl}-byte packet", where="CPL", expected="at most 65535 bytes")
            return cpl.to_bytes(2, "big") + bytes((self._chl,)) + self._fixed
        chl = encode_ber_length(self._chl)
        return bytes((CPI,)) + encode_ber_length(len(chl) + self._chl + body_length) + chl + self._fixed


def _buildable(algorithm: Algorithm, allow_legacy_des: bool, where: str) -> Algorithm:
    if algorithm is Algorithm.DES and not allow_legacy_des:
        raise UnsupportedError("single DES is legacy (pre-Release 8): mcim opens such packets but does not build "
                               "them", where=where, expected="3des2, 3des3 or aes")
    return algorithm


def build_command_packet(ctx: OtaContext, cntr: int, secured_data: bytes,
                         framing: Framing = Framing.SMS) -> bytes:
    return CommandBuilder(ctx, framing).build(cntr, secured_data)


def parse_command_header(packet: bytes, framing: Framing = Framing.SMS) -> CommandHeader:
    """The clear part of a command packet, without any key (what a receiving entity reads first)."""
    return _parse(packet, framing)[0]


def parse_unverified(packet: bytes, framing: Framing = Framing.SMS) -> CommandPacket:
    """The fields of an unciphered command packet, its RC/CC not checked (for decoding only)."""
    header, parsed = _parse(packet, framing)
    if header.spi.ciphered:
        raise BadInput("the packet is ciphered", where="command packet", expected="the KIc key to open it")
    data, pcntr = parsed.data, parsed.header.pcntr
    if pcntr > len(data):
        raise DecodeError(f"PCNTR {pcntr} but only {len(data)} data bytes", where="PCNTR",
                          expected="at most the length of the secured data")
    return CommandPacket(header, parsed.header.cntr, pcntr, parsed.header.checksum, data[:len(data) - pcntr],
                         data[len(data) - pcntr:])


def open_command_packet(packet: bytes, keys: KeyLookup, framing: Framing = Framing.SMS, *,
                        admit: Callable[[CommandHeader], None] | None = None) -> CommandPacket:
    """Decipher and verify a command packet (the receiving entity's side).

    `admit`, if given, sees the clear header first and may raise a Rejection (unknown TAR, security level).
    Raises DecodeError for a malformed packet, or a `Rejection` (CipheringError, ChecksumFailed,
    RedundancyCheckFailed, UnidentifiedSecurityError, UnsupportedSecurity) carrying the clear header.
    """
    header, parsed = _parse(packet, framing)
    try:
        if admit is not None:
            admit(header)
        return _open(packet, header, parsed, keys)
    except Rejection as exc:
        exc.header = header
        raise


def _open(packet: bytes, header: CommandHeader, parsed: cs.Container, keys: KeyLookup) -> CommandPacket:
    spi = header.spi
    checksum = checksum_for(spi.integrity, header.kid, keys, header.checksum_length)
    protected_length = 6 + header.checksum_length + len(parsed.data)
    plain = packet
    if spi.ciphered:
        cipher = cipher_for(header.kic, keys)
        if protected_length % cipher.block_size:
            raise CipheringError(f"{protected_length} ciphered bytes", where="command packet after TAR",
                                 expected=f"a multiple of {cipher.block_size}")
        plain = packet[:-protected_length] + cipher.decrypt(packet[-protected_length:])
        parsed = _parse(plain, header.framing)[1]
    cl_end = len(plain) - len(parsed.data)
    if checksum is not None:
        verify_checksum(spi.integrity, checksum, plain[:cl_end - header.checksum_length] + plain[cl_end:],
                        parsed.header.checksum, "command packet")
    data, pcntr = parsed.data, parsed.header.pcntr
    if pcntr > len(data):
        error = CipheringError if spi.ciphered else DecodeError
        raise error(f"PCNTR {pcntr} but only {len(data)} data bytes", where="PCNTR",
                    expected="at most the length of the secured data")
    return CommandPacket(header, parsed.header.cntr, pcntr, parsed.header.checksum,
                         data[:len(data) - pcntr], data[len(data) - pcntr:])


def verify_checksum(integrity: Integrity, checksum: Callable[[bytes], bytes], covered: bytes, received: bytes,
                    where: str) -> None:
    """Raise RedundancyCheckFailed / ChecksumFailed unless `received` is the RC/CC of `covered` (constant time)."""
    if not hmac.compare_digest(checksum(covered), received):
        if integrity is Integrity.RC:
            raise RedundancyCheckFailed("RC does not match", where=f"{where} RC", expected="a matching CRC")
        raise ChecksumFailed("CC does not verify", where=f"{where} CC", expected="a CC computed with the KID key")


def _parse(packet: bytes, framing: Framing) -> tuple[CommandHeader, cs.Container]:
    fmt = SMS_COMMAND_PACKET if framing is Framing.SMS else GENERIC_COMMAND_PACKET
    parsed = parse_exact(fmt, packet, f"{framing.value} command packet",
                         "CPL, CHL >= 13, SPI, KIc, KID, TAR, CNTR, PCNTR, RC/CC/DS and data")
    body = parsed if framing is Framing.SMS else parsed.body
    h = body.header
    return CommandHeader(h.spi, h.kic, h.kid, h.tar, len(h.checksum), framing), body
