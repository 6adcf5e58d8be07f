"""SCP02: public vectors (the vectors file has none for SCP02), host and card side; round trips and tampering
for i = 15/55 and their R-MAC and unmodified-APDU variants; the state machine; parsers fed arbitrary bytes.

Known answers:
- pySim `tests/unittests/test_globalplatform.py` (osmocom/pysim@078ac2b), classes SCP02_Auth_Test, SCP02_Test
  (C-MAC of the four APDU cases) and PutKey_PSK_Test (PSK_CIPHERED: 16 bytes under the session DEK); a sysmocom
  card that answers INITIALIZE UPDATE with KVN 70 whatever was asked.
- GlobalPlatformPro `TestPlaintextKeys` (martinpaljak/GlobalPlatformPro@7f524e3): testSessionKeys_SCP02 and
  testKeyEncryption_SCP02 (static keys 4041..4F, sequence counter 0000).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcim.errors import (
    BadCryptogram,
    BadInput,
    BadMac,
    DecodeError,
    IntegrityError,
    McimError,
    StateError,
    UnsupportedError,
)
from mcim.gp.keys import KeyAlgorithm, StaticKeys, kcv
from mcim.gp.scp02 import (
    Scp02Card,
    Scp02Host,
    Scp02InitializeUpdateResponse,
    derive_session_keys,
    pseudo_random_card_challenge,
)
from mcim.gp.scp03 import ChannelState

h = bytes.fromhex
PYSIM_KEYS = StaticKeys(0x20, h("100102030405060708090a0b0c0d0e0f"), h("101102030405060708090a0b0c0d0e0f"),
                        h("102102030405060708090a0b0c0d0e0f"), KeyAlgorithm.DES3)
HOST_CHALLENGE = h("40A62C37FA6304F8")
INIT_UPDATE = h("805020000840A62C37FA6304F800")
INIT_UPDATE_RESPONSE = h("00000000000000000000700200016B4524ABEE7CF32EA3838BC148F3")
EXT_AUTH = h("8482010010BA6961667737C5BCEBECE14C7D6A4376")
MACED = [("80F22002", "84F220020814DB34FA4341DCA8"),
         ("80ca006600", "84CA00660855ED7C5FF069512B00"),
         ("80F220020a4f0212345c054f9f70c5", "84F22002124F0212345C054F9F70C58FC1B380C4228AF8"),
         ("80f28002024f0000", "84F280020A4F003B95F09317DE6A4E00")]
GP_ISD_AID = h("A000000151000000")
CLA_BITS = [0x04, 0x08, 0x10, 0x20, 0x40, 0x80]


@pytest.mark.parametrize("options", [0x15, 0x55])
def test_pysim_host_side(options):
    host = Scp02Host(PYSIM_KEYS, options=options)
    assert host.initialize_update(HOST_CHALLENGE) == INIT_UPDATE
    card = host.process_initialize_update_response(INIT_UPDATE_RESPONSE + b"\x90\x00")
    assert (card.kvn, card.sequence_counter, card.card_challenge) == (0x70, 1, h("6B4524ABEE7C"))
    assert host.external_authenticate(0x01) == EXT_AUTH
    host.process_external_authenticate_response(b"\x90\x00")
    assert [host.wrap(h(plain)) for plain, _ in MACED] == [h(wrapped) for _, wrapped in MACED]
    # PutKey_PSK_Test: PSK 3031..3F under the session DEK of this session.
    assert host.dek_encrypt(h("303132333435363738393a3b3c3d3e3f")) == h("15abf1fe16ccc5aa13743394442942cd")


def test_pysim_card_side():
    keys = StaticKeys(0x70, PYSIM_KEYS.enc, PYSIM_KEYS.mac, PYSIM_KEYS.dek, KeyAlgorithm.DES3)
    card = Scp02Card(keys, sd_aid=GP_ISD_AID, sequence_counter=1, options=0x15, random=lambda n: h("6B4524ABEE7C"))
    # P1 00 = "first available key set": this card's KVN is 70.
    assert card.initialize_update(INIT_UPDATE[:2] + b"\x00" + INIT_UPDATE[3:]) == INIT_UPDATE_RESPONSE + b"\x90\x00"
    assert card.external_authenticate(EXT_AUTH) == b"\x90\x00"
    assert [card.unwrap_command(h(wrapped)) for _, wrapped in MACED] == [h(plain) for plain, _ in MACED]


def test_pysim_wrong_card_cryptogram():
    host = Scp02Host(PYSIM_KEYS)
    host.initialize_update(HOST_CHALLENGE)
    with pytest.raises(BadCryptogram):
        host.process_initialize_update_response(INIT_UPDATE_RESPONSE[:-1] + b"\xff\x90\x00")
    assert host.state is ChannelState.CLOSED


def test_globalplatformpro_session_keys_and_key_encryption():
    key = h("404142434445464748494A4B4C4D4E4F")
    keys = StaticKeys(0x20, key, key, key, KeyAlgorithm.DES3)
    session = derive_session_keys(keys, 0x0000)
    assert [kcv(k, KeyAlgorithm.DES3).hex() for k in (session.enc, session.mac, session.dek, session.rmac)] == \
        ["f2dcdd", "5fcc69", "85272e", "9f749a"]
    card = Scp02Card(keys, sd_aid=GP_ISD_AID, sequence_counter=0)
    host = Scp02Host(keys)
    host.process_initialize_update_response(card.initialize_update(host.initialize_update()))
    assert host.dek_encrypt(key) == h("EFBEE6C6D99D7B70BDE9D7E927F020AF")
    assert card.dek_decrypt(h("EFBEE6C6D99D7B70BDE9D7E927F020AF")) == key


def open_pair(level: int, options: int = 0x55) -> tuple[Scp02Host, Scp02Card]:
    keys = StaticKeys(0x20, os.urandom(16), os.urandom(16), os.urandom(16), KeyAlgorithm.DES3)
    card = Scp02Card(keys, sd_aid=GP_ISD_AID, sequence_counter=0x1234, options=options)
    host = Scp02Host(keys, sd_aid=GP_ISD_AID, options=options)
    host.process_initialize_update_response(card.initialize_update(host.initialize_update()))
    host.process_external_authenticate_response(card.external_authenticate(host.external_authenticate(level)))
    return host, card


PAIRS = [(i, level) for i in (0x15, 0x55, 0x17, 0x35, 0x75, 0x77) for level in (0x00, 0x01, 0x03, 0x11, 0x13)
         if not level & 0x10 or i & 0x20]
commands = st.builds(
    lambda ins, data, le: bytes((0x80, ins, 0x00, 0x00)) + (bytes((len(data),)) + data if data else b"")
    + (b"\x00" if le else b""),
    st.sampled_from([0xE2, 0xF2, 0xCA, 0xD8]), st.binary(max_size=160), st.booleans())


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PAIRS), st.lists(st.tuples(commands, st.binary(max_size=100),
                                                   st.sampled_from([0x9000, 0x6A82])), max_size=4))
def test_round_trip(pair, exchanges):
    options, level = pair
    host, card = open_pair(level, options)
    for command, data, sw in exchanges:
        assert card.unwrap_command(host.wrap(command)) == command
        assert host.unwrap(card.wrap_response(data, sw)) == (data, sw, bool(level & 0x10))


def _flip(raw: bytes, position: int, mask: int) -> bytes:
    return raw[:position] + bytes((raw[position] ^ mask,)) + raw[position + 1:]


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([p for p in PAIRS if p[1]]), commands, st.data())
def test_tampered_command_is_detected(pair, command, data):
    host, card = open_pair(pair[1], pair[0])
    wrapped = host.wrap(command)
    covered = len(wrapped) - (1 if wrapped[4] + 5 < len(wrapped) else 0)  # Le is outside the C-MAC
    position = data.draw(st.integers(0, covered - 1))
    mask = data.draw(st.sampled_from(CLA_BITS if position == 0 else [0x01, 0x80, 0xFF]))
    with pytest.raises((IntegrityError, DecodeError)):
        card.unwrap_command(_flip(wrapped, position, mask))


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([p for p in PAIRS if p[1] & 0x10]), st.binary(max_size=40), st.data())
def test_tampered_response_is_detected(pair, payload, data):
    host, card = open_pair(pair[1], pair[0])
    card.unwrap_command(host.wrap(h("80CA006600")))
    response = card.wrap_response(payload, 0x9000)
    position = data.draw(st.integers(0, len(response) - 1))
    with pytest.raises(BadMac):
        host.unwrap(_flip(response, position, data.draw(st.sampled_from([0x01, 0x40, 0xFF]))))


def test_pseudo_random_card_challenge_is_checked():
    keys = StaticKeys(0x20, os.urandom(16), os.urandom(16), os.urandom(16), KeyAlgorithm.DES3)
    card = Scp02Card(keys, sd_aid=GP_ISD_AID, sequence_counter=9)
    picky = Scp02Host(keys, sd_aid=h("A000000151000001"))  # expects the challenges of another AID
    response = card.initialize_update(picky.initialize_update())
    assert response[14:20] == pseudo_random_card_challenge(derive_session_keys(keys, 9), GP_ISD_AID)
    with pytest.raises(BadCryptogram, match="pseudo-random card challenge"):
        picky.process_initialize_update_response(response)


@pytest.mark.parametrize("options", [0x0A, 0x1A, 0x14, 0x51, 0x5D, 0xD5])
def test_unsupported_i_values(options):
    with pytest.raises(UnsupportedError):
        Scp02Host(PYSIM_KEYS, options=options)


@pytest.mark.parametrize(("options", "level"), [(0x55, 0x11), (0x55, 0x33), (0x55, 0x02), (0x75, 0x31)])
def test_levels_refused(options, level):
    with pytest.raises(BadInput):
        open_pair(level, options)


def test_illegal_operations_raise_state_error_and_change_nothing():
    host, card = open_pair(0x01)
    chain = host.mac_chaining_value
    for call in (host.initialize_update, lambda: host.unwrap(b"\x90\x00"), lambda: host.external_authenticate(1),
                 lambda: card.wrap_response(b"", 0x9000), lambda: card.external_authenticate(b"")):
        with pytest.raises(StateError):
            call()
    assert host.state is ChannelState.OPEN and card.state is ChannelState.OPEN and host.mac_chaining_value == chain
    with pytest.raises(BadInput):  # SCP02 is 3DES only
        Scp02Host(StaticKeys(0x20, bytes(16), bytes(16), bytes(16), KeyAlgorithm.AES))


def test_initialize_update_response_round_trip():
    assert Scp02InitializeUpdateResponse.parse(INIT_UPDATE_RESPONSE).to_bytes() == INIT_UPDATE_RESPONSE


@given(st.binary(max_size=40))
def test_parsers_fed_arbitrary_bytes(data):
    try:
        assert isinstance(Scp02InitializeUpdateResponse.parse(data), Scp02InitializeUpdateResponse)
    except DecodeError:
        pass
    host, card = open_pair(0x13, 0x75)
    for step in (card.unwrap_command, card.initialize_update):
        try:
            assert isinstance(step(data), bytes)
        except McimError:
            pass
    host.wrap(h("80CA006600"))
    try:
        assert host.unwrap(data).verified
    except McimError:
        pass
    fresh = Scp02Card(PYSIM_KEYS, sd_aid=GP_ISD_AID)
    fresh.initialize_update(Scp02Host(PYSIM_KEYS).initialize_update())
    try:
        assert fresh.external_authenticate(data) == b"\x90\x00"
    except McimError:
        pass
