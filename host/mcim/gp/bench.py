"""Throughput of the SCP03 hot path: a host and an in-memory card exchange protected STORE DATA commands."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from ..errors import BadInput
from .keys import StaticKeys
from .scp03 import Scp03Card, Scp03Host

# STORE DATA, last block, block 0, 16 bytes of data (GP Card Spec v2.3 §11.11).
STORE_DATA = bytes.fromhex("80E2800010") + bytes(range(16))
BENCH_SD_AID = bytes.fromhex("A000000151000000")  # GP ISD AID


def open_pair(level: int, *, key_length: int = 16, s16: bool = False,
              random: Callable[[int], bytes] = os.urandom) -> tuple[Scp03Host, Scp03Card]:
    """A host and a card sharing a fresh random key set, with an SCP03 session open at `level`."""
    keys = StaticKeys(0x30, random(key_length), random(key_length), random(key_length))
    card = Scp03Card(keys, sd_aid=BENCH_SD_AID, s16=s16, random=random)
    host = Scp03Host(keys, sd_aid=BENCH_SD_AID, s16=s16, random=random)
    host.process_initialize_update_response(card.initialize_update(host.initialize_update()))
    host.process_external_authenticate_response(card.external_authenticate(host.external_authenticate(level)))
    return host, card


def bench_scp03(count: int, level: int, *, key_length: int = 16, s16: bool = False,
                clock: Callable[[], float] = time.perf_counter) -> dict:
    """Round trips per second: host wrap, card unwrap, card wraps the 9000 response, host unwraps it."""
    if count < 1:
        raise BadInput(f"count {count}", where="bench scp03", expected="at least 1")
    host, card = open_pair(level, key_length=key_length, s16=s16)
    wrap, unwrap_command, wrap_response, unwrap = host.wrap, card.unwrap_command, card.wrap_response, host.unwrap
    start = clock()
    for _ in range(count):
        unwrap_command(wrap(STORE_DATA))
        unwrap(wrap_response(b"", 0x9000))
    elapsed = clock() - start
    return {"apdus_per_second": count / elapsed if elapsed > 0 else float("inf"), "count": count,
            "seconds": elapsed, "level": f"{level:02x}", "key_bits": key_length * 8, "s16": s16}
