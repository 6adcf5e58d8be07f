"""One exception root for the whole library.

Every error says *where* (a file:line:column, a field name, a byte offset) and *what was expected*, so that the
command line can print one clear line.  The CLI maps the classes below to exit codes (see `exit_code`).
"""

from __future__ import annotations


class McimError(Exception):
    """Root of every error mcim raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, expected: str | None = None) -> None:
        self.message = message
        self.where = where
        self.expected = expected
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.expected:
            text += f" (expected {self.expected})"
        return text


class BadInput(McimError):
    """Malformed input: hex, TLV, APDU, script, CAP, PoR, profile, key file, command-line value. Exit 2."""


class DecodeError(BadInput):
    """Bytes that do not parse as the structure they claim to be."""


class IntegrityError(McimError):
    """A cryptographic check failed. Never a returned bool: always raised from a `verify_*`. Exit 1."""

    exit_code = 1


class BadCryptogram(IntegrityError):
    """A card or host authentication cryptogram did not verify."""


class BadMac(IntegrityError):
    """A C-MAC/R-MAC or cryptographic checksum (CC) did not verify."""


class BadChecksum(IntegrityError):
    """A redundancy check (CRC) did not verify."""


class StateError(McimError):
    """An operation that is not legal in the current state (e.g. wrapping before a channel is open). Exit 2."""


class UnsupportedError(BadInput):
    """A well-formed request for something mcim deliberately does not implement (e.g. TS 102 225 DS)."""


class ExpectationFailed(McimError):
    """A script or check expectation did not hold. Exit 1."""

    exit_code = 1


class TransportError(McimError):
    """Card or reader unreachable, card stopped answering, reader unknown. Exit 3."""

    exit_code = 3


class CardTimeout(TransportError):
    """The card did not answer within the transport's timeout."""
