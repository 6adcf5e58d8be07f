"""STORE DATA blocks in the DGI format of applet-spec/profiles/personalisation.md, built for the tests."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def dgi(tag: int, value: bytes) -> bytes:
    """DGI(2) || length || value; the length is one byte below 255, else FF and two bytes."""
    length = bytes([len(value)]) if len(value) < 0xFF else b"\xff" + len(value).to_bytes(2, "big")
    return tag.to_bytes(2, "big") + length + value


def secret_dgi(tag: int, perso_key: bytes, clear: bytes) -> bytes:
    """A secret DGI (8000-FFFF): its value AES-128-CBC enciphered, zero IV, no padding."""
    encryptor = Cipher(algorithms.AES(perso_key), modes.CBC(bytes(16))).encryptor()
    return dgi(tag, encryptor.update(clear) + encryptor.finalize())


def store_data(block: int, dgis: bytes, *, last: bool) -> bytes:
    """80 E2 P1 P2 Lc: P1 08 (DGI format), 88 for the last block; P2 the block number."""
    return bytes([0x80, 0xE2, 0x88 if last else 0x08, block, len(dgis)]) + dgis
