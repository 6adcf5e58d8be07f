"""Milenage, the 3GPP example algorithm set f1, f1*, f2, f3, f4, f5, f5* (3GPP TS 35.206 §4).

All seven functions share one kernel: E_K is AES-128 (TS 35.206 §4.1), OPc = OP xor E_K(OP) (§4.1), and
    TEMP = E_K(RAND xor OPc)
    OUT1 = E_K(TEMP xor rot(IN1 xor OPc, r1) xor c1) xor OPc,  IN1 = SQN || AMF || SQN || AMF
    OUTi = E_K(rot(TEMP xor OPc, ri) xor ci) xor OPc          for i = 2..5
    f1 = OUT1[0:8], f1* = OUT1[8:16], f5 = OUT2[0:6], f2 = OUT2[8:16], f3 = OUT3, f4 = OUT4, f5* = OUT5[0:6].
Operators may choose their own c1..c5 / r1..r5 (§4.1); the defaults below are the ones TS 35.206 gives.
Arithmetic is done on 128-bit integers so that the rotations are single shifts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import BadInput

_MASK128 = (1 << 128) - 1


def _check_length(value: bytes, length: int, where: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != length:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise BadInput(f"{size} bytes", where=where, expected=f"{length} bytes")
    return bytes(value)


def _rotate_left(x: int, bits: int) -> int:
    bits %= 128
    return ((x << bits) | (x >> (128 - bits))) & _MASK128 if bits else x


@dataclass(frozen=True)
class MilenageConstants:
    """c1..c5 (16 bytes each) and r1..r5 (rotations in bits, 0..127) of TS 35.206 §4.1."""

    c1: bytes = bytes(16)
    c2: bytes = bytes(15) + b"\x01"
    c3: bytes = bytes(15) + b"\x02"
    c4: bytes = bytes(15) + b"\x04"
    c5: bytes = bytes(15) + b"\x08"
    r1: int = 64
    r2: int = 0
    r3: int = 32
    r4: int = 64
    r5: int = 96

    def __post_init__(self) -> None:
        for i in range(1, 6):
            _check_length(getattr(self, f"c{i}"), 16, f"Milenage c{i}")
            r = getattr(self, f"r{i}")
            if not isinstance(r, int) or not 0 <= r <= 127:
                raise BadInput(f"r{i}={r!r}", where=f"Milenage r{i}", expected="a rotation of 0..127 bits")

    @property
    def is_default(self) -> bool:
        return self == MilenageConstants()


DEFAULT_CONSTANTS = MilenageConstants()


class F2345(NamedTuple):
    res: bytes  # f2, 8 bytes
    ck: bytes  # f3, 16 bytes
    ik: bytes  # f4, 16 bytes
    ak: bytes  # f5, 6 bytes


class F1(NamedTuple):
    mac_a: bytes  # f1, 8 bytes
    mac_s: bytes  # f1*, 8 bytes


def _ecb_encryptor(k: bytes):
    # One ECB context per key, reused for every block: creating contexts dominates the cost otherwise.
    return Cipher(algorithms.AES(k), modes.ECB()).encryptor()


def compute_opc(k: bytes, op: bytes) -> bytes:
    """OPc = OP xor E_K(OP) (TS 35.206 §4.1)."""
    _check_length(k, 16, "K")
    _check_length(op, 16, "OP")
    e = _ecb_encryptor(k).update(op)
    return bytes(a ^ b for a, b in zip(op, e, strict=True))


@dataclass(frozen=True, eq=False)
class Milenage:
    """The Milenage functions for one subscriber key K and operator variant OPc.

    Construct with `Milenage(k, opc)` or `Milenage.from_op(k, op)`; keys never appear in the repr.
    """

    k: bytes = field(repr=False)
    opc: bytes = field(repr=False)
    constants: MilenageConstants = DEFAULT_CONSTANTS
    _enc: object = field(init=False, repr=False, compare=False)
    _opc_int: int = field(init=False, repr=False, compare=False)
    _c: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _r: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_length(self.k, 16, "K")
        _check_length(self.opc, 16, "OPc")
        c = self.constants
        object.__setattr__(self, "_enc", _ecb_encryptor(bytes(self.k)))
        object.__setattr__(self, "_opc_int", int.from_bytes(self.opc, "big"))
        object.__setattr__(self, "_c", tuple(int.from_bytes(getattr(c, f"c{i}"), "big") for i in range(1, 6)))
        object.__setattr__(self, "_r", (c.r1, c.r2, c.r3, c.r4, c.r5))

    @classmethod
    def from_op(cls, k: bytes, op: bytes, constants: MilenageConstants = DEFAULT_CONSTANTS) -> Milenage:
        return cls(k, compute_opc(k, op), constants)

    def _e(self, x: int) -> int:
        return int.from_bytes(self._enc.update(x.to_bytes(16, "big")), "big")  # type: ignore[attr-defined]

    def _temp(self, rand: bytes) -> int:
        return self._e(int.from_bytes(_check_length(rand, 16, "RAND"), "big") ^ self._opc_int)

    def _out(self, temp: int, i: int) -> int:
        """OUTi for i = 2..5 (TS 35.206 §4.1)."""
        opc = self._opc_int
        return self._e(_rotate_left(temp ^ opc, self._r[i - 1]) ^ self._c[i - 1]) ^ opc

    def f1(self, rand: bytes, sqn: bytes, amf: bytes) -> F1:
        """MAC-A (f1) and MAC-S (f1*) over SQN and AMF."""
        in1 = _check_length(sqn, 6, "SQN") + _check_length(amf, 2, "AMF")
        in1_int = int.from_bytes(in1 + in1, "big")
        opc = self._opc_int
        out1 = self._e(self._temp(rand) ^ _rotate_left(in1_int ^ opc, self._r[0]) ^ self._c[0]) ^ opc
        raw = out1.to_bytes(16, "big")
        return F1(raw[:8], raw[8:])

    def f2345(self, rand: bytes) -> F2345:
        """RES (f2), CK (f3), IK (f4) and AK (f5) for one RAND."""
        temp = self._temp(rand)
        out2 = self._out(temp, 2).to_bytes(16, "big")
        return F2345(out2[8:], self._out(temp, 3).to_bytes(16, "big"), self._out(temp, 4).to_bytes(16, "big"),
                     out2[:6])

    def f5star(self, rand: bytes) -> bytes:
        """AK for resynchronisation (f5*), 6 bytes."""
        return self._out(self._temp(rand), 5).to_bytes(16, "big")[:6]
