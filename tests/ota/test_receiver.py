"""The receiving entity's refusals and their PoR status codes, and how the host reads error PoRs."""

from __future__ import annotations

import os

import pytest
from mcim.errors import BadMac, DecodeError, UnsupportedError
from mcim.ota.errors import (
    ChecksumFailed,
    CipheringError,
    CounterBlocked,
    CounterHigh,
    CounterLow,
    InsufficientSecurity,
    PorMismatch,
    PorStatus,
    RedundancyCheckFailed,
    Rejection,
    TarUnknown,
    UnidentifiedSecurityError,
    UnsupportedSecurity,
)
from mcim.ota.keys import KeySets, OtaContext, OtaKeys
from mcim.ota.packet import MAX_CNTR, CommandBuilder, CommandHeader, build_command_packet
from mcim.ota.por import PorIntegrity, PorVerifier, build_response_packet
from mcim.ota.receiver import CounterPer, MinimumSecurityLevel, ReceivingEntity, TarPolicy
from mcim.ota.spi import Algorithm, CounterMode, Integrity, KeyRef, PorRequest, Spi

TAR = bytes.fromhex("b00001")
KEYS = OtaKeys(os.urandom(16), os.urandom(16))
SCRIPT = bytes.fromhex("00a4000c023f00")


def _ctx(spi: str = "1639", keys: OtaKeys = KEYS, tar: bytes = TAR, kid: KeyRef | None = None) -> OtaContext:
    return OtaContext(Spi.from_hex(spi), KeyRef.for_cipher(1, Algorithm.AES),
                      kid or KeyRef.for_cc(1, Algorithm.AES), tar, keys)


def _card(**kwargs: object) -> ReceivingEntity:
    return ReceivingEntity(KeySets({1: KEYS}), {TAR: TarPolicy()}, **kwargs)  # type: ignore[arg-type]


def _rejected(card: ReceivingEntity, packet: bytes, error: type[Rejection]) -> Rejection:
    with pytest.raises(error) as info:
        card.receive(packet)
    assert info.value.header is not None
    return info.value


def test_status_codes_of_rejections() -> None:
    codes = {ChecksumFailed: 0x01, RedundancyCheckFailed: 0x01, CounterLow: 0x02, CounterHigh: 0x03,
             CounterBlocked: 0x04, CipheringError: 0x05, UnidentifiedSecurityError: 0x06, UnsupportedSecurity: 0x06,
             TarUnknown: 0x09, InsufficientSecurity: 0x0A}
    assert {cls: int(cls.por_status) for cls in codes} == codes


def test_unknown_status_codes_survive() -> None:
    assert PorStatus(0x0B).name == "RESPONSE_VIA_SMS_SUBMIT"
    assert PorStatus(0x42).name == "RESERVED_42" and PorStatus(0x42) == 0x42


def test_tar_unknown() -> None:
    packet = build_command_packet(_ctx(tar=b"\xb0\x00\x02"), 1, SCRIPT)
    error = _rejected(_card(), packet, TarUnknown)
    por = _card().error_por(error)
    result = PorVerifier(_ctx(tar=b"\xb0\x00\x02")).verify(por)
    assert result.status is PorStatus.TAR_UNKNOWN and result.integrity is PorIntegrity.NONE and not result.ciphered


def test_insufficient_security_level() -> None:
    card = ReceivingEntity(KeySets({1: KEYS}), {TAR: TarPolicy(MinimumSecurityLevel.from_spi1(0x16))})
    _rejected(card, build_command_packet(_ctx("1239"), 1, SCRIPT), InsufficientSecurity)  # CC, no cipher
    _rejected(card, build_command_packet(_ctx("0639"), 1, SCRIPT), InsufficientSecurity)  # no counter
    assert card.receive(build_command_packet(_ctx("1639"), 1, SCRIPT)).secured_data == SCRIPT


def test_missing_key_set_and_wrong_key_length() -> None:
    other = OtaContext(Spi.from_hex("1639"), KeyRef.for_cipher(5, Algorithm.AES), KeyRef.for_cc(5, Algorithm.AES),
                       TAR, KEYS)
    _rejected(_card(), build_command_packet(other, 1, SCRIPT), UnidentifiedSecurityError)
    tdes = OtaContext(Spi.from_hex("1639"), KeyRef.for_cipher(1, Algorithm.TDES3), KeyRef.for_cc(1, Algorithm.TDES3),
                      TAR, OtaKeys(os.urandom(24), os.urandom(24)))
    _rejected(_card(), build_command_packet(tdes, 1, SCRIPT), UnidentifiedSecurityError)


