"""Symmetric primitives shared by the GlobalPlatform secure channels and the OTA (SCP80) code.

Everything works on whole blocks: callers pad (`pad80`, or zero padding where a spec says so) before calling.
Keys are 16/24/32 bytes for AES; 8 (single DES), 16 (2-key) or 24 (3-key) bytes for the DES family.

Speed: the key schedule of a key is built once. `AesKey`/`DesKey` hold ready cipher contexts (ECB both ways and a
CMAC template that is copied per message); the module functions reuse them through a small LRU cache, so hot
paths may call `aes_cmac(key, data)` freely, and session objects hold the `AesKey`/`DesKey` themselves.
CBC with an arbitrary IV is chained by hand over the cached ECB context (no per-call Cipher object).
The cache keeps recently used keys in process memory; nothing here logs or prints them.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

try:  # cryptography >= 43 keeps TripleDES among the "decrepit" algorithms
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES  # type: ignore[attr-defined,no-redef]

from ..errors import BadCryptogram, BadInput, BadMac, DecodeError

ZERO8 = bytes(8)
ZERO16 = bytes(16)
AES_KEY_SIZES = (16, 24, 32)
DES_KEY_SIZES = (8, 16, 24)


def xor(a: bytes, b: bytes) -> bytes:
    """Byte-wise XOR of two strings of the same length."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def ct_equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison; only for use inside the `verify_*` functions."""
    return hmac.compare_digest(a, b)


def verify_mac(computed: bytes, received: bytes, *, where: str) -> None:
    """Raise BadMac unless `received` equals `computed` (constant time)."""
    if not ct_equal(computed, received):
        raise BadMac("MAC does not verify", where=where)


def verify_cryptogram(computed: bytes, received: bytes, *, where: str) -> None:
    """Raise BadCryptogram unless `received` equals `computed` (constant time)."""
    if not ct_equal(computed, received):
        raise BadCryptogram("cryptogram does not verify", where=where)


def pad80(data: bytes, block: int) -> bytes:
    """ISO/IEC 9797-1 padding method 2 (ISO 7816-4): append 80, then 00 up to a multiple of `block`."""
    return data + b"\x80" + bytes(-(len(data) + 1) % block)


def unpad80(data: bytes, block: int | None = None) -> bytes:
    """Strip ISO/IEC 9797-1 method-2 padding; with `block`, also require whole blocks and at most one block of it."""
    if block is not None and len(data) % block:
        raise DecodeError(f"{len(data)} bytes", where="padded data", expected=f"a multiple of {block} bytes")
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or (block is not None and len(data) - len(stripped) >= block):
        raise DecodeError("no 80 00.. padding at the end", where="padded data", expected="ISO 9797-1 method 2")
    return stripped[:-1]


def _check_blocks(data: bytes, block: int, where: str) -> None:
    if len(data) % block:
        raise BadInput(f"{len(data)} bytes", where=where, expected=f"a multiple of {block} bytes (pad first)")


class AesKey:
    """An AES key with its key schedule built once: ECB both ways, CBC with any IV, CMAC (NIST SP 800-38B)."""

    __slots__ = ("_cmac", "_dec", "_enc", "size")

    def __init__(self, key: bytes) -> None:
        if len(key) not in AES_KEY_SIZES:
            raise BadInput(f"{len(key)}-byte AES key", where="key", expected="16, 24 or 32 bytes")
        algorithm = algorithms.AES(bytes(key))
        self._enc = Cipher(algorithm, modes.ECB()).encryptor()
        self._dec = Cipher(algorithm, modes.ECB()).decryptor()
        self._cmac = CMAC(algorithm)
        self.size = len(key)

    def __repr__(self) -> str:
        return f"AesKey({self.size * 8} bits, value hidden)"

    def ecb_encrypt(self, data: bytes) -> bytes:
        _check_blocks(data, 16, "AES-ECB input")
        return self._enc.update(data)

    def ecb_decrypt(self, data: bytes) -> bytes:
        _check_blocks(data, 16, "AES-ECB input")
        return self._dec.update(data)

    def cbc_encrypt(self, data: bytes, iv: bytes = ZERO16) -> bytes:
        _check_blocks(data, 16, "AES-CBC input")
        out = bytearray()
        block = iv
        for i in range(0, len(data), 16):
            block = self._enc.update(xor(block, data[i:i + 16]))
            out += block
        return bytes(out)

    def cbc_decrypt(self, data: bytes, iv: bytes = ZERO16) -> bytes:
        _check_blocks(data, 16, "AES-CBC input")
        return xor(self._dec.update(data), iv + data[:-16]) if data else b""

    def cmac(self, data: bytes) -> bytes:
        """The full 16-byte AES-CMAC of `data`."""
        ctx = self._cmac.copy()
        ctx.update(data)
        return ctx.finalize()


