"""Status word catalogue: meanings from ISO 7816-4 §5.6, TS 102 221 §10.2.1, TS 31.102 §7.3.3."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcim.sw import describe, is_success


@pytest.mark.parametrize("sw,words,category", [
    (0x9000, "normal ending", "normal processing"),
    (0x6A82, "not found", "checking error"),
    (0x6982, "security status", "checking error"),
    (0x9862, "incorrect MAC", "security error"),
    (0x63C2, "2 retries", "warning"),
    (0x6110, "16 bytes", "normal processing"),
    (0x913F, "63 bytes", "normal processing"),
    (0x6C20, "exact length is 32", "checking error"),
    (0x9F0C, "12 bytes", "normal processing"),
])
def test_known_codes(sw, words, category):
    info = describe(sw)
    assert words in info.meaning and info.category == category


@given(st.integers(0, 0xFFFF))
def test_every_code_survives(sw):
    info = describe(sw)
    assert info.sw == sw and int(info.hex, 16) == sw and info.meaning


def test_success_family():
    assert is_success(0x9000) and is_success(0x9110) and not is_success(0x6A82)
