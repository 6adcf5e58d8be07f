"""Card Application Toolkit messages around SMS-PP data download (3GPP TS 31.111 §7.1, ETSI TS 102 223).

ENVELOPE (SMS-PP DOWNLOAD): `80 C2 00 00 Lc D1 L | 82 02 83 81 | [06/86 address] | 0B/8B SMS-DELIVER TPDU`.
Proactive commands `D0 L | 81 03 number type qualifier | 82 02 81 dest | ...`, fetched with FETCH after a 91xx;
the terminal answers with TERMINAL RESPONSE `80 14 00 00 Lc | 81 03 .. | 82 02 82 81 | 83 01 result`.
BER templates per TS 101 220 §7.2; inside them COMPREHENSION-TLVs whose CR bit is accepted either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..apdu import CommandApdu
from ..errors import DecodeError
from ..tlv import Ctlv, ber_decode_one, ber_encode, ctlv_decode, ctlv_encode
from .sms import Address
from .spi import OpenIntEnum

SMS_PP_DOWNLOAD_TAG = 0xD1
PROACTIVE_COMMAND_TAG = 0xD0
# COMPREHENSION-TLV tags (TS 101 220 §7.2 table 7.23; 0B from TS 31.111)
COMMAND_DETAILS = 0x01
DEVICE_IDENTITIES = 0x02
RESULT = 0x03
DURATION = 0x04
ALPHA_IDENTIFIER = 0x05
ADDRESS = 0x06
SMS_TPDU = 0x0B
FILE_LIST = 0x12
AID = 0x2F

# TS 102 223 §8.7 device identities
DEVICE_UICC = 0x81
DEVICE_TERMINAL = 0x82
DEVICE_NETWORK = 0x83


class ProactiveType(OpenIntEnum):
    """Type of command (TS 102 223 §9.4), the ones that matter around OTA [DIGEST §3]."""

    REFRESH = 0x01
    MORE_TIME = 0x02
    POLL_INTERVAL = 0x03
    POLLING_OFF = 0x04
    SET_UP_EVENT_LIST = 0x05
    SEND_SHORT_MESSAGE = 0x13
    PROVIDE_LOCAL_INFORMATION = 0x26
    TIMER_MANAGEMENT = 0x27
    OPEN_CHANNEL = 0x40
    CLOSE_CHANNEL = 0x41
    RECEIVE_DATA = 0x42
    SEND_DATA = 0x43
    GET_CHANNEL_STATUS = 0x44


class RefreshMode(OpenIntEnum):
    """REFRESH command qualifier (TS 102 223 §8.6)."""

    NAA_INIT_FULL_FILE_CHANGE = 0x00
    FILE_CHANGE = 0x01
    NAA_INIT_FILE_CHANGE = 0x02
    NAA_INIT = 0x03
    UICC_RESET = 0x04
    NAA_APPLICATION_RESET = 0x05
    NAA_SESSION_RESET = 0x06
    STEERING_OF_ROAMING = 0x07


@dataclass(frozen=True, slots=True)
class SmsPpDownload:
    tpdu: bytes  # the SMS-DELIVER TPDU
    smsc: Address | None = None

    def envelope(self) -> bytes:
        """The full ENVELOPE C-APDU (case 3, CLA 80)."""
        items = [ctlv_encode(DEVICE_IDENTITIES, bytes((DEVICE_NETWORK, DEVICE_UICC)), cr=True)]
        if self.smsc is not None:
            items.append(ctlv_encode(ADDRESS, self.smsc.tlv_value(), cr=True))
        items.append(ctlv_encode(SMS_TPDU, self.tpdu, cr=True))
        data = ber_encode(SMS_PP_DOWNLOAD_TAG, b"".join(items))
        if len(data) > 255:
            raise DecodeError(f"{len(data)}-byte ENVELOPE data", where="ENVELOPE", expected="at most 255 bytes")
        return CommandApdu(0x80, 0xC2, 0x00, 0x00, data).to_bytes()


def parse_envelope(data: bytes) -> SmsPpDownload:
    """An ENVELOPE (SMS-PP DOWNLOAD): the full C-APDU or just its data field (D1 ...)."""
    if data[:2] == b"\x80\xc2":
        apdu = CommandApdu.parse(data)
        data = apdu.data
    template = ber_decode_one(data, where="ENVELOPE data")
    if template.tag != SMS_PP_DOWNLOAD_TAG:
        raise DecodeError(f"tag {template.tag:02x}", where="ENVELOPE", expected="D1 (SMS-PP download)")
    items = {item.tag: item for item in ctlv_decode(template.value, where="SMS-PP download")}
    _expect_devices(items, DEVICE_NETWORK, DEVICE_UICC, "SMS-PP download")
    tpdu = items.get(SMS_TPDU)
    if tpdu is None:
        raise DecodeError("no SMS TPDU", where="SMS-PP download", expected="TLV 0B/8B")
    address = items.get(ADDRESS)
    return SmsPpDownload(tpdu.value, Address.from_tlv_value(address.value) if address is not None else None)


@dataclass(frozen=True, slots=True)
class CommandDetails:
    number: int
    type: ProactiveType
    qualifier: int

    def to_bytes(self) -> bytes:
        return bytes((self.number, self.type, self.qualifier))


@dataclass(frozen=True, slots=True)
class ProactiveCommand:
    details: CommandDetails
    destination: int
    items: tuple[Ctlv, ...]  # the TLVs after command details and device identities

    def find(self, tag: int) -> bytes | None:
        return next((item.value for item in self.items if item.tag == tag), None)

    @property
    def sms_tpdu(self) -> bytes | None:
        """SEND SHORT MESSAGE: the SMS-SUBMIT TPDU."""
        return self.find(SMS_TPDU)

    @property
    def refresh_mode(self) -> RefreshMode | None:
        return RefreshMode(self.details.qualifier) if self.details.type is ProactiveType.REFRESH else None

    def to_bytes(self) -> bytes:
        items = [ctlv_encode(COMMAND_DETAILS, self.details.to_bytes(), cr=True),
                 ctlv_encode(DEVICE_IDENTITIES, bytes((DEVICE_UICC, self.destination)), cr=True)]
        items += [item.to_bytes() for item in self.items]
        return ber_encode(PROACTIVE_COMMAND_TAG, b"".join(items))


def parse_proactive(data: bytes) -> ProactiveCommand:
    """A proactive command as FETCH returns it (D0 ...)."""
    template = ber_decode_one(data, where="proactive command")
    if template.tag != PROACTIVE_COMMAND_TAG:
        raise DecodeError(f"tag {template.tag:02x}", where="proactive command", expected="D0")
    items = ctlv_decode(template.value, where="proactive command")
    if len(items) < 2 or items[0].tag != COMMAND_DETAILS or len(items[0].value) != 3:
        raise DecodeError("no command details first", where="proactive command", expected="81 03 number type qual")
    if items[1].tag != DEVICE_IDENTITIES or len(items[1].value) != 2 or items[1].value[0] != DEVICE_UICC:
        raise DecodeError("no device identities from the UICC", where="proactive command",
                          expected="82 02 81 xx after command details")
    number, kind, qualifier = items[0].value
    return ProactiveCommand(CommandDetails(number, ProactiveType(kind), qualifier), items[1].value[1],
                            tuple(items[2:]))


def send_short_message(tpdu: bytes, *, number: int = 1, address: Address | None = None,
                       alpha: bytes | None = None) -> ProactiveCommand:
    """SEND SHORT MESSAGE (TS 102 223 §6.6.9) to the network, as a card sends a PoR via SMS-SUBMIT."""
    items = []
    if alpha is not None:
        items.append(Ctlv(ALPHA_IDENTIFIER, alpha))
    if address is not None:
        items.append(Ctlv(ADDRESS, address.tlv_value()))
    items.append(Ctlv(SMS_TPDU, tpdu, cr=True))
    return ProactiveCommand(CommandDetails(number, ProactiveType.SEND_SHORT_MESSAGE, 0x00), DEVICE_NETWORK,
                            tuple(items))


def terminal_response(details: CommandDetails, result: int = 0x00, additional: bytes = b"") -> bytes:
    """TERMINAL RESPONSE C-APDU: command details echoed, terminal -> UICC, result (00 = performed successfully)."""
    data = ctlv_encode(COMMAND_DETAILS, details.to_bytes(), cr=True) + \
        ctlv_encode(DEVICE_IDENTITIES, bytes((DEVICE_TERMINAL, DEVICE_UICC)), cr=True) + \
        ctlv_encode(RESULT, bytes((result,)) + additional, cr=True)
    return CommandApdu(0x80, 0x14, 0x00, 0x00, data).to_bytes()


def _expect_devices(items: dict[int, Ctlv], source: int, destination: int, where: str) -> None:
    devices = items.get(DEVICE_IDENTITIES)
    if devices is None or devices.value != bytes((source, destination)):
        raise DecodeError(f"device identities {devices.value.hex() if devices else 'missing'}", where=where,
                          expected=f"82 02 {source:02x} {destination:02x}")
