"""USIM/UICC file codecs against pySim's encoding tables (vectors file `file_encoding_examples`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcim.errors import BadInput, DecodeError
from mcim.tlv import ber_decode_one
from mcim.usim import (
    AccessMode,
    AccessRule,
    AdministrativeData,
    Always,
    AnyOf,
    DirRecord,
    Fcp,
    FileDescriptor,
    FileType,
    KeyReference,
    Lcsi,
    LocationInformation,
    Never,
    Plmn,
    ServiceProviderName,
    ServiceTable,
    Structure,
    decode_acc,
    decode_arr_record,
    decode_fplmn,
    decode_hpplmn,
    decode_iccid,
    decode_imsi,
    decode_plmn,
    encode_acc,
    encode_arr_record,
    encode_fplmn,
    encode_hpplmn,
    encode_iccid,
    encode_imsi,
    lcsi_state,
)

from tests.conftest import load_vectors

EX = {e["what"]: bytes.fromhex(e["hex"]) for e in load_vectors()["file_encoding_examples"]["examples"]}


def example(prefix: str) -> bytes:
    return next(v for k, v in EX.items() if k.startswith(prefix))


@pytest.mark.parametrize("imsi,prefix", [("228062800000208", "EF.IMSI = 228"), ("262011106487504", "EF.IMSI = 262")])
def test_imsi(imsi, prefix):
    assert encode_imsi(imsi) == example(prefix)
    assert decode_imsi(example(prefix)) == imsi


def test_imsi_even_length_round_trip():
    raw = encode_imsi("00101123456789")
    assert raw[1] & 0x0F == 0x1 and len(raw) == 9
    assert decode_imsi(raw) == "00101123456789"


@pytest.mark.parametrize("bad", ["12345", "1" * 16, "12a456789012345"])
def test_imsi_bad_input(bad):
    with pytest.raises(BadInput):
        encode_imsi(bad)


def test_ad():
    assert AdministrativeData().to_bytes() == example("EF.AD normal operation")
    ad = AdministrativeData.from_bytes(example("EF.AD normal+specific"))
    assert (ad.ue_mode, ad.info, ad.mnc_length) == (0x01, 0x0001, 2)
    assert ad.to_bytes() == example("EF.AD normal+specific")


def test_loci():
    raw = example("EF.LOCI TMSI ffffffff")
    loci = LocationInformation.from_bytes(raw)
    assert loci.plmn == Plmn("262", "02") and loci.lac == 0 and loci.status == 1
    assert loci.to_bytes() == raw
    raw2 = example("EF.LOCI TMSI 78025702")
    loci2 = LocationInformation.from_bytes(raw2)
    assert loci2.tmsi.hex() == "78025702" and loci2.plmn == Plmn("228", "01") and loci2.lac == 0x0978
    assert loci2.to_bytes() == raw2


def test_acc():
    assert decode_acc(example("EF.ACC")) == {0, 1, 3, 5, 15}
    assert encode_acc({0, 1, 3, 5, 15}) == example("EF.ACC")


def test_spn():
    spn = ServiceProviderName.from_bytes(example("EF.SPN"))
    assert spn == ServiceProviderName("GSM-R CH", 1)
    assert spn.to_bytes() == example("EF.SPN")


def test_spn_ucs2_and_gsm_specials():
    assert ServiceProviderName.from_bytes(ServiceProviderName("Ünï ☎").to_bytes()).name == "Ünï ☎"
    raw = ServiceProviderName("a@b_c").to_bytes()
    assert raw[1:6] == bytes((0x61, 0x00, 0x62, 0x11, 0x63))  # TS 23.038: '@' = 00, '_' = 11
    with pytest.raises(BadInput):
        ServiceProviderName("x" * 17).to_bytes()


def test_hpplmn():
    assert encode_hpplmn(5) == example("EF.HPPLMN")
    assert decode_hpplmn(example("EF.HPPLMN")) == 5


def test_fplmn_and_plmn():
    raw = encode_fplmn([Plmn("262", "02"), Plmn("310", "410")])
    assert raw[:3].hex() == "62f220" and len(raw) == 12 and raw[6:] == b"\xff" * 6
    assert decode_fplmn(raw) == (Plmn("262", "02"), Plmn("310", "410"))
    assert decode_plmn(b"\xff\xff\xff") is None


def test_ust():
    table = ServiceTable(frozenset({2, 27, 28}), 4)
    raw = table.to_bytes()
    assert raw == bytes((0x02, 0x00, 0x00, 0x0C))  # service n = bit (n-1)%8 of byte (n-1)//8
    assert ServiceTable.from_bytes(raw) == table and 27 in table
    with pytest.raises(BadInput):
        ServiceTable(frozenset({33}), 4)


@pytest.mark.parametrize("prefix", ["EF.DIR record, USIM", "EF.DIR record, ISIM"])
def test_dir_records(prefix):
    raw = example(prefix)
    record = DirRecord.from_bytes(raw + b"\xff" * 10)
    assert record.aid[:7].hex() == "a0000000871002" or record.aid[:7].hex() == "a0000000871004"
    assert record.label in ("USim1", "ISim1")
    assert record.to_bytes() == raw
    assert record.to_bytes(len(raw) + 10) == raw + b"\xff" * 10
    assert DirRecord.from_bytes(b"\xff" * 20) is None


@pytest.mark.parametrize("prefix,file_type,structure", [
    ("FCP 82 file descriptor: shareable working EF, BER", FileType.WORKING_EF, Structure.BER_TLV),
    ("FCP 82 file descriptor: shareable DF", FileType.DF, Structure.NO_INFO),
    ("FCP 82 file descriptor: shareable transparent", FileType.WORKING_EF, Structure.TRANSPARENT),
    ("FCP 82 file descriptor: shareable linear fixed", FileType.WORKING_EF, Structure.LINEAR_FIXED),
])
def test_file_descriptors(prefix, file_type, structure):
    tlv = ber_decode_one(example(prefix))
    descriptor = FileDescriptor.from_bytes(tlv.value)
    assert (descriptor.file_type, descriptor.structure, descriptor.shareable) == (file_type, structure, True)
    assert descriptor.to_bytes() == tlv.value
    built = FileDescriptor.for_file(file_type, structure, record_length=descriptor.record_length,
                                    record_count=descriptor.record_count)
    assert built == descriptor
    if structure == Structure.LINEAR_FIXED:
        assert (descriptor.record_length, descriptor.record_count) == (110, 5)


def test_lcsi_example():
    assert lcsi_state(ber_decode_one(example("FCP 8A")).value[0]) == Lcsi.ACTIVATED
    assert lcsi_state(0x07) == Lcsi.ACTIVATED and lcsi_state(0x06) == Lcsi.DEACTIVATED
    assert lcsi_state(0x0E) == Lcsi.TERMINATED


def test_fcp_round_trip_keeps_unknown_tags():
    fcp = Fcp(FileDescriptor.for_file(FileType.WORKING_EF, Structure.TRANSPARENT), fid=0x6F07, arr=(0x6F06, 2),
              file_size=9, sfi=7)
    raw = fcp.to_bytes()
    assert raw.hex() == "6217820241218302" "6f07" "8a0105" "8b036f0602" "80020009" "880138"
    assert Fcp.from_bytes(raw) == fcp
    with_unknown = raw[:1] + bytes((raw[1] + 3,)) + raw[2:] + bytes.fromhex("c70100")
    assert Fcp.from_bytes(with_unknown).to_bytes() == with_unknown


@given(st.binary(max_size=80))
def test_fcp_decoder_never_crashes(data):
    try:
        Fcp.from_bytes(b"\x62" + bytes((len(data),)) + data if len(data) < 128 else data)
    except DecodeError:
        pass


# TS 102 221 §13.4 example records from pySim's EF_ARR test table (read ADM1 / update always / ...)
ARR_EXAMPLE = "800101a40683010a950108800106900080016097008401d4a40683010a950108"


def test_arr_record_decode_encode():
    rules = decode_arr_record(bytes.fromhex(ARR_EXAMPLE) + b"\xff\xff")
    assert rules[0] == AccessRule(KeyReference(0x0A), AccessMode.READ)
    assert rules[1] == AccessRule(Always(), AccessMode.UPDATE | AccessMode.WRITE)
    assert rules[2] == AccessRule(Never(), AccessMode.DELETE | AccessMode.TERMINATE)
    assert rules[3].ins == 0xD4 and rules[3].covers(ins=0xD4)
    assert encode_arr_record(rules) == bytes.fromhex(ARR_EXAMPLE)


def test_arr_or_of_alternatives():
    raw = bytes.fromhex("800101" "a40683010195010" "8" "a40683010a950108")
    rule = decode_arr_record(raw)[0]
    assert rule.condition == AnyOf((KeyReference(1), KeyReference(0x0A)))


@given(st.binary(max_size=60))
def test_codecs_never_crash(data):
    decoders = [decode_imsi, AdministrativeData.from_bytes, LocationInformation.from_bytes, decode_acc,
                ServiceProviderName.from_bytes, decode_hpplmn, decode_fplmn, ServiceTable.from_bytes,
                DirRecord.from_bytes, decode_arr_record, FileDescriptor.from_bytes, decode_iccid,
                Fcp.from_bytes, lambda d: decode_plmn(d[:3])]
    for decode in decoders:
        try:
            decode(data)
        except DecodeError:
            pass


def test_iccid_swapped_bcd():
    # TS 102 221 §13.2: digits in swapped nibbles, F filled to 10 bytes
    assert encode_iccid("8988200000000000014").hex() == "988802000000000010f4"
    assert decode_iccid(bytes.fromhex("988802000000000010f4")) == "8988200000000000014"
    with pytest.raises(BadInput):
        encode_iccid("1234")
