"""The ISD's secure channels: SCP03 (GP Amendment D) at every security level, S8 and S16, AES-128/192/256, and
SCP02 (GP v2.3 Appendix E), driven by the host library; the pySim card traces (recorded from a real eUICC) as
known answers for the card side; and every refusal with the status word GP gives, the session closed where GP
closes it, and the card state unchanged."""

from __future__ import annotations

import pytest
from mcim.apdu import CommandApdu
from mcim.gp.ccm import StatusType, get_data, get_status, set_status
from mcim.gp.keys import KeyAlgorithm, StaticKeys
from mcim.gp.registry import StatusSubset
from mcim.gp.scp03 import ChannelState, Scp03Host
from mcim.refcard import card_from_profile

from tests.conftest import load_vectors

from .isd_helpers import ISD_AID, TRANSPORT_KEYS, GpTerminal, h, key_set_spec, profile

SCP03 = load_vectors()["scp03"]
ISD_R_AID = "A0000005591010FFFFFFFF8900000100"  # GSMA SGP.02: the eUICC the pySim traces come from
LEVELS = (0x00, 0x01, 0x03, 0x11, 0x13, 0x31, 0x33)
GET_STATUS_ISD = get_status(StatusSubset.ISD)


def pysim_keys(name: str) -> StaticKeys:
    ks = SCP03["pysim_keysets"][name]
    return StaticKeys(int(ks["kvn"], 16), h(ks["enc"]), h(ks["mac"]), h(ks["dek"]))


def trace_card(trace: dict) -> GpTerminal:
    """A card set up as the traced eUICC: its key set, its ISD AID, the counter the trace's challenge used."""
    counter = int(trace["parsed_init_update_rsp"]["sequence_counter"], 16)
    keys = pysim_keys(trace["keyset"])
    return GpTerminal(card_from_profile(profile(aid=ISD_R_AID, kdd="00" * 10,
                                                key_sets=[key_set_spec(keys, counter)])))


def open_trace_session(term: GpTerminal, trace: dict) -> None:
    assert term.exchange(h(trace["init_update_cmd"])) == (h(trace["init_update_rsp"]), 0x9000)
    assert term.exchange(h(trace["ext_auth_cmd"])) == (b"", 0x9000)


@pytest.mark.parametrize("trace", SCP03["pysim_card_traces"], ids=lambda t: t["name"])
def test_pysim_traces_card_answers_like_the_recorded_card(trace):
    # pySim tests/unittests/test_globalplatform.py: one session, the commands in this order.  The card must give
    # the recorded INITIALIZE UPDATE response and accept every recorded command's C-MAC (and C-DECRYPTION).
    term = trace_card(trace)
    open_trace_session(term, trace)
    for name in ("get_eid_cmd", "case_1", "case_2", "case_3", "case_4"):
        sw = term.exchange(h(trace[name]))[1]
        assert sw != 0x6982, f"{name}: C-MAC refused"
        assert sw == 0x9000 or sw >> 8 == 0x6A  # GET DATA/GET STATUS answer; eUICC-only data is not found here


def test_pysim_trace_with_one_changed_byte_is_refused():
    trace = SCP03["pysim_card_traces"][0]
    term = trace_card(trace)
    open_trace_session(term, trace)
    tampered = bytearray(h(trace["case_4"]))
    tampered[6] ^= 0x01
    assert term.exchange(bytes(tampered))[1] == 0x6982


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("length", [16, 24, 32])
def test_scp03_levels_and_key_lengths(level, length):
    keys = StaticKeys(0x31, bytes(range(length)), bytes(range(1, length + 1)), bytes(range(2, length + 2)))
    term = GpTerminal(card_from_profile(profile(key_sets=[key_set_spec(keys)])))
    term.open_scp03(keys, level)
    assert term.secured_ok(get_data(0x66))[:1] == b"\x66"
    assert term.secured_ok(GET_STATUS_ISD)[:1] == b"\xe3"
    assert term.secured(get_data(0x42))[1] == 0x6A88  # an error status word comes back bare (no R-MAC)
    assert term.secured_ok(get_data(0xE0))[:1] == b"\xe0"  # the chain goes on after an error