class DesKey:
    """A DES-family key: 8 bytes single DES, 16 bytes 2-key 3DES (K1 K2 K1), 24 bytes 3-key 3DES."""

    __slots__ = ("_dec", "_enc", "_k1", "size")

    def __init__(self, key: bytes) -> None:
        if len(key) not in DES_KEY_SIZES:
            raise BadInput(f"{len(key)}-byte DES key", where="key", expected="8, 16 or 24 bytes")
        key = bytes(key)
        # Always hand cryptography a 24-byte key: K1 K1 K1 is single DES, K1 K2 K1 is 2-key 3DES.
        full = key * 3 if len(key) == 8 else key + key[:8] if len(key) == 16 else key
        algorithm = TripleDES(full)
        self._enc = Cipher(algorithm, modes.ECB()).encryptor()
        self._dec = Cipher(algorithm, modes.ECB()).decryptor()
        # Single DES under K1, for the retail MAC of 2-key 3DES keys.
        self._k1 = Cipher(TripleDES(key[:8] * 3), modes.ECB()).encryptor() if len(key) == 16 else None
        self.size = len(key)

    def __repr__(self) -> str:
        return f"DesKey({self.size} bytes, value hidden)"

    def ecb_encrypt(self, data: bytes) -> bytes:
        _check_blocks(data, 8, "DES-ECB input")
        return self._enc.update(data)

    def ecb_decrypt(self, data: bytes) -> bytes:
        _check_blocks(data, 8, "DES-ECB input")
        return self._dec.update(data)

    def cbc_encrypt(self, data: bytes, iv: bytes = ZERO8) -> bytes:
        _check_blocks(data, 8, "DES-CBC input")
        out = bytearray()
        block = iv
        for i in range(0, len(data), 8):
            block = self._enc.update(xor(block, data[i:i + 8]))
            out += block
        return bytes(out)

    def cbc_decrypt(self, data: bytes, iv: bytes = ZERO8) -> bytes:
        _check_blocks(data, 8, "DES-CBC input")
        return xor(self._dec.update(data), iv + data[:-8]) if data else b""

    def cbc_mac(self, data: bytes, iv: bytes = ZERO8) -> bytes:
        """ISO/IEC 9797-1 MAC algorithm 1 (CBC-MAC, last block), on already padded data."""
        _check_blocks(data, 8, "CBC-MAC input")
        block = iv
        for i in range(0, len(data), 8):
            block = self._enc.update(xor(block, data[i:i + 8]))
        return block

    def retail_mac(self, data: bytes, iv: bytes = ZERO8) -> bytes:
        """ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC") over already padded data; 2-key 3DES keys only.

        Single DES with K1 in CBC mode over every block but the last, then the last block through 3DES
        (K1 K2 K1), which equals decrypt-K2/encrypt-K1 of the last single-DES output (GP Card Spec v2.3 B.1.2.2).
        """
        if self._k1 is None:
            raise BadInput(f"{self.size}-byte key", where="retail MAC key", expected="16 bytes (K1 K2)")
        _check_blocks(data, 8, "retail MAC input")
        if not data:
            raise BadInput("no data", where="retail MAC input", expected="at least one block")
        block = iv
        for i in range(0, len(data) - 8, 8):
            block = self._k1.update(xor(block, data[i:i + 8]))
        return self._enc.update(xor(block, data[-8:]))


aes_key = lru_cache(maxsize=128)(AesKey)
des_key = lru_cache(maxsize=128)(DesKey)


def aes_ecb_encrypt(key: bytes, data: bytes) -> bytes:
    return aes_key(bytes(key)).ecb_encrypt(data)


def aes_ecb_decrypt(key: bytes, data: bytes) -> bytes:
    return aes_key(bytes(key)).ecb_decrypt(data)


def aes_cbc_encrypt(key: bytes, data: bytes, iv: bytes = ZERO16) -> bytes:
    return aes_key(bytes(key)).cbc_encrypt(data, iv)


def aes_cbc_decrypt(key: bytes, data: bytes, iv: bytes = ZERO16) -> bytes:
    return aes_key(bytes(key)).cbc_decrypt(data, iv)


def aes_cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B), full 16 bytes; truncate as the protocol says."""
    return aes_key(bytes(key)).cmac(data)


def des3_ecb_encrypt(key: bytes, data: bytes) -> bytes:
    return des_key(bytes(key)).ecb_encrypt(data)


def des3_ecb_decrypt(key: bytes, data: bytes) -> bytes:
    return des_key(bytes(key)).ecb_decrypt(data)


def des3_cbc_encrypt(key: bytes, data: bytes, iv: bytes = ZERO8) -> bytes:
    return des_key(bytes(key)).cbc_encrypt(data, iv)


def des3_cbc_decrypt(key: bytes, data: bytes, iv: bytes = ZERO8) -> bytes:
    return des_key(bytes(key)).cbc_decrypt(data, iv)


def des3_cbc_mac(key: bytes, data: bytes, iv: bytes = ZERO8) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 1 with (3)DES: the last CBC block over already padded data (8 bytes)."""
    return des_key(bytes(key)).cbc_mac(data, iv)


def retail_mac(key: bytes, data: bytes, iv: bytes = ZERO8) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 with a 16-byte key K1 K2, over already padded data (SCP02 C-MAC/R-MAC)."""
    return des_key(bytes(key)).retail_mac(data, iv)


def kdf_counter(prf: Callable[[bytes], bytes], prefix: bytes, suffix: bytes, length: int) -> bytes:
    """NIST SP 800-108 KDF in counter mode with an 8-bit counter (from 1) over a 16-byte-output PRF.

    PRF input = prefix || counter || suffix; output blocks are concatenated and cut to `length` bytes.  This is
    the layout of GP Amendment D §4.1.5 (prefix = label || 00 || L) and of GlobalPlatformPro `GPCrypto.scp03_kdf`
    (fixed input "a" || counter || "b").  The PRF is a parameter so a token can compute it with the key inside.
    """
    if not 0 < length <= 255 * 16:
        raise BadInput(f"{length} bytes", where="KDF output length", expected="1..4080 bytes")
    return b"".join(prf(prefix + bytes((i,)) + suffix) for i in range(1, -(-length // 16) + 1))[:length]


def kdf_counter_cmac(key: bytes, prefix: bytes, suffix: bytes, length: int) -> bytes:
    """`kdf_counter` with AES-CMAC under `key` as the PRF."""
    return kdf_counter(aes_key(bytes(key)).cmac, prefix, suffix, length)
