"""AUTN/AUTS, c2/c3, SQN management (TS 33.102) and the AUTHENTICATE APDU (TS 31.102 §7.1.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcim.aka import (
    AuthContext,
    GsmAuthResult,
    Milenage,
    SqnManager,
    SyncFailure,
    UmtsAuthResult,
    build_authenticate,
    build_autn,
    build_auts,
    generate_vector,
    kc_from_ck_ik,
    parse_authenticate_response,
    sres_from_res,
    verify_autn,
    verify_auts,
)
from mcim.errors import BadInput, BadMac, DecodeError

from tests.conftest import load_vectors

VECTORS = load_vectors()
SETS = VECTORS["milenage_ts35208"]["test_sets"]
CARD = VECTORS["usim_authenticate_example"]
h = bytes.fromhex


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def card_milenage():
    return Milenage.from_op(h(CARD["K"]), h(CARD["OP"]))


@pytest.mark.parametrize("t", SETS, ids=lambda t: f"set{t['set']}")
def test_autn_is_sqn_xor_ak_amf_mac(t):
    mil = Milenage.from_op(h(t["K"]), h(t["OP"]))
    autn = build_autn(mil, h(t["RAND"]), h(t["SQN"]), h(t["AMF"]))
    assert autn == xor(h(t["SQN"]), h(t["f5"])) + h(t["AMF"]) + h(t["f1"])
    fields = verify_autn(mil, h(t["RAND"]), autn)
    assert (fields.sqn.hex(), fields.amf.hex()) == (t["SQN"], t["AMF"])


@pytest.mark.parametrize("t", SETS, ids=lambda t: f"set{t['set']}")
def test_kc_and_sres_are_c3_and_c2(t):
    ck, ik, res = h(t["f3"]), h(t["f4"]), h(t["f2"])
    assert kc_from_ck_ik(ck, ik) == xor(xor(ck[:8], ck[8:]), xor(ik[:8], ik[8:]))
    assert sres_from_res(res) == xor(res[:4], res[4:])


def test_real_card_example():
    """pySim's AUTHENTICATE against a sysmocom card: RES, CK, IK and Kc as the card returned them."""
    mil = card_milenage()
    fields = verify_autn(mil, h(CARD["RAND"]), h(CARD["AUTN"]))
    assert fields.sqn.hex() == CARD["derived_computed_here"]["SQN"]
    out = mil.f2345(h(CARD["RAND"]))
    want = CARD["expected"]
    assert (out.res.hex(), out.ck.hex(), out.ik.hex()) == (want["res"], want["ck"], want["ik"])
    assert kc_from_ck_ik(out.ck, out.ik).hex() == want["kc"]
    vector = generate_vector(mil, h(CARD["RAND"]), fields.sqn, fields.amf)
    assert vector.autn.hex() == CARD["AUTN"]
    assert vector.kc.hex() == want["kc"]


def test_bad_mac_raises():
    autn = bytearray(h(CARD["AUTN"]))
    autn[-1] ^= 1
    with pytest.raises(BadMac):
        verify_autn(card_milenage(), h(CARD["RAND"]), bytes(autn))


def test_auts_structure_and_round_trip():
    t = SETS[2]
    mil = Milenage.from_op(h(t["K"]), h(t["OP"]))
    auts = build_auts(mil, h(t["RAND"]), h(t["SQN"]))
    assert auts[:6] == xor(h(t["SQN"]), h(t["f5star"]))  # TS 33.102 §6.3.3, AK* = f5* from TS 35.208
    assert auts[6:] == mil.f1(h(t["RAND"]), h(t["SQN"]), b"\x00\x00").mac_s
    assert verify_auts(mil, h(t["RAND"]), auts) == h(t["SQN"])
    with pytest.raises(BadMac):
        verify_auts(mil, h(t["RAND"]), auts[:-1] + bytes([auts[-1] ^ 0x80]))


