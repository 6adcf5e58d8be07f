"""Shared pieces of the OTA tests (no tests here): a reference UICC with an SCP80 key set, and an OTA server built
from the host library (`OtaWrapper` + `send_sms_pp` + `PorVerifier`) that talks to it through ENVELOPEs."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from mcim.apdu import CommandApdu
from mcim.ota import (
    Address,
    Algorithm,
    CounterMode,
    Integrity,
    KeyRef,
    OtaContext,
    OtaKeys,
    OtaWrapper,
    PorRequest,
    PorStatus,
    PorTransport,
    PorVerifier,
    RemoteFormat,
    SmsOptions,
    SmsPpOutcome,
    Spi,
    VerifiedPor,
    WrappedCommand,
    send_sms_pp,
)
from mcim.ota.cat import SmsPpDownload
from mcim.ota.sms import COMMAND_PACKET_IEI, SmsDeliver, packet_user_data
from mcim.refcard import RefCard, card_from_profile, load_profile

from .helpers import h

# TEST VALUES: the SCP80 key set KVN 01 of the test cards (KIc, KID, KIK), AES-128.
KIC = h("000102030405060708090A0B0C0D0E0F")
KID = h("101112131415161718191A1B1C1D1E1F")
KIK = h("202122232425262728292A2B2C2D2E2F")
ISD_TAR = h("000000")
MF_TAR = h("B00000")
USIM_TAR = h("B00001")
ORIGINATOR = Address.from_digits("1234")
# SPI 16 39: CC, ciphering, counter higher; PoR always, with CC, ciphered, in the ENVELOPE response.
SECURE_SPI = Spi(Integrity.CC, True, CounterMode.HIGHER, PorRequest.ALWAYS, Integrity.CC, True,
                 PorTransport.DELIVER_REPORT)


def key_set(kvn: int, kic: bytes = KIC, kid: bytes = KID, kik: bytes = KIK, kind: str = "aes") -> dict[str, Any]:
    return {"kvn": f"{kvn:02x}", "keys": [{"kid": n, "type": kind, "value": key.hex()}
                                        for n, key in ((1, kic), (2, kid), (3, kik))]}


def ota_profile(key_sets: list[dict[str, Any]] | None = None, **ota: Any) -> dict[str, Any]:
    """The default profile with OTA key set(s) added to its ISD and its `ota` section changed."""
    doc = copy.deepcopy(load_profile())
    doc["isd"]["key_sets"] += key_sets if key_sets is not None else [key_set(1)]
    doc["ota"].update(ota)
    return doc


def ota_card(key_sets: list[dict[str, Any]] | None = None, **ota: Any) -> RefCard:
    card = card_from_profile(ota_profile(key_sets, **ota))
    card.power_on()
    return card


def snapshot(card: RefCard) -> dict[str, Any]:
    return copy.deepcopy(card.to_state())


def context(tar: bytes, spi: Spi = SECURE_SPI, *, kvn: int = 1, algorithm: Algorithm = Algorithm.AES,
            kic: bytes = KIC, kid: bytes = KID) -> OtaContext:
    return OtaContext(spi, KeyRef.for_cipher(kvn, algorithm), KeyRef.for_cc(kvn, algorithm), tar,
                      OtaKeys(kic, kid))


def envelopes_for(packet: bytes, originator: Address = ORIGINATOR) -> list[bytes]:
    """ENVELOPEs (SMS-PP DOWNLOAD) carrying a command packet (from CPL on) as it is, e.g. one tampered with."""
    user_datas = packet_user_data(packet, COMMAND_PACKET_IEI, reference=0x42)
    return [SmsPpDownload(SmsDeliver(originator, bytes(7), ud).to_bytes()).envelope() for ud in user_datas]


def t0(apdu: CommandApdu) -> bytes:
    """A C-APDU as the compact format carries it: T=0 style, case 4 without its Le (TS 102 226 §5.1.1)."""
    return replace(apdu, le=None).to_bytes()


@dataclass
class Counter:
    """The OTA server's counter for one key set: strictly increasing, as a CounterStore hands them out."""

    values: Any = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def starting(cls, first: int) -> Counter:
        return cls(itertools.count(first))

    def next_counter(self) -> int:
        return next(self.values)


@dataclass
class Exchange:
    wrapped: WrappedCommand
    outcome: SmsPpOutcome


@dataclass
class OtaServer:
    """One OTA server context towards the card: SPI, keys and TAR, a counter, SMS options."""

    card: RefCard
    ctx: OtaContext
    counter: Counter = field(default_factory=Counter)
    fmt: RemoteFormat = RemoteFormat.COMPACT
    originator: Address = ORIGINATOR
    reference: int = 0x42  # of concatenated SMS
    log: list[bytes] = field(default_factory=list)

    def wrapper(self) -> OtaWrapper:
        return OtaWrapper(self.ctx, self.counter, SmsOptions(self.originator), fmt=self.fmt,
                          reference=lambda bound: self.reference % bound)

    def transmit(self, apdu: bytes) -> bytes:
        self.log.append(apdu)
        return self.card.process(apdu)

    def send(self, apdus: list[bytes]) -> Exchange:
        return self.send_wrapped(self.wrapper().wrap(apdus))

    def send_secured(self, secured_data: bytes) -> Exchange:
        return self.send_wrapped(self.wrapper().wrap_secured_data(secured_data))

    def send_wrapped(self, wrapped: WrappedCommand, envelopes: list[bytes] | None = None) -> Exchange:
        """Send a wrapped command again, or some of its ENVELOPEs (in the order given)."""
        chosen = wrapped.envelopes if envelopes is None else envelopes
        return Exchange(wrapped, send_sms_pp(self.transmit, chosen))

    def verify(self, exchange: Exchange) -> VerifiedPor:
        return self.wrapper().verify(exchange.wrapped, exchange.outcome)

    def statuses(self, exchange: Exchange) -> list[PorStatus]:
        """The status of every PoR the card sent for the exchange, each verified."""
        verifier = PorVerifier(self.ctx)
        return [verifier.verify(p.user_data, exchange.wrapped.cntr).status for p in exchange.outcome.pors]

    def status(self, exchange: Exchange) -> PorStatus:
        return self.verify(exchange).response.status

    def run(self, apdus: list[bytes]) -> VerifiedPor:
        """Send a script and return its verified, successful PoR."""
        por = self.verify(self.send(apdus))
        assert por.response.status is PorStatus.POR_OK, por.response.status
        return por
