"""Power, ATR, class/instruction checks, T=0 procedure bytes and logical channels (ETSI TS 102 221)."""

from __future__ import annotations

import pytest
from mcim.refcard import ATR

from .helpers import USIM_AID, Terminal, h


@pytest.fixture
def term():
    return Terminal()


def test_atr_structure():
    # ISO 7816-3 §8.2: TS 3B direct convention; T0 low nibble = number of historical bytes; T=15 present -> TCK
    assert ATR[0] == 0x3B
    k = ATR[1] & 0x0F
    assert ATR[-1 - k:-1] == h("80 31 E0 73 FE 21 1F")
    tck = 0
    for b in ATR[1:]:
        tck ^= b
    assert tck == 0  # XOR of T0..TCK is zero (ISO 7816-3 §8.2.5)
    assert Terminal().card.atr() == ATR


def test_case4_answers_61xx_then_get_response(term):
    data, sw = term.raw("00A40004023F00")
    assert data == b"" and sw >> 8 == 0x61
    fcp, sw2 = term.raw(f"00C00000{sw & 0xFF:02X}")
    assert sw2 == 0x9000 and fcp[0] == 0x62 and len(fcp) == sw & 0xFF


def test_get_response_wrong_le_then_partial(term):
    _, sw = term.raw("00A40004023F00")
    n = sw & 0xFF
    assert term.raw("00C0000000") == (b"", 0x6C00 | n)  # Le 00 = 256 is wrong: 6Cxx with the length
    part, sw = term.raw("00C0000005")
    assert len(part) == 5 and sw == 0x6100 | (n - 5)
    rest, sw = term.raw(f"00C00000{n - 5:02X}")
    assert sw == 0x9000 and len(rest) == n - 5


def test_get_response_without_pending_data(term):
    assert term.raw("00C0000010") == (b"", 0x6985)
    term.raw("00A40004023F00")
    term.raw("00B0000001")  # any other command drops the pending response
    assert term.raw("00C0000010")[1] == 0x6985


def test_case2_wrong_le_is_6cxx(term):
    term.ok("00A40004022FE2")
    assert term.raw("00B0000000") == (b"", 0x6C0A)  # EF.ICCID is 10 bytes
    assert term.raw("00B000000B") == (b"", 0x6C0A)
    assert len(term.raw("00B000000A")[0]) == 10


@pytest.mark.parametrize("cla,sw", [("A0", 0x6E00), ("20", 0x6E00), ("B0", 0x6E00), ("FF", 0x6E00)])
def test_classes_that_are_not_uicc_classes(term, cla, sw):
    assert term.raw(f"{cla}A40004023F00")[1] == sw


def test_instruction_in_wrong_class_and_unknown(term):
    assert term.raw("00F2000000")[1] == 0x6E00  # STATUS is an 8X command (TS 102 221 Table 10.5)
    assert term.raw("80A40004023F00")[1] == 0x6E00  # SELECT is a 0X command
    assert term.raw("00FE000000")[1] == 0x6D00
    assert term.raw("0060000000")[1] == 0x6D00  # ISO 7816-4: INS 6X is invalid


def test_secure_messaging_and_chaining_refused(term):
    assert term.raw("04A40004023F00")[1] == 0x6882
    assert term.raw("10A40004023F00")[1] == 0x6884


@pytest.mark.parametrize("apdu", ["00A4", "00A400040A3F00", "00A40004033F00"])
def test_malformed_lengths(term, apdu):
    assert term.raw(apdu)[1] == 0x6700


def test_logical_channels(term):
    assert term.raw("01A40004023F00")[1] == 0x6881  # channel 1 not open
    assert term.raw("0070000001") == (b"\x01", 0x9000)
    assert term.raw("0070000001") == (b"\x02", 0x9000)
    assert term.ok(f"01A40404 10 {USIM_AID}")[0] == 0x62  # channel 1: the USIM
    # channel 2 still at the MF: the USIM's EF.IMSI is not reachable from there
    assert term.sw("02A40004026F07") == 0x6A82
    assert term.sw("01A40004026F07") == 0x9000
    assert term.raw("00700002")[1] == 0x6A86  # channel 2 is already open
    assert term.raw("00700003")[1] == 0x9000  # the terminal may also choose the channel
    assert term.raw("00700080")[1] == 0x6A86  # closing the basic channel is refused
    assert term.raw("0070800200")[1] == 0x9000
    assert term.raw("02A40004023F00")[1] == 0x6881


def test_channel_opened_from_another_channel_inherits_its_application(term):
    term.raw("0070000001")
    term.ok(f"01A40404 10 {USIM_AID}")
    assert term.raw("0170000001") == (b"\x02", 0x9000)
    assert term.sw("02A40004026F07") == 0x9000  # channel 2 starts in the USIM


def test_further_interindustry_classes_for_channels_4_to_19(term):
    for n in range(1, 5):
        assert term.raw("0070000001") == (bytes((n,)), 0x9000)
    assert term.raw("40A40004023F00")[1] == 0x6100 | term.raw("40A40004023F00")[1] & 0xFF
    assert term.raw("41A40004023F00")[1] == 0x6881  # channel 5 not open


def test_reset_clears_volatile_state(term):
    term.select_usim()
    term.verify_pin1()
    term.raw("0070000001")
    term.card.reset()
    assert term.raw("01A40004023F00")[1] == 0x6881
    assert term.sw("00A40004026F07") == 0x6A82  # back at the MF
    term.select_usim()
    term.ok("00A40004026F07")
    assert term.raw("00B0000009")[1] == 0x6982  # PIN verification forgotten


def test_power_cycle(term):
    term.card.power_off()
    term.card.power_on()
    assert term.raw("00A40004023F00")[1] >> 8 == 0x61
