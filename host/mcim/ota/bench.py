"""Throughput of the OTA hot paths on one core: command packets built and PoRs verified per second.

The workload: SPI 1639 (cipher + CC + counter higher; PoR required, CC, ciphered, via SMS-SUBMIT), a two-command
RFM script (SELECT EF + UPDATE BINARY) that fits one SMS, counters reserved from a real counter store, fresh
random keys.  Figures for AES-128 and for 3DES 2-key.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from .counters import CounterScope, CounterStore
from .errors import PorStatus
from .keys import OtaContext, OtaKeys
from .packet import CommandBuilder, CommandHeader
from .por import PorVerifier, build_response_packet
from .remote import ADF_RFM_TAR, encode_compact
from .spi import Algorithm, KeyRef, Spi

_SCRIPT = [bytes.fromhex("00a4000c026f07"), bytes.fromhex("00d6000009") + bytes(range(9))]
_SPI = Spi.from_hex("1639")


def _context(algorithm: Algorithm) -> OtaContext:
    keys = OtaKeys(os.urandom(16), os.urandom(16))
    return OtaContext(_SPI, KeyRef.for_cipher(1, algorithm), KeyRef.for_cc(1, algorithm), ADF_RFM_TAR, keys)


def _rates(algorithm: Algorithm, counters: range) -> tuple[float, float]:
    ctx = _context(algorithm)
    script = encode_compact(_SCRIPT)
    builder = CommandBuilder(ctx)
    start = time.perf_counter()
    for cntr in counters:
        builder.build(cntr, script)
    built = time.perf_counter() - start

    header = CommandHeader(ctx.spi, ctx.kic, ctx.kid, ctx.tar, ctx.cc_length)
    pors = [build_response_packet(header, ctx.keys, cntr, PorStatus.POR_OK, b"\x02\x90\x00") for cntr in counters]
    verifier = PorVerifier(ctx)
    start = time.perf_counter()
    for cntr, por in zip(counters, pors, strict=True):
        verifier.verify(por, cntr)
    verified = time.perf_counter() - start
    return len(counters) / built, len(counters) / verified


def bench_ota(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, CounterStore(Path(tmp) / "counters.db") as store:
        aes = store.allocate_block(CounterScope("bench-card", 1), count)
        tdes = store.allocate_block(CounterScope("bench-card", 2), count)
    packets, pors = _rates(Algorithm.AES, aes)
    tdes_packets, tdes_pors = _rates(Algorithm.TDES2, tdes)
    return {"packets_per_second": packets, "por_per_second": pors, "tdes_packets_per_second": tdes_packets,
            "tdes_por_per_second": tdes_pors, "count": float(count)}
