"""Card content management on the ISD (GP Card Specification v2.3 §11): INSTALL in every variant the host builds,
LOAD with block and hash checks, DELETE with related objects, GET STATUS in both formats with 6310 continuation,
SET STATUS for the card and for applications, GET DATA, PUT KEY and DELETE [key].  Refusals carry the GP status
word and leave the card state as it was."""

from __future__ import annotations

import hashlib

import pytest
from mcim.apdu import CommandApdu
from mcim.gp.ccm import (
    InstallForExtradition,
    InstallForInstall,
    InstallForLoad,
    InstallForMakeSelectable,
    InstallForPersonalization,
    InstallForRegistryUpdate,
    KeyType,
    NewKey,
    PutKeyCommand,
    StatusType,
    delete,
    delete_key,
    get_data,
    load_commands,
    parse_card_data,
    parse_cplc,
    parse_key_information,
    parse_select_response,
    read_registry,
    set_status,
    store_data_commands,
    verify_put_key_response,
)
from mcim.gp.install_params import InstallParameters, SimToolkitParameters, SystemParameters
from mcim.gp.keys import KeyAlgorithm
from mcim.gp.registry import Privilege, StatusSubset
from mcim.refcard import card_from_profile

from .helpers import USIM_AID
from .isd_helpers import GP_TEST_KEY, ISD_AID, USIM_LOAD_FILE, USIM_MODULE, GpTerminal, h, profile

PACKAGE = h("D0D1D2D3D4D501")
APPLET = h("D0D1D2D3D4D50101")
NEW_USIM = h("A0000000871002FFFFFFFF8907090002")


def component(tag: int, info: bytes) -> bytes:
    """JCVM 3.0.5 §6.1: u1 tag, u2 size, info."""
    return bytes((tag,)) + len(info).to_bytes(2, "big") + info


