"""The card's OTA receiving side: ENVELOPE (SMS-PP DOWNLOAD) in, secured packet verified, RAM/RFM script run,
Proof of Receipt out (ETSI TS 102 225, TS 102 226, 3GPP TS 31.111 §7.1.1, 3GPP TS 31.115).

One ENVELOPE `80 C2 00 00 Lc D1 ...` carries one SMS (`ota_sms`: PID/DCS checks, concatenation).  Once a command
packet is whole, `mcim.ota.ReceivingEntity` opens it with the ISD's SCP80 key sets (KVN = the KIc/KID key index,
key 1 KIc, key 2 KID; DIGEST §1.4) and checks the TAR's minimum security level and the counter.  The TAR picks
what runs the secured data (`ota_remote`): RAM on the Issuer Security Domain, or RFM on the UICC shared file
system or an ADF.  A refused packet changes nothing on the card, its counter included; its PoR (if the SPI asks
for one) goes without RC/CC/ciphering unless the packet was proven authentic (TS 102 225 §5.2.1, as the
receiving entity decides).

Where the PoR goes (SPI2 b6, TS 31.115 §4.2; `por_delivery` in the profile, because real cards differ):
- in the ENVELOPE response (the terminal puts it in the SMS-DELIVER-REPORT): the data waits for GET RESPONSE
  behind 61XX, as everything this T=0 card answers;
- or in SMS-SUBMITs (TP-UD `02 71 00 ...`, concatenated when long) inside SEND SHORT MESSAGE proactive commands:
  the card signals 91XX, the terminal FETCHes them one by one and answers each with TERMINAL RESPONSE.  That
  happens when the SPI asks for it (`as_spi`), always (`proactive`), or when the PoR does not fit the ENVELOPE
  response.  When the PoR leaves by SMS-SUBMIT although the SPI asked for the DELIVER-REPORT, the ENVELOPE
  answers with a PoR of status 0B ("response data sent using SMS-SUBMIT", TS 31.115 §7); with `submit_notice`
  the card does so also when the SPI asked for SMS-SUBMIT (onomondo's SoftSIM does).  Error PoRs carry no notice.
While proactive commands are pending the toolkit is busy: a further ENVELOPE is answered 9300 (TS 102 221
§10.2.1.2) and changes nothing; the terminal sends it again later.

TARs: the profile's `ota.tars` (RAM on the ISD, RFM on the MF or an ADF, each with its access domain and minimum
security level) and the applications the ISD installed with UICC install parameters (TS 102 226 §8.2.1.3): an
ISD TAR runs RAM; an application that is an ADF (a USIM instance), or names one in its UICC administrative
access parameters ('EA'/82), runs RFM there.

Seams used on the Issuer Security Domain (isd.py): `execute_remote(apdu, ota_kvn=...) -> Reply`, `ota_key`
(its SCP80 key sets as a KeyLookup), `application_for_tar(tar)`, `aid`, and `ota_counters` (the receiving
entity's counters, persisted with the card state).
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from mcim.apdu import CommandApdu
from mcim.errors import BadInput, DecodeError, McimError
from mcim.gp.install_params import FULL_ACCESS, AccessDomain, FileSystemAccess
from mcim.gp.install_params import MinimumSecurityLevel as InstallMsl
from mcim.ota.cat import (
    COMMAND_DETAILS,
    DEVICE_IDENTITIES,
    DEVICE_TERMINAL,
    DEVICE_UICC,
    RESULT,
    ProactiveCommand,
    send_short_message,
)
from mcim.ota.errors import PorStatus, Rejection
from mcim.ota.keys import KeyRole
from mcim.ota.packet import CommandHeader, CommandPacket
from mcim.ota.por import SMS_RESPONSE_UDH
from mcim.ota.receiver import CounterPer, MinimumSecurityLevel, ReceivingEntity, TarPolicy
from mcim.ota.sms import RESPONSE_PACKET_IEI, Address, SmsSubmit, packet_user_data
from mcim.ota.spi import CounterMode, Integrity, PorTransport, Spi
from mcim.tlv import ctlv_decode

from .context import Channel, Reply
from .files import Df
from .fs_commands import exact_le
from .isd import Isd
from .ota_remote import RfmSession, run_script
from .ota_sms import Delivery, InsufficientMemory, NotForTheCard, Reassembly, read_envelope
from .status import Refused, Sw

if TYPE_CHECKING:
    from .card import RefCard

INS_ENVELOPE = 0xC2
INS_FETCH = 0x12
INS_TERMINAL_RESPONSE = 0x14
SW_TOOLKIT_BUSY = 0x9300  # TS 102 221 §10.2.1.2
MSL_MINIMUM_SPI1 = 0x01  # TS 102 226 §8.2.1.3.2.4: MSL parameter "minimum SPI1" (DIGEST §4.4 [M])
# An MSL this card cannot read is one nobody can meet: digital signatures are not implemented (fail closed).
UNREACHABLE_MSL = MinimumSecurityLevel(Integrity.DS, True, CounterMode.ONE_HIGHER)
SUBMIT_PID, SUBMIT_DCS = 0x7F, 0xF6  # SMS-SUBMIT of a PoR as onomondo's SoftSIM sends it (DIGEST §2)


class PorDelivery(StrEnum):
    ENVELOPE_RESPONSE = "envelope_response"  # in the ENVELOPE response whenever it fits
    PROACTIVE = "proactive"  # always by SEND SHORT MESSAGE
    AS_SPI = "as_spi"  # as SPI2 b6 asks (and by SEND SHORT MESSAGE when it does not fit)


class Service(StrEnum):
    RAM = "ram"
    RFM = "rfm"


@dataclass(frozen=True)
class TarRoute:
    """What a TAR reaches: RAM on the ISD, or RFM on a file system (`adf` None = the UICC shared file system).
    `msl` and `access` are coded as in install parameters (TS 102 226 §8.2.1.3.2.1)."""

    tar: bytes
    service: Service
    msl: InstallMsl | None = None
    adf: bytes | None = None
    access: AccessDomain = FULL_ACCESS

    @property
    def policy(self) -> MinimumSecurityLevel:
        return msl_of(self.msl)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tar": self.tar.hex(), "service": self.service.value}
        if self.msl is not None:
            out["msl"] = self.msl.to_bytes().hex()
        if self.service is Service.RFM:
            out["access_domain"] = self.access.to_bytes().hex()
            if self.adf is not None:
                out["adf"] = self.adf.hex()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TarRoute:
        msl = bytes.fromhex(d["msl"]) if d.get("msl") else b""
        adf = d.get("adf")
        return cls(bytes.fromhex(d["tar"]), Service(d["service"]), InstallMsl(msl[0], msl[1:]) if msl else None,
                   None if adf is None else bytes.fromhex(adf),
                   AccessDomain.parse(bytes.fromhex(d.get("access_domain", "00"))))


def msl_of(msl: InstallMsl | None) -> MinimumSecurityLevel:
    """The receiving entity's MSL for the MSL field of install parameters (absent: no minimum)."""
    if msl is None:
        return MinimumSecurityLevel()
    if msl.parameter == MSL_MINIMUM_SPI1 and len(msl.data) == 1:
        return MinimumSecurityLevel.from_spi1(msl.data[0])
    return UNREACHABLE_MSL


