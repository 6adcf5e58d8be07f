"""mcim.perso: the DGI STORE DATA chains of applet-spec/profiles/personalisation.md, and the personalisation
that mirrors the reference UICC.  (The applets taking these chains is tested on jCardSim: test_target.py.)"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st
from mcim.aka.milenage import MilenageConstants
from mcim.errors import BadInput
from mcim.gp.ccm import decode_dgis
from mcim.perso import (
    MCIM_FILES,
    BootstrapPersonalisation,
    Dgi,
    McimPersonalisation,
    OtaTar,
    SqnPolicy,
    bootstrap_from_refcard,
    mcim_from_refcard,
    secret_dgi,
    store_data,
)
from mcim.refcard import open_card, open_transport
from mcim.transport.t0 import T0Layer

# FIPS-197 Appendix C.1 (AES-128): one block, so AES-CBC with a zero IV is this AES-ECB known answer.
FIPS197_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
FIPS197_PLAIN = bytes.fromhex("00112233445566778899aabbccddeeff")
FIPS197_CIPHER = bytes.fromhex("69c4e0d86a7b0430d8cdb78070b4c55a")
KEY = bytes(range(16, 32))


def aes_cbc_decrypt(key: bytes, data: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def test_secret_dgi_is_aes_cbc_with_zero_iv_and_no_padding():
    assert secret_dgi(0x8101, FIPS197_KEY, FIPS197_PLAIN) == bytes.fromhex("810110") + FIPS197_CIPHER
    clear = bytes(range(32))
    [(tag, value)] = decode_dgis(secret_dgi(0x8201, KEY, clear))
    assert tag == 0x8201 and len(value) == 32 and aes_cbc_decrypt(KEY, value) == clear


@pytest.mark.parametrize("tag, key, clear, message", [
    (0x0101, KEY, bytes(16), "a tag 8000-FFFF"),
    (0x8101, KEY[:8], bytes(16), "16 bytes"),
    (0x8101, KEY, bytes(15), "whole 16-byte blocks"),
    (0x8101, KEY, bytes(80), "at most 64"),
])
def test_secret_dgi_refuses(tag, key, clear, message):
    with pytest.raises(BadInput, match=message):
        secret_dgi(tag, key, clear)


def test_store_data_p1_p2_and_whole_dgis_per_block():
    files = tuple((fid, bytes(size)) for fid, size in MCIM_FILES.items())
    commands = McimPersonalisation(files, bytes(16), bytes(16)).commands(KEY)
    assert [c.p2 for c in commands] == list(range(len(commands))) and len(commands) > 1
    # 08 DGI format; 28 with an enciphered DGI in the block (P1 b7b6 = 01); b8 on the last block only.
    assert [c.p1 for c in commands] == [0x08] * (len(commands) - 1) + [0xA8]
    assert all(c.cla == 0x80 and c.ins == 0xE2 and c.le is None and len(c.data) <= 255 for c in commands)
    dgis = [dgi for c in commands for dgi in decode_dgis(c.data)]  # each block parses alone: whole DGIs
    assert [tag for tag, _ in dgis] == [Dgi.FILE_CONTENT] * len(files) + [Dgi.SUBSCRIBER_KEYS]
    assert [value[:2] for _, value in dgis[:-1]] == [fid.to_bytes(2, "big") for fid in MCIM_FILES]


def test_mcim_dgis_sends_only_parameters_that_differ_from_the_applet_defaults():
    plain = McimPersonalisation((), bytes(16), bytes(16)).dgis(KEY)
    assert [tag for tag, _ in decode_dgis(b"".join(plain))] == [0x8101]
    constants = MilenageConstants(r1=1)
    tuned = McimPersonalisation((), bytes(range(16)), bytes(range(16, 32)), SqnPolicy(5, 7), constants).dgis(KEY)
    (_, sqn), (_, milenage), (_, keys) = decode_dgis(b"".join(tuned))
    assert sqn == bytes.fromhex("000000000005 000000000007")
    assert milenage == bytes(15) + b"\x00" + bytes(15) + b"\x01" + bytes(15) + b"\x02" + bytes(15) + b"\x04" \
        + bytes(15) + b"\x08" + bytes([1, 0, 32, 64, 96])  # TS 35.206 §4.1 c1..c5, then r1..r5 in bits
    assert aes_cbc_decrypt(KEY, keys) == bytes(range(32))


@pytest.mark.parametrize("files, k, message", [
    (((0x6F99, b"\x00"),), bytes(16), "one of 2FE2"),
    (((0x6F07, bytes(10)),), bytes(16), "at most its size, 9"),
    ((), bytes(8), "16 bytes"),
])
def test_mcim_personalisation_refuses(files, k, message):
    with pytest.raises(BadInput, match=message):
        McimPersonalisation(files, k, bytes(16))


def test_bootstrap_dgis():
    ota = BootstrapPersonalisation((OtaTar(bytes.fromhex("B00011"), 0x16), OtaTar(bytes(3), 0x06)), 3,
                                   kic=bytes(16), kid=bytes(range(16)), kik=bytes(range(16, 32)), counter=0x0102)
    dgis = decode_dgis(b"".join(ota.dgis(KEY)))
    assert dgis[:3] == [(0x0201, bytes.fromhex("B0001116")), (0x0201, bytes.fromhex("00000006")),
                        (0x0202, bytes.fromhex("03 0000000102"))]
    assert dgis[3][0] == 0x8201 and aes_cbc_decrypt(KEY, dgis[3][1]) == bytes(16) + bytes(range(32))


@pytest.mark.parametrize("kwargs, message", [
    ({"tars": ()}, "1 to 4"),
    ({"key_version": 0x10}, "01..0F"),
    ({"counter": 1 << 40}, "5 bytes"),
    ({"kid": bytes(24)}, "AES-128"),
])
def test_bootstrap_personalisation_refuses(kwargs, message):
    fields = {"tars": (OtaTar(bytes(3), 0),), "key_version": 1, "kic": bytes(16), "kid": bytes(16)} | kwargs
    with pytest.raises(BadInput, match=message):
        BootstrapPersonalisation(**fields)


def test_keys_stay_out_of_reprs():
    mcim = McimPersonalisation((), bytes.fromhex("11" * 16), bytes.fromhex("22" * 16))
    ota = BootstrapPersonalisation((OtaTar(bytes(3), 0),), 1, kic=b"\x33" * 16, kid=b"\x44" * 16)
    for text in (repr(mcim), repr(ota)):
        assert not any(secret in text for secret in ("11" * 4, "\\x11", "\\x22", "3333", "\\x33", "\\x44"))


def test_the_mirror_holds_what_the_reference_usim_answers():
    """Every EF of the mirror reads back from the reference UICC as it is (UST padded with 00 to the MCIM's
    8 bytes), and K/OPc are the profile's: the sysmocom example of the vectors file."""
    card = open_card()
    mcim = mcim_from_refcard(card)
    reference = T0Layer(open_transport(None))
    assert reference.transmit(bytes.fromhex("0020000108") + b"1234" + b"\xff" * 4) == b"\x90\x00"
    assert reference.transmit(bytes.fromhex("00A4040C07A0000000871002")) == b"\x90\x00"
    for fid, content in mcim.files:
        if fid == 0x2FE2:
            assert reference.transmit(bytes.fromhex("00A4000C023F00")) == b"\x90\x00"
        assert reference.transmit(bytes.fromhex("00A4000C02") + fid.to_bytes(2, "big"))[-2:] == b"\x90\x00"
        read = reference.transmit(bytes.fromhex("00B00000") + bytes([min(len(content), MCIM_FILES[fid])]))
        stored = read[:-2] + (bytes(MCIM_FILES[fid] - len(read[:-2])) if fid == 0x6F38 else b"")
        assert read[-2:] == b"\x90\x00" and stored == content, f"EF {fid:04X}"
        if fid == 0x2FE2:
            assert reference.transmit(bytes.fromhex("00A4040C07A0000000871002")) == b"\x90\x00"
    assert {fid for fid, _ in mcim.files} == set(MCIM_FILES)
    assert dict(mcim.files)[0x6F38] == bytes.fromhex("0000040c00000000")


