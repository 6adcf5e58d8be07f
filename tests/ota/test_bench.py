"""Speed of the OTA hot paths, measured with pytest-benchmark (no timed assertions)."""

from __future__ import annotations

import itertools
import os

import pytest
from mcim.ota.bench import bench_ota
from mcim.ota.errors import PorStatus
from mcim.ota.keys import OtaContext, OtaKeys
from mcim.ota.packet import CommandBuilder, CommandHeader
from mcim.ota.por import PorVerifier, build_response_packet
from mcim.ota.remote import encode_compact
from mcim.ota.spi import Algorithm, KeyRef, Spi

SCRIPT = encode_compact([bytes.fromhex("00a4000c026f07"), bytes.fromhex("00d6000009") + bytes(9)])


def _ctx(algorithm: Algorithm) -> OtaContext:
    return OtaContext(Spi.from_hex("1639"), KeyRef.for_cipher(1, algorithm), KeyRef.for_cc(1, algorithm),
                      bytes.fromhex("b00001"), OtaKeys(os.urandom(16), os.urandom(16)))


@pytest.mark.parametrize("algorithm", [Algorithm.AES, Algorithm.TDES2], ids=lambda a: a.value)
def test_bench_build_command_packet(benchmark, algorithm: Algorithm) -> None:  # type: ignore[no-untyped-def]
    builder = CommandBuilder(_ctx(algorithm))
    counter = itertools.count(1)
    benchmark(lambda: builder.build(next(counter), SCRIPT))


@pytest.mark.parametrize("algorithm", [Algorithm.AES, Algorithm.TDES2], ids=lambda a: a.value)
def test_bench_verify_por(benchmark, algorithm: Algorithm) -> None:  # type: ignore[no-untyped-def]
    ctx = _ctx(algorithm)
    por = build_response_packet(CommandHeader(ctx.spi, ctx.kic, ctx.kid, ctx.tar, 8), ctx.keys, 5,
                                PorStatus.POR_OK, b"\x02\x90\x00")
    verifier = PorVerifier(ctx)
    benchmark(lambda: verifier.verify(por, 5))


def test_bench_ota_reports_rates() -> None:
    result = bench_ota(20)
    assert set(result) == {"packets_per_second", "por_per_second", "tdes_packets_per_second",
                           "tdes_por_per_second", "count"}
    assert all(value > 0 for value in result.values())
