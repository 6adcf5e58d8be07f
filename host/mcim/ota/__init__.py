"""OTA on the host: SCP80 secured packets (ETSI TS 102 225 / 3GPP TS 31.115), RAM/RFM payloads (TS 102 226),
SMS-PP and ENVELOPE bearers (TS 23.040, TS 31.111), PoR verification, and persistent counters.

Sans-IO throughout; the one function that talks to a card, `send_sms_pp`, takes a `transmit` callable.
"""

from .cat import ProactiveCommand, SmsPpDownload, parse_envelope, parse_proactive, terminal_response
from .counters import CounterScope, CounterSource, CounterStore, FixedCounter, resync_after_counter_low
from .errors import PorStatus, Rejection
from .exchange import FoundPor, PorSource, SmsPpOutcome, send_sms_pp
from .keys import KeyRole, KeySets, OtaContext, OtaKeys
from .packet import CommandBuilder, CommandPacket, Framing, build_command_packet, open_command_packet
from .por import PorIntegrity, PorVerifier, ResponsePacket, build_response_packet, verify_response_packet
from .receiver import CounterPer, MinimumSecurityLevel, ReceivingEntity, TarPolicy
from .remote import RemoteFormat, TarCatalogue, decode_response_data, encode_script
from .sms import Address
from .spi import Algorithm, CounterMode, Integrity, KeyRef, PorRequest, PorTransport, Spi
from .wrap import OtaWrapper, SmsOptions, VerifiedPor, WrappedCommand

__all__ = [
    "Address", "Algorithm", "CommandBuilder", "CommandPacket", "CounterMode", "CounterPer", "CounterScope",
    "CounterSource", "CounterStore", "FixedCounter", "FoundPor", "Framing", "Integrity", "KeyRef",
    "KeyRole", "KeySets", "MinimumSecurityLevel", "OtaContext", "OtaKeys", "OtaWrapper", "PorIntegrity",
    "PorRequest", "PorSource", "PorStatus", "PorTransport", "PorVerifier", "ProactiveCommand",
    "ReceivingEntity", "Rejection", "RemoteFormat", "ResponsePacket", "SmsOptions", "SmsPpDownload",
    "SmsPpOutcome", "Spi", "TarCatalogue", "TarPolicy", "VerifiedPor", "WrappedCommand",
    "build_command_packet", "build_response_packet", "decode_response_data", "encode_script",
    "open_command_packet", "parse_envelope", "parse_proactive", "resync_after_counter_low", "send_sms_pp",
    "terminal_response", "verify_response_packet",
]