def test_the_mirror_takes_the_profile_keys(vectors):
    mcim = mcim_from_refcard(open_card())
    example = vectors["usim_authenticate_example"]
    assert mcim.k.hex() == example["K"] and mcim.opc.hex() == example["derived_computed_here"]["OPc"]
    assert mcim.sqn == SqnPolicy(1 << 28, 0) and mcim.milenage == MilenageConstants()


def test_the_bootstrap_mirror_takes_the_isd_tars_and_level():
    drawn = iter([b"\x01" * 16, b"\x02" * 16])
    ota = bootstrap_from_refcard(open_card(), random=lambda n: next(drawn))
    # default.yaml: isd.tars ["000000"], isd.msl "0116" (MSL parameter 01: minimum SPI1 16); no SCP80 key set.
    assert ota.tars == (OtaTar(bytes(3), 0x16),) and ota.key_version == 1 and ota.counter == 0
    assert (ota.kic, ota.kid) == (b"\x01" * 16, b"\x02" * 16)


@given(st.lists(st.tuples(st.sampled_from(sorted(MCIM_FILES)), st.binary(max_size=33)), max_size=20))
def test_any_valid_file_set_gives_parseable_blocks(files):
    files = [(fid, data[:MCIM_FILES[fid]]) for fid, data in files]
    commands = store_data(McimPersonalisation(tuple(files), bytes(16), bytes(16)).dgis(KEY))
    parsed = [dgi for c in commands for dgi in decode_dgis(c.data)]
    assert [(tag, value[2:]) for tag, value in parsed[:-1]] == [(0x0101, data) for _, data in files]
    assert [c.p1 & 0x80 for c in commands] == [0] * (len(commands) - 1) + [0x80]
