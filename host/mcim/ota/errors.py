"""PoR status codes and the typed errors a receiving entity raises for them (TS 102 225 §5.2.2 table 5,
3GPP TS 31.115 §7 for 0B/0C; names as in DIGEST §1.7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import BadChecksum, BadInput, BadMac, IntegrityError, UnsupportedError
from .spi import OpenIntEnum

if TYPE_CHECKING:
    from .packet import CommandHeader


class PorStatus(OpenIntEnum):
    """Response Status Code of a PoR; reserved codes survive as RESERVED_xx."""

    POR_OK = 0x00
    RC_CC_DS_FAILED = 0x01
    CNTR_LOW = 0x02
    CNTR_HIGH = 0x03
    CNTR_BLOCKED = 0x04
    CIPHERING_ERROR = 0x05
    UNIDENTIFIED_SECURITY_ERROR = 0x06
    INSUFFICIENT_MEMORY = 0x07
    MORE_TIME = 0x08
    TAR_UNKNOWN = 0x09
    INSUFFICIENT_SECURITY_LEVEL = 0x0A
    RESPONSE_VIA_SMS_SUBMIT = 0x0B  # TS 31.115: the actual response follows in an SMS-SUBMIT
    RESPONSE_VIA_USSD = 0x0C  # TS 31.115: the actual response follows in a ProcessUnstructuredSS-Request


class Rejection(Exception):
    """Mixin of every error a receiving entity turns into a PoR: `por_status` says which.

    `header` is the clear part of the rejected command when it was readable (the receiving entity sets it), and
    `cntr` its counter when it could be deciphered; both are what an error PoR echoes.
    """

    por_status: PorStatus
    header: CommandHeader | None = None
    cntr: int | None = None


class ChecksumFailed(Rejection, BadMac):
    por_status = PorStatus.RC_CC_DS_FAILED


class RedundancyCheckFailed(Rejection, BadChecksum):
    por_status = PorStatus.RC_CC_DS_FAILED


class CounterLow(Rejection, IntegrityError):
    por_status = PorStatus.CNTR_LOW


class CounterHigh(Rejection, IntegrityError):
    por_status = PorStatus.CNTR_HIGH


class CounterBlocked(Rejection, IntegrityError):
    por_status = PorStatus.CNTR_BLOCKED


class CipheringError(Rejection, IntegrityError):
    por_status = PorStatus.CIPHERING_ERROR


class UnidentifiedSecurityError(Rejection, IntegrityError):
    """No such key set, or a key that does not fit the algorithm the KIc/KID names."""

    por_status = PorStatus.UNIDENTIFIED_SECURITY_ERROR


class UnsupportedSecurity(Rejection, UnsupportedError):
    """A well-formed request for security mcim does not implement (DS, implicit or proprietary algorithms)."""

    por_status = PorStatus.UNIDENTIFIED_SECURITY_ERROR


class TarUnknown(Rejection, BadInput):
    por_status = PorStatus.TAR_UNKNOWN


class InsufficientSecurity(Rejection, IntegrityError):
    por_status = PorStatus.INSUFFICIENT_SECURITY_LEVEL


class PorMismatch(IntegrityError):
    """A verified PoR that answers another command (TAR or counter echo differs), or claims success without the
    security the SPI asked for."""
