"""EchoCard in-process: the ISO/IEC 7816-4 behaviour the PC/SC tests rely on (status words from §5.6)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcim.cards.echo import ECHO_AID, EchoCard
from mcim.transport.inprocess import InProcessTransport

SELECT = bytes.fromhex("00a404000a") + ECHO_AID


@pytest.fixture
def card():
    transport = InProcessTransport(EchoCard())
    assert transport.transmit(SELECT).hex() == "9000"
    return transport


def answer(transport, command_hex: str) -> str:
    return transport.transmit(bytes.fromhex(command_hex)).hex()


def test_echo_needs_the_application_selected():
    assert answer(InProcessTransport(EchoCard()), "00ca0000") == "6985"


@pytest.mark.parametrize(("command", "sw"), [
    ("ffca0000", "6e00"),  # class 'FF' is not a command class (ISO/IEC 7816-3 PPS)
    ("00ca", "6700"),  # shorter than a header
    ("00ca000005aabb", "6700"),  # Lc says 5, 2 bytes follow
    ("00ca00000000020102", "6700"),  # extended length: not on this T=0 card
    ("00a4000002 3f00", "6a86"),  # SELECT by file identifier is not offered
    ("00a4040005 a000000087", "6a82"),
    ("00c0000002", "6985"),  # GET RESPONSE with nothing waiting
    ("00ca000001", "6a88"),  # nothing stored yet
    ("0070000001", "6d00"),
])
def test_status_words(card, command, sw):
    assert answer(card, command.replace(" ", "")) == sw


def test_get_response_checks_its_parameters(card):
    assert answer(card, "00ca000002aabb00") == "6102"
    assert answer(card, "00c0010002") == "6a86"


def test_get_response_asking_for_too_much_gets_exact_length(card):
    assert answer(card, "00ca000002aabb00") == "6102"
    assert answer(card, "00c0000005") == "6c02"
    assert answer(card, "00c0000002") == "aabb9000"


def test_waiting_data_is_lost_on_another_command(card):
    assert answer(card, "00ca000002aabb00") == "6102"
    assert answer(card, "00ca0000") == "9000"
    assert answer(card, "00c0000002") == "6985"


@pytest.mark.parametrize("cycle", ["power", "reset"])
def test_power_cycle_and_reset_forget_everything(cycle):
    card = EchoCard()
    assert card.process(SELECT + bytes.fromhex("00")).hex() == "610e"
    if cycle == "power":
        card.power_off()
        card.power_on()
    else:
        card.reset()
    assert card.process(bytes.fromhex("00c000000e")).hex() == "6985"
    assert card.process(bytes.fromhex("00ca0000")).hex() == "6985"


@given(st.binary(max_size=300))
def test_any_bytes_get_a_status_word(command):
    card = EchoCard()
    card.process(SELECT)
    assert len(card.process(command)) >= 2
