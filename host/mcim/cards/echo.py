"""EchoCard: a small, honest ISO 7816-4 card for testing transports (in-process, or behind pcscd via vpcd).

It behaves like a T=0 UICC with one application:
- SELECT by DF name (P1 '04') of `ECHO_AID`; with Le, the FCI waits behind '61xx' for GET RESPONSE.
- GET DATA ('CA') as an echo, once the application is selected:
  case 1 answers '9000'; case 3 stores the data; case 4 stores it and leaves it waiting behind '61xx';
  case 2 returns the stored bytes, or '6Cxx' with the exact length when Le is not that length.
- GET RESPONSE ('C0') hands out what a '61xx' announced (ISO/IEC 7816-4 §5.3.4, ETSI TS 102 221 §7.3.1.1.4):
  fewer bytes than waiting leave '61xx' for the rest, more than waiting get '6Cxx'.  Like a T=0 card, the
  waiting data is lost on any other command.
- '6D00' for any other instruction, '6E00' for class 'FF', '6700' for a malformed or extended-length APDU.
Power-on, power-off and reset forget the selection and all data.
"""

from __future__ import annotations

from ..apdu import CommandApdu, ResponseApdu
from ..errors import DecodeError
from ..tlv import ber_encode

# ATR of the sysmocom sysmoUSIM-GR1 UICC as listed in pcsc-tools' smartcard_list.txt (L. Rousseau): TS '3B',
# T0 '9F' (TA1, TD1, 15 historical bytes), TA1 '95', TD1 '80' (T=0, TD2 follows), TD2 '1F' (T=15, TA3 follows),
# TA3 'C7' (TS 102 221 §6.3.3: clock stop, classes A/B/C), historical bytes, TCK 'C2' (ISO/IEC 7816-3 §8.2.5).
ECHO_ATR = bytes.fromhex("3B9F95801FC78031E073FE21135712291102010000C2")

# ISO/IEC 7816-5 §5.2: an AID starting with 'F' is proprietary and unregistered; 'F0' followed by "mcim-echo".
ECHO_AID = bytes.fromhex("F0") + b"mcim-echo"

INS_SELECT = 0xA4
INS_GET_RESPONSE = 0xC0
INS_GET_DATA = 0xCA
P1_SELECT_BY_DF_NAME = 0x04
TAG_FCI = 0x6F
TAG_DF_NAME = 0x84

# ISO/IEC 7816-4 §5.6 status words.
SW_OK = 0x9000
SW_BYTES_WAITING = 0x6100
SW_WRONG_LENGTH = 0x6700
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_DATA_NOT_FOUND = 0x6A88
SW_EXACT_LENGTH = 0x6C00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00


def _status(sw: int, data: bytes = b"") -> bytes:
    return ResponseApdu(data, sw).to_bytes()


def _length_byte(n: int) -> int:
    """A length in SW2 (61xx, 6Cxx): 256 is coded '00' (ISO/IEC 7816-4 §5.3.4)."""
    return n & 0xFF


class EchoCard:
    def __init__(self) -> None:
        self._selected = False
        self._stored = b""
        self._waiting = b""

    def atr(self) -> bytes:
        return ECHO_ATR

    def power_on(self) -> None:
        self._forget()

    def power_off(self) -> None:
        self._forget()

    def reset(self) -> None:
        self._forget()

    def process(self, command: bytes) -> bytes:
        waiting, self._waiting = self._waiting, b""
        try:
            apdu = CommandApdu.parse(command)
        except DecodeError:
            return _status(SW_WRONG_LENGTH)
        if apdu.cla == 0xFF:
            return _status(SW_CLA_NOT_SUPPORTED)
        if apdu.is_extended:
            return _status(SW_WRONG_LENGTH)
        if apdu.ins == INS_GET_RESPONSE:
            return self._get_response(apdu, waiting)
        if apdu.ins == INS_SELECT:
            return self._select(apdu)
        if apdu.ins == INS_GET_DATA:
            return self._echo(apdu)
        return _status(SW_INS_NOT_SUPPORTED)

    def _forget(self) -> None:
        self._selected = False
        self._stored = b""
        self._waiting = b""

    def _leave_waiting(self, data: bytes) -> bytes:
        """T=0 case 4: the response data waits for GET RESPONSE, announced by '61xx'."""
        self._waiting = data
        return _status(SW_BYTES_WAITING | _length_byte(len(data)))

    def _select(self, apdu: CommandApdu) -> bytes:
        if apdu.p1 != P1_SELECT_BY_DF_NAME:
            return _status(SW_WRONG_P1P2)
        if apdu.data != ECHO_AID:
            return _status(SW_NOT_FOUND)
        self._selected = True
        if apdu.le is None:
            return _status(SW_OK)
        # ISO/IEC 7816-4 §5.3.3: FCI template '6F' carrying the DF name '84'.
        return self._leave_waiting(ber_encode(TAG_FCI, ber_encode(TAG_DF_NAME, ECHO_AID)))

    def _echo(self, apdu: CommandApdu) -> bytes:
        if not self._selected:
            return _status(SW_CONDITIONS_NOT_SATISFIED)
        if apdu.case == 1:
            return _status(SW_OK)
        if apdu.case == 3:
            self._stored = apdu.data
            return _status(SW_OK)
        if apdu.case == 4:
            self._stored = apdu.data
            return self._leave_waiting(apdu.data)
        if not self._stored:
            return _status(SW_DATA_NOT_FOUND)
        if apdu.le != len(self._stored):
            return _status(SW_EXACT_LENGTH | _length_byte(len(self._stored)))
        return _status(SW_OK, self._stored)

    def _get_response(self, apdu: CommandApdu, waiting: bytes) -> bytes:
        if (apdu.p1, apdu.p2) != (0, 0):
            return _status(SW_WRONG_P1P2)
        if apdu.le is None or apdu.data:
            return _status(SW_WRONG_LENGTH)
        if not waiting:
            return _status(SW_CONDITIONS_NOT_SATISFIED)
        if apdu.le > len(waiting):
            self._waiting = waiting
            return _status(SW_EXACT_LENGTH | _length_byte(len(waiting)))
        rest = waiting[apdu.le:]
        if rest:
            self._waiting = rest
            return _status(SW_BYTES_WAITING | _length_byte(len(rest)), waiting[: apdu.le])
        return _status(SW_OK, waiting)
