"""Status words the reference UICC answers with, and the exception that carries one out of a command handler.

Meanings and numbers: ETSI TS 102 221 §10.2.1 and Table 10.16 (which command may answer what), ETSI TS 102 222
§6 (administrative commands), 3GPP TS 31.102 §7.3 (AUTHENTICATE), ISO/IEC 7816-4 §5.6 where the UICC specs
defer to it.
"""

from __future__ import annotations

from enum import IntEnum


class Sw(IntEnum):
    OK = 0x9000
    # T=0 procedure words (ISO 7816-3 §10.3.3 / TS 102 221 §7.3.1.1.3-4): SW2 carries a length
    BYTES_AVAILABLE = 0x6100
    WRONG_LE = 0x6C00
    PIN_TRIES_LEFT = 0x63C0  # 63CX: verification failed, X retries left (TS 102 221 §10.2.1)
    # warnings
    EOF_OR_UNSUCCESSFUL_SEARCH = 0x6282
    FILE_DEACTIVATED = 0x6283  # "selected file invalidated"
    FILE_TERMINATED = 0x6285  # "selected file in termination state" (ISO 7816-4 Table 6; pySim lists 6284)
    # execution errors
    MEMORY_PROBLEM = 0x6581
    # checking errors
    WRONG_LENGTH = 0x6700
    CLA_FUNCTION_NOT_SUPPORTED = 0x6800
    LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
    SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
    COMMAND_CHAINING_NOT_SUPPORTED = 0x6884  # ISO 7816-4 Table 7
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    TECHNICAL_PROBLEM = 0x6F00
    # command not allowed
    INCOMPATIBLE_FILE_STRUCTURE = 0x6981
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    PIN_BLOCKED = 0x6983
    REFERENCED_DATA_INVALIDATED = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    NO_EF_SELECTED = 0x6986
    # wrong parameters
    INCORRECT_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    NOT_ENOUGH_MEMORY = 0x6A84
    INCORRECT_P1P2 = 0x6A86
    LC_INCONSISTENT_WITH_P1P2 = 0x6A87
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    FILE_ID_EXISTS = 0x6A89  # TS 102 222 §6.3 (CREATE FILE)
    DF_NAME_EXISTS = 0x6A8A  # TS 102 222 §6.3 (CREATE FILE)
    # application errors (TS 31.102 §7.3 for AUTHENTICATE)
    MAX_VALUE_REACHED = 0x9850
    AUTH_MAC_FAILURE = 0x9862
    SECURITY_CONTEXT_NOT_SUPPORTED = 0x9864


class Refused(Exception):
    """Raised inside a handler to answer with `sw` (no data); the card state must be untouched by then."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw


def with_length(base: Sw, n: int) -> int:
    """61xx / 6Cxx: SW2 is the length, 00 standing for 256 (ISO 7816-4 §5.3.2)."""
    return base | (n & 0xFF)
