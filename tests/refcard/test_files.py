"""READ/UPDATE BINARY, READ/UPDATE RECORD, SEARCH RECORD, INCREASE (ETSI TS 102 221 §11.1.3-8)."""

from __future__ import annotations

import pytest
from mcim.usim import decode_iccid, decode_imsi

from tests.conftest import load_vectors

from .helpers import ADM1, PIN2, Terminal, h

EXAMPLES = {e["what"]: e["hex"] for e in load_vectors()["file_encoding_examples"]["examples"]}


@pytest.fixture
def term():
    return Terminal()


@pytest.fixture
def usim(term):
    term.select_usim()
    term.verify_pin1()
    return term


def test_read_iccid(term):
    term.ok("00A40004022FE2")
    assert decode_iccid(term.ok("00B000000A")) == "8988200000000000014"


def test_read_imsi_by_sfi(usim):
    data = usim.ok("00B0870009")  # P1 = 80 | SFI 07
    assert decode_imsi(data) == "001010000000001"
    assert usim.ok("00B0000009") == data  # EF.IMSI is now the current EF


def test_read_binary_offsets_and_errors(usim):
    usim.ok("00A40004026F07")
    assert usim.ok("00B0000304") == usim.ok("00B0000009")[3:7]
    assert usim.sw("00B0000900") == 0x6B00  # offset at the end of the file
    assert usim.raw("00B0000700") == (b"", 0x6C02)
    assert usim.sw("00B0C70009") == 0x6A86  # P1 b7b6 must be 00 with an SFI
    assert usim.sw("00B09F0001") == 0x6A86  # SFI 31 is RFU
    assert usim.sw("00B0990001") == 0x6A82  # SFI 25 not in this ADF


def test_read_needs_pin(term):
    term.select_usim()
    assert term.sw("00B0870009") == 0x6982
    assert term.sw("00B0830004") == 0x9000  # EF.AD: READ ALWAYS


def test_no_current_ef_and_wrong_structure(usim):
    assert usim.sw("00B0000001") == 0x6986  # the ADF is current, no EF
    usim.ok("00A40004026F42")  # EF.SMSP, linear fixed
    assert usim.sw("00B0000001") == 0x6981
    assert usim.sw("00B2010428") == 0x9000
    usim.ok("00A40004026F07")
    assert usim.sw("00B2010409") == 0x6981


def test_update_binary_needs_the_rule_and_keeps_content_on_refusal(usim):
    usim.ok("00A40004026F07")
    before = usim.ok("00B0000009")
    assert usim.sw("00D6000001FF") == 0x6982  # EF.IMSI: UPDATE ADM
    assert usim.ok("00B0000009") == before
    usim.verify_adm1()
    assert usim.sw("00D6000801AA") == 0x9000
    assert usim.ok("00B0000801") == b"\xaa"
    assert usim.sw("00D6000802AAAA") == 0x6700  # past the end
    assert usim.sw("00D6000901AA") == 0x6B00


def test_update_binary_by_sfi(usim):
    usim.ok("00D68B000B" + EXAMPLES["EF.LOCI TMSI ffffffff, LAI 262-02 LAC 0000, RFU ff, LU status 01"])
    assert usim.ok("00B08B000B").hex() == EXAMPLES["EF.LOCI TMSI ffffffff, LAI 262-02 LAC 0000, RFU ff, LU status 01"]


def write_records(term, *values):
    for i, value in enumerate(values, start=1):
        term.ok(f"00DC{i:02X}0428{value.ljust(80, 'F')}")


def test_record_modes_linear_fixed(usim):
    usim.ok("00A40004026F42")
    write_records(usim, "01", "02")
    assert usim.ok("00B2000228")[0] == 0x01  # NEXT from no current record: record 1
    assert usim.ok("00B2000228")[0] == 0x02
    assert usim.sw("00B2000228") == 0x6A83  # linear fixed: no wrap-around
    assert usim.ok("00B2000428")[0] == 0x02  # absolute P1 00 = current record
    assert usim.ok("00B2000328")[0] == 0x01  # PREVIOUS
    assert usim.sw("00B2000328") == 0x6A83
    assert usim.ok("00B2020428")[0] == 0x02  # absolute mode keeps the pointer
    assert usim.ok("00B2000228")[0] == 0x02  # ... so NEXT goes from record 1 to 2
    assert usim.sw("00B2030428") == 0x6A83
    assert usim.raw("00B2010400") == (b"", 0x6C28)
    assert usim.sw("00B2010128") == 0x6A86


def test_update_record_length_and_mode(usim):
    usim.ok("00A40004026F42")
    assert usim.sw("00DC010401AA") == 0x6700
    assert usim.sw("00DC050428" + "00" * 40) == 0x6A83
    usim.ok("00DC000228" + "AB" * 40)  # NEXT: record 1
    assert usim.ok("00B2010428") == b"\xab" * 40


def test_cyclic_file_update_and_increase(usim):
    # EF.ACM (cyclic, 3-byte records): UPDATE needs PIN2, INCREASE needs PIN1 (profile rule 5)
    usim.ok("00A40004026F39")
    assert usim.sw("00DC000303000010") == 0x6982
    usim.ok(f"00200081 08 {PIN2}")
    assert usim.sw("00DC010403000010") == 0x6A86  # cyclic files are written in PREVIOUS mode only
    usim.ok("00DC000303000010")
    assert usim.ok("00B2010403") == h("000010")
    # INCREASE (80 32): new record 1 = old record 1 + value; answer = new value || added value (§11.1.8)
    assert usim.ok("8032000003000005") == h("000015 000005")
    assert usim.ok("00B2010403") == h("000015")
    assert usim.ok("00B2020403") == h("000010")
    assert usim.ok("00B2000303") == h("000000")  # cyclic PREVIOUS from record 1 wraps to record 5
    assert usim.ok("00B2000203") == h("000015")  # ... and NEXT from record 5 back to record 1
    assert usim.sw("8032000003FFFFFF") == 0x9850
    assert usim.ok("00B2010403") == h("000015")  # nothing changed on 9850


def test_increase_on_wrong_file(usim):
    usim.ok("00A40004026F42")
    assert usim.sw("8032000001 01") == 0x6981


def test_search_record(usim):
    usim.ok("00A40004026F42")
    write_records(usim, "AA55", "BB55")
    assert usim.ok("00A2010401 55") == h("0102")  # simple search forward from record 1
    assert usim.ok("00A2020501 BB") == h("02")  # backward from record 2
    assert usim.ok("00B2000428")[0] == 0xBB  # the first record found is the current record
    assert usim.raw("00A2010401 77") == (b"", 0x6282)  # unsuccessful search (Table 10.16)
    assert usim.ok("00A2010603 04 00 BB") == h("02")  # enhanced: pattern at offset 0, forward from P1
    assert usim.ok("00A2010603 0C AA 55") == h("01")  # enhanced: after the value AA
    assert usim.sw("00A2010603 F4 00 BB") == 0x6A80
    assert usim.sw("00A2010101 55") == 0x6A86


def test_adm_can_update_iccid_never(term):
    term.ok(f"0020000A08{ADM1}")
    term.ok("00A40004022FE2")
    assert term.sw("00D600000100") == 0x6982  # EF.ICCID: no UPDATE rule at all -> NEVER
