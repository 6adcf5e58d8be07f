"""T=0 procedure layer (ISO 7816-4 §5.3.4 / TS 102 221 §7.3.1.1) over a scripted card.

The card here is a minimal in-test fake answering from a table: the layer under test is pure protocol logic."""

import pytest
from mcim.errors import TransportError
from mcim.transport.t0 import T0Layer


class TableCard:
    def __init__(self, answers):
        self.answers, self.sent = answers, []

    def transmit(self, command):
        self.sent.append(command.hex())
        return bytes.fromhex(self.answers[command.hex()])

    def reset(self):
        return b""

    def close(self):
        pass


def test_61xx_chains_get_response_on_same_channel():
    card = TableCard({"01a4040002aabb": "6104", "01c0000004": "0102036102", "01c0000002": "04059000"})
    assert T0Layer(card).transmit(bytes.fromhex("01a4040002aabb")).hex() == "01020304059000"


def test_6cxx_reissues_with_exact_le():
    card = TableCard({"00b0000000": "6c05", "00b0000005": "11223344559000"})
    assert T0Layer(card).transmit(bytes.fromhex("00b0000000")).hex() == "11223344559000"


def test_9fxx_gsm_class():
    card = TableCard({"a0a40000023f00": "9f16", "a0c0000016": "00" * 22 + "9000"})
    assert T0Layer(card).transmit(bytes.fromhex("a0a40000023f00")).endswith(b"\x90\x00")


def test_91xx_is_surfaced():
    card = TableCard({"80c2000001aa": "913f"})
    assert T0Layer(card).transmit(bytes.fromhex("80c2000001aa")).hex() == "913f"


def test_endless_61xx_is_a_transport_error():
    card = TableCard({"00ca006600": "6101", "00c0000001": "006101"})
    with pytest.raises(TransportError):
        T0Layer(card).transmit(bytes.fromhex("00ca006600"))
