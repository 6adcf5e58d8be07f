"""Profile file specifications encode as the public examples (vectors file: pySim's TS 31.102 codec tables)."""

import pytest
from mcim.errors import BadInput
from mcim.filespec import encode_rule, file_content
from mcim.usim import encode_arr_record

from tests.conftest import load_vectors

EXAMPLES = {e["what"]: e["hex"] for e in load_vectors()["file_encoding_examples"]["examples"]}


@pytest.mark.parametrize("spec,size,what", [
    ({"imsi": "228062800000208"}, 9, "EF.IMSI = 228062800000208"),
    ({"acc": [0, 1, 3, 5, 15]}, 2, "EF.ACC ACC0,1,3,5,15"),
    ({"spn": {"name": "GSM-R CH", "display_condition": 1}}, 17, 'EF.SPN show in HPLMN, "GSM-R CH"'),
    ({"hpplmn": 5}, 1, "EF.HPPLMN 5"),
    ({"ad": {"mnc_length": 2}}, 4, "EF.AD normal operation, MNC length 2"),
])
def test_contents_match_public_encodings(spec, size, what):
    assert file_content(spec, size, "f").hex() == EXAMPLES[what]


def test_short_content_is_ff_filled_and_oversize_refused():
    assert file_content({"data": "07"}, 3, "f") == b"\x07\xff\xff"
    with pytest.raises(BadInput, match="at most the file size"):
        file_content({"data": "0102"}, 1, "files[0]")


def test_rule_encoding_per_iso_7816_4():
    # Written out by hand from the standards: AM_DO 80 01 <AM byte> (ISO/IEC 7816-4 Table 18: 01 read, 02 update),
    # then its SC_DO: 90 00 always; A4 {83 01 <key ref>, 95 01 08} a user authentication with key reference 0A =
    # ADM1 (ETSI TS 102 221 §9.2.4 and Table 9.3).
    record = encode_arr_record(encode_rule({"read": "always", "update": "ADM1"}, "r"))
    assert record.hex() == "800101" "9000" "800102" "a40683010a950108"
