"""CREATE / DELETE / ACTIVATE / DEACTIVATE / TERMINATE / RESIZE FILE (ETSI TS 102 222 §6) under ADM1."""

from __future__ import annotations

import pytest
from mcim.usim import NO_SFI, Fcp, FileDescriptor, FileType, Lcsi, Structure

from .helpers import USIM_AID, Terminal, h


@pytest.fixture
def adm():
    term = Terminal()
    term.verify_adm1()
    return term


def ef_fcp(fid: int, structure: Structure = Structure.TRANSPARENT, *, size: int | None = 16, record_length=None,
           record_count=None, arr=(0x2F06, 2), sfi=NO_SFI, extra: bytes | None = None) -> str:
    descriptor = FileDescriptor.for_file(FileType.WORKING_EF, structure, record_length=record_length,
                                         record_count=record_count)
    raw = Fcp(descriptor, fid=fid, arr=arr, file_size=size if structure == Structure.TRANSPARENT else None,
              sfi=sfi, proprietary=extra).to_bytes()
    return f"{len(raw):02X}{raw.hex()}"


def test_create_transparent_ef_with_pinned_example(adm):
    # pySim-style CREATE FILE template: 82 41 21, 83 FID, 8A 05, 8B ARR, 80 size, 88 SFI (TS 102 222 §6.3)
    template = "621782024121830261018a01058b032f06028002001088010"
    adm.ok("00E00000" + f"{len(h(template + '8')):02X}" + template + "8")
    assert adm.ok("00B0000010") == b"\xff" * 16  # new, empty content; the file is now current
    adm.ok("00D6000002CAFE")
    assert adm.ok("00A40004026101")[0] == 0x62
    assert adm.ok("00B0810002") == h("CAFE")  # SFI 1 from tag 88 01 08


def test_create_linear_and_cyclic_with_fill_patterns(adm):
    fill = b"\xa5\x03\xc1\x01\x00"  # A5 {C1 filling pattern 00} (TS 102 222 Table 4a)
    adm.ok("00E00000" + ef_fcp(0x6102, Structure.LINEAR_FIXED, record_length=4, record_count=3, extra=fill[2:]))
    assert adm.ok("00B2030404") == bytes(4)
    repeat = b"\xc2\x02\x12\x34"
    adm.ok("00A40004023F00")
    adm.ok("00E00000" + ef_fcp(0x6103, Structure.CYCLIC, record_length=3, record_count=2, extra=repeat))
    assert adm.ok("00B2010403") == h("123412")


def test_create_df_then_ef_inside(adm):
    df = Fcp(FileDescriptor.for_file(FileType.DF, Structure.NO_INFO), fid=0x5F10, arr=(0x2F06, 3)).to_bytes()
    adm.ok(f"00E00000{len(df):02X}{df.hex()}")
    adm.ok("00E00000" + ef_fcp(0x4F01))  # created in the new DF, which is current
    assert adm.ok("00A40804045F104F01")[0] == 0x62


@pytest.mark.parametrize("template,sw", [
    (ef_fcp(0x2FE2), 0x6A89),  # FID exists
    (ef_fcp(0x3F00), 0x6A80),  # reserved FID
    (ef_fcp(0x6104, sfi=6), 0x6A89),  # SFI 6 is EF.ARR's
    (ef_fcp(0x6105, size=65535), 0x6A84),  # larger than the free memory
    (ef_fcp(0x6106, arr=None), 0x6A80),  # no security attribute
    ("03" + "620100", 0x6A80),  # no file descriptor
    ("04" + "62028200", 0x6A80),
])
def test_create_refusals_change_nothing(adm, template, sw):
    before = adm.card.to_state()
    assert adm.sw("00E00000" + template) == sw
    assert adm.card.to_state() == before


def test_create_needs_adm(adm):
    adm.card.reset()
    assert adm.sw("00E00000" + ef_fcp(0x6107)) == 0x6982


