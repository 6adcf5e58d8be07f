"""Round trips per second through a transport: over pcscd + vpcd this is PC/SC's own cost per APDU, the
baseline that host overhead is measured against (DESIGN.md §6)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import BadInput, ExpectationFailed
from .base import Transport


@dataclass(frozen=True)
class RoundTrips:
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("inf")


def measure_round_trips(transport: Transport, command: bytes, count: int = 1000, *, expect_sw: int = 0x9000,
                        clock: Callable[[], float] = time.perf_counter) -> RoundTrips:
    """Send `command` `count` times; every answer must end with `expect_sw`, so errors are not timed as work."""
    if count < 1:
        raise BadInput(f"count {count}", where="round-trip benchmark", expected="at least 1")
    start = clock()
    for i in range(count):
        response = transport.transmit(command)
        if response[-2:] != expect_sw.to_bytes(2, "big"):
            raise ExpectationFailed(f"SW {response[-2:].hex()} in round trip {i}",
                                    where="round-trip benchmark", expected=f"SW {expect_sw:04x}")
    return RoundTrips(count, clock() - start)