def lfdb(package: bytes = PACKAGE, applets: tuple[bytes, ...] = (APPLET,), code: int = 600) -> bytes:
    """A Load File Data Block: Header (§6.4: DECAFFED, CAP 2.1, flags ACC_APPLET, package 1.0), Applet (§6.5)
    and a Method component of filler bytes, in load order."""
    header = h("DECAFFED") + bytes((1, 2, 0x04, 0, 1, len(package))) + package
    applet = bytes((len(applets),)) + b"".join(bytes((len(a),)) + a + b"\x00\x10" for a in applets)
    return component(1, header) + component(3, applet) + component(7, bytes(range(256)) * (code // 256) + b"\x00")


def registry(term: GpTerminal, subset: StatusSubset, tlv: bool = True):
    return read_registry(lambda raw: _raw(term, raw), subset, tlv=tlv)


def _raw(term: GpTerminal, raw: bytes) -> bytes:
    data, sw = term.exchange(raw)
    return data + sw.to_bytes(2, "big")


def load(term: GpTerminal, data: bytes, *, block_size: int = 200, hash_value: bytes | None = None,
         aid: bytes = PACKAGE) -> list[int]:
    digest = hashlib.sha256(data).digest() if hash_value is None else hash_value
    assert term.exchange(InstallForLoad(aid, lfdb_hash=digest).to_apdu().to_bytes()) == (b"\x00", 0x9000)
    return [term.exchange(c.to_bytes())[1] for c in load_commands(data, block_size=block_size)]


def install_usim(term: GpTerminal, aid: bytes = NEW_USIM, selectable: bool = True, c9: bytes = b"") -> int:
    command = InstallForInstall(USIM_LOAD_FILE, USIM_MODULE, aid, install_parameters=InstallParameters(c9),
                                make_selectable=selectable)
    return term.exchange(command.to_apdu().to_bytes())[1]


@pytest.fixture
def term() -> GpTerminal:
    return GpTerminal()  # OP_READY: card content management without a secure channel, as development cards


def refused(term: GpTerminal, command: CommandApdu | str, sw: int) -> None:
    raw = command.to_bytes() if isinstance(command, CommandApdu) else h(command)
    before = term.state()
    assert term.exchange(raw)[1] == sw
    assert term.state() == before


# --- SELECT and GET DATA ------------------------------------------------------------------------------------------

def test_select_isd_answers_its_fci(term):
    fci = parse_select_response(term.select_isd())
    assert fci.aid == ISD_AID and fci.max_command_length == 0xFF
    assert fci.security_domain_data is not None and fci.security_domain_data.secure_channels == ((3, 0x70),)
    assert parse_select_response(term.ok("00A4040000")).aid == ISD_AID  # no name: the ISD (GP v2.3 §11.9.2)


def test_get_data_objects(term):
    card_data = parse_card_data(term.ok("80CA006600"))
    assert (card_data.gp_version, card_data.secure_channels) == ("2.3", ((3, 0x70),))
    assert parse_cplc(term.ok("80CA9F7F00"))["ic_serial_number"] == h("00000001")
    infos = parse_key_information(term.ok("80CA00E000"))
    assert [(i.kid, i.kvn, i.key_type, i.length) for i in infos] == [(k, 0x30, KeyType.AES, 16) for k in (1, 2, 3)]
    assert term.sw("80CA004200") == 0x6A88  # no IIN until STORE DATA gives one
    term.ok("80E29000 05 4203123456")  # STORE DATA to the ISD itself, BER-TLV (P1 b5b4 = 10, last block)
    assert term.ok("00CA004200") == h("4203123456")
    refused(term, "80E29000 03 9F0100", 0x6A88)


# --- INSTALL ------------------------------------------------------------------------------------------------------

def test_install_native_usim_and_make_selectable(term):
    assert install_usim(term, selectable=False) == 0x9000
    assert term.card.find_adf(NEW_USIM) is not None
    entry = {e.aid: e for e in registry(term, StatusSubset.APPLICATIONS)}[NEW_USIM]
    assert entry.life_cycle_name == "INSTALLED"
    assert term.sw(f"00A40404 10 {NEW_USIM.hex()}") == 0x6A82  # not selectable yet (GP v2.3 §5.3.1)
    term.select_isd()
    term.ok(InstallForMakeSelectable(NEW_USIM).to_apdu().to_bytes().hex())
    term.ok(f"00A40404 10 {NEW_USIM.hex()}")
    term.select_isd()
    refused(term, InstallForMakeSelectable(NEW_USIM).to_apdu(), 0x6985)  # already SELECTABLE


@pytest.mark.parametrize(("command", "sw"), [
    (InstallForInstall(USIM_LOAD_FILE, USIM_MODULE, h(USIM_AID)), 0x6A80),  # the PCID USIM exists
    (InstallForInstall(USIM_LOAD_FILE, USIM_MODULE, ISD_AID), 0x6A80),
    (InstallForInstall(USIM_LOAD_FILE, h("A000000087100299"), NEW_USIM), 0x6A88),  # no such module
    (InstallForInstall(h("A000000087109999"), USIM_MODULE, NEW_USIM), 0x6A88),  # no such load file
    (InstallForInstall(USIM_LOAD_FILE, USIM_MODULE, NEW_USIM, Privilege.SECURITY_DOMAIN), 0x6A80),
    (InstallForInstall(USIM_LOAD_FILE, USIM_MODULE, NEW_USIM, install_parameters=InstallParameters(b"\x80\x01\x00")),
     0x6A80),  # KPERSO must be 16 bytes
    (InstallForInstall(USIM_LOAD_FILE, USIM_MODULE, NEW_USIM, install_parameters=InstallParameters(
        system=SystemParameters(sim_toolkit=SimToolkitParameters(tars=(h("000000"),))))), 0x6A80),  # the ISD's TAR
    (InstallForMakeSelectable(NEW_USIM), 0x6A88),
    (InstallForPersonalization(NEW_USIM), 0x6A88),
    (InstallForExtradition(h("A000000151999999"), h(USIM_AID)), 0x6A88),
    (InstallForRegistryUpdate(application_aid=NEW_USIM, privileges=Privilege.CARD_LOCK), 0x6A88),
])
def test_install_refusals(term, command, sw):
    refused(term, command.to_apdu(), sw)


def test_install_unknown_p1_and_p2(term):
    refused(term, "80E60100 03 000000 00", 0x6A86)
    refused(term, "80E60201 03 000000 00", 0x6A86)
    refused(term, "80E60400 03 000000 00", 0x6A80)  # for install, but not its layout


def test_extradition_and_registry_update(term):
    term.ok(InstallForExtradition(ISD_AID, h(USIM_AID)).to_apdu().to_bytes().hex())
    term.ok(InstallForRegistryUpdate(application_aid=h(USIM_AID), privileges=Privilege.CARD_LOCK)
            .to_apdu().to_bytes().hex())
    entry = {e.aid: e for e in registry(term, StatusSubset.APPLICATIONS)}[h(USIM_AID)]
    assert entry.privileges == Privilege.CARD_LOCK


# --- LOAD, install from a loaded file, DELETE -----------------------------------------------------------------------

def test_load_install_and_delete_with_related_objects(term):
    data = lfdb()
    assert set(load(term, data)) == {0x9000}
    elf = {e.aid: e for e in registry(term, StatusSubset.LOAD_FILES_AND_MODULES)}[PACKAGE]
    assert elf.module_aids == (APPLET,) and elf.version == b"\x01\x00"
    instance = h("D0D1D2D3D4D5010101")
    term.ok(InstallForInstall(PACKAGE, APPLET, instance).to_apdu().to_bytes().hex())
    assert instance in {e.aid for e in registry(term, StatusSubset.APPLICATIONS)}
    refused(term, delete(PACKAGE), 0x6985)  # it has an instance
    assert term.ok(delete(PACKAGE, related=True).to_bytes().hex()) == b"\x00"
    assert PACKAGE not in {e.aid for e in registry(term, StatusSubset.LOAD_FILES)}
    assert instance not in {e.aid for e in registry(term, StatusSubset.APPLICATIONS)}


def test_load_with_sha1_hash_and_no_hash(term):
    assert load(term, lfdb(), hash_value=hashlib.sha1(lfdb()).digest())[-1] == 0x9000
    term.ok(delete(PACKAGE).to_bytes().hex())
    assert load(term, lfdb(), hash_value=b"")[-1] == 0x9000


def test_load_refusals_change_nothing(term):
    refused(term, "80E88000 02 C400", 0x6985)  # no INSTALL [for load] first
    data = lfdb()
    term.ok(InstallForLoad(PACKAGE, lfdb_hash=hashlib.sha256(data).digest()).to_apdu().to_bytes().hex())
    blocks = load_commands(data, block_size=200)
    refused(term, blocks[1], 0x6A86)  # out of order
    assert term.exchange(blocks[0].to_bytes())[1] == 0x9000
    refused(term, blocks[0], 0x6A86)  # the same block again
    for block in blocks[1:-1]:
        assert term.exchange(block.to_bytes())[1] == 0x9000
    before = term.state()
    assert term.exchange(blocks[-1].to_bytes())[1] == 0x9000
    assert term.state() != before


def test_load_hash_mismatch_is_refused_and_changes_nothing(term):
    before = term.state()
    assert load(term, lfdb(), hash_value=bytes(32))[-1] == 0x6A80
    assert load(term, lfdb(), aid=h("D0D1D2D3D4D599"))[-1] == 0x6A80  # not the package INSTALL named
    assert load(term, b"\x01\x02\x03" * 10)[-1] == 0x6A80  # not a CAP file
    assert term.state() == before


def test_load_not_enough_memory(term):
    params = SystemParameters(non_volatile_code=1 << 20)
    refused(term, InstallForLoad(PACKAGE, load_parameters=params).to_apdu(), 0x6A84)


def test_delete_refusals(term):
    refused(term, delete(ISD_AID), 0x6985)
    refused(term, delete(USIM_LOAD_FILE, related=True), 0x6985)  # in ROM
    refused(term, delete(h("A000000087109999")), 0x6A88)


def test_delete_an_application_removes_its_adf(term):
    assert install_usim(term) == 0x9000
    term.ok(delete(NEW_USIM).to_bytes().hex())
    assert term.card.find_adf(NEW_USIM) is None
    assert term.sw(f"00A40404 10 {NEW_USIM.hex()}") == 0x6A82


# --- GET STATUS ---------------------------------------------------------------------------------------------------

def test_get_status_both_formats_and_continuation(term):
    assert load(term, lfdb())[-1] == 0x9000
    instances = [APPLET + bytes((i,)) for i in range(12)]
    for aid in instances:
        term.ok(InstallForInstall(PACKAGE, APPLET, aid).to_apdu().to_bytes().hex())
    first = term.exchange(h("80F24002024F0000"))
    assert first[1] == 0x6310  # more than fits one answer
    for tlv in (True, False):
        apps = [e.aid for e in registry(term, StatusSubset.APPLICATIONS, tlv=tlv)]
        assert apps == [h(USIM_AID), *instances]
    isd, = registry(term, StatusSubset.ISD, tlv=False)
    assert isd.life_cycle == 0x01 and Privilege.SECURITY_DOMAIN in isd.privileges


def test_get_status_search_and_refusals(term):
    assert [e.aid for e in read_registry(lambda raw: _raw(term, raw), StatusSubset.APPLICATIONS,
                                         aid=h("A0000000871002"))] == [h(USIM_AID)]
    refused(term, "80F24002074F05A000000099 00", 0x6A88)
    refused(term, "80F20802024F0000", 0x6A86)
    refused(term, "80F20002024F0000", 0x6700)  # P1 00: the TS 102 221 STATUS, which takes no data
    refused(term, "80F24006024F0000", 0x6A86)
    refused(term, "80F24003024F0000", 0x6985)  # "next" without a first GET STATUS
    refused(term, "80F24002025C0000", 0x6A80)  # no 4F


# --- SET STATUS -----------------------------------------------------------------------------------------------------

def test_card_life_cycle_transitions(term):
    refused(term, set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x0F), 0x6985)  # OP_READY -> SECURED: no
    refused(term, set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x03), 0x6A86)  # not a card state
    refused(term, set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x07, h("A000000151999999")), 0x6A88)
    term.ok(set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x07).to_bytes().hex())
    refused(term, set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x01), 0x6985)  # no way back
    term.ok(set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x0F, ISD_AID).to_bytes().hex())
    refused(term, "80F28002024F0000", 0x6982)  # SECURED: GET STATUS needs a secure channel now
    term.open_scp03(level=0x01)
    assert term.secured_ok(CommandApdu(0x80, 0xF2, 0x80, 0x02, h("4F00"), le=256))[:1] == b"\xe3"


