"""The Issuer Security Domain (ISD) of the reference UICC: GlobalPlatform Card Specification v2.3 with
Amendment D (SCP03), on a UICC (ETSI TS 102 226 for the install parameters).

The ISD is an application on an ADF that holds no files (its file-system access rules grant nothing, so no
DELETE FILE or CREATE FILE reaches it).  Its whole state (registry, key sets, card life cycle, sequence and OTA
counters) is the application's `to_dict()`, saved with the card state.  The card asks `Isd.route` about every
command first (card.py `_dispatch`); the ISD takes:
- SELECT by name: the ISD itself answers its FCI (GP v2.3 §11.9.3.1); selection of the other applications obeys
  their life cycle (not yet SELECTABLE, or LOCKED: 6A82) and the card's (CARD_LOCKED: only the ISD, 6A81);
- in TERMINATED, everything but SELECT of the ISD, GET DATA and GET RESPONSE (GP v2.3 §5.1.1.5: 6985 [M]);
- while it is the selected application of a channel (or, if the profile says so, the default selection of the
  basic channel when no ADF is selected), its own commands: INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, GET DATA,
  PUT KEY, DELETE, GET STATUS, SET STATUS, INSTALL, LOAD, STORE DATA, with GP secure messaging.  80 F2 with P1
  00/01/02 stays the TS 102 221 STATUS.

From SECURED on, every card content command needs an authenticated secure channel (6982 otherwise; GP v2.3
§5.1.1.3).  Card content management is in `gp_commands`, sessions in `gp_session`, keys in `gp_keys`.

Clause numbers of GP v2.3 and Amendment D below are from memory unless `mcim.gp` cites them too; [M] marks a
behaviour not checked against the text.

Seams for the OTA half (the SCP80 receiving entity, RFM and RAM of ETSI TS 102 225/226, built on this ISD):
- `Isd.of(card)` finds the card's ISD and binds it to the card.
- `Isd.execute_remote(apdu, ota_kvn=...) -> Reply` runs one RAM command (TS 102 226 §5) as the ISD does when it
  came out of a verified SCP80 packet: it counts as authenticated (no SCP03 wrapping), its sensitive data (PUT KEY
  key data, STORE DATA P1 b7b6 = 11) is deciphered with the KIK (KID 3) of key set `ota_kvn`; the reply is not
  shaped for T=0 (no 61xx): data and status word go into the PoR.  Volatile state (INSTALL [for load] before
  LOAD, INSTALL [for personalization] before STORE DATA) carries from one remote command to the next until the
  card is reset.
- `Isd.key_set(kvn) -> KeySet | None`; `Isd.ota_key(kvn, role)` makes the ISD an `mcim.ota.keys.KeyLookup`.
- `Isd.ota_counters`: a MutableMapping for `mcim.ota.receiver.ReceivingEntity(counters=...)`, persisted.
- `Isd.application_for_tar(tar) -> Application | None`: the registry entry (the ISD's own, or an application's
  from its INSTALL parameters) with `.uicc.tars`, `.uicc.minimum_security_level`, `.uicc.access_domain`,
  `.uicc.file_access`, `.uicc.admin_access`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, MutableMapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mcim.apdu import CommandApdu, decode_cla
from mcim.errors import StateError
from mcim.gp.ccm import GP_OID
from mcim.gp.keys import KeyAlgorithm
from mcim.tlv import ber_encode

from .context import Channel, Reply
from .files import Adf
from .fs_commands import exact_le, locate
from .fs_commands import select as select_file
from .gp_commands import COMMANDS, Context, Volatile
from .gp_keys import KeySet, KeyStore, OtaCounters
from .gp_perso import SecretDgiKey
from .gp_registry import SECURE_CHANNEL_STATES, Application, CardLifeCycle, Registry
from .gp_session import SecureChannelConfig, SensitiveKey, Session
from .status import Refused, Sw

if TYPE_CHECKING:
    from .card import RefCard

DEFAULT_AID = bytes.fromhex("A000000151000000")  # the ISD AID of GP cards (GlobalPlatformPro wiki, Lifecycle)
INS_INITIALIZE_UPDATE = 0x50
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_GET_DATA = 0xCA
INS_SELECT = 0xA4
INS_GET_RESPONSE = 0xC0
ISD_INSTRUCTIONS = frozenset({INS_INITIALIZE_UPDATE, INS_EXTERNAL_AUTHENTICATE, *COMMANDS})
TS102221_STATUS_P1 = (0x00, 0x01, 0x02)  # 80 F2 with these P1 is STATUS (TS 102 221 §11.1.2), not GET STATUS
KID_KIK = 3  # SCP80 key sets: 1 KIc, 2 KID, 3 KIK (DIGEST §1.4)
REMOTE = "remote"


def encode_oid(dotted: str) -> bytes:
    """DER OBJECT IDENTIFIER contents (ISO/IEC 8825-1 §8.19): first two arcs joined, then base-128 arcs."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | arc & 0x7F)
        out += bytes(reversed(chunk))
    return bytes(out)