@pytest.mark.parametrize("level", [0x01, 0x33])
def test_scp03_s16(level):
    term = GpTerminal(card_from_profile(profile(scp03={"i": "70", "s16": True})))
    host = term.open_scp03(level=level, s16=True)
    assert host.card is not None and len(host.card.card_challenge) == 16
    assert term.secured_ok(GET_STATUS_ISD)[:1] == b"\xe3"


def test_scp03_s8_card_refuses_an_s16_challenge():
    term = GpTerminal()
    assert term.sw("8050300010" + "11" * 16 + "00") == 0x6700


@pytest.mark.parametrize("level", [0x00, 0x01, 0x03, 0x11, 0x13])
def test_scp02(level):
    keys = StaticKeys(0x20, h("404142434445464748494A4B4C4D4E4F"), h("505152535455565758595A5B5C5D5E5F"),
                      h("606162636465666768696A6B6C6D6E6F"), KeyAlgorithm.DES3)
    term = GpTerminal(card_from_profile(profile(key_sets=[key_set_spec(keys)], scp02={"i": "75"})))
    term.open_scp02(keys, level, options=0x75)
    assert term.secured_ok(GET_STATUS_ISD)[:1] == b"\xe3"
    assert term.secured_ok(get_data(0x66))[:1] == b"\x66"


def test_initialize_update_counts_and_the_counter_is_kept():
    term = GpTerminal()
    first = term.open_scp03()
    second = term.open_scp03()
    assert first.card is not None and second.card is not None
    assert second.card.sequence_counter == first.card.sequence_counter + 1
    assert term.card.to_state()["adfs"][1]["app"]["key_sets"][0]["sequence_counter"] == 2
    term.card.reset()
    assert term.ok("80CA00C100") == h("C103000002")  # GET DATA 'C1': the counter of the next session


def test_wrong_kvn_is_6a88_and_changes_nothing():
    term = GpTerminal()
    before = term.state()
    assert term.sw("8050420008" + "11" * 8 + "00") == 0x6A88
    assert term.sw("8050010008" + "11" * 8 + "00") == 0x6A88  # SCP80 key sets are not secure channel keys
    assert term.state() == before


def test_wrong_host_cryptogram_is_6300_and_closes_the_session():
    term = GpTerminal()
    host = Scp03Host(TRANSPORT_KEYS, sd_aid=ISD_AID)
    host.process_initialize_update_response(term.t0.transmit(host.initialize_update()))
    host.host_cryptogram = bytes(8)
    before = term.state()
    assert term.exchange(host.external_authenticate(0x01)) == (b"", 0x6300)
    assert term.exchange(h("84F280020A4F00") + bytes(8) + b"\x00")[1] == 0x6982  # no session any more
    assert term.state() == before


def test_wrong_external_authenticate_mac_is_6982():
    term = GpTerminal()
    host = Scp03Host(TRANSPORT_KEYS, sd_aid=ISD_AID)
    host.process_initialize_update_response(term.t0.transmit(host.initialize_update()))
    command = bytearray(host.external_authenticate(0x01))
    command[-1] ^= 0x80
    assert term.exchange(bytes(command))[1] == 0x6982
    assert term.exchange(h("84F280020A4F00") + bytes(8) + b"\x00")[1] == 0x6982  # no session


def test_external_authenticate_without_initialize_update_is_6985():
    term = GpTerminal()
    assert term.sw("8482010010" + "00" * 16) == 0x6985


def test_level_the_card_does_not_offer_is_refused():
    term = GpTerminal(card_from_profile(profile(scp03={"i": "10"})))  # no R-MAC, no R-ENC
    host = Scp03Host(TRANSPORT_KEYS, sd_aid=ISD_AID)
    host.process_initialize_update_response(term.t0.transmit(host.initialize_update()))
    object.__setattr__(host.card, "options", 0x70)  # make the host believe the card offers R-MAC
    assert term.exchange(host.external_authenticate(0x11))[1] == 0x6A86


