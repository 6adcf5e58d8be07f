"""OTA wrapping for callers that think in APDUs (the script runner, campaigns, the CLI): C-APDUs in, ENVELOPE
APDUs out; the card's answers in, a verified PoR out.  Counters, time and concatenation references are
injected."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import ExpectationFailed
from .cat import SmsPpDownload
from .counters import CounterSource
from .errors import PorStatus
from .exchange import FoundPor, PorSource, SmsPpOutcome
from .keys import OtaContext
from .packet import CommandBuilder
from .por import PorVerifier, ResponsePacket
from .remote import RemoteFormat, RemoteResponse, decode_response_data, encode_script
from .sms import (
    COMMAND_PACKET_IEI,
    DCS_CLASS2_8BIT,
    PID_USIM_DATA_DOWNLOAD,
    Address,
    SmsDeliver,
    packet_user_data,
    scts_from_datetime,
)


@dataclass(frozen=True, slots=True)
class WrappedCommand:
    cntr: int
    secured_data: bytes
    packet: bytes  # from CPL on
    user_data: tuple[bytes, ...]  # TP-UD of each SMS
    tpdus: tuple[bytes, ...]  # SMS-DELIVER TPDUs
    envelopes: tuple[bytes, ...]  # ENVELOPE (SMS-PP DOWNLOAD) C-APDUs, one per SMS


@dataclass(frozen=True, slots=True)
class VerifiedPor:
    response: ResponsePacket
    source: PorSource | None
    remote: RemoteResponse | None  # the decoded additional data of a successful PoR


@dataclass(frozen=True, slots=True)
class SmsOptions:
    """How the SMS-DELIVERs look: originator (TP-OA), optional SMSC address in the ENVELOPE, PID/DCS, and whether
    concatenation uses 16-bit references."""

    originator: Address
    smsc: Address | None = None
    pid: int = PID_USIM_DATA_DOWNLOAD
    dcs: int = DCS_CLASS2_8BIT
    wide_reference: bool = False


class OtaWrapper:
    """Secures C-APDU scripts for one target (OtaContext) and checks the PoRs that come back."""

    def __init__(self, ctx: OtaContext, counters: CounterSource, sms: SmsOptions, *,
                 fmt: RemoteFormat = RemoteFormat.COMPACT,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 reference: Callable[[int], int] = secrets.randbelow) -> None:
        self.ctx = ctx
        self.fmt = fmt
        self._counters = counters
        self._sms = sms
        self._clock = clock
        self._reference = reference
        self._builder = CommandBuilder(ctx)
        self._verifier = PorVerifier(ctx)

    def wrap(self, apdus: Sequence[bytes]) -> WrappedCommand:
        return self.wrap_secured_data(encode_script(apdus, self.fmt))

    def wrap_secured_data(self, secured_data: bytes, scts: bytes | None = None) -> WrappedCommand:
        """The counter is taken from the counter source first: it is spent even if building fails later."""
        cntr = self._counters.next_counter()
        packet = self._builder.build(cntr, secured_data)
        sms = self._sms
        reference = self._reference(1 << (16 if sms.wide_reference else 8))
        uds = packet_user_data(packet, COMMAND_PACKET_IEI, reference=reference, wide_reference=sms.wide_reference)
        stamp = scts if scts is not None else scts_from_datetime(self._clock())
        tpdus = tuple(SmsDeliver(sms.originator, stamp, ud, sms.pid, sms.dcs).to_bytes() for ud in uds)
        envelopes = tuple(SmsPpDownload(tpdu, sms.smsc).envelope() for tpdu in tpdus)
        return WrappedCommand(cntr, secured_data, packet, tuple(uds), tpdus, envelopes)

    def verify(self, wrapped: WrappedCommand, answer: SmsPpOutcome | bytes) -> VerifiedPor:
        """Verify every PoR the card sent for `wrapped` and return the last one (after a status 0B PoR the
        actual response follows in an SMS-SUBMIT).  `answer` is what `send_sms_pp` found, or PoR user data."""
        found = answer.pors if isinstance(answer, SmsPpOutcome) else (FoundPor(PorSource.ENVELOPE_RESPONSE, answer),)
        if not found:
            raise ExpectationFailed("the card sent no PoR", where=f"PoR for CNTR {wrapped.cntr:010x}",
                                    expected=f"a PoR (SPI asks {self.ctx.spi.por.name.lower()})")
        return [self._verify_one(por, wrapped.cntr) for por in found][-1]

    def _verify_one(self, por: FoundPor, cntr: int) -> VerifiedPor:
        response = self._verifier.verify(por.user_data, cntr)
        remote = None
        if response.status is PorStatus.POR_OK and response.data:
            remote = decode_response_data(response.data, self.fmt)
        return VerifiedPor(response, por.source, remote)
