"""Property tests of the ISD: a protected command with any one byte changed is refused and changes nothing (the Le
byte excepted: GP Amendment D leaves it outside the C-MAC), and any command the ISD receives gets a well-formed
answer, never 6F00, and changes nothing when refused."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcim.apdu import CommandApdu
from mcim.gp.ccm import (
    InstallForInstall,
    InstallForPersonalization,
    KeyType,
    NewKey,
    PutKeyCommand,
    StatusType,
    StoreDataStructure,
    delete_key,
    get_data,
    get_status,
    set_status,
    store_data_commands,
)
from mcim.gp.install_params import InstallParameters
from mcim.gp.registry import StatusSubset
from mcim.refcard import RefCard, card_from_profile

from .isd_helpers import USIM_LOAD_FILE, USIM_MODULE, GpTerminal, h

BASE = card_from_profile().to_state()
LEVELS = [0x01, 0x03, 0x11, 0x13, 0x31, 0x33]
NEW_USIM = h("A0000000871002FFFFFFFF8907090004")


def commands(dek: bytes) -> list[CommandApdu]:
    """Commands of every kind the ISD takes, each of which it would accept."""
    return [
        get_status(StatusSubset.ISD), get_status(StatusSubset.APPLICATIONS, tlv=False), get_data(0x66),
        set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x07),
        PutKeyCommand(0x31, tuple(NewKey(KeyType.AES, bytes((i,)) * 16) for i in (1, 2, 3))).to_apdu(dek),
        delete_key(kvn=0x30, kid=3),
        InstallForInstall(USIM_LOAD_FILE, USIM_MODULE, NEW_USIM, install_parameters=InstallParameters(
            b"\x80\x10" + bytes(16))).to_apdu(),
        InstallForPersonalization(h("A0000000871002FFFFFFFF8907090000")).to_apdu(),
        store_data_commands(b"\x42\x02\x12\x34", structure=StoreDataStructure.BER_TLV)[0],
    ]


def fresh() -> GpTerminal:
    return GpTerminal(RefCard.load(copy.deepcopy(BASE)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 8), st.sampled_from(LEVELS), st.integers(0, 1 << 16), st.integers(1, 255))
def test_a_wrapped_command_with_one_changed_byte_is_refused(which, level, where, mask):
    term = fresh()
    host = term.open_scp03(level=level)
    plain = commands(host.keys.dek)[which]
    wrapped = bytearray(host.wrap(plain.to_bytes()))
    protected = len(wrapped) - (1 if plain.le is not None else 0)  # the trailing Le is not MACed
    wrapped[where % protected] ^= mask
    before = term.state()
    response = term.card.process(bytes(wrapped))
    sw = int.from_bytes(response[-2:], "big")
    assert sw != 0x9000 and sw >> 8 not in (0x61, 0x63, 0x6F), f"{bytes(wrapped).hex()} -> {sw:04X}"
    assert term.state() == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 8), st.sampled_from(LEVELS))
def test_the_same_commands_unchanged_are_accepted(which, level):
    term = fresh()
    host = term.open_scp03(level=level)
    assert term.secured(commands(host.keys.dek)[which])[1] == 0x9000


INS = [0x50, 0x82, 0xCA, 0xD8, 0xE2, 0xE4, 0xE6, 0xE8, 0xF0, 0xF2]


@st.composite
def isd_commands(draw) -> bytes:
    cla = draw(st.sampled_from([0x80, 0x84, 0x00, 0x81, 0xC0]))
    ins = draw(st.sampled_from(INS) | st.integers(0, 255))
    p1 = draw(st.sampled_from([0x00, 0x02, 0x04, 0x08, 0x0C, 0x10, 0x20, 0x30, 0x40, 0x80, 0x88]) | st.integers(0, 255))
    p2 = draw(st.sampled_from([0x00, 0x01, 0x02, 0x03, 0x07, 0x0F, 0x80]) | st.integers(0, 255))
    data = draw(st.binary(max_size=60) | st.sampled_from([h("4F00"), h("4F00") + h("5C014F"), h("D20130")]))
    le = draw(st.none() | st.integers(0, 255))
    body = bytes((cla, ins, p1, p2)) + (bytes((len(data),)) + data if data else b"")
    return body + (b"" if le is None else bytes((le,)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(isd_commands(), min_size=1, max_size=8))
def test_any_command_gets_an_answer_and_refusals_change_nothing(sequence):
    card = RefCard.load(copy.deepcopy(BASE))
    for raw in sequence:
        before = card.to_state()
        sw = int.from_bytes(card.process(raw)[-2:], "big")
        assert sw != 0x6F00, raw.hex()
        if sw != 0x9000 and sw >> 8 not in (0x61, 0x63):
            assert card.to_state() == before, f"{raw.hex()} -> {sw:04X} changed the card"
