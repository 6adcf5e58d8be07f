"""UMTS AKA tokens built on Milenage: AUTN, AUTS and the GSM conversion functions (3GPP TS 33.102).

    AUTN = (SQN xor AK) || AMF || MAC-A                                   TS 33.102 §6.3.2
    AUTS = (SQN_MS xor AK*) || MAC-S, MAC-S = f1*(SQN_MS, RAND, AMF*)     TS 33.102 §6.3.3, AMF* = 0000
    SRES = c2(RES), Kc = c3(CK, IK)                                      TS 33.102 §6.8.1.2
MAC checks live in `verify_*` functions that raise `BadMac`; they never return a bool.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import BadInput, BadMac
from .milenage import Milenage

RESYNC_AMF = b"\x00\x00"  # TS 33.102 §6.3.3: "the dummy value of AMF ... AMF* = 0000" in MAC-S


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _exact(value: bytes, length: int, where: str) -> bytes:
    if len(value) != length:
        raise BadInput(f"{len(value)} bytes", where=where, expected=f"{length} bytes")
    return bytes(value)


def sres_from_res(res: bytes) -> bytes:
    """c2 (TS 33.102 §6.8.1.2): RES padded with zeros to 128 bits, its four 32-bit words XORed."""
    if not 4 <= len(res) <= 16:
        raise BadInput(f"{len(res)}-byte RES", where="RES", expected="4..16 bytes")
    padded = res.ljust(16, b"\x00")
    words = [int.from_bytes(padded[i:i + 4], "big") for i in range(0, 16, 4)]
    return (words[0] ^ words[1] ^ words[2] ^ words[3]).to_bytes(4, "big")


def kc_from_ck_ik(ck: bytes, ik: bytes) -> bytes:
    """c3 (TS 33.102 §6.8.1.2): Kc = CK1 xor CK2 xor IK1 xor IK2 over the 64-bit halves."""
    _exact(ck, 16, "CK")
    _exact(ik, 16, "IK")
    return _xor(_xor(ck[:8], ck[8:]), _xor(ik[:8], ik[8:]))


class AutnFields(NamedTuple):
    sqn: bytes
    amf: bytes
    mac_a: bytes


@dataclass(frozen=True)
class AuthVector:
    """An authentication quintuplet (TS 33.102 §6.3.2) plus the GSM values the USIM derives from it."""

    rand: bytes
    xres: bytes = field(repr=False)
    ck: bytes = field(repr=False)
    ik: bytes = field(repr=False)
    autn: bytes
    ak: bytes = field(repr=False)

    @property
    def kc(self) -> bytes:
        return kc_from_ck_ik(self.ck, self.ik)

    @property
    def sres(self) -> bytes:
        return sres_from_res(self.xres)


def generate_vector(mil: Milenage, rand: bytes, sqn: bytes, amf: bytes) -> AuthVector:
    """What the AuC computes for one challenge: XRES, CK, IK, AK and AUTN."""
    res, ck, ik, ak = mil.f2345(rand)
    mac_a = mil.f1(rand, sqn, amf).mac_a
    return AuthVector(rand, res, ck, ik, _xor(_exact(sqn, 6, "SQN"), ak) + amf + mac_a, ak)


def build_autn(mil: Milenage, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
    return generate_vector(mil, rand, sqn, amf).autn


def open_autn(mil: Milenage, rand: bytes, autn: bytes) -> AutnFields:
    """Split AUTN and remove the anonymity key; the MAC is *not* checked here (see `verify_autn`)."""
    _exact(autn, 16, "AUTN")
    ak = mil.f2345(rand).ak
    return AutnFields(_xor(autn[:6], ak), autn[6:8], autn[8:])


def verify_autn(mil: Milenage, rand: bytes, autn: bytes) -> AutnFields:
    """Check MAC-A of AUTN (TS 33.102 §6.3.3, the USIM's first step); raise BadMac when it is wrong."""
    fields = open_autn(mil, rand, autn)
    xmac = mil.f1(rand, fields.sqn, fields.amf).mac_a
    if not hmac.compare_digest(xmac, fields.mac_a):
        raise BadMac("MAC-A in AUTN does not verify", where="AUTN", expected="MAC-A = f1(K, SQN, RAND, AMF)")
    return fields


def build_auts(mil: Milenage, rand: bytes, sqn_ms: bytes) -> bytes:
    """AUTS = (SQN_MS xor AK*) || MAC-S with AMF* = 0000 (TS 33.102 §6.3.3)."""
    _exact(sqn_ms, 6, "SQN_MS")
    mac_s = mil.f1(rand, sqn_ms, RESYNC_AMF).mac_s
    return _xor(sqn_ms, mil.f5star(rand)) + mac_s


def verify_auts(mil: Milenage, rand: bytes, auts: bytes) -> bytes:
    """What the AuC does with AUTS: recover SQN_MS and check MAC-S; raise BadMac when it is wrong."""
    _exact(auts, 14, "AUTS")
    sqn_ms = _xor(auts[:6], mil.f5star(rand))
    xmac_s = mil.f1(rand, sqn_ms, RESYNC_AMF).mac_s
    if not hmac.compare_digest(xmac_s, auts[6:]):
        raise BadMac("MAC-S in AUTS does not verify", where="AUTS", expected="MAC-S = f1*(K, SQN_MS, RAND, 0000)")
    return sqn_ms
