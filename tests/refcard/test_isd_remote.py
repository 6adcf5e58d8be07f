"""The seams the OTA half builds on: `Isd.execute_remote` (RAM commands out of a verified SCP80 packet: counted as
authenticated, sensitive data under the key set's KIK), the SCP80 key sets as a KeyLookup, the receiving entity's
counters persisted with the card state, and TAR -> application lookups."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from mcim.apdu import CommandApdu
from mcim.gp.ccm import (
    InstallForInstall,
    InstallForPersonalization,
    KeyType,
    NewKey,
    PutKeyCommand,
    StatusType,
    encode_dgi,
    get_status,
    set_status,
    verify_put_key_response,
)
from mcim.gp.install_params import InstallParameters, SimToolkitParameters, SystemParameters
from mcim.gp.keys import StaticKeys
from mcim.gp.registry import StatusSubset
from mcim.ota.keys import KeyRole
from mcim.refcard import RefCard, card_from_profile
from mcim.refcard.isd import Isd

from .isd_helpers import ISD_AID, USIM_LOAD_FILE, USIM_MODULE, h, key_set_spec, profile

KIC, KID, KIK = h("01" * 16), h("02" * 16), h("03" * 16)
OTA = key_set_spec(StaticKeys(0x01, KIC, KID, KIK))
NEW_USIM = h("A0000000871002FFFFFFFF8907090005")


def secured_card(**isd) -> tuple[RefCard, Isd]:
    card = card_from_profile(profile(life_cycle="SECURED", key_sets=[OTA, profile()["isd"]["key_sets"][0]], **isd))
    isd_app = Isd.of(card)
    assert isd_app is not None
    return card, isd_app


def test_remote_commands_count_as_authenticated():
    card, isd = secured_card()
    assert card.process(get_status(StatusSubset.ISD).to_bytes())[-2:] == b"\x69\x82"  # over the contacts: no
    reply = isd.execute_remote(get_status(StatusSubset.ISD))
    assert reply.sw == 0x9000 and reply.data[:1] == b"\xe3" and not reply.deferred
    toolkit = SimToolkitParameters(tars=(h("B00012"),))
    install = InstallForInstall(USIM_LOAD_FILE, USIM_MODULE, NEW_USIM,
                                install_parameters=InstallParameters(system=SystemParameters(sim_toolkit=toolkit)))
    assert isd.execute_remote(install.to_apdu()) == (b"\x00", 0x9000, False)
    app = isd.application_for_tar(h("B00012"))
    assert app is not None and app.aid == NEW_USIM and card.find_adf(NEW_USIM) is not None


def test_remote_put_key_is_deciphered_with_the_kik():
    _, isd = secured_card()
    command = PutKeyCommand(0x02, tuple(NewKey(KeyType.AES, bytes((i,)) * 16) for i in (4, 5, 6)))
    reply = isd.execute_remote(command.to_apdu(KIK), ota_kvn=0x01)
    verify_put_key_response(reply.data, command)
    key_set = isd.key_set(0x02)
    assert key_set is not None and key_set.key(1).value == b"\x04" * 16
    assert isd.execute_remote(command.to_apdu(KIK))[1] == 0x6982  # no key set named: no KIK
    assert isd.execute_remote(command.to_apdu(KID), ota_kvn=0x01)[1] in (0x6A80, 0x9485)  # the wrong key


def test_remote_store_data_under_the_kik():
    card, isd = secured_card(secret_dgis="dek")
    isd.execute_remote(InstallForInstall(USIM_LOAD_FILE, USIM_MODULE, NEW_USIM).to_apdu())
    assert isd.execute_remote(InstallForPersonalization(NEW_USIM).to_apdu()).sw == 0x9000
    keys = h("11" * 16) + h("22" * 16)
    encryptor = Cipher(algorithms.AES(KIK), modes.CBC(bytes(16))).encryptor()
    block = CommandApdu(0x80, 0xE2, 0xE8, 0x00, encode_dgi(0x8101, encryptor.update(keys) + encryptor.finalize()))
    assert isd.execute_remote(block, ota_kvn=0x01).sw == 0x9000
    usim = card.find_adf(NEW_USIM)
    assert usim is not None and (usim.app.params.k, usim.app.params.opc) == (keys[:16], keys[16:])


def test_remote_state_is_lost_with_a_reset():
    card, isd = secured_card()
    isd.execute_remote(InstallForInstall(USIM_LOAD_FILE, USIM_MODULE, NEW_USIM).to_apdu())
    isd.execute_remote(InstallForPersonalization(NEW_USIM).to_apdu())
    card.reset()
    block = CommandApdu(0x80, 0xE2, 0x88, 0x00, encode_dgi(0x0102, bytes(12)))
    assert isd.execute_remote(block).sw == 0x6A86  # to the ISD itself now, which takes BER-TLV only


def test_remote_refusals():
    card, isd = secured_card()
    assert isd.execute_remote(CommandApdu(0x80, 0x50, 0x00, 0x00, bytes(8), le=256)).sw == 0x6D00
    assert isd.execute_remote(CommandApdu(0x84, 0xF2, 0x80, 0x02, bytes(10))).sw == 0x6D00
    before = card.to_state()
    assert isd.execute_remote(set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x01)).sw == 0x6985
    assert card.to_state() == before
    isd.execute_remote(set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0xFF))
    assert isd.execute_remote(get_status(StatusSubset.ISD)).sw == 0x6985  # TERMINATED
    assert isd.execute_remote(CommandApdu(0x80, 0xCA, 0x00, 0x66, le=256)).sw == 0x9000


def test_key_lookup_and_tar_lookup():
    _, isd = secured_card()
    assert isd.ota_key(0x01, KeyRole.KIC) == KIC and isd.ota_key(0x01, KeyRole.KID) == KID
    assert isd.ota_key(0x30, KeyRole.KIC) is None and isd.ota_key(0x05, KeyRole.KIC) is None
    own = isd.application_for_tar(h("000000"))
    assert own is not None and own.aid == ISD_AID and own.uicc.minimum_security_level is not None
    assert isd.application_for_tar(h("B00099")) is None


def test_ota_counters_are_persisted(tmp_path):
    path = tmp_path / "card.json"
    card = card_from_profile(profile(key_sets=[OTA]), state_path=path)
    isd = Isd.of(card)
    assert isd is not None
    isd.ota_counters[("kvn", 1)] = 5
    isd.ota_counters[("tar", h("B00000"))] = 9
    card.process(h("80CA006600"))  # the card writes its state file after a command
    again = Isd.of(RefCard.load(path))
    assert again is not None
    assert dict(again.ota_counters) == {("kvn", 1): 5, ("tar", h("B00000")): 9}
