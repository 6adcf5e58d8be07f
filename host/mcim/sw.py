"""Status words: one catalogue with the meanings the specs give them.

Sources: ISO/IEC 7816-4 §5.6 (interindustry SW1-SW2), ETSI TS 102 221 §10.2.1 (UICC), 3GPP TS 31.102 §7.3
(USIM AUTHENTICATE), 3GPP TS 51.011 §9.4 (GSM '9Fxx'), GlobalPlatform Card Specification v2.3 §11 (per-command
tables).  `describe` keeps unknown codes (they get a category from SW1 and a generic meaning) so nothing is lost.
"""

from __future__ import annotations

from typing import NamedTuple

SUCCESS = "normal processing"
WARNING = "warning"
EXECUTION = "execution error"
CHECKING = "checking error"
SECURITY = "security error"
UNKNOWN = "unknown"

# Exact codes.  Where GlobalPlatform gives a code a command-specific meaning, it is appended after "; ".
_EXACT: dict[int, str] = {
    0x9000: "normal ending of the command",
    0x9300: "SIM Application Toolkit is busy; command cannot be executed at present",
    0x9240: "memory problem",
    0x6200: "no information given; state of non-volatile memory unchanged",
    0x6281: "part of returned data may be corrupted",
    0x6282: "end of file or record reached before reading Le bytes",
    0x6283: "selected file invalidated (deactivated)",
    0x6285: "selected file in termination state",
    0x62F1: "more data available",
    0x62F2: "more data available and proactive command pending",
    0x62F3: "response data available",
    0x6300: "no information given; state of non-volatile memory changed; "
            "GP: authentication of host cryptogram failed",
    0x6310: "more data available (GP GET STATUS / GET DATA continuation)",
    0x63F1: "more data expected",
    0x63F2: "more data expected and proactive command pending",
    0x6400: "no information given; state of non-volatile memory unchanged",
    0x6500: "no information given; state of non-volatile memory changed",
    0x6581: "memory problem",
    0x6700: "wrong length (Lc or Le)",
    0x6800: "functions in CLA not supported",
    0x6881: "logical channel not supported",
    0x6882: "secure messaging not supported",
    0x6900: "command not allowed, no information given",
    0x6981: "command incompatible with file structure",
    0x6982: "security status not satisfied",
    0x6983: "authentication/PIN method blocked",
    0x6984: "referenced data invalidated",
    0x6985: "conditions of use not satisfied",
    0x6986: "command not allowed (no EF selected)",
    0x6988: "incorrect secure messaging data objects; GP: incorrect C-MAC or decryption",
    0x6999: "GP: applet selection failed",
    0x6A80: "incorrect parameters in the data field",
    0x6A81: "function not supported",
    0x6A82: "file or application not found",
    0x6A83: "record not found",
    0x6A84: "not enough memory space",
    0x6A86: "incorrect parameters P1-P2",
    0x6A87: "Lc inconsistent with P1-P2",
    0x6A88: "referenced data or reference data not found",
    0x6A89: "file already exists",
    0x6A8A: "DF name already exists",
    0x6B00: "wrong parameter(s) P1-P2",
    0x6D00: "instruction code not supported or invalid",
    0x6E00: "class not supported",
    0x6F00: "technical problem, no precise diagnosis",
    0x9850: "INCREASE cannot be performed, maximum value reached",
    0x9862: "authentication error, incorrect MAC",
    0x9863: "security session or association expired",
    0x9864: "authentication error, security context not supported",
    0x9865: "key freshness failure",
    0x9866: "authentication error, no memory space available",
    0x9867: "authentication error, no memory space available in EF.MUK",
}

# Families where SW2 carries a value (ISO 7816-4 §5.6, TS 102 221 §10.2.1, TS 51.011 §9.4.1).
_FAMILIES: dict[int, tuple[str, str]] = {
    0x61: (SUCCESS, "{n} bytes of response data available (GET RESPONSE)"),
    0x91: (SUCCESS, "normal ending, proactive command of {n} bytes pending (FETCH)"),
    0x92: (SUCCESS, "command successful after {n} internal update retries"),
    0x9F: (SUCCESS, "{n} bytes of response data available (GSM GET RESPONSE)"),
    0x6C: (CHECKING, "wrong Le; the exact length is {n}"),
}


class SwInfo(NamedTuple):
    sw: int
    meaning: str
    category: str

    @property
    def hex(self) -> str:
        return f"{self.sw:04x}"


def category_of(sw: int) -> str:
    """Category from SW1 per ISO 7816-4 §5.6 and TS 102 221 §10.2.1."""
    sw1 = sw >> 8
    if sw1 in (0x90, 0x91, 0x92, 0x9F, 0x61):
        return SUCCESS
    if sw1 == 0x93:
        return WARNING
    if sw1 in (0x62, 0x63):
        return WARNING
    if sw1 in (0x64, 0x65, 0x66):
        return EXECUTION
    if 0x67 <= sw1 <= 0x6F:
        return CHECKING
    if sw1 == 0x98:
        return SECURITY
    return UNKNOWN


def describe(sw: int) -> SwInfo:
    """The meaning and category of a status word; any 16-bit value is accepted."""
    if not 0 <= sw <= 0xFFFF:
        raise ValueError(f"status word {sw} is not 16 bits")
    if sw in _EXACT:
        return SwInfo(sw, _EXACT[sw], category_of(sw))
    sw1, sw2 = sw >> 8, sw & 0xFF
    if sw1 in _FAMILIES:
        category, text = _FAMILIES[sw1]
        return SwInfo(sw, text.format(n=sw2 or 256), category)
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        return SwInfo(sw, f"verification failed, {sw2 & 0x0F} retries left", WARNING)
    return SwInfo(sw, "not in the catalogue", category_of(sw))


def is_success(sw: int) -> bool:
    return sw == 0x9000 or (sw >> 8) in (0x61, 0x91, 0x92, 0x9F)
