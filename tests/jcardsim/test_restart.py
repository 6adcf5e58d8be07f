"""A command jCardSim cannot parse gets no answer (its IO loop swallows the exception): the launcher's timeout
turns that into CardTimeout, restarts jCardSim and re-creates the applets, unpersonalised."""

from __future__ import annotations

import pytest
from mcim.errors import CardTimeout
from mcim.transport.jcardsim import MCIM_AID

pytestmark = pytest.mark.pcsc

OK = b"\x90\x00"
SELECT_MCIM = bytes([0x00, 0xA4, 0x04, 0x0C, len(MCIM_AID)]) + MCIM_AID


def test_a_hung_jcardsim_is_restarted(jcardsim):
    card = jcardsim.card
    assert card.transmit(SELECT_MCIM) == OK
    with pytest.raises(CardTimeout, match="restarted"):
        card.transmit(bytes.fromhex("80E201010301"))  # Lc 03 with one data byte: jCardSim never answers
    assert card.restarts == 1 and card.running
    assert card.transmit(SELECT_MCIM) == OK
    # A fresh, unpersonalised MCIM: AUTHENTICATE is refused with 6985.
    assert card.transmit(bytes.fromhex("0088008122") + b"\x10" + bytes(16) + b"\x10" + bytes(16)).hex() == "6985"


def test_stop_is_clean_and_idempotent(jcardsim):
    card = jcardsim.card
    card.stop()
    assert not card.running
    card.stop()
    card.start()
    assert card.transmit(SELECT_MCIM) == OK