def test_locked_and_terminated_cards():
    term = GpTerminal(card_from_profile(profile(life_cycle="SECURED")))
    term.open_scp03(level=0x01)
    term.secured_ok(set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x7F))  # CARD_LOCKED
    assert term.secured(InstallForMakeSelectable(h(USIM_AID)).to_apdu())[1] == 0x6985
    assert term.secured(delete_key(kvn=0x30))[1] == 0x6985
    term.card.reset()
    assert term.sw(f"00A40404 10 {USIM_AID}") == 0x6A81  # only the ISD is selectable
    term.select_isd()
    term.open_scp03(level=0x01)
    term.secured_ok(set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x0F))  # unlocked
    term.secured_ok(set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0xFF))  # TERMINATED
    term.card.reset()
    before = term.state()
    assert term.sw(f"00A40404 10 {USIM_AID}") == 0x6985
    assert term.sw("00A40004022FE2") == 0x6985
    assert term.sw("8050300008" + "11" * 8 + "00") == 0x6985
    assert term.ok("80CA006600")[:1] == b"\x66"  # GET DATA still answers
    term.select_isd()
    assert term.state() == before


def test_lock_and_unlock_an_application(term):
    lock = CommandApdu(0x80, 0xF0, 0x40, 0x80, h(USIM_AID))
    unlock = CommandApdu(0x80, 0xF0, 0x40, 0x00, h(USIM_AID))
    refused(term, unlock, 0x6985)  # not locked
    term.ok(lock.to_bytes().hex())
    assert {e.aid: e for e in registry(term, StatusSubset.APPLICATIONS)}[h(USIM_AID)].life_cycle == 0x8F
    assert term.sw(f"00A40404 10 {USIM_AID}") == 0x6A82
    refused(term, lock, 0x6985)
    term.ok(unlock.to_bytes().hex())
    term.ok(f"00A40404 10 {USIM_AID}")
    term.select_isd()
    refused(term, CommandApdu(0x80, 0xF0, 0x40, 0x80, ISD_AID), 0x6985)  # the ISD's state is the card's
    refused(term, CommandApdu(0x80, 0xF0, 0x40, 0x80, h("A000000087109999")), 0x6A88)
    refused(term, CommandApdu(0x80, 0xF0, 0x60, 0x80, h(USIM_AID)), 0x6A80)  # not a security domain


