"""Milenage in Java (the MCIM on jCardSim, through pcscd) against the host's mcim.aka, on random inputs.

A second MCIM instance is personalised with a random K, OPc and random operator constants (rotations that are
not whole bytes included, TS 35.206 §4.1 allows any); hypothesis then draws RAND, SQN and AMF.  The host's
SqnManager (TS 33.102 Annex C, the card's default policy: 5 IND bits, delta 2^28, no age limit) says whether the
card must accept the SQN: then RES, CK, IK and Kc must equal the host's vector; otherwise the card must ask for
resynchronisation with an AUTS the host verifies and whose SQN_MS is the highest SQN accepted so far.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcim.aka.auth import generate_vector, verify_auts
from mcim.aka.milenage import Milenage, MilenageConstants
from mcim.aka.sqn import SqnManager
from mcim.perso import McimPersonalisation
from mcim.transport.jcardsim import MCIM_CLASS, TAG_PERSO_KEY, AppletInstance

from .conftest import start_jcardsim

pytestmark = pytest.mark.pcsc

OTHER_MCIM_AID = bytes.fromhex("A0000000871002FF4D43494D00000002")
OK = b"\x90\x00"


@pytest.fixture(scope="module")
def subscriber(pcscd, applet_build):
    """(card, host Milenage, host SQN model) for a second MCIM with random keys and constants."""
    rng = random.Random(35206)
    perso_key = rng.randbytes(16)
    k, opc = rng.randbytes(16), rng.randbytes(16)
    constants = MilenageConstants(*(rng.randbytes(16) for _ in range(5)), *(rng.randrange(128) for _ in range(5)))
    extra = AppletInstance(OTHER_MCIM_AID, MCIM_CLASS, bytes([TAG_PERSO_KEY, 16]) + perso_key)
    running = start_jcardsim(pcscd, applet_build, extra_applets=(extra,))
    card = running.card
    try:
        assert card.transmit(bytes([0x00, 0xA4, 0x04, 0x0C, 16]) + OTHER_MCIM_AID) == OK
        subscription = McimPersonalisation(((0x6F38, bytes.fromhex("9eff1f9c")),), k, opc, milenage=constants)
        for command in subscription.commands(perso_key):
            assert card.transmit(command.to_bytes()) == OK
        yield card, Milenage(k, opc, constants), SqnManager()
    finally:
        card.stop()


@settings(max_examples=40, deadline=None, derandomize=True)
@given(rand=st.binary(min_size=16, max_size=16), seq=st.integers(0, 48), ind=st.integers(0, 31),
       amf=st.binary(min_size=2, max_size=2))
def test_java_and_host_milenage_agree(subscriber, rand, seq, ind, amf):
    card, milenage, model = subscriber
    sqn = seq << 5 | ind
    vector = generate_vector(milenage, rand, sqn.to_bytes(6, "big"), amf)
    response = card.transmit(bytes.fromhex("0088008122") + b"\x10" + rand + b"\x10" + vector.autn + b"\x00")
    if model.is_fresh(sqn):
        model.accept(sqn)
        expected = b"\xdb\x08" + vector.xres + b"\x10" + vector.ck + b"\x10" + vector.ik + b"\x08" + vector.kc
        assert response == expected + OK
    else:
        assert response[:2] == b"\xdc\x0e" and response[-2:] == OK and len(response) == 18
        assert verify_auts(milenage, rand, response[2:16]) == model.sqn_ms()


def test_gsm_context_agrees_with_host(subscriber):
    card, milenage, _model = subscriber
    rand = bytes(range(16))
    vector = generate_vector(milenage, rand, bytes(6), b"\x00\x00")
    response = card.transmit(bytes.fromhex("0088008011") + b"\x10" + rand + b"\x00")
    assert response == b"\x04" + vector.sres + b"\x08" + vector.kc + OK
