"""SMS TPDUs, user data headers and concatenated packets (3GPP TS 23.040, TS 31.115; DIGEST §2)."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcim.errors import DecodeError, McimError, UnsupportedError
from mcim.ota.cat import SmsPpDownload, parse_envelope
from mcim.ota.counters import FixedCounter
from mcim.ota.keys import KeySets, OtaContext, OtaKeys
from mcim.ota.receiver import ReceivingEntity, TarPolicy
from mcim.ota.sms import (
    COMMAND_PACKET_IEI,
    RESPONSE_PACKET_IEI,
    Address,
    SmsDeliver,
    SmsSubmit,
    packet_user_data,
    parse_sms_deliver,
    parse_sms_submit,
    parse_user_data,
    reassemble,
    scts_from_datetime,
)
from mcim.ota.spi import Algorithm, KeyRef, Spi
from mcim.ota.wrap import OtaWrapper, SmsOptions

TAR = bytes.fromhex("b00001")


def test_single_sms_limit_is_137_bytes() -> None:
    assert packet_user_data(bytes(137)) == [b"\x02\x70\x00" + bytes(137)]
    parts = packet_user_data(bytes(138), reference=7)
    assert len(parts) == 2
    assert parts[0][:8] == bytes.fromhex("0770000003070201")  # IEI 70 and concatenation IE on part 1 only
    assert parts[1][:6] == bytes.fromhex("050003070202")
    assert all(len(part) <= 140 for part in parts)


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize("size", [138, 1000, 5000, 30_000])
def test_concatenated_round_trip_in_any_order(size: int, wide: bool) -> None:
    packet = os.urandom(size)
    parts = packet_user_data(packet, reference=0x1234 if wide else 0x34, wide_reference=wide)
    assert all(len(part) <= 140 for part in parts)
    shuffled = parts[:]
    random.Random(size).shuffle(shuffled)
    joined = reassemble(shuffled)
    assert (joined.iei, joined.packet, joined.parts) == (COMMAND_PACKET_IEI, packet, len(parts))


def test_concatenation_needs_at_most_255_parts() -> None:
    with pytest.raises(DecodeError, match="255"):
        packet_user_data(bytes(134 * 256))


def test_random_reference_by_default() -> None:
    references = {parse_user_data(packet_user_data(bytes(300))[0]).elements[1].data[0] for _ in range(40)}
    assert len(references) > 1


def test_missing_duplicate_and_inconsistent_parts() -> None:
    parts = packet_user_data(os.urandom(600), reference=9)
    with pytest.raises(DecodeError, match=r"part\(s\) 3 of 5 missing"):
        reassemble(parts[:2] + parts[3:])
    with pytest.raises(DecodeError, match="part 2 twice"):
        reassemble(parts + [parts[1]])
    other = packet_user_data(os.urandom(600), reference=10)
    with pytest.raises(DecodeError, match="reference"):
        reassemble(parts[:4] + other[4:])
    with pytest.raises(DecodeError, match="concatenation IE"):
        reassemble(parts[:4] + [b"\x02\x70\x00\x01"])
    with pytest.raises(DecodeError, match="sequence number 6"):
        reassemble(parts[:4] + [parts[4][:5] + b"\x06" + parts[4][6:]])
    without_identifier = parse_user_data(parts[0])
    bare = b"\x05" + without_identifier.elements[1].iei.to_bytes(1, "big") + b"\x03" + \
        without_identifier.elements[1].data + without_identifier.body
    with pytest.raises(DecodeError, match="packet identifier"):
        reassemble([bare, *parts[1:]])
    with pytest.raises(DecodeError):
        reassemble([])


def test_large_packet_through_envelopes_to_the_card() -> None:
    keys = OtaKeys(os.urandom(32), os.urandom(32))
    ctx = OtaContext(Spi.from_hex("1639"), KeyRef.for_cipher(1, Algorithm.AES), KeyRef.for_cc(1, Algorithm.AES),
                     TAR, keys)
    wrapper = OtaWrapper(ctx, FixedCounter(42), SmsOptions(Address.from_digits("4912345", 0x91), wide_reference=True),
                         clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    script = [bytes.fromhex("80e6020014") + os.urandom(20)] + [bytes.fromhex("80e80000ff") + os.urandom(255)] * 12
    wrapped = wrapper.wrap(script)
    assert len(wrapped.envelopes) > 20
    uds = [parse_sms_deliver(parse_envelope(e).tpdu).user_data for e in wrapped.envelopes]
    joined = reassemble(uds[::-1])
    card = ReceivingEntity(KeySets({1: keys}), {TAR: TarPolicy()})
    assert card.receive(joined.packet).secured_data == b"".join(script)
    assert all(len(e) <= 5 + 255 for e in wrapped.envelopes)


def test_sms_deliver_and_submit_round_trip() -> None:
    deliver = SmsDeliver(Address.from_digits("123"), bytes(7), b"\x02\x70\x00abc", loop_prevention=True,
                         status_report=True, reply_path=True)
    assert parse_sms_deliver(deliver.to_bytes()) == deliver
    submit = SmsSubmit(Address.from_digits("0049"), b"\x02\x71\x00xyz", message_reference=3, validity_format=2,
                       validity=b"\xa7", status_report_request=True, reject_duplicates=True)
    assert parse_sms_submit(submit.to_bytes()) == submit
    absolute = SmsSubmit(Address.from_digits("1"), b"", validity_format=3, validity=bytes(7), udhi=False)
    assert parse_sms_submit(absolute.to_bytes()) == absolute


def test_address_digits() -> None:
    address = Address.from_digits("12345")
    assert (address.length, address.bcd.hex(), address.digits) == (5, "2143f5", "12345")
    assert Address.from_digits("*#abc").digits == "*#abc"
    assert Address.from_tlv_value(bytes.fromhex("91214365")).digits == "123456"
    with pytest.raises(DecodeError):
        Address.from_digits("12x")


def test_seven_bit_user_data_is_refused() -> None:
    raw = SmsDeliver(Address.from_digits("1"), bytes(7), b"\x02\x70\x00", dcs=0xF6).to_bytes()
    seven_bit = raw[:5] + b"\x00" + raw[6:]  # DCS (byte 5) 00: GSM 7-bit default alphabet
    with pytest.raises(UnsupportedError, match="DCS 00"):
        parse_sms_deliver(seven_bit)
    assert parse_sms_deliver(raw[:5] + b"\x16" + raw[6:]).dcs == 0x16  # class 2, 8-bit (TS 31.115 alternative)


def test_scts_encoding() -> None:
    # TS 23.040 §9.2.3.11: 2026-01-02 03:04:05 +01:00 -> 62 10 20 30 40 50 40 (TZ = 4 quarter hours)
    plus_one = timezone(timedelta(hours=1))
    assert scts_from_datetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=plus_one)).hex() == "62102030405040"
    minus = timezone(-timedelta(hours=5, minutes=30))  # -22 quarter hours: 22 swapped, sign bit 08 -> 2a
    assert scts_from_datetime(datetime(2026, 12, 31, 23, 59, 59, tzinfo=minus)).hex() == "6221133295952a"
    with pytest.raises(DecodeError):
        scts_from_datetime(datetime(2026, 1, 1))  # noqa: DTZ001


def test_envelope_with_long_tpdu_and_smsc() -> None:
    tpdu = SmsDeliver(Address.from_digits("1234567890"), bytes(7), b"\x02\x70\x00" + bytes(137)).to_bytes()
    envelope = SmsPpDownload(tpdu, Address.from_digits("49170")).envelope()
    assert envelope[5:7] == bytes((0xD1, 0x81))  # BER length above 127 in the 81 xx form
    assert parse_envelope(envelope) == SmsPpDownload(tpdu, Address.from_digits("49170"))


@settings(max_examples=300)
@given(raw=st.binary(max_size=180))
def test_sms_decoders_accept_any_bytes(raw: bytes) -> None:
    for decode in (parse_sms_deliver, parse_sms_submit, parse_user_data, lambda r: reassemble([r]),
                   lambda r: reassemble([r, r])):
        try:
            decode(raw)
        except McimError:
            pass


@settings(max_examples=100)
@given(packet=st.binary(min_size=1, max_size=3000), iei=st.sampled_from([COMMAND_PACKET_IEI, RESPONSE_PACKET_IEI]),
       wide=st.booleans(), reference=st.integers(0, 255), seed=st.integers())
def test_any_packet_survives_segmentation(packet: bytes, iei: int, wide: bool, reference: int, seed: int) -> None:
    parts = packet_user_data(packet, iei, reference=reference, wide_reference=wide)
    random.Random(seed).shuffle(parts)
    joined = reassemble(parts)
    assert (joined.iei, joined.packet) == (iei, packet)
