"""The ciphers and checksums of TS 102 225 §5.1.2-§5.1.3, on the shared primitives of `mcim.gp.crypto`.

Ciphering: zero-IV CBC with DES, 3DES outer-CBC (2 or 3 keys) or AES; DES-ECB is refused (not implemented).
CC: DES/3DES CBC-MAC over the data zero-padded to 8 bytes, padding not transmitted, the last block is the CC;
AES-CMAC (NIST SP 800-38B), leftmost bytes [V: DIGEST §1.6].  RC: CRC16 / CRC32 of ISO/IEC 13239, big-endian.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from ..errors import BadInput, UnsupportedError
from ..gp.crypto import AesKey, DesKey, aes_key, des_key
from .spi import Algorithm

KEY_LENGTHS = {Algorithm.DES: (8,), Algorithm.TDES2: (16,), Algorithm.TDES3: (24,), Algorithm.AES: (16, 24, 32)}


def check_key(algorithm: Algorithm, key: bytes | None, where: str) -> bytes:
    """The key, if it fits the algorithm; a BadInput naming the role otherwise (never the key bytes)."""
    lengths = KEY_LENGTHS.get(algorithm)
    if lengths is None:
        raise UnsupportedError(f"{algorithm.value} is not implemented", where=where,
                               expected="des, 3des2, 3des3 or aes")
    if key is None:
        raise BadInput("no key given", where=where, expected=f"a {algorithm.value} key")
    if len(key) not in lengths:
        raise BadInput(f"{len(key)}-byte key for {algorithm.value}", where=where,
                       expected=" or ".join(str(n) for n in lengths) + " bytes")
    return key


class CbcCipher:
    """Zero-IV CBC encryption/decryption with a key schedule built once (TS 102 225 §5.1.2)."""

    __slots__ = ("block_size", "_key")

    def __init__(self, algorithm: Algorithm, key: bytes, where: str = "KIc key") -> None:
        check_key(algorithm, key, where)
        self._key: AesKey | DesKey = aes_key(key) if algorithm is Algorithm.AES else des_key(key)
        self.block_size = 16 if algorithm is Algorithm.AES else 8

    def encrypt(self, data: bytes) -> bytes:
        return self._key.cbc_encrypt(data)

    def decrypt(self, data: bytes) -> bytes:
        return self._key.cbc_decrypt(data)


def crc16(data: bytes) -> bytes:
    """CRC-16 of ISO/IEC 13239 (reflected polynomial 8408, init and final XOR FFFF), big-endian (asterix)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC16_TABLE[(crc ^ byte) & 0xFF]
    return (crc ^ 0xFFFF).to_bytes(2, "big")


def _crc16_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC16_TABLE = _crc16_table()


def crc32(data: bytes) -> bytes:
    """CRC-32 of ISO/IEC 13239 as zlib computes it, big-endian (DIGEST §1.6: CRC32(0102030405) = 470B99F4)."""
    return zlib.crc32(data).to_bytes(4, "big")


def checksum_function(algorithm: Algorithm, key: bytes | None, length: int,
                      where: str = "KID key") -> Callable[[bytes], bytes]:
    """A function data -> RC/CC of `length` bytes for one key (cipher objects built once)."""
    if algorithm is Algorithm.CRC16:
        return crc16
    if algorithm is Algorithm.CRC32:
        return crc32
    key = check_key(algorithm, key, where)
    if algorithm is Algorithm.AES:
        engine = aes_key(key)
        return lambda data: engine.cmac(data)[:length]
    des = des_key(key)
    return lambda data: des.cbc_mac(data + bytes(-len(data) % 8))[:length]
