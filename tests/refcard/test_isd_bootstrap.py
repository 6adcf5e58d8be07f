"""The acceptance scenario of the ISD: the factory bootstrap of TR 33.812 subcase 2b built with the host library
(SCP03 at level 33 with the transport keys; PUT KEY of per-card ISD keys diversified from a master key; PUT KEY of
the DPF's OTA key set; the card to SECURED), then INSTALL of a USIM instance with UICC parameters over a session
opened with the new keys, which GET STATUS lists.  Every R-MAC is checked by `Scp03Host.unwrap` and every PUT KEY
answer by `verify_put_key_response` (KVN and key check values)."""

from __future__ import annotations

import pytest
from mcim.errors import BadCryptogram
from mcim.gp.ccm import (
    InstallForInstall,
    KeyType,
    NewKey,
    PutKeyCommand,
    StatusType,
    get_data,
    parse_key_information,
    read_registry,
    set_status,
    verify_put_key_response,
)
from mcim.gp.install_params import (
    FULL_ACCESS,
    InstallParameters,
    MinimumSecurityLevel,
    SimToolkitParameters,
    SystemParameters,
)
from mcim.gp.keys import StaticKeys, diversify
from mcim.gp.registry import StatusSubset
from mcim.refcard import RefCard

from .isd_helpers import ISD_AID, TRANSPORT_KEYS, USIM_LOAD_FILE, USIM_MODULE, GpTerminal, h

MASTER = h("00112233445566778899AABBCCDDEEFF")  # an issuer master key of this test (kdf3 diversification)
OTA_KEYS = (h("0102030405060708090A0B0C0D0E0F10"), h("1112131415161718191A1B1C1D1E1F20"),
            h("2122232425262728292A2B2C2D2E2F30"))  # KIc, KID, KIK of the DPF (test values)
NEW_USIM = h("A0000000871002FFFFFFFF8907090001")
KPERSO = h("5A" * 16)
USIM_RFM_TAR = h("B00011")


def bootstrap(term: GpTerminal) -> StaticKeys:
    """Factory bootstrap; returns the card's new ISD keys."""
    host = term.open_scp03(TRANSPORT_KEYS, 0x33)
    assert host.card is not None
    card_keys = diversify(MASTER, host.card.key_diversification_data, "kdf3", kvn=0x30)
    isd_keys = PutKeyCommand(0x30, tuple(NewKey(KeyType.AES, k) for k in (card_keys.enc, card_keys.mac,
                                                                             card_keys.dek)), old_kvn=0x30)
    verify_put_key_response(term.secured_ok(isd_keys.to_apdu(host.keys.dek)), isd_keys)
    ota = PutKeyCommand(0x01, tuple(NewKey(KeyType.AES, k) for k in OTA_KEYS))
    verify_put_key_response(term.secured_ok(ota.to_apdu(host.keys.dek)), ota)
    term.secured_ok(set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x07))  # INITIALIZED
    term.secured_ok(set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x0F))  # SECURED
    return card_keys


def usim_install() -> InstallForInstall:
    toolkit = SimToolkitParameters(FULL_ACCESS, minimum_security_level=MinimumSecurityLevel(0x01, b"\x12"),
                                   tars=(USIM_RFM_TAR,))
    params = InstallParameters(b"\x80\x10" + KPERSO, SystemParameters(sim_toolkit=toolkit))
    return InstallForInstall(USIM_LOAD_FILE, USIM_MODULE, NEW_USIM, install_parameters=params)


@pytest.fixture
def bootstrapped() -> tuple[GpTerminal, StaticKeys]:
    term = GpTerminal()
    term.select_isd()
    return term, bootstrap(term)


def test_factory_bootstrap_then_install_a_usim(bootstrapped):
    term, card_keys = bootstrapped
    term.card.reset()
    term.select_isd()
    term.open_scp03(card_keys, 0x33)
    infos = {(i.kvn, i.kid): i for i in parse_key_information(term.secured_ok(get_data(0xE0)))}
    assert sorted(infos) == [(0x01, 1), (0x01, 2), (0x01, 3), (0x30, 1), (0x30, 2), (0x30, 3)]
    assert {(i.key_type, i.length) for i in infos.values()} == {(KeyType.AES, 16)}

    term.secured_ok(usim_install().to_apdu())

    def transmit(raw: bytes) -> bytes:
        data, sw = term.secured(raw)
        return data + sw.to_bytes(2, "big")

    isd, = read_registry(transmit, StatusSubset.ISD)
    assert (isd.aid, isd.life_cycle_name) == (ISD_AID, "SECURED")
    apps = {entry.aid: entry for entry in read_registry(transmit, StatusSubset.APPLICATIONS)}
    assert apps[NEW_USIM].life_cycle_name == "SELECTABLE" and apps[NEW_USIM].load_file_aid == USIM_LOAD_FILE
    elfs = read_registry(transmit, StatusSubset.LOAD_FILES_AND_MODULES)
    assert [(e.aid, e.module_aids) for e in elfs] == [(USIM_LOAD_FILE, (USIM_MODULE,))]

    app = term.isd.application_for_tar(USIM_RFM_TAR)
    assert app is not None and app.aid == NEW_USIM
    assert app.uicc.minimum_security_level == MinimumSecurityLevel(0x01, b"\x12")
    assert app.uicc.access_domain == FULL_ACCESS
    assert term.card.find_adf(NEW_USIM) is not None
    assert term.ok(f"00A40404 10 {NEW_USIM.hex()}")[:1] == b"\x62"  # the new USIM ADF is selectable
    assert RefCard.load(term.card.to_state()).to_state() == term.card.to_state()  # all of it persisted


def test_after_bootstrap_the_transport_keys_are_gone(bootstrapped):
    term, _ = bootstrapped
    term.card.reset()
    with pytest.raises(BadCryptogram):
        term.open_scp03(TRANSPORT_KEYS, 0x33)  # the card's cryptogram is now made with the per-card keys


def test_after_bootstrap_card_management_needs_a_secure_channel(bootstrapped):
    term, _ = bootstrapped
    term.card.reset()
    before = term.state()
    assert term.sw(usim_install().to_apdu().to_bytes().hex()) == 0x6982
    assert term.sw("80F28002024F0000") == 0x6982  # GET STATUS
    assert term.ok("80CA006600")[:1] == b"\x66"  # GET DATA needs no channel
    assert term.state() == before


def test_the_ota_key_set_serves_the_receiving_entity(bootstrapped):
    term, _ = bootstrapped
    isd = term.isd
    key_set = isd.key_set(0x01)
    assert key_set is not None and [key_set.key(kid).value for kid in (1, 2, 3)] == list(OTA_KEYS)
    assert isd.ota_key(0x01, 1) == OTA_KEYS[0] and isd.ota_key(0x01, 2) == OTA_KEYS[1]
    assert isd.ota_key(0x30, 1) is None  # an SCP03 key set is not an OTA key set
