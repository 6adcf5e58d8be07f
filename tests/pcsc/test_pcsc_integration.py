"""PcscTransport through a real pcscd, the real vpcd driver and pyscard, against the echo card (no mocks).

Expected bytes: the ATR is the sysmoUSIM-GR1 entry of pcsc-tools' smartcard_list.txt (Ludovic Rousseau), which
the echo card copies; status words are ISO/IEC 7816-4 §5.6; the FCI layout ('6F' around '84' DF name) is
ISO/IEC 7816-4 §5.3.3.
"""

import threading
import time

import pytest
from mcim.cards.echo import ECHO_AID, EchoCard
from mcim.errors import CardTimeout, TransportError
from mcim.transport import Transport
from mcim.transport.pcsc import PcscTransport, list_readers
from mcim.transport.t0 import T0Layer

pytestmark = pytest.mark.pcsc

SYSMOUSIM_GR1_ATR = "3b9f95801fc78031e073fe21135712291102010000c2"
SELECT = bytes.fromhex("00a404000a") + ECHO_AID
FCI = bytes.fromhex("6f0c840a") + ECHO_AID


def h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.fixture
def card(echo_reader):
    """The echo card with its application selected."""
    with PcscTransport(echo_reader) as transport:
        assert transport.transmit(SELECT).hex() == "9000"
        yield transport


def test_lists_both_vpcd_slots(pcscd):
    assert {pcscd.reader(0), pcscd.reader(1)} <= set(list_readers())


def test_atr_and_protocol(echo_reader):
    with PcscTransport(echo_reader) as transport:
        assert isinstance(transport, Transport)
        assert transport.atr.hex() == SYSMOUSIM_GR1_ATR
        assert transport.protocol == "T=0"  # TD1 '80': T=0 is the only protocol offered


def test_select_unknown_aid(echo_reader):
    with PcscTransport(echo_reader) as transport:
        assert transport.transmit(h("00a4040005a000000087")).hex() == "6a82"


def test_case_1_and_unknown_instruction(card):
    assert card.transmit(h("00ca0000")).hex() == "9000"
    assert card.transmit(h("00fe0000")).hex() == "6d00"


def test_case_3_then_case_2_echoes(card):
    assert card.transmit(h("00ca000003010203")).hex() == "9000"
    assert card.transmit(h("00ca000003")).hex() == "0102039000"
    assert card.transmit(h("00ca000000")).hex() == "6c03"  # Le 256 is not the length: T=0 '6Cxx'


def test_case_4_leaves_61xx_at_the_raw_transport(card):
    assert card.transmit(h("00ca000003aabbcc00")).hex() == "6103"
    assert card.transmit(h("00c0000002")).hex() == "aabb6101"
    assert card.transmit(h("00c0000001")).hex() == "cc9000"


def test_t0_layer_over_pcsc_collects_the_response(card):
    assert T0Layer(card).transmit(h("00ca000003aabbcc00")).hex() == "aabbcc9000"


def test_select_with_le_returns_fci_via_get_response(echo_reader):
    with PcscTransport(echo_reader) as transport:
        assert transport.transmit(SELECT + b"\x00").hex() == f"61{len(FCI):02x}"
        assert transport.transmit(bytes((0x00, 0xC0, 0x00, 0x00, len(FCI)))) == FCI + h("9000")


def test_warm_reset_returns_atr_and_forgets_selection(card):
    assert card.reset().hex() == SYSMOUSIM_GR1_ATR
    assert card.transmit(h("00ca0000")).hex() == "6985"


def test_reader_by_index_and_by_substring(pcscd, echo_reader):
    index = list_readers().index(echo_reader)
    for wanted in (index, str(index), "VPCD 00 00", echo_reader):
        with PcscTransport(wanted) as transport:
            assert transport.reader == echo_reader


def test_unknown_reader_lists_the_available_ones(pcscd):
    with pytest.raises(TransportError) as caught:
        PcscTransport("no such reader")
    assert pcscd.reader(0) in str(caught.value) and pcscd.reader(1) in str(caught.value)
    assert caught.value.exit_code == 3


def test_ambiguous_reader_is_refused(pcscd):
    with pytest.raises(TransportError, match="several readers"):
        PcscTransport("mcim vpcd")


def test_empty_slot_says_no_card(spare_slot):
    with pytest.raises(TransportError, match="no card"):
        PcscTransport(spare_slot.reader)


def test_card_removed_while_connected(spare_slot):
    virtual = spare_slot.insert(EchoCard())
    with PcscTransport(spare_slot.reader) as transport:
        virtual.remove()
        with pytest.raises(TransportError):
            transport.transmit(h("00ca0000"))


class StallingCard(EchoCard):
    """An echo card that stops answering at INS 'EE' until released (as a jCardSim hit by a bad APDU does)."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()

    def process(self, command: bytes) -> bytes:
        if command[1:2] == b"\xee":
            self.released.wait()
        return super().process(command)


def test_card_that_stops_answering_times_out(spare_slot):
    stalling = StallingCard()
    spare_slot.insert(stalling)
    transport = PcscTransport(spare_slot.reader, timeout=1.0)
    try:
        with pytest.raises(CardTimeout, match="no answer within 1 s"):
            transport.transmit(h("00ee0000"))
        with pytest.raises(TransportError, match="stopped answering earlier"):
            transport.transmit(h("00ca0000"))
        transport.close()  # returns at once although the abandoned call is still blocked
    finally:
        stalling.released.set()
    with connect_when_free(spare_slot.reader) as again:
        assert again.transmit(SELECT).hex() == "9000"


def connect_when_free(reader: str) -> PcscTransport:
    """The late answer unblocks pcscd and the abandoned call, which then releases its exclusive hold."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return PcscTransport(reader)
        except TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_closed_transport_refuses_and_closes_twice(echo_reader):
    transport = PcscTransport(echo_reader)
    transport.close()
    transport.close()
    with pytest.raises(TransportError, match="closed"):
        transport.transmit(SELECT)