def test_c2_pads_short_res():
    # TS 33.102 §6.8.1.2: RES is zero-padded to 128 bits before the four words are XORed
    assert sres_from_res(h("0102030405")) == bytes([1 ^ 5, 2, 3, 4])


@pytest.mark.parametrize("res", [b"", b"\x01\x02\x03", bytes(17)])
def test_c2_rejects_bad_res(res):
    with pytest.raises(BadInput):
        sres_from_res(res)


def test_authenticate_command_bytes():
    apdu = build_authenticate(h(CARD["RAND"]), h(CARD["AUTN"]))
    assert apdu.to_bytes().hex() == CARD["c_apdu_computed_here"]
    gsm = build_authenticate(h(CARD["RAND"]), context=AuthContext.GSM)
    assert gsm.to_bytes().hex() == "0088008011" + "10" + CARD["RAND"] + "00"


@pytest.mark.parametrize("kwargs", [{"rand": bytes(15)}, {"rand": bytes(16)},
                                    {"rand": bytes(16), "autn": bytes(16), "context": AuthContext.GSM}])
def test_authenticate_command_bad_input(kwargs):
    with pytest.raises(BadInput):
        build_authenticate(**kwargs)


def test_authenticate_response_parse():
    parsed = parse_authenticate_response(h(CARD["response_data_computed_here"]))
    want = CARD["expected"]
    assert parsed == UmtsAuthResult(h(want["res"]), h(want["ck"]), h(want["ik"]), h(want["kc"]))
    assert parsed.to_bytes().hex() == CARD["response_data_computed_here"]
    no_kc = UmtsAuthResult(h(want["res"]), h(want["ck"]), h(want["ik"]))
    assert parse_authenticate_response(no_kc.to_bytes()) == no_kc
    sync = SyncFailure(bytes(range(14)))
    assert parse_authenticate_response(sync.to_bytes()) == sync
    gsm = GsmAuthResult(bytes(4), bytes(8))
    assert parse_authenticate_response(gsm.to_bytes(), AuthContext.GSM) == gsm


@given(st.binary(max_size=64), st.sampled_from(list(AuthContext)))
def test_response_parser_never_crashes(data, context):
    try:
        parse_authenticate_response(data, context)
    except DecodeError:
        pass


class TestSqnAnnexC:
    def test_fresh_then_replayed(self):
        m = SqnManager()
        sqn = (7 << 5) | 3
        assert m.is_fresh(sqn)
        m.accept(sqn)
        assert not m.is_fresh(sqn)  # same SEQ, same IND: replay
        assert m.is_fresh((7 << 5) | 4)  # same SEQ in another IND slot is fresh (C.2.2)
        assert m.sqn_ms() == sqn.to_bytes(6, "big")

    def test_lower_seq_in_unused_slot_is_fresh(self):
        m = SqnManager()
        m.accept((100 << 5) | 1)
        assert m.is_fresh((50 << 5) | 2)
        assert not m.is_fresh((50 << 5) | 1)

    def test_delta_and_limit(self):
        m = SqnManager(delta=10, limit=5)
        m.accept(20 << 5)
        assert not m.is_fresh((31 << 5) | 1)  # 11 ahead > delta
        assert m.is_fresh((30 << 5) | 1)
        assert not m.is_fresh((14 << 5) | 2)  # 6 behind > limit
        assert m.is_fresh((15 << 5) | 2)

    def test_ind_bits_configurable_and_round_trip(self):
        m = SqnManager(ind_bits=3)
        m.accept((9 << 3) | 7)
        assert len(m.seq_ms) == 8
        assert SqnManager.from_dict(m.to_dict()) == m

    @pytest.mark.parametrize("kwargs", [{"ind_bits": 17}, {"seq_ms": [0, 0]}, {"delta": -1}])
    def test_bad_config(self, kwargs):
        with pytest.raises(BadInput):
            SqnManager(**kwargs)

    def test_sqn_out_of_range(self):
        with pytest.raises(BadInput):
            SqnManager().is_fresh(1 << 48)
