"""measure_round_trips over the in-process echo card, with an injected clock."""

import pytest
from mcim.cards.echo import EchoCard
from mcim.errors import BadInput, ExpectationFailed
from mcim.transport.bench import measure_round_trips
from mcim.transport.inprocess import InProcessTransport


def test_counts_round_trips_against_the_clock():
    ticks = iter([10.0, 12.5])
    result = measure_round_trips(InProcessTransport(EchoCard()), bytes.fromhex("0070000000"), 5,
                                 expect_sw=0x6D00, clock=lambda: next(ticks))
    assert (result.count, result.seconds, result.per_second) == (5, 2.5, 2.0)


def test_an_unexpected_status_word_stops_the_measurement():
    with pytest.raises(ExpectationFailed, match="SW 6985 in round trip 0"):
        measure_round_trips(InProcessTransport(EchoCard()), bytes.fromhex("00ca0000"))


def test_count_must_be_positive():
    with pytest.raises(BadInput):
        measure_round_trips(InProcessTransport(EchoCard()), bytes.fromhex("00ca0000"), 0)
