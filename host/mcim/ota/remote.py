"""Remote APDU formats of ETSI TS 102 226 §5 (the secured data of RAM/RFM packets), and the TAR catalogue.

Compact (§5.1): C-APDUs concatenated; response = number of commands executed, SW of the last, its data.
Expanded (§5.2): Command Scripting template `AA` (definite) / `AE 80 .. 00 00` (indefinite) holding C-APDU TLVs
`22`, Immediate Action `81`, Error Action `82`, Script Chaining `83`; Response Scripting template `AB` / `AF` with
number of executed commands `80`, R-APDU TLVs `23`, Bad Format `90`, Immediate Action response `81`, Script
Chaining response `83`.  Tags per TS 101 220 tables 7.18-7.20 as in Wireshark
`packet-etsi_card_app_toolkit.c` and njiwa `Ota.java`; 22/23 are COMPREHENSION-TLV tags with CR clear
(TS 102 223 §8.35/8.36) [DIGEST §4.3].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import construct as cs

from ..apdu import CommandApdu
from ..errors import DecodeError
from ..tlv import BerTlv, ber_decode, ber_encode
from .spi import OpenIntEnum


class RemoteFormat(Enum):
    COMPACT = "compact"
    EXPANDED = "expanded"


# --- compact format ---------------------------------------------------------------------------------------------

# TS 102 226 §5.1.2: compact remote response.
COMPACT_RESPONSE = cs.Struct("count" / cs.Int8ub, "sw" / cs.Int16ub, "data" / cs.GreedyBytes)


@dataclass(frozen=True, slots=True)
class CompactResponse:
    count: int  # number of commands executed (a GET RESPONSE counts with the command before it, DIGEST §4.2)
    sw: int  # status word of the last command executed
    data: bytes  # response data of the last command

    def to_bytes(self) -> bytes:
        return COMPACT_RESPONSE.build({"count": self.count, "sw": self.sw, "data": self.data})


def encode_compact(apdus: Sequence[bytes]) -> bytes:
    """TS 102 226 §5.1.1: the command APDUs back to back (each must parse as a C-APDU)."""
    if not apdus:
        raise DecodeError("no C-APDU", where="remote command script", expected="at least one C-APDU")
    for n, apdu in enumerate(apdus, 1):
        try:
            CommandApdu.parse(apdu)
        except DecodeError as exc:
            raise DecodeError(exc.message, where=f"C-APDU {n}", expected=exc.expected) from None
    return b"".join(apdus)


# INS codes of case 2 commands (P3 = Le) in the T=0 style the compact format uses (TS 102 221 §10.1.2):
# READ BINARY, READ RECORD, GET RESPONSE, GET DATA, GET CHALLENGE, FETCH.  Every other P3 is Lc.
CASE2_INS = frozenset({0xB0, 0xB2, 0xC0, 0xCA, 0x84, 0x12})


def split_compact(data: bytes, case2_ins: frozenset[int] = CASE2_INS) -> list[bytes]:
    """Cut concatenated C-APDUs apart the way a card reads them: header, P3, then P3 data bytes unless the INS
    is a case 2 command.  A final 4-byte command (case 1 without P3) is accepted."""
    out, pos = [], 0
    while pos < len(data):
        rest = len(data) - pos
        if rest == 4:
            out.append(data[pos:])
            break
        if rest < 5:
            raise DecodeError(f"{rest} bytes left", where=f"compact script at offset {pos}",
                              expected="CLA INS P1 P2 P3")
        size = 5 if data[pos + 1] in case2_ins else 5 + data[pos + 4]
        if size > rest:
            raise DecodeError(f"P3 announces {size - 5} data bytes, {rest - 5} left",
                              where=f"compact script at offset {pos}", expected="the whole command data")
        out.append(data[pos:pos + size])
        pos += size
    return out


def decode_compact_response(data: bytes) -> CompactResponse:
    if len(data) < 3:
        raise DecodeError(f"{len(data)} bytes", where="compact response",
                          expected="number of commands (1) and SW (2), then data")
    c = COMPACT_RESPONSE.parse(data)
    return CompactResponse(c.count, c.sw, c.data)


# --- expanded format --------------------------------------------------------------------------------------------

COMMAND_TEMPLATE = 0xAA
COMMAND_TEMPLATE_INDEFINITE = 0xAE
RESPONSE_TEMPLATE = 0xAB
RESPONSE_TEMPLATE_INDEFINITE = 0xAF
C_APDU_TAG = 0x22
R_APDU_TAG = 0x23
IMMEDIATE_ACTION_TAG = 0x81
ERROR_ACTION_TAG = 0x82
SCRIPT_CHAINING_TAG = 0x83
EXECUTED_COUNT_TAG = 0x80
BAD_FORMAT_TAG = 0x90
END_OF_CONTENTS = b"\x00\x00"


class ScriptChaining(OpenIntEnum):
    """TS 102 226 §5.2.1.4 values [I: njiwa]."""

    FIRST_DELETE_ON_RESET = 0x01
    FIRST_KEEP_ON_RESET = 0x11
    SUBSEQUENT_MORE_FOLLOW = 0x02
    LAST = 0x03


class BadFormat(OpenIntEnum):
    UNKNOWN_TAG = 0x01
    WRONG_LENGTH = 0x02
    LENGTH_NOT_FOUND = 0x03


class ScriptChainingResult(OpenIntEnum):
    NO_PREVIOUS_SCRIPT = 0x01
    NOT_SUPPORTED = 0x02
    UNABLE_TO_PROCESS = 0x03


@dataclass(frozen=True, slots=True)
class ImmediateAction:
    """Immediate Action TLV (81); its value is carried as given (TS 102 226 §5.2.1.2)."""

    value: bytes


@dataclass(frozen=True, slots=True)
class ErrorAction:
    """Error Action TLV (82); its value is carried as given (TS 102 226 §5.2.1.3)."""

    value: bytes


ScriptItem = bytes | ImmediateAction | ErrorAction | ScriptChaining  # bytes = one C-APDU


@dataclass(frozen=True, slots=True)
class CommandScript:
    items: tuple[ScriptItem, ...]
    definite: bool = True

    @property
    def apdus(self) -> tuple[bytes, ...]:
        return tuple(item for item in self.items if isinstance(item, bytes))

    def to_bytes(self) -> bytes:
        tlvs = [_item_tlv(item) for item in self.items]
        if self.definite:
            return ber_encode(COMMAND_TEMPLATE, tlvs)
        return bytes((COMMAND_TEMPLATE_INDEFINITE, 0x80)) + b"".join(t.to_bytes() for t in tlvs) + END_OF_CONTENTS


def _item_tlv(item: ScriptItem) -> BerTlv:
    if isinstance(item, bytes):
        return BerTlv(C_APDU_TAG, item)
    if isinstance(item, ImmediateAction):
        return BerTlv(IMMEDIATE_ACTION_TAG, item.value)
    if isinstance(item, ErrorAction):
        return BerTlv(ERROR_ACTION_TAG, item.value)
    return BerTlv(SCRIPT_CHAINING_TAG, bytes((item,)))


def encode_expanded(apdus: Sequence[bytes], *, definite: bool = True) -> bytes:
    encode_compact(apdus)  # same per-APDU checks
    return CommandScript(tuple(apdus), definite).to_bytes()


def decode_command_script(data: bytes) -> CommandScript:
    tlvs, definite = _template(data, COMMAND_TEMPLATE, COMMAND_TEMPLATE_INDEFINITE, "command scripting template")
    items: list[ScriptItem] = []
    for tlv in tlvs:
        if tlv.tag == C_APDU_TAG:
            items.append(tlv.value)
        elif tlv.tag == IMMEDIATE_ACTION_TAG:
            items.append(ImmediateAction(tlv.value))
        elif tlv.tag == ERROR_ACTION_TAG:
            items.append(ErrorAction(tlv.value))
        elif tlv.tag == SCRIPT_CHAINING_TAG and len(tlv.value) == 1:
            items.append(ScriptChaining(tlv.value[0]))
        else:
            raise DecodeError(f"tag {tlv.tag:02x} ({len(tlv.value)} bytes)", where="command scripting template",
                              expected="22 C-APDU, 81 immediate action, 82 error action or 83 (1 byte) chaining")
    return CommandScript(tuple(items), definite)


@dataclass(frozen=True, slots=True)
class RApdu:
    data: bytes
    sw: int


@dataclass(frozen=True, slots=True)
class ExpandedResponse:
    executed: int | None  # TLV 80; absent in the indefinite form
    responses: tuple[RApdu, ...]
    bad_format: BadFormat | None = None
    immediate_action_response: bytes | None = None
    script_chaining_response: ScriptChainingResult | None = None
    definite: bool = True

    @property
    def truncated(self) -> bool:
        """SW 62F1 in an R-APDU: its data was cut and processing stopped (TS 102 226 §5.2.1.1)."""
        return any(r.sw == 0x62F1 for r in self.responses)

    def to_bytes(self) -> bytes:
        tlvs = [BerTlv(R_APDU_TAG, r.data + r.sw.to_bytes(2, "big")) for r in self.responses]
        if self.bad_format is not None:
            tlvs.append(BerTlv(BAD_FORMAT_TAG, bytes((self.bad_format,))))
        if self.immediate_action_response is not None:
            tlvs.append(BerTlv(IMMEDIATE_ACTION_TAG, self.immediate_action_response))
        if self.script_chaining_response is not None:
            tlvs.append(BerTlv(SCRIPT_CHAINING_TAG, bytes((self.script_chaining_response,))))
        if not self.definite:
            return bytes((RESPONSE_TEMPLATE_INDEFINITE, 0x80)) + b"".join(t.to_bytes() for t in tlvs) + \
                END_OF_CONTENTS
        count = len(self.responses) if self.executed is None else self.executed
        return ber_encode(RESPONSE_TEMPLATE, [BerTlv(EXECUTED_COUNT_TAG, _integer(count)), *tlvs])


def _integer(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def decode_expanded_response(data: bytes) -> ExpandedResponse:
    tlvs, definite = _template(data, RESPONSE_TEMPLATE, RESPONSE_TEMPLATE_INDEFINITE,
                               "response scripting template")
    executed = None
    if definite:
        if not tlvs or tlvs[0].tag != EXECUTED_COUNT_TAG or not tlvs[0].value:
            raise DecodeError("no number of executed commands", where="response scripting template",
                              expected="80 L count first")
        executed = int.from_bytes(tlvs[0].value, "big")
        tlvs = tlvs[1:]
    responses: list[RApdu] = []
    fields: dict[str, object] = {}
    for tlv in tlvs:
        if tlv.tag == R_APDU_TAG and len(tlv.value) >= 2:
            responses.append(RApdu(tlv.value[:-2], int.from_bytes(tlv.value[-2:], "big")))
        elif tlv.tag == BAD_FORMAT_TAG and len(tlv.value) == 1:
            fields["bad_format"] = BadFormat(tlv.value[0])
        elif tlv.tag == IMMEDIATE_ACTION_TAG:
            fields["immediate_action_response"] = tlv.value
        elif tlv.tag == SCRIPT_CHAINING_TAG and len(tlv.value) == 1:
            fields["script_chaining_response"] = ScriptChainingResult(tlv.value[0])
        else:
            raise DecodeError(f"tag {tlv.tag:02x} ({len(tlv.value)} bytes)", where="response scripting template",
                              expected="23 R-APDU (>= 2 bytes), 90 bad format, 81 or 83")
    return ExpandedResponse(executed, tuple(responses), definite=definite, **fields)  # type: ignore[arg-type]


def _template(data: bytes, definite_tag: int, indefinite_tag: int, where: str) -> tuple[list[BerTlv], bool]:
    if data[:2] == bytes((indefinite_tag, 0x80)):
        if len(data) < 4 or data[-2:] != END_OF_CONTENTS:
            raise DecodeError("no end-of-contents", where=where, expected=f"{indefinite_tag:02x} 80 ... 00 00")
        return ber_decode(data[2:-2], where=where, skip_padding=False), False
    if data[:1] != bytes((definite_tag,)):
        raise DecodeError(f"starts {data[:2].hex() or 'empty'}", where=where,
                          expected=f"tag {definite_tag:02x} or {indefinite_tag:02x} 80")
    outer = ber_decode(data, where=where, skip_padding=False)
    if len(outer) != 1:
        raise DecodeError(f"{len(outer)} objects", where=where, expected="one template")
    return ber_decode(outer[0].value, where=where, skip_padding=False), True


RemoteResponse = CompactResponse | ExpandedResponse


def decode_response_data(data: bytes, fmt: RemoteFormat | None = None) -> RemoteResponse:
    """The additional data of a PoR.  Without `fmt`, a leading AB or AF 80 means expanded, else compact."""
    if fmt is None:
        expanded = data[:1] == bytes((RESPONSE_TEMPLATE,)) or data[:2] == bytes((RESPONSE_TEMPLATE_INDEFINITE, 0x80))
        fmt = RemoteFormat.EXPANDED if expanded else RemoteFormat.COMPACT
    return decode_expanded_response(data) if fmt is RemoteFormat.EXPANDED else decode_compact_response(data)


def encode_script(apdus: Sequence[bytes], fmt: RemoteFormat) -> bytes:
    return encode_expanded(apdus) if fmt is RemoteFormat.EXPANDED else encode_compact(apdus)


# --- TAR catalogue ----------------------------------------------------------------------------------------------


class TarService(Enum):
    RAM = "remote applet management"
    RFM = "remote file management"
    ADMIN_AGENT = "administration agent"
    APPLICATION = "application"


@dataclass(frozen=True, slots=True)
class TarInfo:
    tar: bytes
    name: str
    service: TarService


# ETSI TS 101 220 Annex D and TS 102 226 §7 as listed by pycrate `TS31111_SAT.TAR_dict`, njiwa
# `ISD_DEFAULT_TAR` / `RAM_HTTP_ADMIN_AGENT_TAR`; B00010/B00011 are sysmocom's SIM/USIM RFM (pySim tests).
_KNOWN = {
    bytes.fromhex("000000"): ("Issuer Security Domain", TarService.RAM),
    bytes.fromhex("b00000"): ("UICC shared file system (MF)", TarService.RFM),
    bytes.fromhex("b00001"): ("ADF RFM (first ADF, e.g. ADF.USIM)", TarService.RFM),
    bytes.fromhex("b00010"): ("SIM file system RFM (sysmocom)", TarService.RFM),
    bytes.fromhex("b00011"): ("USIM RFM (sysmocom)", TarService.RFM),
    bytes.fromhex("b20100"): ("Issuer Security Domain / admin agent (SCP81)", TarService.ADMIN_AGENT),
}


class TarCatalogue:
    """Known TARs; application TARs (from an applet's install parameters) are added with `register`."""

    def __init__(self) -> None:
        self._entries = {tar: TarInfo(tar, name, service) for tar, (name, service) in _KNOWN.items()}

    def register(self, tar: bytes, name: str, service: TarService = TarService.APPLICATION) -> TarInfo:
        if len(tar) != 3:
            raise DecodeError(f"{len(tar)} bytes", where="TAR", expected="3 bytes")
        self._entries[tar] = TarInfo(tar, name, service)
        return self._entries[tar]

    def describe(self, tar: bytes) -> TarInfo:
        known = self._entries.get(tar)
        if known is not None:
            return known
        if tar[:1] == b"\xb0":
            return TarInfo(tar, "RFM range B00000-B0FFFF (TS 101 220 Annex D)", TarService.RFM)
        return TarInfo(tar, "unregistered application TAR", TarService.APPLICATION)


ISD_TAR = bytes.fromhex("000000")
UICC_RFM_TAR = bytes.fromhex("b00000")
ADF_RFM_TAR = bytes.fromhex("b00001")
