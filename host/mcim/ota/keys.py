"""Which algorithm and key protect a packet: KIc/KID resolution shared by commands and PoRs, both ends."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

from ..errors import BadInput, DecodeError
from ._crypto import KEY_LENGTHS, CbcCipher, checksum_function
from .errors import UnidentifiedSecurityError, UnsupportedSecurity
from .spi import Algorithm, Integrity, KeyRef, Spi


class KeyRole(IntEnum):
    """Key identifiers inside an SCP80 key set (DIGEST §1.4: 1 = KIc, 2 = KID, 3 = KIK)."""

    KIC = 1
    KID = 2


class KeyLookup(Protocol):
    def ota_key(self, kvn: int, role: KeyRole) -> bytes | None:
        """The key with identifier `role` in key set `kvn` (the KIc/KID key index), or None."""
        ...


@dataclass(frozen=True, slots=True)
class OtaKeys:
    """The KIc and KID keys of one key set; as a KeyLookup they answer for whatever index a packet names."""

    kic: bytes | None = field(default=None, repr=False)
    kid: bytes | None = field(default=None, repr=False)

    def ota_key(self, kvn: int, role: KeyRole) -> bytes | None:
        return self.kic if role is KeyRole.KIC else self.kid


@dataclass(frozen=True, slots=True)
class KeySets:
    """Key sets by KVN, as a receiving entity holds them (DIGEST §1.4: KVN 01-0F)."""

    by_kvn: Mapping[int, OtaKeys]

    def ota_key(self, kvn: int, role: KeyRole) -> bytes | None:
        keyset = self.by_kvn.get(kvn)
        return None if keyset is None else keyset.ota_key(kvn, role)


@dataclass(frozen=True, slots=True)
class OtaContext:
    """Everything both ends agree on for one target besides the counter: SPI, KIc, KID, TAR and the keys.

    `cc_length` is the number of CC bytes sent (8; AES also allows 4, TS 102 225 §5.1.3.1 via asterix/pySim).
    """

    spi: Spi
    kic: KeyRef
    kid: KeyRef
    tar: bytes
    keys: OtaKeys = OtaKeys()
    cc_length: int = 8

    def __post_init__(self) -> None:
        if len(self.tar) != 3:
            raise BadInput(f"{len(self.tar)} bytes", where="TAR", expected="3 bytes")
        if self.cc_length not in (4, 8):
            raise BadInput(f"CC length {self.cc_length}", where="CC", expected="8 (or 4 with AES)")


_IMPLEMENTED = frozenset(KEY_LENGTHS)


def integrity_algorithm(integrity: Integrity, kid: KeyRef) -> Algorithm:
    """The algorithm the KID names for this kind of integrity (TS 102 225 §5.1.3)."""
    if integrity is Integrity.NONE:
        return Algorithm.NONE
    if integrity is Integrity.DS:
        raise UnsupportedSecurity("digital signatures (DS) are not implemented", where="SPI RC/CC/DS",
                                  expected="no integrity, RC or CC")
    algorithm = kid.rc_algorithm() if integrity is Integrity.RC else kid.cc_algorithm()
    implemented = (Algorithm.CRC16, Algorithm.CRC32) if integrity is Integrity.RC else _IMPLEMENTED
    if algorithm not in implemented:
        raise UnsupportedSecurity(f"KID {kid.byte:02x} names {algorithm.value} for {integrity.name}",
                                  where="KID", expected="an implemented algorithm: " +
                                  ", ".join(sorted(a.value for a in implemented)))
    return algorithm


def checksum_length(integrity: Integrity, algorithm: Algorithm, cc_length: int) -> int:
    """Bytes of RC/CC/DS sent: none 0, CRC16 2, CRC32 4, CC as agreed (8, or 4 with AES)."""
    if integrity is Integrity.NONE:
        return 0
    if integrity is Integrity.CC:
        return cc_length
    return 2 if algorithm is Algorithm.CRC16 else 4


def checksum_lengths(algorithm: Algorithm) -> tuple[int, ...]:
    """RC/CC lengths the algorithm allows: CRC16 2, CRC32 4, DES family 8, AES 8 or 4."""
    return {Algorithm.NONE: (0,), Algorithm.CRC16: (2,), Algorithm.CRC32: (4,), Algorithm.AES: (8, 4)}.get(
        algorithm, (8,))


def cipher_for(kic: KeyRef, keys: KeyLookup) -> CbcCipher:
    algorithm = kic.cipher_algorithm()
    if algorithm not in _IMPLEMENTED:
        raise UnsupportedSecurity(f"KIc {kic.byte:02x} names {algorithm.value}", where="KIc",
                                  expected="des, 3des2, 3des3 or aes")
    key = _key(keys, kic, KeyRole.KIC, algorithm)
    return CbcCipher(algorithm, key)


def checksum_for(integrity: Integrity, kid: KeyRef, keys: KeyLookup,
                 length: int) -> Callable[[bytes], bytes] | None:
    """The RC/CC function for `length` bytes, or None without integrity; typed errors map to PoR status 06."""
    algorithm = integrity_algorithm(integrity, kid)
    if length not in checksum_lengths(algorithm):
        raise DecodeError(f"{length}-byte RC/CC/DS field with integrity {integrity.name}",
                          where="header length (CHL/RHL)",
                          expected=" or ".join(map(str, checksum_lengths(algorithm))) + f" bytes for {algorithm.value}")
    if algorithm is Algorithm.NONE:
        return None
    key = None if integrity is Integrity.RC else _key(keys, kid, KeyRole.KID, algorithm)
    return checksum_function(algorithm, key, length)


def _key(keys: KeyLookup, ref: KeyRef, role: KeyRole, algorithm: Algorithm) -> bytes:
    key = keys.ota_key(ref.index, role)
    where = f"{role.name} key set {ref.index}"
    if key is None:
        raise UnidentifiedSecurityError("no such key", where=where, expected=f"a {algorithm.value} key")
    if len(key) not in KEY_LENGTHS[algorithm]:
        raise UnidentifiedSecurityError(f"{len(key)}-byte key for {algorithm.value}", where=where,
                                        expected=" or ".join(map(str, KEY_LENGTHS[algorithm])) + " bytes")
    return key