def test_digital_signature_and_unimplemented_algorithms() -> None:
    good = bytearray(build_command_packet(_ctx("1401"), 1, SCRIPT))
    good[3] |= 0x03  # SPI1 b2b1 = 11: DS
    _rejected(_card(), bytes(good), UnsupportedSecurity)
    with pytest.raises(UnsupportedError, match="DS"):
        CommandBuilder(_ctx("1739"))
    with pytest.raises(UnsupportedError, match="legacy"):
        CommandBuilder(_ctx(kid=KeyRef.for_cc(1, Algorithm.DES)))
    with pytest.raises(UnsupportedError, match="implicit"):
        CommandBuilder(OtaContext(Spi.from_hex("1639"), KeyRef(1, 0), KeyRef(1, 0), TAR, KEYS))


def test_bad_cc_and_bad_rc() -> None:
    packet = bytearray(build_command_packet(_ctx("1201"), 1, SCRIPT))
    packet[-1] ^= 1
    error = _rejected(_card(), bytes(packet), ChecksumFailed)
    assert isinstance(error, BadMac)
    rc = _ctx("1101", kid=KeyRef.for_rc(1, Algorithm.CRC32))
    packet = bytearray(build_command_packet(rc, 1, SCRIPT))
    packet[-1] ^= 1
    _rejected(_card(), bytes(packet), RedundancyCheckFailed)


def test_ciphering_error() -> None:
    packet = build_command_packet(_ctx("1639"), 1, SCRIPT)
    shortened = (int.from_bytes(packet[:2], "big") - 1).to_bytes(2, "big") + packet[2:-1]
    _rejected(_card(), shortened, CipheringError)


def test_counter_higher_mode() -> None:
    card = _card()
    card.receive(build_command_packet(_ctx("1639"), 5, SCRIPT))
    error = _rejected(card, build_command_packet(_ctx("1639"), 5, SCRIPT), CounterLow)
    assert error.cntr == 5
    _rejected(card, build_command_packet(_ctx("1639"), 4, SCRIPT), CounterLow)
    card.receive(build_command_packet(_ctx("1639"), 9, SCRIPT))


def test_counter_exactly_one_higher_mode() -> None:
    card = _card()
    _rejected(card, build_command_packet(_ctx("1e39"), 2, SCRIPT), CounterHigh)
    card.receive(build_command_packet(_ctx("1e39"), 1, SCRIPT))
    card.receive(build_command_packet(_ctx("1e39"), 2, SCRIPT))
    _rejected(card, build_command_packet(_ctx("1e39"), 2, SCRIPT), CounterLow)


def test_counter_step_limit_and_blocked() -> None:
    card = _card(max_counter_step=10)
    _rejected(card, build_command_packet(_ctx("1639"), 11, SCRIPT), CounterHigh)
    card.receive(build_command_packet(_ctx("1639"), 10, SCRIPT))
    card = _card(counters={("kvn", 1): MAX_CNTR})
    _rejected(card, build_command_packet(_ctx("1639"), MAX_CNTR, SCRIPT), CounterBlocked)


def test_counter_untouched_by_rejected_packets() -> None:
    card = _card()
    packet = bytearray(build_command_packet(_ctx("1639"), 7, SCRIPT))
    packet[-1] ^= 1
    with pytest.raises(ChecksumFailed):
        card.receive(bytes(packet))
    assert card.counters == {}
    card.receive(build_command_packet(_ctx("1639"), 7, SCRIPT))
    assert card.counters == {("kvn", 1): 7}


def test_counter_per_tar() -> None:
    card = ReceivingEntity(KeySets({1: KEYS}), {TAR: TarPolicy(counter_per=CounterPer.TAR)})
    card.receive(build_command_packet(_ctx("1639"), 3, SCRIPT))
    assert card.counters == {("tar", TAR): 3}


def test_counter_low_por_is_secured_and_verifiable() -> None:
    card = _card()
    card.receive(build_command_packet(_ctx("1639"), 5, SCRIPT))
    error = _rejected(card, build_command_packet(_ctx("1639"), 3, SCRIPT), CounterLow)
    result = PorVerifier(_ctx("1639")).verify(card.error_por(error), 3)
    assert result.status is PorStatus.CNTR_LOW and result.integrity is PorIntegrity.VERIFIED and result.ciphered


