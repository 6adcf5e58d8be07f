"""Security parameters of a secured packet: SPI, KIc and KID as typed values (ETSI TS 102 225 §5.1.1-§5.1.3).

Every bit of both SPI bytes maps to a named field, reserved bits included, so any pair of bytes round-trips.
KIc/KID keep their raw low nibble; what it means depends on the role (ciphering, CC or RC) and is asked for
through `cipher_algorithm`, `cc_algorithm` and `rc_algorithm`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from functools import lru_cache

import construct as cs

from ..errors import DecodeError
from ..hexutil import parse_hex


class OpenIntEnum(IntEnum):
    """An IntEnum that keeps byte values it has no name for (as RESERVED_xx pseudo-members)."""

    @classmethod
    def _missing_(cls, value: object) -> OpenIntEnum | None:
        if isinstance(value, int) and 0 <= value <= 0xFF:
            member = int.__new__(cls, value)
            member._name_ = f"RESERVED_{value:02X}"
            member._value_ = value
            return member
        return None


class Integrity(IntEnum):
    """SPI1 b2b1 (command) and SPI2 b4b3 (PoR): TS 102 225 §5.1.1."""

    NONE = 0
    RC = 1  # redundancy check (CRC)
    CC = 2  # cryptographic checksum
    DS = 3  # digital signature


class CounterMode(IntEnum):
    """SPI1 b5b4: TS 102 225 §5.1.1 (mode 3 is "exactly one higher"; pySim's name for it is wrong, DIGEST §10.4)."""

    NONE = 0  # no counter available
    NO_CHECK = 1  # counter available, no replay or sequence checking
    HIGHER = 2  # process only if CNTR is higher than the RE's counter
    ONE_HIGHER = 3  # process only if CNTR is exactly one higher than the RE's counter


class PorRequest(IntEnum):
    """SPI2 b2b1: TS 102 225 §5.1.1."""

    NONE = 0
    ALWAYS = 1
    ON_ERROR = 2
    RESERVED = 3


class PorTransport(IntEnum):
    """SPI2 b6, 3GPP TS 31.115 §4.2: where the card returns the PoR."""

    DELIVER_REPORT = 0  # SMS-DELIVER-REPORT (the ENVELOPE response)
    SMS_SUBMIT = 1  # a SEND SHORT MESSAGE proactive command


# TS 102 225 §5.1.1 (+ TS 31.115 §4.2 for SPI2 b6); b8 is the first bit read.
SPI_FORMAT = cs.BitStruct(
    "reserved1" / cs.BitsInteger(3),
    "counter" / cs.BitsInteger(2),
    "ciphered" / cs.Flag,
    "integrity" / cs.BitsInteger(2),
    "reserved2" / cs.BitsInteger(2),
    "por_transport" / cs.BitsInteger(1),
    "por_ciphered" / cs.Flag,
    "por_integrity" / cs.BitsInteger(2),
    "por" / cs.BitsInteger(2),
)


@dataclass(frozen=True, slots=True)
class Spi:
    """The two SPI bytes.  `reserved1` (SPI1 b8-b6) and `reserved2` (SPI2 b8b7) are kept as received."""

    integrity: Integrity = Integrity.NONE
    ciphered: bool = False
    counter: CounterMode = CounterMode.NONE
    por: PorRequest = PorRequest.NONE
    por_integrity: Integrity = Integrity.NONE
    por_ciphered: bool = False
    por_transport: PorTransport = PorTransport.DELIVER_REPORT
    reserved1: int = 0
    reserved2: int = 0

    @classmethod
    def from_bytes(cls, data: bytes) -> Spi:
        if len(data) != 2:
            raise DecodeError(f"{len(data)} bytes", where="SPI", expected="2 bytes")
        return _spi_from_bytes(bytes(data))

    @classmethod
    def from_hex(cls, text: str) -> Spi:
        return cls.from_bytes(parse_hex(text, where="SPI", length=2))

    def to_bytes(self) -> bytes:
        return bytes(SPI_FORMAT.build({
            "reserved1": self.reserved1, "counter": self.counter, "ciphered": self.ciphered,
            "integrity": self.integrity, "reserved2": self.reserved2, "por_transport": self.por_transport,
            "por_ciphered": self.por_ciphered, "por_integrity": self.por_integrity, "por": self.por,
        }))

    def describe(self) -> dict[str, object]:
        """JSON-friendly view with names."""
        return {
            "spi": self.to_bytes().hex(), "integrity": self.integrity.name.lower(), "ciphered": self.ciphered,
            "counter": self.counter.name.lower(), "por": self.por.name.lower(),
            "por_integrity": self.por_integrity.name.lower(), "por_ciphered": self.por_ciphered,
            "por_transport": self.por_transport.name.lower(),
        }


@lru_cache(maxsize=1024)
def _spi_from_bytes(data: bytes) -> Spi:
    c = SPI_FORMAT.parse(data)
    return Spi(Integrity(c.integrity), c.ciphered, CounterMode(c.counter), PorRequest(c.por),
               Integrity(c.por_integrity), c.por_ciphered, PorTransport(c.por_transport), c.reserved1, c.reserved2)


class Algorithm(StrEnum):
    """What a KIc/KID low nibble names, in the words the command line uses."""

    IMPLICIT = "implicit"  # agreed beforehand between the entities (b2b1 = 00)
    DES = "des"  # single DES, CBC (legacy, pre-Release 8)
    TDES2 = "3des2"  # triple DES outer-CBC, 2 keys
    TDES3 = "3des3"  # triple DES outer-CBC, 3 keys
    DES_ECB = "des-ecb"
    AES = "aes"  # AES-CBC for ciphering, AES-CMAC for CC; key length from the key
    CRC16 = "crc16"
    CRC32 = "crc32"
    PROPRIETARY = "proprietary"
    RESERVED = "reserved"
    NONE = "none"  # no algorithm: the SPI asks for no ciphering / no RC-CC-DS


# TS 102 225 §5.1.2 (KIc) and §5.1.3.1 (KID for CC): b2b1 01 = DES family with b4b3 selecting the mode,
# b2b1 10 = AES (b4b3 00, others RFU), 11 proprietary, 00 implicit.  DES-ECB is defined for KIc only.
_DES_MODES = {0x0: Algorithm.DES, 0x4: Algorithm.TDES2, 0x8: Algorithm.TDES3, 0xC: Algorithm.DES_ECB}
# TS 102 225 §5.1.3.2 (KID for RC): b2b1 01 = CRC with b4b3 00 CRC16, 01 CRC32.
_CRC_MODES = {0x0: Algorithm.CRC16, 0x4: Algorithm.CRC32}
_CIPHER_NIBBLE = {Algorithm.DES: 0x1, Algorithm.TDES2: 0x5, Algorithm.TDES3: 0x9, Algorithm.DES_ECB: 0xD,
                  Algorithm.AES: 0x2, Algorithm.IMPLICIT: 0x0, Algorithm.NONE: 0x0}
_RC_NIBBLE = {Algorithm.CRC16: 0x1, Algorithm.CRC32: 0x5, Algorithm.IMPLICIT: 0x0, Algorithm.NONE: 0x0}

# TS 102 225 §5.1.2: b8-b5 key index (the KVN of the SCP80 key set, DIGEST §1.4), b4-b1 algorithm and mode.
KEY_REF_FORMAT = cs.BitStruct("index" / cs.Nibble, "coding" / cs.Nibble)


@dataclass(frozen=True, slots=True)
class KeyRef:
    """A KIc or KID byte: key index (b8-b5) and algorithm/mode coding (b4-b1), both kept raw."""

    index: int
    coding: int

    def __post_init__(self) -> None:
        if not (0 <= self.index <= 0xF and 0 <= self.coding <= 0xF):
            raise DecodeError(f"index {self.index}, coding {self.coding}", where="KIc/KID",
                              expected="two nibbles 0..15")

    @classmethod
    def from_byte(cls, value: int) -> KeyRef:
        return cls(value >> 4, value & 0x0F)

    @property
    def byte(self) -> int:
        return self.index << 4 | self.coding

    @classmethod
    def for_cipher(cls, index: int, algorithm: Algorithm) -> KeyRef:
        return cls(index, _nibble(_CIPHER_NIBBLE, algorithm, "KIc"))

    @classmethod
    def for_cc(cls, index: int, algorithm: Algorithm) -> KeyRef:
        if algorithm is Algorithm.DES_ECB:
            raise DecodeError("DES-ECB", where="KID", expected="a CC algorithm: des, 3des2, 3des3 or aes")
        return cls(index, _nibble(_CIPHER_NIBBLE, algorithm, "KID"))

    @classmethod
    def for_rc(cls, index: int, algorithm: Algorithm) -> KeyRef:
        return cls(index, _nibble(_RC_NIBBLE, algorithm, "KID"))

    def cipher_algorithm(self) -> Algorithm:
        return _family(self.coding, _DES_MODES)

    def cc_algorithm(self) -> Algorithm:
        algorithm = _family(self.coding, _DES_MODES)
        return Algorithm.RESERVED if algorithm is Algorithm.DES_ECB else algorithm

    def rc_algorithm(self) -> Algorithm:
        if self.coding & 0x3 == 0x2:
            return Algorithm.RESERVED
        return _family(self.coding, _CRC_MODES)


def _family(coding: int, modes: dict[int, Algorithm]) -> Algorithm:
    kind = coding & 0x3
    if kind == 0x0:
        return Algorithm.IMPLICIT if coding == 0 else Algorithm.RESERVED
    if kind == 0x3:
        return Algorithm.PROPRIETARY
    if kind == 0x1:
        return modes.get(coding & 0xC, Algorithm.RESERVED)
    return Algorithm.AES if coding == 0x2 else Algorithm.RESERVED


def _nibble(table: dict[Algorithm, int], algorithm: Algorithm, where: str) -> int:
    try:
        return table[algorithm]
    except KeyError:
        raise DecodeError(f"algorithm {algorithm.value}", where=where,
                          expected=" or ".join(a.value for a in table)) from None


# Typed views of the two wire formats above, for use inside larger construct definitions.
SPI = cs.ExprAdapter(cs.Bytes(2), lambda obj, ctx: Spi.from_bytes(obj), lambda obj, ctx: obj.to_bytes())
KEY_REF = cs.ExprAdapter(KEY_REF_FORMAT, lambda obj, ctx: KeyRef(obj.index, obj.coding),
                         lambda obj, ctx: {"index": obj.index, "coding": obj.coding})
