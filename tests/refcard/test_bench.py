"""READ BINARY round trips through the in-process transport (target: at least 20,000 per second)."""

from __future__ import annotations

from mcim.refcard import card_from_profile
from mcim.transport.inprocess import InProcessTransport

from .helpers import PIN1, USIM_AID, h

READ_IMSI = h("00B0000009")


def test_benchmark_read_binary_round_trip(benchmark):
    transport = InProcessTransport(card_from_profile())
    for apdu in (f"00A4040C10{USIM_AID}", f"0020000108{PIN1}", "00A4000C026F07"):
        assert transport.transmit(h(apdu))[-2:] == b"\x90\x00"
    response = benchmark(transport.transmit, READ_IMSI)
    assert response[-2:] == b"\x90\x00" and len(response) == 11