def test_cc_failure_por_is_unsecured_and_flagged() -> None:
    card = _card()
    packet = bytearray(build_command_packet(_ctx("1639"), 3, SCRIPT))
    packet[-1] ^= 1
    error = _rejected(card, bytes(packet), ChecksumFailed)
    result = PorVerifier(_ctx("1639")).verify(card.error_por(error), 3)
    assert result.status is PorStatus.RC_CC_DS_FAILED
    assert result.integrity is PorIntegrity.NONE and not result.ciphered


def test_por_request_modes() -> None:
    card = _card()
    command = card.receive(build_command_packet(_ctx("1632"), 1, SCRIPT))  # PoR on error only
    assert card.por(command, b"\x01\x90\x00") is None
    error = _rejected(card, build_command_packet(_ctx("1632"), 1, SCRIPT), CounterLow)
    assert card.error_por(error) is not None
    command = card.receive(build_command_packet(_ctx("1630"), 2, SCRIPT))  # no PoR
    assert card.por(command) is None
    error = _rejected(card, build_command_packet(_ctx("1630"), 2, SCRIPT), CounterLow)
    assert card.error_por(error) is None


def test_success_por_without_requested_cc_is_refused() -> None:
    ctx = _ctx("1639")
    header = CommandHeader(ctx.spi, ctx.kic, ctx.kid, TAR, 8)
    forged = build_response_packet(header, KEYS, 1, PorStatus.POR_OK, b"\x01\x90\x00", secured=False)
    with pytest.raises(PorMismatch, match="success"):
        PorVerifier(ctx).verify(forged, 1)


def test_por_counter_echo_and_tar_are_checked() -> None:
    card = _card()
    command = card.receive(build_command_packet(_ctx("1639"), 4, SCRIPT))
    por = card.por(command, b"\x01\x90\x00")
    with pytest.raises(PorMismatch, match="counter echo"):
        PorVerifier(_ctx("1639")).verify(por, 5)
    with pytest.raises(PorMismatch, match="TAR"):
        PorVerifier(_ctx("1639", tar=b"\xb0\x00\x09")).verify(por, 4)


def test_por_with_wrong_key_fails() -> None:
    card = _card()
    por = card.por(card.receive(build_command_packet(_ctx("1639"), 4, SCRIPT)), b"\x01\x90\x00")
    wrong = OtaKeys(KEYS.kic, os.urandom(16))
    with pytest.raises(ChecksumFailed):
        PorVerifier(_ctx("1639", keys=wrong)).verify(por, 4)


def test_malformed_packet_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        _card().receive(b"\x00\x05\x0d\x16\x39")


def test_rc_checksum_length_must_fit_crc() -> None:
    packet = bytearray(build_command_packet(_ctx("1101", kid=KeyRef.for_rc(1, Algorithm.CRC16)), 1, SCRIPT))
    packet[6] = 0x15  # KID now names CRC32 but CHL says 2 bytes
    with pytest.raises(DecodeError, match="RC/CC/DS"):
        _card().receive(bytes(packet))


def test_minimum_security_level_ordering() -> None:
    msl = MinimumSecurityLevel(Integrity.RC, False, CounterMode.HIGHER)
    assert msl.satisfied_by(Spi(Integrity.CC, False, CounterMode.ONE_HIGHER))
    assert not msl.satisfied_by(Spi(Integrity.NONE, True, CounterMode.HIGHER))
    assert not msl.satisfied_by(Spi(Integrity.CC, True, CounterMode.NO_CHECK))
    assert Spi(por=PorRequest.ALWAYS).por is PorRequest.ALWAYS


def test_error_pors_echo_a_counter_sent_in_clear() -> None:
    """A refused packet whose CNTR travels unciphered gets it back in the PoR, like every PoR (DIGEST §1.5 [V]);
    one sent ciphered to an unknown TAR cannot be read, so its PoR carries zeros."""
    strict = ReceivingEntity(KeySets({1: KEYS}), {TAR: TarPolicy(MinimumSecurityLevel.from_spi1(0x16))})
    weak = build_command_packet(_ctx("1201"), 0x1234, SCRIPT)
    error = _rejected(strict, weak, InsufficientSecurity)
    por = strict.error_por(error)
    assert por is not None and por[-7:-2] == (0x1234).to_bytes(5, "big")
    hidden = _rejected(_card(), build_command_packet(_ctx(tar=bytes.fromhex("b0ffff")), 0x1234, SCRIPT), TarUnknown)
    assert hidden.cntr is None