@dataclass(frozen=True)
class OtaConfig:
    """The OTA behaviour of a card (profile section `ota`)."""

    por_delivery: PorDelivery = PorDelivery.AS_SPI
    submit_notice: bool = False
    # ENVELOPE response room: a conservative default below the SMS-DELIVER-REPORT user data (TS 23.040 §9.2.2.1a).
    max_envelope_response: int = 128
    max_message: int = 2048  # reassembly buffer for concatenated command packets
    counters: CounterPer = CounterPer.KEY_SET
    max_counter_step: int | None = None  # counter mode 10: a counter more than this far ahead is CNTR high
    tars: tuple[TarRoute, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"por_delivery": self.por_delivery.value, "submit_notice": self.submit_notice,
                "max_envelope_response": self.max_envelope_response, "max_message": self.max_message,
                "counters": "tar" if self.counters is CounterPer.TAR else "key_set",
                "max_counter_step": self.max_counter_step, "tars": [route.to_dict() for route in self.tars]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OtaConfig:
        defaults = cls()
        try:
            return cls(PorDelivery(d.get("por_delivery", defaults.por_delivery)),
                       bool(d.get("submit_notice", defaults.submit_notice)),
                       int(d.get("max_envelope_response", defaults.max_envelope_response)),
                       int(d.get("max_message", defaults.max_message)),
                       CounterPer.TAR if d.get("counters") == "tar" else CounterPer.KEY_SET,
                       d.get("max_counter_step"), tuple(TarRoute.from_dict(t) for t in d.get("tars", ())))
        except (KeyError, TypeError, ValueError, DecodeError) as exc:
            raise BadInput(f"{type(exc).__name__}: {exc}", where="ota",
                           expected="por_delivery, submit_notice, max_* and tars as profile.schema.json says") from None


class ApplicationLike(Protocol):
    aid: bytes
    uicc: Any  # gp_registry.UiccParameters


class SecurityDomain(Protocol):
    """What the OTA side needs from the Issuer Security Domain (isd.py)."""

    aid: bytes
    ota_counters: MutableMapping[Hashable, int]

    def execute_remote(self, apdu: CommandApdu, *, ota_kvn: int | None = None) -> Reply: ...

    def ota_key(self, kvn: int, role: KeyRole) -> bytes | None: ...

    def application_for_tar(self, tar: bytes) -> ApplicationLike | None: ...


class TarTable(Mapping[bytes, TarPolicy]):
    """The TARs this card serves right now, with their policy (what the receiving entity checks first)."""

    def __init__(self, service: OtaService) -> None:
        self._service = service

    def __getitem__(self, tar: bytes) -> TarPolicy:
        route = self._service.route(tar)
        if route is None:
            raise KeyError(tar)
        return TarPolicy(route.policy, self._service.config.counters)

    def __iter__(self) -> Iterator[bytes]:
        """The profile's TARs (those of installed applications are found when asked for)."""
        return iter(route.tar for route in self._service.config.tars if self._service.route(route.tar))

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class ProactiveSession:
    """Proactive commands waiting for FETCH, and the one the terminal is carrying out (TS 102 223 §6.2)."""

    queue: deque[ProactiveCommand] = field(default_factory=deque)
    fetched: ProactiveCommand | None = None
    number: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.queue) or self.fetched is not None

    def pending(self) -> bytes | None:
        """The command a 91XX announces: the next one, once the terminal answered the one before."""
        return self.queue[0].to_bytes() if self.queue and self.fetched is None else None

    def add_sms(self, tpdu: bytes) -> None:
        self.number = self.number % 0xFE + 1  # command numbers 01..FE (TS 102 223 §8.6)
        self.queue.append(send_short_message(tpdu, number=self.number))

    def clear(self) -> None:
        self.queue.clear()
        self.fetched = None

    def fetch(self, card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
        """FETCH (TS 102 221 §11.2.3): the pending proactive command, P3 = its length."""
        if apdu.p1 or apdu.p2:
            raise Refused(Sw.INCORRECT_P1P2)
        command = self.pending()
        if command is None:
            raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
        data = exact_le(command, apdu.le)
        self.fetched = self.queue.popleft()
        return Reply(data)

    def terminal_response(self, card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
        """TERMINAL RESPONSE (TS 102 221 §11.2.4, TS 102 223 §6.8): command details echoed, terminal -> UICC,
        a result.  The card takes any result: a PoR the network did not get is not sent again."""
        if apdu.p1 or apdu.p2:
            raise Refused(Sw.INCORRECT_P1P2)
        if self.fetched is None:
            raise Refused(Sw.CONDITIONS_NOT_SATISFIED)
        try:
            items = {item.tag: item.value for item in ctlv_decode(apdu.data, where="TERMINAL RESPONSE")}
        except DecodeError:
            raise Refused(Sw.INCORRECT_DATA) from None
        if items.get(COMMAND_DETAILS) != self.fetched.details.to_bytes() or not items.get(RESULT) \
                or items.get(DEVICE_IDENTITIES) != bytes((DEVICE_TERMINAL, DEVICE_UICC)):
            raise Refused(Sw.INCORRECT_DATA)
        self.fetched = None
        return Reply()


class OtaService:
    """The OTA receiving side of one card; `install` registers ENVELOPE, FETCH and TERMINAL RESPONSE on it."""

    def __init__(self, card: RefCard, isd: SecurityDomain, config: OtaConfig, *,
                 reference: Callable[[int], int] = secrets.randbelow) -> None:
        self.card = card
        self.isd = isd
        self.config = config
        self.reassembly = Reassembly(config.max_message)
        self.proactive = ProactiveSession()
        self.receiver = ReceivingEntity(isd, TarTable(self), isd.ota_counters,
                                        max_counter_step=config.max_counter_step)
        self._reference = reference

    def install(self) -> None:
        card = self.card
        card.register_command(True, INS_ENVELOPE, self.envelope)
        card.register_command(True, INS_FETCH, self.proactive.fetch)
        card.register_command(True, INS_TERMINAL_RESPONSE, self.proactive.terminal_response)
        card.toolkit = self

    # --- what the card asks its toolkit ---------------------------------------------------------------------------

    def pending(self) -> bytes | None:
        return self.proactive.pending()

    def reset(self) -> None:
        """Volatile state goes with a reset: partial messages and proactive commands."""
        self.reassembly.clear()
        self.proactive.clear()

    def to_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    # --- TAR routing -------------------------------------------------------------------------------------------------

    def route(self, tar: bytes) -> TarRoute | None:
        """Where a TAR leads now, or None (TAR unknown): the profile's TARs first, then installed applications."""
        route = next((r for r in self.config.tars if r.tar == tar), None)
        if route is None:
            route = self._installed_route(tar)
        if route is not None and route.service is Service.RFM and self._rfm_root(route) is None:
            return None
        return route

    def _installed_route(self, tar: bytes) -> TarRoute | None:
        app = self.isd.application_for_tar(tar)
        if app is None:
            return None
        msl = app.uicc.minimum_security_level
        if app.aid == self.isd.aid:
            return TarRoute(tar, Service.RAM, msl)
        system = _administered_file_system(app)
        if system is not None:
            return TarRoute(tar, Service.RFM, msl, system.aid or None, system.access_domain)
        if self.card.find_adf(app.aid) is not None:
            return TarRoute(tar, Service.RFM, msl, app.aid, app.uicc.access_domain or AccessDomain(0xFF))
        return None

    def _rfm_root(self, route: TarRoute) -> Df | None:
        return self.card.mf if route.adf is None else self.card.find_adf(route.adf)

    # --- ENVELOPE ----------------------------------------------------------------------------------------------------

    def envelope(self, card: RefCard, ch: Channel, apdu: CommandApdu) -> Reply:
        """ENVELOPE (TS 102 221 §11.2.2) carrying SMS-PP DOWNLOAD (TS 31.111 §7.1.1)."""
        if apdu.p1 or apdu.p2:
            raise Refused(Sw.INCORRECT_P1P2)
        if self.proactive.busy:
            raise Refused(SW_TOOLKIT_BUSY)
        try:
            delivery = read_envelope(apdu.data)
        except NotForTheCard:
            raise Refused(Sw.INCORRECT_DATA) from None
        try:
            packet = self.reassembly.add(delivery)
        except InsufficientMemory as refused:
            return self._answer(delivery, refused.header, self.receiver.error_por(refused))
        if packet is None:
            return Reply()
        return self._process(delivery, packet)

    def _process(self, delivery: Delivery, packet: bytes) -> Reply:
        try:
            command = self.receiver.receive(packet)
        except Rejection as refused:
            return self._answer(delivery, refused.header, self.receiver.error_por(refused))
        except McimError:
            raise Refused(Sw.INCORRECT_DATA) from None  # unreadable: no header to answer to
        route = self.route(command.header.tar)
        assert route is not None, "the receiving entity admitted the TAR"
        # The PoR is secured with the keys that opened the packet, even when the packet replaced them (PUT KEY of
        # its own key set, the handover of TR 33.812 subcase 2b): the new holder must still see the proof.
        answering = replace(self.receiver, keys=_KeysAtReceipt.capture(self.isd, command.header))
        data = self._run(route, command)
        return self._answer(delivery, command.header, answering.por(command, data),
                            lambda: answering.por(command, b"", PorStatus.RESPONSE_VIA_SMS_SUBMIT))

    def _run(self, route: TarRoute, command: CommandPacket) -> bytes:
        if route.service is Service.RAM:
            header = command.header
            key_set = (header.kid if header.spi.integrity is not Integrity.NONE else header.kic).index
            return run_script(command.secured_data, lambda raw: self._ram_command(raw, key_set))
        root = self._rfm_root(route)
        assert root is not None, "route() checked the file system"
        return RfmSession(self.card, root, route.access).run(command.secured_data)

    def _ram_command(self, raw: bytes, key_set: int) -> Reply:
        """One RAM command; sensitive data in it is under the KIK of the packet's key set (DIGEST §1.4)."""
        try:
            return self.isd.execute_remote(CommandApdu.parse(raw), ota_kvn=key_set)
        except DecodeError:
            return Reply(b"", Sw.WRONG_LENGTH)

    # --- PoR ---------------------------------------------------------------------------------------------------------

    def _answer(self, delivery: Delivery, header: CommandHeader | None, por: bytes | None,
                notice: Callable[[], bytes | None] | None = None) -> Reply:
        if por is None or header is None:
            return Reply()
        spi = header.spi
        if not self._by_submit(spi, len(por)):
            return Reply(por, deferred=True)
        self._queue_sms(delivery.sms.originator, por)
        wanted = spi.por_transport is PorTransport.DELIVER_REPORT or self.config.submit_notice
        note = notice() if notice is not None and wanted else None
        return Reply(note, deferred=True) if note else Reply()

    def _by_submit(self, spi: Spi, size: int) -> bool:
        delivery = self.config.por_delivery
        if delivery is PorDelivery.PROACTIVE or size > self.config.max_envelope_response:
            return True
        return delivery is PorDelivery.AS_SPI and spi.por_transport is PorTransport.SMS_SUBMIT

    def _queue_sms(self, destination: Address, por: bytes) -> None:
        """One SEND SHORT MESSAGE per SMS-SUBMIT, addressed to the originator of the command (TS 31.115 §4.2)."""
        packet = por[len(SMS_RESPONSE_UDH):]
        for user_data in packet_user_data(packet, RESPONSE_PACKET_IEI, reference=self._reference(256)):
            self.proactive.add_sms(SmsSubmit(destination, user_data, SUBMIT_PID, SUBMIT_DCS).to_bytes())


def _administered_file_system(app: ApplicationLike) -> FileSystemAccess | None:
    """The first file system the application's UICC administrative access parameters ('EA'/82) name."""
    admin = app.uicc.admin_access
    return admin.file_systems[0] if admin is not None and admin.file_systems else None


def install_ota(card: RefCard, spec: dict[str, Any], where: str = "ota") -> OtaService:
    """Give `card` its OTA receiving side as the profile section (or state entry) `spec` describes."""
    isd = Isd.of(card)
    if isd is None:
        raise BadInput("the card has no Issuer Security Domain", where=where, expected="an isd section as well")
    service = OtaService(card, isd, OtaConfig.from_dict(spec))
    service.install()
    return service


@dataclass(frozen=True)
class _KeysAtReceipt:
    """The KIc/KID a packet was opened with, kept for its PoR (a key lookup like the ISD's)."""

    keys: Mapping[tuple[int, KeyRole], bytes | None] = field(repr=False)

    @classmethod
    def capture(cls, isd: SecurityDomain, header: CommandHeader) -> _KeysAtReceipt:
        return cls({(kvn, role): isd.ota_key(kvn, role)
                    for kvn in {header.kic.index, header.kid.index} for role in (KeyRole.KIC, KeyRole.KID)})

    def ota_key(self, kvn: int, role: KeyRole) -> bytes | None:
        return self.keys.get((kvn, role))
