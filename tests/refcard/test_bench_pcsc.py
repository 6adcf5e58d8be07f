"""READ BINARY round trips over pcscd + vpcd with the reference UICC, to compare with the echo card's round trips
(tests/pcsc/test_bench_pcsc.py, same harness, same kind of thread serving the card): a benchmark, reported, never
asserted.  Issue 5 asks that the card's own processing add no more than 20% to a trivial card's round trip."""

import pytest
from mcim.refcard import card_from_profile
from mcim.transport.bench import measure_round_trips
from mcim.transport.pcsc import PcscTransport

from .helpers import PIN1, USIM_AID, h

pytestmark = pytest.mark.pcsc


def test_bench_read_binary_over_pcsc(benchmark, spare_slot):
    spare_slot.insert(card_from_profile())
    with PcscTransport(spare_slot.reader) as transport:
        for apdu in (f"00A4040C10{USIM_AID}", f"0020000108{PIN1}", "00A4000C026F07"):
            assert transport.transmit(h(apdu))[-2:] == b"\x90\x00"
        benchmark.pedantic(measure_round_trips, args=(transport, h("00B0000009"), 1), rounds=2000, warmup_rounds=50)
