"""mcim.gp.crypto: AES-CMAC against NIST SP 800-38B (vectors file), the SP 800-108 KDF against GlobalPlatformPro,
and the hand-chained CBC / retail MAC against the `cryptography` package used directly."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st
from mcim.errors import BadCryptogram, BadInput, BadMac, DecodeError
from mcim.gp import crypto
from mcim.gp.keys import kcv

from tests.conftest import load_vectors

try:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES  # type: ignore[attr-defined,no-redef]

VECTORS = load_vectors()
h = bytes.fromhex
aes_keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
des_keys = st.sampled_from([8, 16, 24]).flatmap(lambda n: st.binary(min_size=n, max_size=n))


def blocks(size: int) -> st.SearchStrategy[bytes]:
    return st.integers(0, 8).flatmap(lambda n: st.binary(min_size=n * size, max_size=n * size))


@pytest.mark.parametrize("v", VECTORS["aes_cmac_nist_sp800_38b"]["vectors"], ids=lambda v: v["name"])
def test_aes_cmac_nist(v):
    assert crypto.aes_cmac(h(v["key"]), h(v["msg"])).hex() == v["tag"]
    assert crypto.AesKey(h(v["key"])).cmac(h(v["msg"])).hex() == v["tag"]


def test_kdf_counter_cmac_matches_globalplatformpro():
    # GlobalPlatformPro TestPlaintextKeys.testScp3Kdf (martinpaljak/GlobalPlatformPro@7f524e3): KDF with key
    # 4041..4F, fixed inputs a = b = 16 x 00, 16 bytes out -> AES KCV BD8165.
    derived = crypto.kdf_counter_cmac(h("404142434445464748494a4b4c4d4e4f"), bytes(16), bytes(16), 16)
    assert kcv(derived, "aes").hex() == "bd8165"


@given(aes_keys, blocks(16), st.binary(min_size=16, max_size=16))
def test_aes_cbc_equals_cryptography(key, data, iv):
    reference = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor().update(data)
    assert crypto.aes_cbc_encrypt(key, data, iv) == reference
    assert crypto.aes_cbc_decrypt(key, reference, iv) == data
    assert crypto.aes_ecb_decrypt(key, crypto.aes_ecb_encrypt(key, data)) == data


@given(des_keys, blocks(8), st.binary(min_size=8, max_size=8))
def test_des_cbc_equals_cryptography(key, data, iv):
    full = key * 3 if len(key) == 8 else key + key[:8] if len(key) == 16 else key
    reference = Cipher(TripleDES(full), modes.CBC(iv)).encryptor().update(data)
    assert crypto.des3_cbc_encrypt(key, data, iv) == reference
    assert crypto.des3_cbc_decrypt(key, reference, iv) == data
    assert crypto.des3_cbc_mac(key, data, iv) == (reference[-8:] if data else iv)
    assert crypto.des3_ecb_decrypt(key, crypto.des3_ecb_encrypt(key, data)) == data


@given(st.binary(min_size=16, max_size=16), blocks(8).filter(bool), st.binary(min_size=8, max_size=8))
def test_retail_mac_is_iso9797_algorithm_3(key, data, iv):
    # ISO/IEC 9797-1 MAC algorithm 3: single-DES CBC-MAC under K1, then decrypt K2 and encrypt K1.
    k1 = Cipher(TripleDES(key[:8] * 3), modes.ECB())
    k2 = Cipher(TripleDES(key[8:] * 3), modes.ECB())
    state = iv
    for i in range(0, len(data), 8):
        state = k1.encryptor().update(crypto.xor(state, data[i:i + 8]))
    expected = k1.encryptor().update(k2.decryptor().update(state))
    assert crypto.retail_mac(key, data, iv) == expected


@given(st.binary(max_size=64), st.sampled_from([8, 16]))
def test_pad80_round_trip(data, block):
    padded = crypto.pad80(data, block)
    assert len(padded) % block == 0 and 0 < len(padded) - len(data) <= block
    assert crypto.unpad80(padded, block) == data
    assert crypto.unpad80(padded) == data


@given(st.binary(max_size=64), st.sampled_from([None, 8, 16]))
def test_unpad80_any_bytes(data, block):
    try:
        assert isinstance(crypto.unpad80(data, block), bytes)
    except DecodeError:
        pass


def test_unpad80_rejects_padding_longer_than_a_block():
    with pytest.raises(DecodeError):
        crypto.unpad80(b"\x80" + bytes(16), 8)


@pytest.mark.parametrize("call", [
    lambda: crypto.aes_cmac(bytes(15), b""),
    lambda: crypto.des3_ecb_encrypt(bytes(17), bytes(8)),
    lambda: crypto.aes_cbc_encrypt(bytes(16), bytes(15)),
    lambda: crypto.des3_cbc_mac(bytes(16), bytes(9)),
    lambda: crypto.retail_mac(bytes(24), bytes(8)),
    lambda: crypto.retail_mac(bytes(16), b""),
    lambda: crypto.kdf_counter_cmac(bytes(16), b"", b"", 0),
])
def test_bad_sizes_are_bad_input(call):
    with pytest.raises(BadInput):
        call()


def test_verify_functions_raise_their_own_errors():
    crypto.verify_mac(b"abc", b"abc", where="x")
    crypto.verify_cryptogram(b"abc", b"abc", where="x")
    with pytest.raises(BadMac):
        crypto.verify_mac(b"abc", b"abd", where="x")
    with pytest.raises(BadCryptogram):
        crypto.verify_cryptogram(b"abc", b"ab", where="x")


def test_key_objects_hide_their_value():
    key = h("404142434445464748494a4b4c4d4e4f")
    for engine in (crypto.AesKey(key), crypto.DesKey(key)):
        assert "4041" not in repr(engine) and "@" not in repr(engine)
