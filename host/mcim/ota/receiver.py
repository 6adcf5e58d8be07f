"""A receiving entity (RE): what a UICC does with a command packet before running its secured data.

Order of checks: clear header, TAR known (09), minimum security level of the TAR (0A), key set and
algorithms (06), deciphering (05), RC/CC (01), counter (02/03/04; TS 102 225 §5.1.1 SPI1 b5b4).  The counter is
updated only once the packet is fully verified.  Error PoRs for failures found before the RC/CC was checked go
out without security (the RE cannot trust the keys the packet names); counter failures go out secured as the
SPI asks, since by then the packet is known to be authentic.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, MutableMapping
from dataclasses import dataclass, field
from enum import Enum

from .errors import (
    CounterBlocked,
    CounterHigh,
    CounterLow,
    InsufficientSecurity,
    PorStatus,
    Rejection,
    TarUnknown,
)
from .keys import KeyLookup
from .packet import MAX_CNTR, CommandHeader, CommandPacket, Framing, open_command_packet
from .por import build_response_packet
from .spi import SPI_FORMAT, CounterMode, Integrity, PorRequest, Spi


@dataclass(frozen=True, slots=True)
class MinimumSecurityLevel:
    """The MSL of a TAR: the least SPI1 a command must carry (TS 102 226 §8.2.1.3.2.4, "minimum SPI1").

    A command satisfies it with at least this integrity (none < RC < CC < DS), ciphering if required, and at
    least this counter mode (in the order of the SPI1 coding).  This ordering is our reading, not checked against
    the spec text (DIGEST §4.4 tags the MSL coding [M]; onomondo only knows the masks 00 and 06).
    """

    integrity: Integrity = Integrity.NONE
    ciphered: bool = False
    counter: CounterMode = CounterMode.NONE

    @classmethod
    def from_spi1(cls, spi1: int) -> MinimumSecurityLevel:
        c = SPI_FORMAT.parse(bytes((spi1, 0)))
        return cls(Integrity(c.integrity), c.ciphered, CounterMode(c.counter))

    def satisfied_by(self, spi: Spi) -> bool:
        return spi.integrity >= self.integrity and (spi.ciphered or not self.ciphered) \
            and spi.counter >= self.counter


class CounterPer(Enum):
    KEY_SET = "key set"  # one counter per KVN (of the KID key, or of the KIc key without integrity)
    TAR = "tar"  # one counter per TAR


@dataclass(frozen=True, slots=True)
class TarPolicy:
    msl: MinimumSecurityLevel = MinimumSecurityLevel()
    counter_per: CounterPer = CounterPer.KEY_SET


@dataclass
class ReceivingEntity:
    """Opens command packets and builds PoRs as a UICC does.

    `keys` answers by (KVN = KIc/KID key index, key identifier); `tars` lists the TARs served with their
    policy; `counters` holds the RE counters (any mutable mapping, e.g. one persisted by the card model);
    `max_counter_step`, when set, makes a "higher" counter more than that far ahead CNTR high (03).
    """

    keys: KeyLookup
    tars: Mapping[bytes, TarPolicy]
    counters: MutableMapping[Hashable, int] = field(default_factory=dict)
    framing: Framing = Framing.SMS
    max_counter_step: int | None = None
    cc_length: int = 8

    def receive(self, packet: bytes) -> CommandPacket:
        """The verified command packet, or a raised Rejection (its `por_status`, `header` and `cntr` say what
        PoR to send), or DecodeError for a packet that cannot be read at all (no PoR is possible)."""
        try:
            command = open_command_packet(packet, self.keys, self.framing, admit=self._admit)
        except Rejection as exc:
            if exc.cntr is None and exc.header is not None and not exc.header.spi.ciphered:
                exc.cntr = _clear_cntr(packet, self.framing)
            raise
        try:
            self._check_counter(command, self.tars[command.header.tar])
        except Rejection as exc:
            exc.header = command.header
            raise
        return command

    def por(self, command: CommandPacket, data: bytes = b"", status: PorStatus = PorStatus.POR_OK) -> bytes | None:
        """The PoR for an executed command, or None when its SPI asks for none."""
        if not _wants_por(command.header.spi, status):
            return None
        return build_response_packet(command.header, self.keys, command.cntr, status, data,
                                     cc_length=self.cc_length)

    def error_por(self, error: Rejection) -> bytes | None:
        """The PoR for a rejected command, or None when its SPI asks for none or its header was unreadable."""
        if error.header is None or not _wants_por(error.header.spi, error.por_status):
            return None
        authentic = isinstance(error, (CounterLow, CounterHigh, CounterBlocked))
        return build_response_packet(error.header, self.keys, error.cntr or 0, error.por_status,
                                     secured=authentic, cc_length=self.cc_length)

    def _admit(self, header: CommandHeader) -> None:
        policy = self.tars.get(header.tar)
        if policy is None:
            raise TarUnknown(f"TAR {header.tar.hex()} is not served here", where="TAR",
                             expected=", ".join(sorted(t.hex() for t in self.tars)) or "a known TAR")
        if not policy.msl.satisfied_by(header.spi):
            raise InsufficientSecurity(f"SPI {header.spi.to_bytes().hex()} is below the TAR's minimum",
                                       where="SPI1", expected=_describe_msl(policy.msl))

    def _check_counter(self, command: CommandPacket, policy: TarPolicy) -> None:
        mode = command.header.spi.counter
        if mode in (CounterMode.NONE, CounterMode.NO_CHECK):
            return
        key = self._counter_key(command.header, policy)
        stored = self.counters.get(key, 0)
        cntr = command.cntr
        expected = f"SPI counter mode {mode.name.lower()}"
        if stored >= MAX_CNTR:
            raise _echoing(CounterBlocked("the counter has reached its maximum", where="CNTR", expected=expected), cntr)
        if cntr <= stored:
            raise _echoing(CounterLow(f"CNTR {cntr:010x} is not above {stored:010x}", where="CNTR",
                                      expected=expected), cntr)
        if mode is CounterMode.ONE_HIGHER and cntr != stored + 1:
            raise _echoing(CounterHigh(f"CNTR {cntr:010x} is not exactly {stored + 1:010x}", where="CNTR",
                                       expected=expected), cntr)
        if self.max_counter_step is not None and cntr - stored > self.max_counter_step:
            raise _echoing(CounterHigh(f"CNTR {cntr:010x} is more than {self.max_counter_step} above "
                                       f"{stored:010x}", where="CNTR", expected=expected), cntr)
        self.counters[key] = cntr

    @staticmethod
    def _counter_key(header: CommandHeader, policy: TarPolicy) -> Hashable:
        if policy.counter_per is CounterPer.TAR:
            return ("tar", header.tar)
        ref = header.kid if header.spi.integrity is not Integrity.NONE else header.kic
        return ("kvn", ref.index)


def _clear_cntr(packet: bytes, framing: Framing) -> int | None:
    """The counter of an unciphered SMS command packet (CPL 2, CHL 1, SPI 2, KIc, KID, TAR 3, then CNTR 5;
    TS 31.115 §4.2), so that an error PoR echoes it as every PoR does (DIGEST §1.5)."""
    if framing is not Framing.SMS or len(packet) < 15:
        return None
    return int.from_bytes(packet[10:15], "big")


def _echoing(error: Rejection, cntr: int) -> Rejection:
    error.cntr = cntr
    return error


def _wants_por(spi: Spi, status: PorStatus) -> bool:
    """SPI2 b2b1: 01 always, 10 on error only; 00 and the reserved 11 get no PoR."""
    if spi.por is PorRequest.ALWAYS:
        return True
    return spi.por is PorRequest.ON_ERROR and status is not PorStatus.POR_OK


def _describe_msl(msl: MinimumSecurityLevel) -> str:
    return f"integrity >= {msl.integrity.name}" + (", ciphering" if msl.ciphered else "") + \
        f", counter >= {msl.counter.name.lower()}"
