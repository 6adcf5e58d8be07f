"""Flipping any protected bit is detected; the hand-coded hot paths agree with the construct definitions;
the packet and PoR decoders answer any bytes with a typed result or an mcim error."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcim.errors import McimError
from mcim.ota.errors import PorStatus
from mcim.ota.keys import KeySets, OtaContext, OtaKeys
from mcim.ota.packet import (
    GENERIC_COMMAND_PACKET,
    SMS_COMMAND_PACKET,
    CommandBuilder,
    CommandHeader,
    Framing,
    open_command_packet,
    parse_command_header,
    parse_unverified,
)
from mcim.ota.por import PorVerifier, build_response_packet, parse_response_packet
from mcim.ota.receiver import ReceivingEntity, TarPolicy
from mcim.ota.spi import Algorithm, KeyRef, Spi

TAR = bytes.fromhex("b00011")
SETUPS = {
    "aes": (Algorithm.AES, Algorithm.AES, 16, 16),
    "3des": (Algorithm.TDES2, Algorithm.TDES2, 16, 16),
    "3des3-crc32": (Algorithm.TDES3, Algorithm.CRC32, 24, 0),
    "aes-crc16": (Algorithm.AES, Algorithm.CRC16, 32, 0),
}


def _ctx(name: str, spi: str = "1639") -> OtaContext:
    cipher, check, kic_len, kid_len = SETUPS[name]
    kid = KeyRef.for_rc(1, check) if check in (Algorithm.CRC16, Algorithm.CRC32) else KeyRef.for_cc(1, check)
    if kid_len == 0:
        spi = f"{int(spi, 16) & 0xFCF3 | 0x0104:04x}"  # RC instead of CC, in both directions
    keys = OtaKeys(bytes(range(1, kic_len + 1)), bytes(range(2, kid_len + 2)) if kid_len else None)
    return OtaContext(Spi.from_hex(spi), KeyRef.for_cipher(1, cipher), kid, TAR, keys)


CONTEXTS = {name: _ctx(name) for name in SETUPS}


def _card(ctx: OtaContext, framing: Framing) -> ReceivingEntity:
    return ReceivingEntity(KeySets({1: ctx.keys}), {TAR: TarPolicy()}, framing=framing)


@pytest.mark.parametrize("name", list(SETUPS))
@pytest.mark.parametrize("framing", list(Framing), ids=lambda f: f.value)
def test_every_single_bit_flip_of_a_command_is_detected(name: str, framing: Framing) -> None:
    ctx = CONTEXTS[name]
    packet = CommandBuilder(ctx, framing).build(9, bytes.fromhex("00a4000c026f07") + bytes.fromhex("00b0000009"))
    assert _card(ctx, framing).receive(packet).cntr == 9
    for bit in range(len(packet) * 8):
        tampered = bytearray(packet)
        tampered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(McimError):
            _card(ctx, framing).receive(bytes(tampered))


@pytest.mark.parametrize("name", list(SETUPS))
@pytest.mark.parametrize("framing", list(Framing), ids=lambda f: f.value)
def test_every_single_bit_flip_of_a_por_is_detected(name: str, framing: Framing) -> None:
    ctx = CONTEXTS[name]
    header = CommandHeader(ctx.spi, ctx.kic, ctx.kid, TAR, 8, framing)
    por = build_response_packet(header, ctx.keys, 9, PorStatus.POR_OK, b"\x02\x90\x00")
    verifier = PorVerifier(ctx, framing)
    assert verifier.verify(por, 9).data == b"\x02\x90\x00"
    for bit in range(len(por) * 8):
        tampered = bytearray(por)
        tampered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(McimError):
            verifier.verify(bytes(tampered), 9)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SETUPS)), data=st.binary(max_size=300), cntr=st.integers(0, (1 << 40) - 1),
       position=st.integers(0, 10_000), mask=st.integers(1, 255), framing=st.sampled_from(list(Framing)))
def test_any_corruption_of_a_command_is_detected(name: str, data: bytes, cntr: int, position: int, mask: int,
                                                 framing: Framing) -> None:
    ctx = CONTEXTS[name]
    packet = bytearray(CommandBuilder(ctx, framing).build(cntr, data))
    packet[position % len(packet)] ^= mask
    with pytest.raises(McimError):
        open_command_packet(bytes(packet), ctx.keys, framing)


@settings(max_examples=150)
@given(name=st.sampled_from(sorted(SETUPS)), data=st.binary(max_size=300), cntr=st.integers(0, (1 << 40) - 1),
       status=st.integers(0, 255), position=st.integers(0, 10_000), mask=st.integers(1, 255),
       framing=st.sampled_from(list(Framing)))
def test_any_corruption_of_a_por_is_detected(name: str, data: bytes, cntr: int, status: int, position: int,
                                             mask: int, framing: Framing) -> None:
    ctx = CONTEXTS[name]
    header = CommandHeader(ctx.spi, ctx.kic, ctx.kid, TAR, 8, framing)
    por = bytearray(build_response_packet(header, ctx.keys, cntr, PorStatus(status), data))
    assert PorVerifier(ctx, framing).verify(bytes(por), cntr).data == data
    por[position % len(por)] ^= mask
    with pytest.raises(McimError):
        PorVerifier(ctx, framing).verify(bytes(por), cntr)


@settings(max_examples=200)
@given(spi=st.binary(min_size=2, max_size=2), kic=st.integers(0, 255), kid=st.integers(0, 255),
       tar=st.binary(min_size=3, max_size=3), cntr=st.integers(0, (1 << 40) - 1), data=st.binary(max_size=300),
       framing=st.sampled_from(list(Framing)))
def test_builder_agrees_with_construct_definition(spi: bytes, kic: int, kid: int, tar: bytes, cntr: int,
                                                  data: bytes, framing: Framing) -> None:
    # Unciphered, unchecked packets: the hand-coded builder's bytes are the construct build of the same fields.
    parsed_spi = Spi.from_bytes(bytes((spi[0] & 0xF8, spi[1])))
    ctx = OtaContext(parsed_spi, KeyRef.from_byte(kic), KeyRef.from_byte(kid), tar)
    built = CommandBuilder(ctx, framing).build(cntr, data)
    fields = {"header": {"spi": parsed_spi, "kic": ctx.kic, "kid": ctx.kid, "tar": tar, "cntr": cntr, "pcntr": 0,
                         "checksum": b""}, "data": data}
    if framing is Framing.SMS:
        assert built == SMS_COMMAND_PACKET.build(fields)
    else:
        assert built == GENERIC_COMMAND_PACKET.build({"body": fields})
    assert parse_command_header(built, framing).tar == tar


@settings(max_examples=100)
@given(name=st.sampled_from(sorted(SETUPS)), data=st.binary(max_size=300), cntr=st.integers(0, (1 << 40) - 1),
       status=st.integers(0, 255), framing=st.sampled_from(list(Framing)))
def test_verifier_agrees_with_construct_parse(name: str, data: bytes, cntr: int, status: int,
                                              framing: Framing) -> None:
    ctx = CONTEXTS[name]
    header = CommandHeader(ctx.spi, ctx.kic, ctx.kid, TAR, 8, framing)
    por = build_response_packet(header, ctx.keys, cntr, PorStatus(status), data)
    fast = PorVerifier(ctx, framing).verify(por, cntr)
    slow = parse_response_packet(por, ctx, framing)
    assert (fast.tar, fast.cntr, fast.status, fast.checksum, fast.data, fast.padding, fast.ciphered) == \
        (slow.tar, slow.cntr, slow.status, slow.checksum, slow.data, slow.padding, slow.ciphered)


def _typed_or_mcim_error(*decoders: object) -> None:
    for decode in decoders:
        try:
            decode()  # type: ignore[operator]
        except McimError:
            pass


@settings(max_examples=300)
@given(raw=st.binary(max_size=200), framing=st.sampled_from(list(Framing)))
def test_packet_decoders_accept_any_bytes(raw: bytes, framing: Framing) -> None:
    ctx = CONTEXTS["aes"]
    _typed_or_mcim_error(lambda: parse_command_header(raw, framing), lambda: parse_unverified(raw, framing),
                         lambda: open_command_packet(raw, ctx.keys, framing), lambda: _card(ctx, framing).receive(raw),
                         lambda: PorVerifier(ctx, framing).verify(raw),
                         lambda: parse_response_packet(raw, ctx, framing))


@settings(max_examples=200)
@given(tail=st.binary(max_size=120), head=st.sampled_from([b"\x15\x16\x39\x12\x12", b"\x0d\x00\x01\x12\x12",
                                                            b"\x15\x02\x00\x12\x12"]))
def test_packet_decoders_accept_well_framed_garbage(tail: bytes, head: bytes) -> None:
    # Plausible headers with random bodies reach the deeper checks.
    ctx = CONTEXTS["aes"]
    packet = (len(head) + 3 + len(tail)).to_bytes(2, "big") + head + TAR + tail
    por = b"\x02\x71\x00" + (1 + len(tail)).to_bytes(2, "big") + bytes((len(tail) % 32,)) + tail
    _typed_or_mcim_error(lambda: _card(ctx, Framing.SMS).receive(packet), lambda: PorVerifier(ctx).verify(por),
                         lambda: parse_response_packet(por, ctx))


def test_key_material_is_not_in_reprs() -> None:
    keys = OtaKeys(os.urandom(16), os.urandom(16))
    assert keys.kic.hex() not in repr(keys) and keys.kid.hex() not in repr(OtaContext(Spi(), KeyRef(1, 2),
                                                                                      KeyRef(1, 2), TAR, keys))
