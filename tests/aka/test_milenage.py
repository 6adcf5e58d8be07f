"""Milenage against 3GPP TS 35.208 §4.3 test sets 1-6 and a real sysmocom card (vectors file)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcim.aka import DEFAULT_CONSTANTS, Milenage, MilenageConstants, compute_opc
from mcim.errors import BadInput

from tests.conftest import load_vectors

VECTORS = load_vectors()
SETS = VECTORS["milenage_ts35208"]["test_sets"]
h = bytes.fromhex


@pytest.mark.parametrize("t", SETS, ids=lambda t: f"set{t['set']}")
def test_ts35208_every_field(t):
    mil = Milenage.from_op(h(t["K"]), h(t["OP"]))
    assert mil.opc.hex() == t["OPc"]
    f1 = mil.f1(h(t["RAND"]), h(t["SQN"]), h(t["AMF"]))
    assert f1.mac_a.hex() == t["f1"]
    assert f1.mac_s.hex() == t["f1star"]
    out = mil.f2345(h(t["RAND"]))
    assert out.res.hex() == t["f2"]
    assert out.ck.hex() == t["f3"]
    assert out.ik.hex() == t["f4"]
    assert out.ak.hex() == t["f5"]
    assert mil.f5star(h(t["RAND"])).hex() == t["f5star"]


@pytest.mark.parametrize("t", SETS, ids=lambda t: f"set{t['set']}")
def test_opc_given_directly_matches_op(t):
    assert compute_opc(h(t["K"]), h(t["OP"])).hex() == t["OPc"]
    mil = Milenage(h(t["K"]), h(t["OPc"]))
    assert mil.f2345(h(t["RAND"])).res.hex() == t["f2"]


def test_default_constants_are_the_published_ones():
    c = VECTORS["milenage_constants"]
    for i in range(1, 6):
        assert getattr(DEFAULT_CONSTANTS, f"c{i}").hex() == c[f"c{i}"]
        assert getattr(DEFAULT_CONSTANTS, f"r{i}") == c["r_bits"][f"r{i}"]


def test_other_constants_change_the_output():
    t = SETS[0]
    custom = MilenageConstants(c2=bytes(15) + b"\x03", r2=8)
    assert Milenage.from_op(h(t["K"]), h(t["OP"]), custom).f2345(h(t["RAND"])).res.hex() != t["f2"]
    assert not custom.is_default and DEFAULT_CONSTANTS.is_default


@pytest.mark.parametrize("kwargs", [{"c1": b"\x00"}, {"r3": 128}, {"r1": -1}])
def test_bad_constants_are_bad_input(kwargs):
    with pytest.raises(BadInput):
        MilenageConstants(**kwargs)


@pytest.mark.parametrize("k,opc", [(b"", bytes(16)), (bytes(16), bytes(15)), (bytes(17), bytes(16))])
def test_bad_key_lengths_are_bad_input(k, opc):
    with pytest.raises(BadInput):
        Milenage(k, opc)


def test_keys_are_not_in_repr():
    t = SETS[0]
    assert t["K"] not in repr(Milenage(h(t["K"]), h(t["OPc"])))
    assert "465b" not in repr(Milenage(h(t["K"]), h(t["OPc"])))


@given(st.binary(max_size=20), st.binary(max_size=8), st.binary(max_size=3))
def test_any_input_gives_result_or_bad_input(rand, sqn, amf):
    mil = Milenage(h(SETS[0]["K"]), h(SETS[0]["OPc"]))
    try:
        mil.f1(rand, sqn, amf)
        mil.f2345(rand)
    except BadInput:
        pass


def bench_vector(mil, rand):
    return mil.f1(rand, bytes(6), bytes(2)), mil.f2345(rand)


def test_benchmark_milenage_vector(benchmark):
    t = SETS[0]
    mil = Milenage(h(t["K"]), h(t["OPc"]))
    benchmark(bench_vector, mil, h(t["RAND"]))
