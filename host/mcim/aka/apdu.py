"""The USIM AUTHENTICATE command and its responses (3GPP TS 31.102 §7.1.2), shared by host and card.

    C-APDU: 00 88 00 P2 Lc  LV(RAND) [LV(AUTN)]  Le      P2 = 80 | context (b8 = specific reference data)
    3G success:     DB LV(RES) LV(CK) LV(IK) [LV(Kc)]    Kc only when UST service n°27 is available
    sync failure:   DC LV(AUTS)
    GSM success:    LV(SRES) LV(Kc)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from construct import Const, ConstructError, GreedyBytes, Int8ub, Optional, Prefixed, Struct, Terminated

from ..apdu import CommandApdu
from ..errors import BadInput, DecodeError

INS_AUTHENTICATE = 0x88
SPECIFIC_REFERENCE = 0x80  # P2 b8: "specific reference data (e.g. DF specific/application dependent key)"

TAG_SUCCESS = 0xDB
TAG_SYNC_FAILURE = 0xDC


class AuthContext(IntEnum):
    """P2 b3..b1 of AUTHENTICATE (TS 31.102 §7.1.2, Table "Coding of the reference control P2")."""

    GSM = 0
    UMTS = 1
    VGCS_VBS = 2
    GBA = 4


_LV = Prefixed(Int8ub, GreedyBytes)

# TS 31.102 §7.1.2.1 command parameters: length-prefixed RAND, then (3G context) length-prefixed AUTN.
GSM_CHALLENGE = Struct("rand" / _LV, Terminated)
UMTS_CHALLENGE = Struct("rand" / _LV, "autn" / _LV, Terminated)

# TS 31.102 §7.1.2.1 response parameters, cases 1-3.
UMTS_SUCCESS = Struct(Const(bytes([TAG_SUCCESS])), "res" / _LV, "ck" / _LV, "ik" / _LV, "kc" / Optional(_LV),
                      Terminated)
SYNC_FAILURE = Struct(Const(bytes([TAG_SYNC_FAILURE])), "auts" / _LV, Terminated)
GSM_SUCCESS = Struct("sres" / _LV, "kc" / _LV, Terminated)


@dataclass(frozen=True)
class UmtsAuthResult:
    res: bytes = field(repr=False)
    ck: bytes = field(repr=False)
    ik: bytes = field(repr=False)
    kc: bytes | None = field(default=None, repr=False)

    def to_bytes(self) -> bytes:
        return UMTS_SUCCESS.build({"res": self.res, "ck": self.ck, "ik": self.ik, "kc": self.kc})


@dataclass(frozen=True)
class SyncFailure:
    auts: bytes

    def to_bytes(self) -> bytes:
        return SYNC_FAILURE.build({"auts": self.auts})


@dataclass(frozen=True)
class GsmAuthResult:
    sres: bytes = field(repr=False)
    kc: bytes = field(repr=False)

    def to_bytes(self) -> bytes:
        return GSM_SUCCESS.build({"sres": self.sres, "kc": self.kc})


AuthResponse = UmtsAuthResult | SyncFailure | GsmAuthResult


def build_authenticate(rand: bytes, autn: bytes | None = None, *,
                       context: AuthContext = AuthContext.UMTS) -> CommandApdu:
    """AUTHENTICATE with specific reference data; AUTN is required in the 3G context and absent in GSM."""
    if len(rand) != 16:
        raise BadInput(f"{len(rand)}-byte RAND", where="RAND", expected="16 bytes")
    if context == AuthContext.GSM:
        if autn is not None:
            raise BadInput("AUTN given for the GSM context", where="AUTN", expected="no AUTN")
        data = GSM_CHALLENGE.build({"rand": rand})
    else:
        if autn is None or len(autn) != 16:
            raise BadInput("AUTN missing or not 16 bytes", where="AUTN", expected="16 bytes")
        data = UMTS_CHALLENGE.build({"rand": rand, "autn": autn})
    return CommandApdu(0x00, INS_AUTHENTICATE, 0x00, SPECIFIC_REFERENCE | context, data, le=256)


def _parse(construct: Struct, data: bytes, where: str):
    try:
        return construct.parse(data)
    except ConstructError as exc:
        raise DecodeError(f"malformed ({type(exc).__name__})", where=where,
                          expected="the layout of TS 31.102 §7.1.2.1") from None


def parse_authenticate_response(data: bytes, context: AuthContext = AuthContext.UMTS) -> AuthResponse:
    """Decode the response data of AUTHENTICATE (without SW)."""
    if context == AuthContext.GSM:
        parsed = _parse(GSM_SUCCESS, data, "AUTHENTICATE GSM response")
        return GsmAuthResult(parsed.sres, parsed.kc)
    if data[:1] == bytes([TAG_SYNC_FAILURE]):
        return SyncFailure(_parse(SYNC_FAILURE, data, "AUTHENTICATE sync failure response").auts)
    if data[:1] != bytes([TAG_SUCCESS]):
        raise DecodeError(f"first byte {data[:1].hex() or 'missing'}", where="AUTHENTICATE response",
                          expected="tag DB (success) or DC (synchronisation failure)")
    parsed = _parse(UMTS_SUCCESS, data, "AUTHENTICATE 3G response")
    return UmtsAuthResult(parsed.res, parsed.ck, parsed.ik, parsed.kc)
