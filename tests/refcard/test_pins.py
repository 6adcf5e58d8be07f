"""VERIFY / CHANGE / DISABLE / ENABLE / UNBLOCK PIN (ETSI TS 102 221 §11.1.9-13): counters and status words."""

from __future__ import annotations

import pytest

from .helpers import ADM1, PIN1, PIN2, PUK1, Terminal

WRONG = "39393939FFFFFFFF"  # "9999"


@pytest.fixture
def term():
    return Terminal()


def test_status_query_then_verify(term):
    assert term.raw("0020000100")[1] == 0x63C3  # no data: tries left, PIN not verified
    term.verify_pin1()
    assert term.raw("0020000100")[1] == 0x9000


def test_wrong_pin_counts_down_to_blocked(term):
    assert term.sw(f"0020000108{WRONG}") == 0x63C2
    assert term.sw(f"0020000108{WRONG}") == 0x63C1
    assert term.sw(f"0020000108{PIN1}") == 0x9000  # a right PIN restores the counter
    assert term.raw("0020000100")[1] == 0x9000
    for left in (2, 1, 0):
        assert term.sw(f"0020000108{WRONG}") == 0x63C0 | left
    assert term.sw(f"0020000108{PIN1}") == 0x6983
    assert term.sw("0020000100") == 0x6983
    term.select_usim()
    term.ok("00A40004026F07")
    assert term.sw("00B0000009") == 0x6982


def test_unblock(term):
    for _ in range(3):
        term.sw(f"0020000108{WRONG}")
    assert term.raw("002C000100")[1] == 0x63CA  # PUK tries left
    assert term.sw(f"002C000110{'3030303030303030'}{PIN1}") == 0x63C9
    assert term.sw(f"002C000110{PUK1}{'37373737FFFFFFFF'}") == 0x9000
    assert term.raw("0020000100")[1] == 0x9000  # unblocked and verified
    term.card.reset()
    assert term.sw("0020000108" + "37373737FFFFFFFF") == 0x9000  # the new PIN


def test_puk_blocks_for_good(term):
    for _ in range(10):
        term.sw(f"002C000110{'3030303030303030'}{PIN1}")
    assert term.sw(f"002C000110{PUK1}{PIN1}") == 0x6983


def test_change_pin(term):
    assert term.sw(f"0024000110{WRONG}{'35353535FFFFFFFF'}") == 0x63C2
    assert term.sw(f"0024000110{PIN1}{'35353535FFFFFFFF'}") == 0x9000
    term.card.reset()
    assert term.sw(f"0020000108{PIN1}") == 0x63C2
    assert term.sw("0020000108" + "35353535FFFFFFFF") == 0x9000


def test_disable_and_enable(term):
    term.select_usim()
    term.ok("00A40004026F07")
    assert term.sw("00B0000009") == 0x6982
    assert term.sw(f"0026000108{PIN1}") == 0x9000
    assert term.sw("00B0000009") == 0x9000  # a disabled PIN is no condition any more
    assert term.sw(f"0026000108{PIN1}") == 0x6985  # already disabled
    assert term.sw(f"0020000108{PIN1}") == 0x6985  # a disabled PIN is not verified
    assert term.sw(f"0028000108{PIN1}") == 0x9000
    term.card.reset()
    term.select_usim()
    term.ok("00A40004026F07")
    assert term.sw("00B0000009") == 0x6982


def test_adm_cannot_be_disabled(term):
    assert term.sw(f"0026000A08{ADM1}") == 0x6985


def test_local_pin2_belongs_to_the_application(term):
    assert term.sw(f"0020008108{PIN2}") == 0x6A88  # no application selected: no local PIN 81
    term.select_usim()
    assert term.sw(f"0020008108{PIN2}") == 0x9000


@pytest.mark.parametrize("apdu,sw", [
    ("0020000207" + "31323334FFFFFF", 0x6700),
    ("0020000208" + PIN1, 0x6A88),  # PIN2 (global 02) does not exist
    ("0020010108" + PIN1, 0x6A86),
    ("0020001F08" + PIN1, 0x6A86),  # not a key reference of Table 9.3
    ("002000010841424344FFFFFFFF", 0x6A80),  # not digits
    ("002000010831FFFFFFFFFFFFFF", 0x6A80),  # fewer than 4 digits
])
def test_parameter_errors_do_not_cost_a_try(term, apdu, sw):
    assert term.sw(apdu) == sw
    assert term.raw("0020000100")[1] == 0x63C3
