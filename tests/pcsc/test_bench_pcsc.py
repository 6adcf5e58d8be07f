"""Round trips per second over pcscd + vpcd with the echo card: a benchmark, reported, never asserted.

One round is one round trip, so the OPS column of pytest-benchmark's table reads as round trips per second."""

import pytest
from mcim.cards.echo import ECHO_AID
from mcim.transport.bench import measure_round_trips
from mcim.transport.pcsc import PcscTransport

pytestmark = pytest.mark.pcsc

SELECT = bytes.fromhex("00a404000a") + ECHO_AID
CASE_1 = bytes.fromhex("00ca0000")
CASE_4 = bytes.fromhex("00ca000010") + bytes(16) + b"\x00"  # answered '6110': one round trip, no GET RESPONSE


@pytest.mark.parametrize(("command", "sw"), [(CASE_1, 0x9000), (CASE_4, 0x6110)], ids=["case1", "case4"])
def test_bench_round_trips(benchmark, echo_reader, command, sw):
    with PcscTransport(echo_reader) as transport:
        transport.transmit(SELECT)
        benchmark.pedantic(measure_round_trips, args=(transport, command, 1), kwargs={"expect_sw": sw},
                           rounds=2000, warmup_rounds=50)
