"""Key check values (vectors file) and key diversification.

The vectors file has no diversification vectors; the known answers below are GlobalPlatformPro's published tests,
`library/src/test/java/pro/javacard/gp/test/TestPlaintextKeys.java` at martinpaljak/GlobalPlatformPro@7f524e3:
master key 4041..4F (and its 24/32-byte extensions), KDD 00 01 .. 09, expected KCVs of the derived keys.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcim.errors import BadChecksum, BadInput
from mcim.gp.keys import Diversification, KeyAlgorithm, StaticKeys, diversify, kcv, verify_kcv

from tests.conftest import load_vectors

VECTORS = load_vectors()
h = bytes.fromhex
KEY_16 = h("404142434445464748494A4B4C4D4E4F")
KEY_24 = h("404142434445464748494A4B4C4D4E4F5051525354555657")
KEY_32 = h("404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F")
KDD = h("00010203040506070809")


@pytest.mark.parametrize("v", VECTORS["gp_key_check_values"]["vectors"], ids=lambda v: v["name"])
def test_kcv_vectors(v):
    algorithm = KeyAlgorithm.AES if v["key_type"] == "aes" else KeyAlgorithm.DES3
    assert kcv(h(v["key"]), algorithm).hex() == v["kcv"]
    verify_kcv(h(v["key"]), algorithm, h(v["kcv"]))


def test_verify_kcv_raises_on_mismatch():
    with pytest.raises(BadChecksum):
        verify_kcv(KEY_16, KeyAlgorithm.AES, h("000000"))
    with pytest.raises(BadChecksum):
        verify_kcv(KEY_16, KeyAlgorithm.DES3, b"")


@pytest.mark.parametrize(("scheme", "master", "kcvs"), [
    ("emv", KEY_16, ("c33013", "6f4ca6", "bb8179")),      # testDiversification_EMV_SCP02
    ("visa2", KEY_16, ("2be598", "58da38", "3c328e")),    # testDiversification_VISA2_SCP02
    ("kdf3", KEY_16, ("e79c05", "d1bd77", "3fde8c")),     # testDiversification_KDF3_SCP03_AES128
    ("kdf3", KEY_24, ("1de8ea", "47c00c", "c04d76")),     # testDiversification_KDF3_SCP03_AES192
    ("kdf3", KEY_32, ("2972d2", "036f94", "5d57b8")),     # testDiversification_KDF3_SCP03_AES256
])
def test_diversification_globalplatformpro(scheme, master, kcvs):
    keys = diversify(master, KDD, scheme, kvn=0x30)
    assert (keys.kcvs()["enc"].hex(), keys.kcvs()["mac"].hex(), keys.kcvs()["dek"].hex()) == kcvs
    assert keys.algorithm is (KeyAlgorithm.AES if scheme == "kdf3" else KeyAlgorithm.DES3)
    assert len(keys.enc) == len(master) and keys.kvn == 0x30


def test_kdf3_external_vector():
    # testDiversification_KDF3_ExternalVector: the derived ENC key itself.
    keys = diversify(h("8C72C72CF908411653018807950D82FBAD947562F0828A0B10B8B9606ABF3BCD"), h("D9B1DE5D0362DEDCE4FB"),
                     Diversification.KDF3)
    assert keys.enc == h("9AAC5D0B3601F89438A0D9D0B6B256CFB47E6462DFA5228D3420C4AC7C224781")


@pytest.mark.parametrize(("master", "kdd", "scheme"), [
    (KEY_16, KDD[:9], "kdf3"),
    (bytes(15), KDD, "kdf3"),
    (KEY_24, KDD, "emv"),
    (KEY_16, KDD, "visa"),
])
def test_diversify_bad_input(master, kdd, scheme):
    with pytest.raises(BadInput):
        diversify(master, kdd, scheme)


def test_static_keys_hide_key_values_and_check_sizes():
    keys = StaticKeys(0x30, KEY_16, KEY_16, KEY_16)
    assert "4041" not in repr(keys) and "kvn=48" in repr(keys)
    with pytest.raises(BadInput):
        StaticKeys(0x30, KEY_16, KEY_24, KEY_16)
    with pytest.raises(BadInput):
        StaticKeys(0x30, KEY_32, KEY_32, KEY_32, KeyAlgorithm.DES3)
    with pytest.raises(BadInput):
        StaticKeys(0x100, KEY_16, KEY_16, KEY_16)


@given(st.binary(max_size=40), st.binary(max_size=12), st.sampled_from(list(Diversification)))
def test_diversify_any_input(master, kdd, scheme):
    try:
        assert isinstance(diversify(master, kdd, scheme), StaticKeys)
    except BadInput:
        pass
