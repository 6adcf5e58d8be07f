"""APDU cases per ISO/IEC 7816-4 §5.1; known encodings from pySim's SCP03 test APDUs (vectors file)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcim.apdu import CommandApdu, ResponseApdu, decode_cla, encode_cla, instruction_name
from mcim.errors import DecodeError, McimError

from tests.conftest import load_vectors

PLAIN = load_vectors()["scp03"]["pysim_plain_apdus"]


@pytest.mark.parametrize("name,case", [("case_1", 1), ("case_2", 2), ("case_3", 3), ("case_4", 4)])
def test_pysim_case_apdus_parse_to_their_case_and_rebuild(name, case):
    raw = bytes.fromhex(PLAIN[name])
    apdu = CommandApdu.parse(raw)
    assert apdu.case == case
    assert apdu.to_bytes() == raw


def test_case4_fields():
    # pySim case_4: GET STATUS P1=80 P2=02, data 4F00, Le 00 (= 256)
    apdu = CommandApdu.parse(bytes.fromhex(PLAIN["case_4"]))
    assert (apdu.cla, apdu.ins, apdu.p1, apdu.p2) == (0x80, 0xF2, 0x80, 0x02)
    assert apdu.data == bytes.fromhex("4f00") and apdu.le == 256
    assert instruction_name(apdu.cla, apdu.ins) == "GET STATUS"


def test_extended_forms():
    # ISO 7816-4 §5.1: extended Lc is 00 + 2 bytes; extended Le after data is 2 bytes, alone it is 00 + 2 bytes.
    data = bytes(300)
    apdu = CommandApdu(0x00, 0xD6, 0, 0, data, 0x1000)
    raw = apdu.to_bytes()
    assert raw[:7] == bytes.fromhex("00d60000" "00012c") and raw[-2:] == bytes.fromhex("1000")
    assert CommandApdu.parse(raw) == apdu
    assert CommandApdu.parse(bytes.fromhex("00b00000000000")).le == 65536


@pytest.mark.parametrize("raw,where", [
    ("00a4", "APDU"), ("00a4040007a0", "Lc"), ("00a404000000", "APDU"), ("00d600000000034142", "Lc"),
])
def test_malformed_apdus_say_where(raw, where):
    with pytest.raises(DecodeError) as err:
        CommandApdu.parse(bytes.fromhex(raw))
    assert where in str(err.value)


def test_class_byte_channels():
    # ISO 7816-4 §5.4.1 / TS 102 221 §10.1.1: channels 0-3 in b2b1; 4-19 as '4X'/'6X' with b4..b1 = channel - 4.
    assert decode_cla(0x03) == (3, 0, False)
    assert decode_cla(0x4F) == (19, 0, False)
    assert decode_cla(0xC1) == (5, 0, False)
    assert encode_cla(0x80, 2) == 0x82
    assert encode_cla(0x84, 1) == 0x85  # GP secure messaging bit survives
    assert encode_cla(0x00, 4) == 0x40 and encode_cla(0x80, 19) == 0xCF
    with pytest.raises(DecodeError):
        encode_cla(0x00, 20)


@given(st.integers(0, 0xFF), st.integers(0, 0xFF), st.integers(0, 0xFF), st.integers(0, 0xFF),
       st.binary(max_size=600), st.one_of(st.none(), st.integers(1, 65536)))
def test_build_parse_round_trip(cla, ins, p1, p2, data, le):
    apdu = CommandApdu(cla, ins, p1, p2, data, le)
    assert CommandApdu.parse(apdu.to_bytes()) == apdu


@given(st.binary(max_size=300))
def test_parser_raises_only_mcim_errors(raw):
    try:
        CommandApdu.parse(raw)
    except McimError:
        pass


def test_response_apdu():
    r = ResponseApdu.parse(bytes.fromhex("6a82"))
    assert (r.data, r.sw, r.sw1, r.sw2) == (b"", 0x6A82, 0x6A, 0x82)
    with pytest.raises(DecodeError):
        ResponseApdu.parse(b"\x90")