# --- PUT KEY and DELETE [key] -----------------------------------------------------------------------------------------

AES = (h("11" * 16), h("22" * 16), h("33" * 16))


def test_put_key_add_replace_single_and_des(term):
    host = term.open_scp03(level=0x03)
    add = PutKeyCommand(0x31, tuple(NewKey(KeyType.AES, k) for k in AES))
    verify_put_key_response(term.secured_ok(add.to_apdu(host.keys.dek)), add)
    one = PutKeyCommand(0x32, (NewKey(KeyType.AES, h("44" * 32)),), old_kvn=0x31, first_kid=2)
    verify_put_key_response(term.secured_ok(one.to_apdu(host.keys.dek)), one)
    des = PutKeyCommand(0x20, tuple(NewKey(KeyType.DES, k) for k in AES))
    verify_put_key_response(term.secured_ok(des.to_apdu(host.keys.dek, KeyAlgorithm.AES)), des)
    infos = {(i.kvn, i.kid): (i.key_type, i.length) for i in parse_key_information(term.secured_ok(get_data(0xE0)))}
    assert infos[(0x32, 1)] == (KeyType.AES, 16) and infos[(0x32, 2)] == (KeyType.AES, 32)
    assert (0x31, 1) not in infos and infos[(0x20, 3)] == (KeyType.DES, 16)