def _oid_template(tag: int, dotted: str) -> bytes:
    return ber_encode(tag, ber_encode(0x06, encode_oid(dotted)))


def is_isd_command(apdu: CommandApdu) -> bool:
    if apdu.ins == INS_GET_DATA:
        return True  # 00 CA and 80 CA
    if not apdu.cla & 0x80 or (apdu.ins == 0xF2 and apdu.p1 in TS102221_STATUS_P1):
        return False
    return apdu.ins in ISD_INSTRUCTIONS


def answer(command: CommandApdu, reply: Reply) -> Reply:
    """T=0 shape of a reply (TS 102 221 §7.3.1.1): data of a case 4 command waits for GET RESPONSE (61xx), a
    case 2 command's must match Le (6Cxx).  A warning with data (GET STATUS 6310) comes back with its data, which
    is how the host's T=0 layer expects it."""
    if not reply.data:
        return Reply(b"", reply.sw)
    if reply.sw != Sw.OK:
        return reply
    if command.data:
        return Reply(reply.data, reply.sw, deferred=True)
    return Reply(exact_le(reply.data, command.le), reply.sw)


class Isd:
    """The ISD application (card.py `Application` protocol, kind "isd")."""

    kind = "isd"

    def __init__(self, adf: Adf, registry: Registry, keys: KeyStore, channel_config: SecureChannelConfig, *,
                 default_selected: bool = True, secret_dgis: SecretDgiKey = SecretDgiKey.PERSONALISATION_KEY,
                 usim_arr: tuple[int, int] | None = None, identifiers: dict[int, bytes] | None = None,
                 cplc: bytes | None = None, ota_counters: dict[str, int] | None = None) -> None:
        self.adf = adf
        self.aid = adf.aid
        self.registry = registry
        self.keys = keys
        self.channel_config = channel_config
        self.default_selected = default_selected
        self.secret_dgis = secret_dgis
        self.usim_arr = usim_arr
        self.identifiers = dict(identifiers or {})  # IIN '42', CIN '45'
        self.cplc = cplc
        self._counters = OtaCounters(dict(ota_counters or {}), self._changed)
        self.ota_counters: MutableMapping[Hashable, int] = self._counters
        self.random: Callable[[int], bytes] = os.urandom  # card challenges without a counter, new USIM keys
        self.card: RefCard | None = None
        self._volatile: dict[object, Volatile] = {}

    def __repr__(self) -> str:
        return f"Isd(aid={self.aid.hex()}, life_cycle={self.registry.card_life_cycle.name})"

    @classmethod
    def of(cls, card: RefCard) -> Isd | None:
        """The card's ISD, bound to `card` (what `execute_remote` and the OTA counters work on)."""
        for adf in card.adfs:
            if isinstance(adf.app, cls):
                adf.app.card = card
                return adf.app
        return None

    # --- Application protocol ----------------------------------------------------------------------------------

    def handler(self, proprietary: bool, ins: int) -> None:
        return None  # everything goes through `route`

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "default_selected": self.default_selected, "secret_dgis": self.secret_dgis.value,
                "usim_arr": None if self.usim_arr is None else [f"{self.usim_arr[0]:04x}", self.usim_arr[1]],
                "identifiers": {f"{tag:02x}": value.hex() for tag, value in self.identifiers.items()},
                "cplc": None if self.cplc is None else self.cplc.hex(),
                "secure_channel": self.channel_config.to_dict(), "registry": self.registry.to_dict(),
                "key_sets": self.keys.to_list(), "ota_counters": dict(self._counters.stored)}

    @classmethod
    def from_dict(cls, adf: Adf, d: dict[str, Any]) -> Isd:
        arr = d["usim_arr"]
        return cls(adf, Registry.from_dict(d["registry"]), KeyStore.from_list(d["key_sets"]),
                   SecureChannelConfig.from_dict(d["secure_channel"]), default_selected=d["default_selected"],
                   secret_dgis=SecretDgiKey(d["secret_dgis"]),
                   usim_arr=None if arr is None else (int(arr[0], 16), arr[1]),
                   identifiers={int(tag, 16): bytes.fromhex(v) for tag, v in d["identifiers"].items()},
                   cplc=None if d["cplc"] is None else bytes.fromhex(d["cplc"]), ota_counters=d["ota_counters"])

    # --- the OTA seams -------------------------------------------------------------------------------------------

    def execute_remote(self, apdu: CommandApdu, *, ota_kvn: int | None = None) -> Reply:
        """One RAM command out of a verified SCP80 packet (see the module docstring)."""
        card = self._bound_card()
        try:
            if self.registry.card_life_cycle == CardLifeCycle.TERMINATED and apdu.ins != INS_GET_DATA:
                raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
            if apdu.secure_messaging or apdu.ins in (INS_INITIALIZE_UPDATE, INS_EXTERNAL_AUTHENTICATE):
                raise Refused(Sw.INS_NOT_SUPPORTED)  # SCP80 protects the script: no GP secure channel inside
            volatile = self._volatile_for(REMOTE, card.channels()[0])
            return self._execute(Context(card, volatile, True, self._kik(ota_kvn)), apdu)
        except Refused as refusal:
            return Reply(b"", refusal.sw)

    def key_set(self, kvn: int) -> KeySet | None:
        return self.keys.get(kvn)

    def ota_key(self, kvn: int, role: int) -> bytes | None:
        """`mcim.ota.keys.KeyLookup`: key `role` (1 KIc, 2 KID) of SCP80 key set `kvn`."""
        key_set = self.keys.get(kvn)
        key = None if key_set is None or not key_set.is_ota else key_set.key(int(role))
        return None if key is None else key.value

    def application_for_tar(self, tar: bytes) -> Application | None:
        return self.registry.application_for_tar(tar)

    # --- routing (called by the card for every command) ---------------------------------------------------------

    def route(self, card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply | None:
        """The reply to `apdu` when the ISD takes it; None lets the card process it as usual."""
        self.card = card
        number, _, chaining = decode_cla(apdu.cla)
        if chaining:
            return None
        if apdu.ins == INS_SELECT and not apdu.cla & 0x80:
            return self._select(card, ch, number, apdu)
        selected = ch.adf is self.adf or (number == 0 and ch.adf is None and self.default_selected)
        if self.registry.card_life_cycle == CardLifeCycle.TERMINATED and apdu.ins != INS_GET_RESPONSE \
                and not (selected and apdu.ins == INS_GET_DATA):
            raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
        if not selected or not is_isd_command(apdu):
            return None
        if apdu.is_extended:
            raise Refused(Sw.WRONG_LENGTH)
        return self._process(card, ch, number, apdu)

    def _select(self, card: RefCard, ch: Channel, number: int, apdu: CommandApdu) -> Reply | None:
        life_cycle = self.registry.card_life_cycle
        if apdu.p1 != 0x04:
            if life_cycle == CardLifeCycle.TERMINATED:
                raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
            return None
        if not apdu.data:  # SELECT by name without a name selects the ISD (GP v2.3 §11.9.2.3)
            apdu = replace(apdu, data=self.aid)
        node = locate(card, ch, 0x04, apdu.data, next_occurrence=apdu.p2 & 0x03 == 0x02)
        if node is not self.adf:
            if life_cycle == CardLifeCycle.TERMINATED:
                raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
            if life_cycle == CardLifeCycle.CARD_LOCKED:
                raise Refused(Sw.FUNCTION_NOT_SUPPORTED)  # GP v2.3 §11.9.3.2: 6A81, card locked
            app = self.registry.applications.get(node.aid) if isinstance(node, Adf) else None
            if app is not None and not app.selectable:
                raise Refused(Sw.FILE_NOT_FOUND)  # GP v2.3 §5.3.1: not SELECTABLE, or LOCKED
        reply = select_file(card, ch, apdu)
        self._end(number)  # a newly selected application starts without a secure channel session
        if ch.adf is self.adf and reply.data:
            return Reply(self._fci(), reply.sw, deferred=True)
        return reply

    def _process(self, card: RefCard, ch: Channel, number: int, apdu: CommandApdu) -> Reply:
        volatile = self._volatile_for(number, ch)
        raw = apdu.to_bytes()
        if apdu.ins == INS_INITIALIZE_UPDATE:
            return answer(apdu, self._initialize_update(card, volatile, apdu, raw))
        if apdu.ins == INS_EXTERNAL_AUTHENTICATE:
            if volatile.session is None:
                raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
            volatile.session.external_authenticate(raw)
            return Reply()
        session = volatile.session
        if session is not None and not session.authenticated:
            session.close()  # challenged but not authenticated, or closed by a failure: start afresh
            volatile.session = session = None
        if session is None:
            if apdu.secure_messaging:
                raise Refused(Sw.SECURITY_STATUS_NOT_SATISFIED)
            return answer(apdu, self._execute(Context(card, volatile, False), apdu))
        plain = CommandApdu.parse(session.unwrap(raw))
        try:
            reply = self._execute(Context(card, volatile, True, session.sensitive_key()), plain)
        except Refused as refusal:
            reply = Reply(b"", refusal.sw)
        return answer(apdu, session.wrap(reply))

    def _initialize_update(self, card: RefCard, volatile: Volatile, apdu: CommandApdu, raw: bytes) -> Reply:
        """Amd D §7.1 / GP v2.3 §E.5.1: a new session on this channel with key set P1 (00: the first one)."""
        if volatile.session is not None:
            volatile.session.close()  # an INITIALIZE UPDATE ends the session before it
            volatile.session = None
        if apdu.secure_messaging:
            raise Refused(Sw.CLA_NOT_SUPPORTED)
        found = self.keys.secure_channel_set(apdu.p1)
        if found is None:
            raise Refused(Sw.REFERENCED_DATA_NOT_FOUND)
        key_set, keys = found
        session, response = Session.open(keys, self.channel_config, self.aid, key_set.sequence_counter,
                                         self.random, raw)
        key_set.sequence_counter = session.sequence_counter
        card.mark_changed()
        volatile.session = session
        return Reply(response[:-2])

    def _execute(self, ctx: Context, apdu: CommandApdu) -> Reply:
        handler = COMMANDS.get(apdu.ins)
        if handler is None or (apdu.ins != INS_GET_DATA and not apdu.cla & 0x80):
            raise Refused(Sw.INS_NOT_SUPPORTED)
        if apdu.ins != INS_GET_DATA and self.registry.card_life_cycle in SECURE_CHANNEL_STATES \
                and not ctx.authenticated:
            raise Refused(Sw.SECURITY_STATUS_NOT_SATISFIED)
        return handler(self, ctx, apdu)

    # --- data objects ---------------------------------------------------------------------------------------------

    def data_object(self, tag: int) -> bytes | None:
        """GET DATA objects (GP v2.3 §11.3.3.1, §H.2): IIN, CIN, card data, key information, CPLC, and the
        sequence counter of the default key set ('C1')."""
        if tag in self.identifiers:
            return ber_encode(tag, self.identifiers[tag])
        if tag == 0x66:
            return ber_encode(0x66, ber_encode(0x73, self._recognition_data()))
        if tag == 0xE0:
            return self.keys.key_information()
        if tag == 0x9F7F and self.cplc is not None:
            return ber_encode(0x9F7F, self.cplc)
        found = self.keys.secure_channel_set(0) if tag == 0xC1 else None
        if found is not None:
            size = 3 if found[1].algorithm is KeyAlgorithm.AES else 2  # SCP03: 3 bytes, SCP02: 2 bytes
            return ber_encode(0xC1, found[0].sequence_counter.to_bytes(size, "big"))
        return None

    def _recognition_data(self) -> bytes:
        """Card recognition data (GP v2.3 Annex H.2): GP version 2.3, the identification scheme, and one SCP
        template per protocol the key sets allow (SCP03 with its i, SCP02 with its i)."""
        algorithms = {keys.algorithm for key_set in self.keys.sets.values()
                      if not key_set.is_ota and (keys := key_set.static_keys()) is not None}
        protocols = [(3, self.channel_config.scp03_options)] if KeyAlgorithm.AES in algorithms else []
        protocols += [(2, self.channel_config.scp02_options)] if KeyAlgorithm.DES3 in algorithms else []
        return (ber_encode(0x06, encode_oid(f"{GP_OID}.1")) + _oid_template(0x60, f"{GP_OID}.2.2.3")
                + _oid_template(0x63, f"{GP_OID}.3")
                + b"".join(_oid_template(0x64, f"{GP_OID}.4.{scp}.{i}") for scp, i in protocols))

    def _fci(self) -> bytes:
        """GP v2.3 §11.9.3.1: `6F {84 AID, A5 {73 security domain management data, 9F65 max command data}}`."""
        proprietary = ber_encode(0x73, self._recognition_data()) + ber_encode(0x9F65, b"\xff")
        return ber_encode(0x6F, ber_encode(0x84, self.aid) + ber_encode(0xA5, proprietary))

    # --- internals ------------------------------------------------------------------------------------------------

    def _volatile_for(self, key: object, anchor: object) -> Volatile:
        """The volatile state of a channel; a reset or a closed channel replaces the anchor, so it starts anew."""
        volatile = self._volatile.get(key)
        if volatile is None or volatile.anchor is not anchor:
            if volatile is not None and volatile.session is not None:
                volatile.session.close()
            volatile = self._volatile[key] = Volatile(anchor)
        return volatile

    def _end(self, number: int) -> None:
        volatile = self._volatile.pop(number, None)
        if volatile is not None and volatile.session is not None:
            volatile.session.close()

    def _kik(self, kvn: int | None) -> SensitiveKey | None:
        key_set = None if kvn is None else self.keys.get(kvn)
        key = None if key_set is None else key_set.key(KID_KIK)
        return None if key is None else SensitiveKey(key.value, key.algorithm)

    def _bound_card(self) -> RefCard:
        if self.card is None:
            raise StateError("the ISD is not bound to a card", where="ISD", expected="Isd.of(card) first")
        return self.card

    def _changed(self) -> None:
        self._bound_card().mark_changed()