def test_create_adf_with_its_aid_and_duplicate_name(adm):
    aid = "A0000000871004FFFFFFFF8907090000"
    adf = Fcp(FileDescriptor.for_file(FileType.DF, Structure.NO_INFO), fid=0x7FFF, df_name=h(aid),
              arr=(0x2F06, 3)).to_bytes()
    adm.ok(f"00E00000{len(adf):02X}{adf.hex()}")
    assert adm.ok(f"00A4040410{aid}")[0] == 0x62
    adm.ok("00A40004023F00")
    same = Fcp(FileDescriptor.for_file(FileType.DF, Structure.NO_INFO), fid=0x7FFF, df_name=h(USIM_AID),
               arr=(0x2F06, 3)).to_bytes()
    assert adm.sw(f"00E00000{len(same):02X}{same.hex()}") == 0x6A8A


def test_delete_file(adm):
    adm.ok("00E00000" + ef_fcp(0x6108))
    adm.ok("00A40004023F00")
    adm.ok("00E40000026108")
    assert adm.sw("00A40004026108") == 0x6A82
    assert adm.sw("00E40000026108") == 0x6A82
    assert adm.sw("00E40000022FE2") == 0x6982  # EF.ICCID: no DELETE rule


def test_delete_adf_by_aid(adm):
    adm.ok(f"00E4040010{USIM_AID}")
    assert adm.sw(f"00A4040410{USIM_AID}") == 0x6A82


def test_deactivate_activate_by_fid(adm):
    adm.ok("00A40004023F00")
    adm.ok("00040000022F05")
    assert adm.raw("00A4000C022F05")[1] == 0x6283
    assert adm.sw("00D6000001AA") == 0x6984
    adm.ok("00440000022F05")
    assert adm.sw("00D6000001AA") == 0x9000


def test_deactivate_needs_its_rule(adm):
    adm.card.reset()
    assert adm.sw("00040000022F05") == 0x6982


def test_terminate_ef(adm):
    adm.ok("00E00000" + ef_fcp(0x6109))
    assert adm.sw("00E6000000") == 0x6981  # TERMINATE DF on an EF
    adm.ok("00E8000000")
    assert adm.raw("00A4000C026109")[1] == 0x6285
    assert adm.sw("00B0000001") == 0x6985
    assert adm.sw("0044000000") == 0x6985  # a terminated file cannot be activated again
    assert adm.sw("00E8000000") == 0x6985


def test_terminate_needs_a_rule(adm):
    adm.ok("00A40004022FE2")
    assert adm.sw("00E8000000") == 0x6982  # EF.ICCID: no TERMINATE rule


def test_resize(adm):
    adm.ok("00E00000" + ef_fcp(0x610A, size=4))
    adm.ok("00D6000004 01020304")
    adm.ok("80D40000 0C 620A 8302610A 80020006 A500")
    assert adm.ok("00B0000006") == h("01020304FFFF")
    adm.ok("80D40000 09 6207 8302610A 800102")
    assert adm.raw("00B0000000") == (b"", 0x6C02)


def test_resize_record_file(adm):
    adm.ok("00E00000" + ef_fcp(0x610B, Structure.LINEAR_FIXED, record_length=2, record_count=2))
    assert adm.sw("80D40000 09 6207 8302610B 800103") == 0x6A80  # not a whole number of records
    adm.ok("80D40000 09 6207 8302610B 800106")
    assert adm.ok("00B2030402") == b"\xff\xff"


def test_resize_needs_header_rule(adm):
    adm.ok("00A40004022F00")  # EF.DIR has a resize rule (ADM1); EF.ICCID does not
    adm.ok("00A40004022FE2")
    assert adm.sw("80D40000 09 6207 83022FE2 80010C") == 0x6982


def test_lcsi_in_fcp_after_deactivate(adm):
    adm.ok("00040000022F05")
    data, sw = adm.raw("00A40004022F05")
    fcp = adm.raw("00C0000000")
    raw, _ = adm.raw(f"00C00000{fcp[1] & 0xFF:02X}")
    assert Fcp.from_bytes(raw).lcsi == Lcsi.DEACTIVATED