@pytest.mark.parametrize(("change", "sw"), [("kcv", 0x9485), ("type", 0x9484), ("length", 0x6A80)])
def test_put_key_refusals(term, change, sw):
    host = term.open_scp03(level=0x03)
    data = bytearray(PutKeyCommand(0x31, (NewKey(KeyType.AES, AES[0]),)).to_apdu(host.keys.dek).data)
    if change == "kcv":
        data[21] ^= 0x01  # KVN, type, L, 17 bytes of key data, L = 03, then the KCV
    elif change == "type":
        data[1] = 0xA0  # RSA public exponent
    else:
        data[2] = 0x10  # key data of 16 bytes: no length byte, not a whole AES block after it
        del data[3]
    before = term.state()
    assert term.secured(CommandApdu(0x80, 0xD8, 0x00, 0x01, bytes(data), le=256))[1] == sw
    assert term.state() == before


def test_put_key_version_rules(term):
    host = term.open_scp03(level=0x01)
    dek = host.keys.dek
    key = (NewKey(KeyType.AES, AES[0]),)
    before = term.state()
    assert term.secured(PutKeyCommand(0x30, key).to_apdu(dek))[1] == 0x6A80  # add a version that exists
    assert term.secured(PutKeyCommand(0x31, key, old_kvn=0x35).to_apdu(dek))[1] == 0x6A88  # replace a missing one
    assert term.state() == before


def test_put_key_needs_a_secure_channel(term):
    command = PutKeyCommand(0x31, (NewKey(KeyType.AES, AES[0]),)).to_apdu(GP_TEST_KEY)
    refused(term, command, 0x6982)


def test_delete_keys(term):
    host = term.open_scp03(level=0x01)
    add = PutKeyCommand(0x31, tuple(NewKey(KeyType.AES, k) for k in AES))
    term.secured_ok(add.to_apdu(host.keys.dek))
    assert term.secured(delete_key(kvn=0x35))[1] == 0x6A88
    term.secured_ok(delete_key(kvn=0x31, kid=2))
    term.secured_ok(delete_key(kid=3))  # in every key set
    infos = {(i.kvn, i.kid) for i in parse_key_information(term.secured_ok(get_data(0xE0)))}
    assert infos == {(0x30, 1), (0x30, 2), (0x31, 1)}
    term.secured_ok(delete_key(kvn=0x31))
    assert {i.kvn for i in parse_key_information(term.secured_ok(get_data(0xE0)))} == {0x30}


def test_store_data_to_the_isd_needs_ber_tlv(term):
    command = store_data_commands(b"\x42\x01\x01")[0]  # no structure indicated
    refused(term, command, 0x6A86)
