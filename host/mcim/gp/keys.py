"""Static GlobalPlatform key sets, key check values and per-card key diversification.

Diversification turns one master key and the card's key diversification data (KDD, the first 10 bytes of the
INITIALIZE UPDATE response) into the card's ENC/MAC/DEK keys.  The three schemes are the ones GlobalPlatformPro
ships as templates (`PlaintextKeys.kdf_templates`, martinpaljak/GlobalPlatformPro@17e7d6c); their expected
outputs come from its `TestPlaintextKeys` (see tests/gp/test_keys.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import TypeVar

from ..errors import BadChecksum, BadInput
from .crypto import AES_KEY_SIZES, aes_ecb_encrypt, aes_key, ct_equal, des3_ecb_encrypt, kdf_counter

KDD_LENGTH = 10
DES3_KEY_SIZES = (16, 24)


class KeyAlgorithm(StrEnum):
    AES = "aes"
    DES3 = "3des"


class KeyUsage(IntEnum):
    """The key's number in diversification data (GlobalPlatformPro `GPCardKeys.KeyPurpose`: ENC 1, MAC 2, DEK 3)."""

    ENC = 1
    MAC = 2
    DEK = 3


class Diversification(StrEnum):
    KDF3 = "kdf3"
    EMV = "emv"
    VISA2 = "visa2"


_Choice = TypeVar("_Choice", bound=StrEnum)


def _choice(enum: type[_Choice], value: str, where: str) -> _Choice:
    try:
        return enum(value)
    except ValueError:
        raise BadInput(f"{value!r}", where=where, expected=" or ".join(m.value for m in enum)) from None


def kcv(key: bytes, algorithm: KeyAlgorithm | str) -> bytes:
    """Key check value, 3 bytes: AES-ECB(key, 16 x 01) for AES (GP Amd D), 3DES-ECB(key, 8 x 00) for DES."""
    if _choice(KeyAlgorithm, algorithm, "key algorithm") is KeyAlgorithm.AES:
        return aes_ecb_encrypt(key, b"\x01" * 16)[:3]
    return des3_ecb_encrypt(key, bytes(8))[:3]


def verify_kcv(key: bytes, algorithm: KeyAlgorithm | str, expected: bytes) -> None:
    """Raise BadChecksum unless `expected` is the key's check value (3 bytes, or fewer to compare a prefix)."""
    if not 1 <= len(expected) <= 3 or not ct_equal(kcv(key, algorithm)[:len(expected)], expected):
        raise BadChecksum("key check value does not match the key", where="KCV")


def _check_key(key: bytes, algorithm: KeyAlgorithm, where: str) -> None:
    sizes = AES_KEY_SIZES if algorithm is KeyAlgorithm.AES else DES3_KEY_SIZES
    if len(key) not in sizes:
        raise BadInput(f"{len(key)}-byte {algorithm.value} key", where=where,
                       expected=" or ".join(str(n) for n in sizes) + " bytes")


@dataclass(frozen=True)
class StaticKeys:
    """One key set of a security domain: version number and the ENC/MAC/DEK keys, all of one algorithm and size."""

    kvn: int
    enc: bytes = field(repr=False)
    mac: bytes = field(repr=False)
    dek: bytes = field(repr=False)
    algorithm: KeyAlgorithm = KeyAlgorithm.AES

    def __post_init__(self) -> None:
        object.__setattr__(self, "algorithm", _choice(KeyAlgorithm, self.algorithm, "key algorithm"))
        if not 0 <= self.kvn <= 0xFF:
            raise BadInput(f"key version {self.kvn}", where="KVN", expected="00..FF")
        for name in ("enc", "mac", "dek"):
            _check_key(getattr(self, name), self.algorithm, name)
        if not len(self.enc) == len(self.mac) == len(self.dek):
            raise BadInput("keys of different lengths", where="key set", expected="ENC, MAC and DEK of one size")

    def key(self, usage: KeyUsage) -> bytes:
        return {KeyUsage.ENC: self.enc, KeyUsage.MAC: self.mac, KeyUsage.DEK: self.dek}[usage]

    def kcvs(self) -> dict[str, bytes]:
        return {usage.name.lower(): kcv(self.key(usage), self.algorithm) for usage in KeyUsage}


def diversify_kdf3(prf: Callable[[bytes], bytes], master_length: int, kdd: bytes, *, kvn: int = 0) -> StaticKeys:
    """The "kdf3" key set with the master key's AES-CMAC given as `prf` (in memory, or a token's C_Sign)."""
    _check_kdd(kdd)
    if master_length not in AES_KEY_SIZES:
        raise BadInput(f"{master_length}-byte master key", where="master key",
                       expected=" or ".join(str(n) for n in AES_KEY_SIZES) + " bytes (AES)")
    # GlobalPlatformPro "kdf3" template "$_ 00 00 00 $k 00 $0..$9": PRF(master, counter || 00 00 00 k 00 || KDD),
    # SP 800-108 counter mode over AES-CMAC, as long as the master key.
    enc, mac, dek = (kdf_counter(prf, b"", b"\x00\x00\x00" + bytes((usage,)) + b"\x00" + kdd, master_length)
                     for usage in KeyUsage)
    return StaticKeys(kvn, enc, mac, dek, KeyAlgorithm.AES)


def _check_kdd(kdd: bytes) -> None:
    if len(kdd) != KDD_LENGTH:
        raise BadInput(f"{len(kdd)} bytes", where="key diversification data", expected="10 bytes")


def _emv_key(master: bytes, usage: KeyUsage, picked: bytes) -> bytes:
    # Templates "emv" ($4..$9) and "visa2" ($0 $1 $4..$7): picked || F0 || k || picked || 0F || k, 3DES-ECB.
    return des3_ecb_encrypt(master, picked + bytes((0xF0, usage)) + picked + bytes((0x0F, usage)))


def diversify(master: bytes, kdd: bytes, scheme: Diversification | str, *, kvn: int = 0) -> StaticKeys:
    """The card's ENC/MAC/DEK keys from a master key and the 10-byte key diversification data."""
    scheme = _choice(Diversification, scheme, "diversification scheme")
    if scheme is Diversification.KDF3:
        _check_key(master, KeyAlgorithm.AES, "master key")  # before the key schedule, for a clear message
        return diversify_kdf3(aes_key(bytes(master)).cmac, len(master), kdd, kvn=kvn)
    _check_kdd(kdd)
    if len(master) != 16:
        raise BadInput(f"{len(master)}-byte master key", where="master key", expected="16 bytes (2-key 3DES)")
    picked = kdd[4:10] if scheme is Diversification.EMV else kdd[0:2] + kdd[4:8]
    enc, mac, dek = (_emv_key(master, usage, picked) for usage in KeyUsage)
    return StaticKeys(kvn, enc, mac, dek, KeyAlgorithm.DES3)
