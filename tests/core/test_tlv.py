"""TLV codings; known encodings from the vectors file (pySim tables, real GET DATA responses)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcim.errors import DecodeError, McimError
from mcim.tlv import (
    BerTlv,
    ber_decode,
    ber_decode_one,
    ber_encode,
    ber_find,
    compact_tlv_decode,
    compact_tlv_encode,
    ctlv_decode,
    ctlv_encode,
    encode_ber_length,
    simple_tlv_decode,
    simple_tlv_encode,
)

from tests.conftest import load_vectors

V = load_vectors()


def test_get_eid_response_multibyte_tag():
    # pySim GET DATA EID response: BF3E { 5A 10 <EID> }
    tlv = ber_decode_one(bytes.fromhex(V["scp03"]["pysim_plain_apdus"]["get_eid_rsp"]))
    assert tlv.tag == 0xBF3E and tlv.constructed
    eid = tlv.find(0x5A)
    assert eid is not None and eid.value.hex() == "89882119900000000000000000000005"
    assert tlv.to_bytes().hex() == V["scp03"]["pysim_plain_apdus"]["get_eid_rsp"]


def test_ef_dir_record_nested():
    # pySim EF.DIR record: 61 { 4F AID, 50 label, 73 {...} }
    rec = next(e["hex"] for e in V["file_encoding_examples"]["examples"] if 'label "USim1"' in e["what"])
    app = ber_decode_one(bytes.fromhex(rec))
    assert app.tag == 0x61
    assert ber_find(app.children, 0x4F).value.hex() == "a0000000871002ffffffff8907090000"
    assert ber_find(app.children, 0x50).value == b"USim1"
    assert ber_encode(0x61, app.children) == bytes.fromhex(rec)


@pytest.mark.parametrize("n,encoded", [(0, "00"), (0x7F, "7f"), (0x80, "8180"), (0xFF, "81ff"),
                                       (0x100, "820100"), (0x10000, "83010000")])
def test_ber_lengths(n, encoded):
    # ISO/IEC 8825-1 §8.1.3.5: long form uses the minimum number of length bytes.
    assert encode_ber_length(n).hex() == encoded


def test_padding_between_objects_is_skipped():
    assert ber_decode(bytes.fromhex("00 8001aa ff ff 8100")) == [BerTlv(0x80, b"\xaa"), BerTlv(0x81, b"")]


@pytest.mark.parametrize("raw", ["6f", "6f05", "9f", "8180", "8485000000000001", "6f0384"])
def test_malformed_ber(raw):
    with pytest.raises(DecodeError):
        tree = ber_decode(bytes.fromhex(raw))
        for t in tree:
            if t.constructed:
                t.children  # noqa: B018 - decoding the nested level is what may fail


def test_comprehension_tlv_envelope_fields():
    # asterix ENVELOPE: device identities 82 02 83 81 with CR bit set, then SMS TPDU tag 8B.
    items = ctlv_decode(bytes.fromhex("82028381" "8b0140"))
    assert items[0].tag == 0x02 and items[0].cr and items[0].value == b"\x83\x81"
    assert items[1].tag == 0x0B and items[1].cr
    assert ctlv_encode(0x02, b"\x83\x81", cr=True).hex() == "82028381"
    assert ctlv_decode(ctlv_encode(0x1234, b"x", cr=True))[0].tag == 0x1234


@pytest.mark.parametrize("tag", [0x00, 0xFF, 0x1F, 0x9F81, 0x81FF])
def test_ill_formed_tags_are_refused_on_build(tag):
    with pytest.raises(DecodeError):
        ber_encode(tag, b"")


def test_simple_and_compact():
    assert simple_tlv_decode(simple_tlv_encode(0x01, bytes(300))) == [(0x01, bytes(300))]
    assert simple_tlv_encode(0x01, bytes(300))[:4].hex() == "01ff012c"
    assert compact_tlv_decode(bytes.fromhex("31c0" "73010203")) == [(3, b"\xc0"), (7, b"\x01\x02\x03")]
    assert compact_tlv_encode(7, b"\x01\x02\x03").hex() == "73010203"


tags = st.one_of(
    st.integers(0x01, 0x1E).map(lambda t: t | 0x80),
    st.tuples(st.sampled_from([0x5F, 0x7F, 0x9F, 0xBF, 0xDF]), st.integers(0x1F, 0x7F)).map(lambda t: t[0] << 8 | t[1]),
)


@given(st.lists(st.tuples(tags, st.binary(max_size=300)), max_size=5))
def test_ber_round_trip(items):
    data = b"".join(ber_encode(t, v) for t, v in items)
    assert [(x.tag, x.value) for x in ber_decode(data)] == items


@given(st.binary(max_size=200))
def test_decoders_raise_only_mcim_errors(raw):
    for decoder in (ber_decode, ctlv_decode, simple_tlv_decode, compact_tlv_decode):
        try:
            decoder(raw)
        except McimError:
            pass
