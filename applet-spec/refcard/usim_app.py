"""The USIM as a native application of the reference UICC: AUTHENTICATE (3GPP TS 31.102 §7.1.2).

3G context (P2 81): MAC-A is checked first (9862 on failure), then SQN freshness per TS 33.102 Annex C; a
stale SQN gives the synchronisation-failure answer DC AUTS.  Success answers DB RES CK IK, plus Kc when
EF.UST service n°27 is available.  GSM context (P2 80, only with service n°27) answers SRES = c2(RES) and
Kc = c3(CK, IK) (TS 33.102 §6.8.1.2).  EF.KEYS/EF.KEYSPS are written by the terminal, not by the card:
TS 31.102 §4.2.3/§4.2.4 give them READ/UPDATE PIN for that, and TS 43.020 §H.2 has the ME store them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from construct import ConstructError
from mcim.aka import (
    DEFAULT_CONSTANTS,
    AuthContext,
    GsmAuthResult,
    Milenage,
    MilenageConstants,
    SqnManager,
    SyncFailure,
    UmtsAuthResult,
    build_auts,
    kc_from_ck_ik,
    sres_from_res,
    verify_autn,
)
from mcim.aka.apdu import GSM_CHALLENGE, INS_AUTHENTICATE, SPECIFIC_REFERENCE, UMTS_CHALLENGE
from mcim.apdu import CommandApdu
from mcim.errors import BadMac, DecodeError
from mcim.usim import ServiceTable, UstService

from .context import Channel, Reply
from .files import Adf, TransparentEf
from .fs_commands import check_usable
from .status import Refused, Sw

if TYPE_CHECKING:
    from .card import RefCard

EF_UST = 0x6F38
APPLICATION_PIN = 0x01  # PIN1, the USIM application PIN (TS 31.102 §7: AUTHENTICATE needs PIN)


@dataclass
class UsimParams:
    """What a USIM instance is created with: K, OPc, Milenage constants, SQN state, the ADF's access rule."""

    k: bytes = field(repr=False)
    opc: bytes = field(repr=False)
    constants: MilenageConstants = DEFAULT_CONSTANTS
    sqn: SqnManager = field(default_factory=SqnManager)
    arr: tuple[int, int] | None = None


def _constants_dict(c: MilenageConstants) -> dict[str, Any]:
    return {f"c{i}": getattr(c, f"c{i}").hex() for i in range(1, 6)} | {f"r{i}": getattr(c, f"r{i}")
                                                                         for i in range(1, 6)}


def constants_from_dict(d: dict[str, Any]) -> MilenageConstants:
    values = {name: getattr(DEFAULT_CONSTANTS, name) for name in DEFAULT_CONSTANTS.__dataclass_fields__}
    for name, value in d.items():
        values[name] = bytes.fromhex(value) if name.startswith("c") else int(value)
    return MilenageConstants(**values)


class UsimApplication:
    kind = "usim"

    def __init__(self, adf: Adf, params: UsimParams) -> None:
        self.adf = adf
        self.params = params
        self._milenage = Milenage(params.k, params.opc, params.constants)

    def __repr__(self) -> str:
        return f"UsimApplication(aid={self.adf.aid.hex()})"

    def handler(self, proprietary: bool, ins: int):
        return self.authenticate if not proprietary and ins == INS_AUTHENTICATE else None

    def services(self) -> ServiceTable | None:
        ust = self.adf.child(EF_UST)
        if not isinstance(ust, TransparentEf):
            return None
        try:
            return ServiceTable.from_bytes(bytes(ust.data))
        except DecodeError:
            return None

    def authenticate(self, card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
        if apdu.p1 != 0x00 or not apdu.p2 & SPECIFIC_REFERENCE or apdu.p2 & 0x78:
            raise Refused(Sw.INCORRECT_P1P2)
        check_usable(self.adf)
        if not card.security.satisfied_by(APPLICATION_PIN, ch.adf):
            raise Refused(Sw.SECURITY_STATUS_NOT_SATISFIED)
        context = apdu.p2 & 0x07
        services = self.services()
        gsm_service = services is not None and UstService.GSM_ACCESS in services
        response: UmtsAuthResult | SyncFailure | GsmAuthResult
        if context == AuthContext.UMTS:
            response = self._umts(card, apdu.data, with_kc=gsm_service)
        elif context == AuthContext.GSM and gsm_service:
            response = self._gsm(apdu.data)
        else:
            raise Refused(Sw.SECURITY_CONTEXT_NOT_SUPPORTED)
        return Reply(response.to_bytes(), Sw.OK, True)

    def _challenge(self, construct, data: bytes):
        try:
            parsed = construct.parse(data)
        except ConstructError:
            raise Refused(Sw.WRONG_LENGTH) from None
        if len(parsed.rand) != 16 or len(getattr(parsed, "autn", b"\x00" * 16)) != 16:
            raise Refused(Sw.INCORRECT_DATA)
        return parsed

    def _umts(self, card: RefCard, data: bytes, *, with_kc: bool) -> UmtsAuthResult | SyncFailure:
        challenge = self._challenge(UMTS_CHALLENGE, data)
        mil, sqn_state = self._milenage, self.params.sqn
        try:
            fields = verify_autn(mil, challenge.rand, challenge.autn)
        except BadMac:
            raise Refused(Sw.AUTH_MAC_FAILURE) from None
        sqn = int.from_bytes(fields.sqn, "big")
        if not sqn_state.is_fresh(sqn):
            return SyncFailure(build_auts(mil, challenge.rand, sqn_state.sqn_ms()))
        sqn_state.accept(sqn)
        card.mark_changed()
        res, ck, ik, _ = mil.f2345(challenge.rand)
        return UmtsAuthResult(res, ck, ik, kc_from_ck_ik(ck, ik) if with_kc else None)

    def _gsm(self, data: bytes) -> GsmAuthResult:
        challenge = self._challenge(GSM_CHALLENGE, data)
        res, ck, ik, _ = self._milenage.f2345(challenge.rand)
        return GsmAuthResult(sres_from_res(res), kc_from_ck_ik(ck, ik))

    def to_dict(self) -> dict[str, Any]:
        p = self.params
        return {"kind": self.kind, "k": p.k.hex(), "opc": p.opc.hex(), "constants": _constants_dict(p.constants),
                "sqn": p.sqn.to_dict(), "arr": None if p.arr is None else [f"{p.arr[0]:04x}", p.arr[1]]}

    @classmethod
    def from_dict(cls, adf: Adf, d: dict[str, Any]) -> UsimApplication:
        arr = None if d.get("arr") is None else (int(d["arr"][0], 16), d["arr"][1])
        params = UsimParams(bytes.fromhex(d["k"]), bytes.fromhex(d["opc"]), constants_from_dict(d["constants"]),
                            SqnManager.from_dict(d["sqn"]), arr)
        return cls(adf, params)