@pytest.mark.parametrize("where", ["header", "data", "mac"])
def test_tampered_command_is_6982_changes_nothing_and_ends_the_session(where):
    term = GpTerminal()
    host = term.open_scp03(level=0x03)
    command = bytearray(host.wrap(set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x07).to_bytes()))
    command[{"header": 2, "data": 5, "mac": -1}[where]] ^= 0x01
    before = term.state()
    assert term.exchange(bytes(command))[1] == 0x6982
    assert term.state() == before
    host2 = Scp03Host(TRANSPORT_KEYS, sd_aid=ISD_AID)  # a fresh session works again
    term.host = host2
    host2.process_initialize_update_response(term.t0.transmit(host2.initialize_update()))
    host2.process_external_authenticate_response(term.t0.transmit(host2.external_authenticate(0x01)))
    assert term.secured_ok(GET_STATUS_ISD)


def test_replayed_and_reordered_commands_are_6982():
    term = GpTerminal()
    host = term.open_scp03(level=0x01)
    first = host.wrap(GET_STATUS_ISD.to_bytes())
    host.unwrap(term.t0.transmit(first))
    before = term.state()
    assert term.exchange(first)[1] == 0x6982  # replay
    assert term.state() == before
    host = term.open_scp03(level=0x01)
    one = host.wrap(GET_STATUS_ISD.to_bytes())
    host.unwrap(b"\x90\x00")
    two = host.wrap(get_data(0x66).to_bytes())
    assert term.exchange(two)[1] == 0x6982  # out of order
    assert term.exchange(one)[1] == 0x6982  # and the session is gone


def test_plain_command_inside_a_maced_session_is_6982_and_closes_it():
    term = GpTerminal()
    host = term.open_scp03(level=0x01)
    assert term.sw("80F28002024F0000") == 0x6982
    assert term.exchange(host.wrap(GET_STATUS_ISD.to_bytes()))[1] == 0x6982


def test_secured_command_without_a_session_is_6982():
    term = GpTerminal()
    assert term.sw("84F280020A4F00" + "00" * 8 + "00") == 0x6982


def test_reset_and_selection_end_the_session():
    term = GpTerminal()
    host = term.open_scp03(level=0x01)
    term.card.reset()
    assert term.exchange(host.wrap(GET_STATUS_ISD.to_bytes()))[1] == 0x6982
    host = term.open_scp03(level=0x01)
    term.select_isd()  # selecting (again) starts the application without a session
    assert term.exchange(host.wrap(GET_STATUS_ISD.to_bytes()))[1] == 0x6982


def test_a_session_per_logical_channel():
    term = GpTerminal()
    assert term.ok("0070000001") == b"\x01"
    term.ok(f"01A40400 08 {ISD_AID.hex()} 00")
    on_one = term.open_scp03(level=0x01, channel=1)
    assert term.secured_ok(GET_STATUS_ISD.on_channel(1))[:1] == b"\xe3"
    assert on_one.state is ChannelState.OPEN
    term.open_scp03(level=0x01)  # channel 0 (the ISD is its default selection): its own session
    assert term.secured_ok(GET_STATUS_ISD)[:1] == b"\xe3"
    assert term.exchange(on_one.wrap(get_data(0x66).on_channel(1).to_bytes()))[1] >> 8 in (0x61, 0x90)


def test_non_default_isd_must_be_selected():
    term = GpTerminal(card_from_profile(profile(default_selected=False)))
    assert term.sw("80CA006600") == 0x6D00
    term.select_isd()
    assert term.ok("80CA006600")[:1] == b"\x66"
    assert term.sw(CommandApdu(0x80, 0xF2, 0x00, 0x00, le=256).to_bytes().hex()) >> 8 in (0x61, 0x6C, 0x90)
