"""SELECT (ETSI TS 102 221 §11.1.1, §8.4) and STATUS (§11.1.2): targets, FCP content, errors."""

from __future__ import annotations

import pytest
from mcim.tlv import ber_decode, ber_decode_one
from mcim.usim import DirRecord, Fcp, FileType, Structure

from tests.conftest import load_vectors

from .helpers import ADM1, USIM_AID, Terminal, h

EXAMPLES = {e["what"]: e["hex"] for e in load_vectors()["file_encoding_examples"]["examples"]}


@pytest.fixture
def term():
    return Terminal()


def fcp(data: bytes) -> Fcp:
    return Fcp.from_bytes(data)


def test_mf_fcp_has_the_df_tags(term):
    raw = term.ok("00A40004023F00")
    tags = [t.tag for t in ber_decode_one(raw).children]
    for tag in (0x82, 0x83, 0xA5, 0x8A, 0x8B, 0xC6, 0x81):  # TS 102 221 Table 11.3 (DF)
        assert tag in tags
    assert raw[2:6] == h(EXAMPLES["FCP 82 file descriptor: shareable DF"])  # 82 02 78 21 (pySim table)
    parsed = fcp(raw)
    assert parsed.fid == 0x3F00 and parsed.descriptor.file_type == FileType.DF
    assert h(EXAMPLES["FCP 8A LCSI operational/activated"]) in raw


def test_pin_status_template_lists_enabled_pins(term):
    items = ber_decode(fcp(term.ok("00A40004023F00")).pin_status)
    assert items[0].tag == 0x90 and items[0].value == b"\xc0"  # PIN1 and ADM1 enabled
    assert [i.value for i in items[1:]] == [b"\x01", b"\x0a"]
    usim = fcp(term.select_usim())
    assert usim.pin_status.endswith(h("830181"))  # the ADF also lists its local PIN2


def test_ef_fcp_transparent_and_linear_fixed(term):
    imsi = fcp(term.ok(f"00A40404 10 {USIM_AID}") and term.ok("00A40004026F07"))
    assert (imsi.fid, imsi.file_size, imsi.sfi, imsi.arr) == (0x6F07, 9, 7, (0x6F06, 3))
    assert imsi.descriptor.structure == Structure.TRANSPARENT
    ef_dir = fcp(term.ok("00A40004023F00") and term.ok("00A40004022F00"))
    assert ef_dir.descriptor.structure == Structure.LINEAR_FIXED
    assert (ef_dir.descriptor.record_length, ef_dir.descriptor.record_count, ef_dir.sfi) == (38, 4, 30)


def test_adf_fcp_has_aid_and_7fff(term):
    adf = fcp(term.select_usim())
    assert adf.df_name == h(USIM_AID) and adf.fid == 0x7FFF


def test_select_usim_by_the_aid_in_ef_dir(term):
    term.ok("00A40004022F00")
    record = DirRecord.from_bytes(term.ok("00B2010426"))
    assert record.aid == h(USIM_AID) and record.label == "USIM PCID"
    assert fcp(term.ok(f"00A40404 {len(record.aid):02X} {record.aid.hex()}")).df_name == record.aid


def test_partial_aid_and_next_occurrence(term):
    assert fcp(term.ok("00A4040407A0000000871002")).df_name == h(USIM_AID)
    assert term.sw("00A4040607A0000000871002") == 0x6A82  # no second USIM
    assert term.sw("00A4040405A000000099") == 0x6A82


def test_no_fcp_returned_with_p2_0c(term):
    assert term.raw("00A4000C023F00") == (b"", 0x9000)


@pytest.mark.parametrize("p2", ["08", "01", "03", "80", "24"])
def test_bad_p2(term, p2):
    assert term.sw(f"00A400{p2}023F00") == 0x6A86


def test_select_by_path_from_mf_and_current_df(term):
    assert fcp(term.ok("00A40804022FE2")).fid == 0x2FE2
    assert fcp(term.ok("00A40804043F002FE2")).fid == 0x2FE2  # a leading 3F00 is tolerated
    term.select_usim()
    assert fcp(term.ok("00A40804047FFF6F07")).fid == 0x6F07  # 7FFF = the current application
    assert fcp(term.ok("00A40904026F38")).fid == 0x6F38
    assert term.sw("00A40804046F076F07") == 0x6A82


def test_parent_and_current_adf(term):
    term.select_usim()
    term.ok("00A40004026F07")
    assert fcp(term.ok("00A40004027FFF")).df_name == h(USIM_AID)
    assert fcp(term.ok("00A4030400")).fid == 0x3F00  # parent of the ADF is the MF
    assert term.sw("00A4030400") == 0x6A82  # the MF has no parent


def test_7fff_without_application(term):
    assert term.sw("00A40004027FFF") == 0x6A82


def test_failed_select_keeps_the_current_file(term):
    term.ok("00A40004022FE2")
    assert term.sw("00A40004021234") == 0x6A82
    assert len(term.ok("00B000000A")) == 10  # EF.ICCID still current


def test_deactivated_file_answers_6283_with_its_fcp(term):
    term.ok(f"0020000A08{ADM1}")
    term.ok("00A40004022F05")
    term.ok("0004000000")  # DEACTIVATE FILE, current EF (TS 102 221 §11.1.14)
    data, sw = term.raw("00A40004022F05")
    assert sw == 0x6283 and data == b""  # warning; the FCP waits for GET RESPONSE
    fcp_raw, sw = term.raw("00C0000000")
    assert sw >> 8 == 0x6C
    fcp_raw, sw = term.raw(f"00C00000{sw & 0xFF:02X}")
    assert sw == 0x9000 and fcp(fcp_raw).lcsi == 0x04
    assert term.sw("00B0000004") == 0x6984  # TS 102 221 Table 10.16: 6283 is for SELECT/STATUS only
    term.ok("0044000000")
    assert term.sw("00A40004022F05") == 0x9000


def test_status(term):
    term.select_usim()
    assert fcp(term.ok("80F2000000")).df_name == h(USIM_AID)
    assert term.ok("80F2000100") == h("8410") + h(USIM_AID)
    assert term.raw("80F2000C") == (b"", 0x9000)
    assert term.sw("80F2000500") == 0x6A86
    assert term.raw("80F2000000")[1] >> 8 == 0x6C  # T=0: Le must match


def test_status_without_application(term):
    assert term.sw("80F2000100") == 0x6985
