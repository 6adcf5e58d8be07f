"""The terminal's side of an SMS-PP data download: send the ENVELOPEs, follow the status words, find the PoR.

Status words after ENVELOPE (TS 31.111 §7.1.1, as Android's UsimDataDownloadHandler and pySim handle them,
DIGEST §3): 9000 done, response data (if any) is the PoR; 61xx / 9Fxx GET RESPONSE (class 00 / A0) for it;
62xx / 63xx done with a warning, the data (if any) is the PoR; 91xx a proactive command is pending: FETCH it,
answer with TERMINAL RESPONSE, and a SEND SHORT MESSAGE carrying `02 71 00` is the PoR (SPI2 b6 = 1, or status
0B in the ENVELOPE response); 9300 toolkit busy: send the same ENVELOPE again, a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from ..apdu import ResponseApdu
from ..errors import ExpectationFailed
from .cat import ProactiveCommand, ProactiveType, parse_proactive, terminal_response
from .sms import RESPONSE_PACKET_IEI, SmsSubmit, concatenation_of, parse_sms_submit, parse_user_data, reassemble

SW_OK = 0x9000
SW_BUSY = 0x9300


class PorSource(Enum):
    ENVELOPE_RESPONSE = "envelope response"
    GET_RESPONSE = "get response"
    SEND_SHORT_MESSAGE = "send short message"


@dataclass(frozen=True, slots=True)
class FoundPor:
    source: PorSource
    user_data: bytes  # the PoR as SMS user data: 02 71 00 | RPL ... (concatenated parts already joined)


@dataclass(frozen=True, slots=True)
class SmsPpOutcome:
    pors: tuple[FoundPor, ...]  # in the order they came; a status 0B PoR may be followed by the real one
    sw: int  # status word of the last ENVELOPE (after GET RESPONSE)
    proactive: tuple[ProactiveCommand, ...] = ()
    sent_sms: tuple[SmsSubmit, ...] = ()  # SEND SHORT MESSAGEs that were not PoRs

    @property
    def por(self) -> FoundPor | None:
        return self.pors[-1] if self.pors else None

    @property
    def delivered(self) -> bool:
        return _taken(self.sw)


@dataclass
class _Exchange:
    transmit: Callable[[bytes], bytes]
    result_for: Callable[[ProactiveCommand], int]
    pors: list[FoundPor] = field(default_factory=list)
    proactive: list[ProactiveCommand] = field(default_factory=list)
    sent_sms: list[SmsSubmit] = field(default_factory=list)
    por_parts: list[bytes] = field(default_factory=list)

    def send(self, apdu: bytes) -> ResponseApdu:
        return ResponseApdu.parse(self.transmit(apdu))

    def get_response(self, response: ResponseApdu) -> ResponseApdu:
        data = response.data
        while response.sw1 in (0x61, 0x9F):
            cla = 0x00 if response.sw1 == 0x61 else 0xA0
            response = self.send(bytes((cla, 0xC0, 0x00, 0x00, response.sw2)))
            data += response.data
        return ResponseApdu(data, response.sw)

    def run_proactive(self, response: ResponseApdu) -> None:
        while response.sw1 == 0x91:
            fetched = self.send(bytes((0x80, 0x12, 0x00, 0x00, response.sw2)))
            if fetched.sw != SW_OK:
                return
            command = parse_proactive(fetched.data)
            self.proactive.append(command)
            if command.details.type is ProactiveType.SEND_SHORT_MESSAGE and command.sms_tpdu is not None:
                self.collect_sms(parse_sms_submit(command.sms_tpdu))
            response = self.send(terminal_response(command.details, self.result_for(command)))

    def collect_sms(self, sms: SmsSubmit) -> None:
        user_data = parse_user_data(sms.user_data) if sms.udhi else None
        if user_data is None:
            self.sent_sms.append(sms)
            return
        concat = concatenation_of(user_data)
        if concat is None:
            if user_data.find(RESPONSE_PACKET_IEI) is None:
                self.sent_sms.append(sms)
            else:
                self.pors.append(FoundPor(PorSource.SEND_SHORT_MESSAGE, sms.user_data))
            return
        self.por_parts.append(sms.user_data)
        if len(self.por_parts) == concat.total:
            joined = reassemble(self.por_parts)
            self.por_parts.clear()
            self.pors.append(FoundPor(PorSource.SEND_SHORT_MESSAGE, b"\x02\x71\x00" + joined.packet))


def send_sms_pp(transmit: Callable[[bytes], bytes], envelope_apdus: Sequence[bytes], *, max_busy_retries: int = 3,
                on_busy: Callable[[int], None] | None = None,
                result_for: Callable[[ProactiveCommand], int] = lambda command: 0x00) -> SmsPpOutcome:
    """Send the ENVELOPE(s) of one message, as a terminal would, and collect what the card answers.

    `transmit` is a Transport's transmit (C-APDU -> data || SW).  `on_busy(attempt)` is called before each
    retry after 9300 (inject a wait there).  `result_for` gives the TERMINAL RESPONSE result of each proactive
    command (default 00, performed successfully).  Stops at the first ENVELOPE the card does not take.
    Raises ExpectationFailed when the toolkit stays busy.
    """
    exchange = _Exchange(transmit, result_for)
    envelope_sw = SW_OK
    for apdu in envelope_apdus:
        response = exchange.send(apdu)
        attempt = 0
        while response.sw == SW_BUSY:
            attempt += 1
            if attempt > max_busy_retries:
                raise ExpectationFailed(f"toolkit busy (9300) after {max_busy_retries} retries",
                                        where="ENVELOPE (SMS-PP download)", expected="the card to take the SMS")
            if on_busy is not None:
                on_busy(attempt)
            response = exchange.send(apdu)
        source = PorSource.GET_RESPONSE if response.sw1 in (0x61, 0x9F) else PorSource.ENVELOPE_RESPONSE
        response = exchange.get_response(response)
        envelope_sw = response.sw
        if response.data:
            exchange.pors.append(FoundPor(source, response.data))
        exchange.run_proactive(response)
        if not _taken(envelope_sw):
            break
    return SmsPpOutcome(tuple(exchange.pors), envelope_sw, tuple(exchange.proactive), tuple(exchange.sent_sms))


def _taken(sw: int) -> bool:
    """The card took the message (the network gets RP-ACK): 9000, 91xx, or a warning 62xx/63xx."""
    return sw == SW_OK or sw >> 8 in (0x91, 0x62, 0x63)
