"""SPI and KIc/KID codings (TS 102 225 §5.1.1-§5.1.3; common values from DIGEST §1.3/§1.4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcim.errors import McimError
from mcim.ota.spi import SPI_FORMAT, Algorithm, CounterMode, Integrity, KeyRef, PorRequest, PorTransport, Spi


@pytest.mark.parametrize("fixed", [0x00, 0xFF, 0x5A])
def test_every_coding_of_each_spi_byte_round_trips(fixed: int) -> None:
    # The two bytes are independent bit fields: every value of one, against a few of the other.
    for value in range(256):
        for raw in (bytes((value, fixed)), bytes((fixed, value))):
            assert Spi.from_bytes(raw).to_bytes() == raw


@given(raw=st.binary(min_size=2, max_size=2))
def test_any_spi_round_trips(raw: bytes) -> None:
    assert Spi.from_bytes(raw).to_bytes() == raw == SPI_FORMAT.build(SPI_FORMAT.parse(raw))


@given(raw=st.binary(max_size=4))
def test_spi_decoder_accepts_any_bytes(raw: bytes) -> None:
    try:
        Spi.from_bytes(raw)
    except McimError:
        assert len(raw) != 2


def test_common_spi_values() -> None:
    # DIGEST §1.3 "common values"
    assert Spi.from_hex("0619") == Spi(Integrity.CC, True, CounterMode.NONE, PorRequest.ALWAYS, Integrity.CC, True,
                                       PorTransport.DELIVER_REPORT)
    assert Spi.from_hex("1639") == Spi(Integrity.CC, True, CounterMode.HIGHER, PorRequest.ALWAYS, Integrity.CC, True,
                                       PorTransport.SMS_SUBMIT)
    assert Spi.from_hex("1535") == Spi(Integrity.RC, True, CounterMode.HIGHER, PorRequest.ALWAYS, Integrity.RC, True,
                                       PorTransport.SMS_SUBMIT)
    assert Spi.from_hex("1201") == Spi(Integrity.CC, False, CounterMode.HIGHER, PorRequest.ALWAYS)
    assert Spi.from_hex("1e00").counter is CounterMode.ONE_HIGHER
    assert Spi.from_hex("0002").por is PorRequest.ON_ERROR
    reserved = Spi.from_hex("e0c0")
    assert (reserved.reserved1, reserved.reserved2) == (7, 3)


def test_every_key_ref_round_trips() -> None:
    for value in range(256):
        ref = KeyRef.from_byte(value)
        assert ref.byte == value and ref.index == value >> 4


def test_key_ref_algorithms() -> None:
    # DIGEST §1.4 examples: 35 = index 3, 3DES 2-key; 22 = index 2, AES; 39 = 3DES 3-key; RC 15 = CRC32.
    assert KeyRef.from_byte(0x35).cipher_algorithm() is Algorithm.TDES2
    assert KeyRef.from_byte(0x22).cc_algorithm() is Algorithm.AES
    assert KeyRef.from_byte(0x39).cc_algorithm() is Algorithm.TDES3
    assert KeyRef.from_byte(0x11).cipher_algorithm() is Algorithm.DES
    assert KeyRef.from_byte(0x1D).cipher_algorithm() is Algorithm.DES_ECB
    assert KeyRef.from_byte(0x1D).cc_algorithm() is Algorithm.RESERVED
    assert KeyRef.from_byte(0x15).rc_algorithm() is Algorithm.CRC32
    assert KeyRef.from_byte(0x11).rc_algorithm() is Algorithm.CRC16
    assert KeyRef.from_byte(0x13).cipher_algorithm() is Algorithm.PROPRIETARY
    assert KeyRef.from_byte(0x10).cipher_algorithm() is Algorithm.IMPLICIT
    assert KeyRef.from_byte(0x16).cipher_algorithm() is Algorithm.RESERVED  # AES with b4b3 != 00 is RFU
    for algorithm in (Algorithm.DES, Algorithm.TDES2, Algorithm.TDES3, Algorithm.AES):
        assert KeyRef.for_cipher(4, algorithm).cipher_algorithm() is algorithm
        assert KeyRef.for_cc(4, algorithm).cc_algorithm() is algorithm
    for algorithm in (Algorithm.CRC16, Algorithm.CRC32):
        assert KeyRef.for_rc(4, algorithm).rc_algorithm() is algorithm
