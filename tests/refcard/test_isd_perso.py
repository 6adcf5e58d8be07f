"""STORE DATA personalisation of a USIM instance installed by the ISD, in the DGI format of
applet-spec/profiles/personalisation.md: K/OPc travel enciphered (under KPERSO, or under the secure channel's DEK
when the profile says so), and the personalised USIM then answers AUTHENTICATE exactly as the sysmocom card of
the vectors file did (pySim AUTHENTICATE example: K, OPc, RAND/AUTN and the card's RES/CK/IK/Kc)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from mcim.apdu import CommandApdu
from mcim.gp.ccm import (
    InstallForInstall,
    InstallForPersonalization,
    StoreDataEncryption,
    StoreDataStructure,
    encode_dgi,
    read_registry,
    store_data_commands,
)
from mcim.gp.install_params import InstallParameters
from mcim.gp.registry import StatusSubset
from mcim.refcard import card_from_profile
from mcim.usim import Fcp, FileDescriptor, FileType, Structure

from tests.conftest import load_vectors

from .helpers import ADM1, PIN1
from .isd_helpers import USIM_LOAD_FILE, USIM_MODULE, GpTerminal, h, profile

AKA = load_vectors()["usim_authenticate_example"]
K, OPC = h(AKA["K"]), h(AKA["derived_computed_here"]["OPc"])
KPERSO = h("000102030405060708090A0B0C0D0E0F")
NEW_USIM = h("A0000000871002FFFFFFFF8907090003")
UST_WITH_GSM_ACCESS = h("00000004")  # TS 31.102 §4.2.8: service n°27 is bit 3 of byte 4
DGI = StoreDataStructure.DGI


def aes_cbc(key: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def install(term: GpTerminal, c9: bytes = b"\x80\x10" + KPERSO, send=None) -> None:
    send = send or (lambda c: term.ok(c.to_bytes().hex()))
    send(InstallForInstall(USIM_LOAD_FILE, USIM_MODULE, NEW_USIM, install_parameters=InstallParameters(c9))
         .to_apdu())


def create_ust(term: GpTerminal) -> None:
    """EF.UST in the new ADF, the way RFM would create it (CREATE FILE under ADM1, TS 102 222 §6.3)."""
    term.ok(f"0020000A08{ADM1}")
    term.ok(f"00A40404 10 {NEW_USIM.hex()}")
    fcp = Fcp(FileDescriptor.for_file(FileType.WORKING_EF, Structure.TRANSPARENT), fid=0x6F38, arr=(0x2F06, 2),
              file_size=4).to_bytes()
    term.ok(f"00E00000{len(fcp):02X}{fcp.hex()}")
    term.select_isd()


def authenticate(term: GpTerminal) -> bytes:
    term.ok(f"00A40404 10 {NEW_USIM.hex()}")
    term.ok(f"0020000108{PIN1}")
    return term.ok(AKA["c_apdu_computed_here"])


def life_cycle(term: GpTerminal) -> int:
    def transmit(raw: bytes) -> bytes:
        data, sw = term.exchange(raw)
        return data + sw.to_bytes(2, "big")
    return {e.aid: e for e in read_registry(transmit, StatusSubset.APPLICATIONS)}[NEW_USIM].life_cycle


def test_personalise_with_kperso_then_authenticate():
    term = GpTerminal()
    install(term)
    create_ust(term)
    assert life_cycle(term) == 0x07
    term.ok(InstallForPersonalization(NEW_USIM).to_apdu().to_bytes().hex())
    blocks = store_data_commands([encode_dgi(0x0101, h("6F38") + UST_WITH_GSM_ACCESS),
                                  encode_dgi(0x8101, aes_cbc(KPERSO, K + OPC))], structure=DGI, block_size=35)
    assert [(b.p1, b.p2) for b in blocks] == [(0x08, 0), (0x88, 1)]  # one DGI per block here
    for command in blocks:
        term.ok(command.to_bytes().hex())
    assert life_cycle(term) == 0x0F  # PERSONALISED after the last block
    assert authenticate(term) == h(AKA["response_data_computed_here"])


def test_personalise_under_the_session_dek():
    term = GpTerminal(card_from_profile(profile(secret_dgis="dek")))
    host = term.open_scp03(level=0x33)
    install(term, c9=b"", send=term.secured_ok)
    term.secured_ok(InstallForPersonalization(NEW_USIM).to_apdu())
    term.secured_ok(block(encode_dgi(0x0102, h("000010000000") + bytes(6)), p1=0x08))  # no secret: unmarked
    secret, = store_data_commands([encode_dgi(0x8101, aes_cbc(host.keys.dek, K + OPC))], structure=DGI,
                                  encryption=StoreDataEncryption.ENCRYPTED, first_block=1)
    assert secret.p1 == 0xE8
    term.secured_ok(secret)
    term.card.reset()
    expected = h(AKA["response_data_computed_here"])
    assert authenticate(term) == expected[:expected.index(h("0835f08eda84d3b377"))]  # no EF.UST here: no Kc


def perso_card(secret_dgis: str = "personalisation_key") -> GpTerminal:
    term = GpTerminal(card_from_profile(profile(secret_dgis=secret_dgis)))
    install(term)
    term.ok(InstallForPersonalization(NEW_USIM).to_apdu().to_bytes().hex())
    return term


def block(data: bytes, p1: int = 0x88, p2: int = 0) -> CommandApdu:
    return CommandApdu(0x80, 0xE2, p1, p2, data)


SECRET = encode_dgi(0x8101, aes_cbc(KPERSO, K + OPC))


@pytest.mark.parametrize(("command", "sw"), [
    (block(SECRET, p2=1), 0x6A86),  # block 0 comes first
    (block(SECRET, p1=0x90), 0x6A86),  # BER-TLV, not DGIs
    (block(SECRET, p1=0xE8), 0x6A86),  # DEK-encrypted: not in this profile's mode
    (block(encode_dgi(0x0104, b"\x00")), 0x6A88),  # unknown DGI
    (block(encode_dgi(0x0101, h("6F07") + bytes(9))), 0x6A82),  # no such file in the ADF
    (block(encode_dgi(0x0102, bytes(11))), 0x6A80),
    (block(encode_dgi(0x0103, bytes(85)[:-1] + b"\x80")), 0x6A80),  # r5 beyond 127
    (block(encode_dgi(0x8101, bytes(15))), 0x6A80),  # not whole AES blocks
    (block(SECRET + b"\x01"), 0x6A80),  # a truncated DGI after it
])
def test_store_data_refusals_change_nothing(command, sw):
    term = perso_card()
    before = term.state()
    assert term.exchange(command.to_bytes())[1] == sw
    assert term.state() == before


def test_secret_dgis_need_kperso_and_dek_mode_needs_the_marking():
    term = GpTerminal()
    install(term, c9=b"")
    term.ok(InstallForPersonalization(NEW_USIM).to_apdu().to_bytes().hex())
    assert term.exchange(block(SECRET).to_bytes())[1] == 0x6985  # no KPERSO in the install parameters
    term = perso_card("dek")
    assert term.exchange(block(SECRET).to_bytes())[1] == 0x6985  # a secret in an unmarked block
    assert term.exchange(block(SECRET, p1=0xE8).to_bytes())[1] == 0x6982  # marked, but no secure channel


def test_a_personalised_instance_takes_no_more_store_data():
    term = perso_card()
    term.ok(block(SECRET).to_bytes().hex())
    assert term.exchange(block(SECRET, p2=1).to_bytes())[1] == 0x6985
    term.ok(InstallForPersonalization(NEW_USIM).to_apdu().to_bytes().hex())
    assert term.exchange(block(SECRET).to_bytes())[1] == 0x6985
