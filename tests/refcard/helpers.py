"""Drive the reference UICC in tests: raw exchanges (to see T=0 procedure bytes) or through the host's T=0
layer (the way a PC/SC application sees a card)."""

from __future__ import annotations

from mcim.refcard import RefCard, card_from_profile
from mcim.transport.inprocess import InProcessTransport
from mcim.transport.t0 import T0Layer

USIM_AID = "A0000000871002FFFFFFFF8907090000"
PIN1 = "31323334FFFFFFFF"  # "1234", the test profile's PIN1
PUK1 = "3132333435363738"
PIN2 = "35363738FFFFFFFF"  # "5678", local PIN 81
ADM1 = "3838383838383838"  # "88888888"


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


class Terminal:
    def __init__(self, card: RefCard | None = None) -> None:
        self.card = card or card_from_profile()
        self.t0 = T0Layer(InProcessTransport(self.card))

    def raw(self, apdu: str) -> tuple[bytes, int]:
        response = self.card.process(h(apdu))
        return response[:-2], int.from_bytes(response[-2:], "big")

    def send(self, apdu: str) -> tuple[bytes, int]:
        """Through the T=0 layer: 61xx and 6Cxx are followed up as a reader driver would."""
        response = self.t0.transmit(h(apdu))
        return response[:-2], int.from_bytes(response[-2:], "big")

    def sw(self, apdu: str) -> int:
        return self.send(apdu)[1]

    def ok(self, apdu: str) -> bytes:
        data, sw = self.send(apdu)
        assert sw == 0x9000, f"{apdu} -> {sw:04X}"
        return data

    def select_usim(self) -> bytes:
        return self.ok(f"00A40404 10 {USIM_AID}")

    def verify_pin1(self) -> None:
        self.ok(f"00200001 08 {PIN1}")

    def verify_adm1(self) -> None:
        self.ok(f"0020000A 08 {ADM1}")
