"""The `isd` section of a card profile: what the default profile ships, what the schema and the loader refuse,
registry entries for the profile's own USIMs, and the ISD's state in the card state file."""

from __future__ import annotations

import copy

import pytest
from mcim.apdu import CommandApdu
from mcim.errors import BadInput
from mcim.gp.ccm import StatusType, set_status
from mcim.gp.install_params import FULL_ACCESS, MinimumSecurityLevel
from mcim.refcard import RefCard, card_from_profile, load_profile
from mcim.refcard.isd import Isd

from .helpers import USIM_AID
from .isd_helpers import ISD_AID, GpTerminal, h, profile


def test_default_profile_ships_the_gp_test_keys_as_scp03_transport_set():
    isd = Isd.of(card_from_profile())
    assert isd is not None and isd.aid == ISD_AID and isd.default_selected
    key_set = isd.key_set(0x30)
    assert key_set is not None and key_set.static_keys() is not None
    assert {key.value for key in key_set.keys.values()} == {h("404142434445464748494A4B4C4D4E4F")}
    assert (isd.channel_config.scp03_options, isd.channel_config.s16) == (0x70, False)
    assert isd.registry.card_life_cycle.name == "OP_READY"


def test_profile_usims_are_registered_with_their_ota_parameters():
    card = card_from_profile(profile(applications=[{"aid": USIM_AID, "tars": ["B00010"], "msl": "0112",
                                                    "access_domain": "00"}]))
    isd = Isd.of(card)
    assert isd is not None
    app = isd.application_for_tar(h("B00010"))
    assert app is not None and app.aid == h(USIM_AID) and app.life_cycle == 0x0F
    assert app.uicc.minimum_security_level == MinimumSecurityLevel(0x01, b"\x12")
    assert app.uicc.access_domain == FULL_ACCESS


@pytest.mark.parametrize(("change", "where"), [
    ({"applications": [{"aid": "A0000000871002FFFFFFFF8907099999"}]}, "isd.applications"),
    ({"key_sets": [{"kvn": "30", "keys": [{"kid": 1, "type": "aes", "value": "00" * 20}]}]}, "isd.key_sets[0]"),
    ({"key_sets": [{"kvn": "30", "keys": [{"kid": 1, "type": "aes", "value": "00" * 16}]}] * 2}, "isd.key_sets[1]"),
    ({"aid": USIM_AID}, "isd.aid"),
    ({"scp02": {"i": "0A"}}, "isd.scp02.i"),  # implicit initiation: not implemented
])
def test_loader_refusals_name_the_field(change, where):
    with pytest.raises(BadInput) as error:
        card_from_profile(profile(**change))
    assert where in str(error.value)


@pytest.mark.parametrize("change", [
    {"life_cycle": "TERMINATED"}, {"key_sets": [{"kvn": "30", "keys": [{"kid": 1, "type": "rsa", "value": "00"}]}]},
    {"scp03": {"i": "7"}}, {"tars": ["B000"]}, {"unknown": 1},
])
def test_schema_refusals(change):
    with pytest.raises(BadInput):
        card_from_profile(profile(**change))


def test_a_profile_without_an_isd_has_none():
    doc = copy.deepcopy(load_profile())
    del doc["isd"]
    doc.pop("ota", None)  # the OTA side needs an ISD
    card = card_from_profile(doc)
    assert Isd.of(card) is None
    assert card.process(h("80CA006600"))[-2:] == b"\x6d\x00"


def test_the_isd_state_survives_a_reload():
    term = GpTerminal()
    term.open_scp03()
    term.secured_ok(set_status(StatusType.ISSUER_SECURITY_DOMAIN, 0x07))
    term.secured_ok(CommandApdu(0x80, 0xF0, 0x40, 0x80, h(USIM_AID)))  # lock the USIM
    state = term.card.to_state()
    again = RefCard.load(copy.deepcopy(state))
    assert again.to_state() == state
    isd = Isd.of(again)
    assert isd is not None and isd.registry.card_life_cycle.name == "INITIALIZED"
    key_set = isd.key_set(0x30)
    assert key_set is not None and key_set.sequence_counter == 1
    assert isd.registry.applications[h(USIM_AID)].life_cycle == 0x8F


def test_a_three_key_3des_set_is_no_scp02_key_set():
    keys = [{"kid": kid, "type": "des", "value": "01" * 24} for kid in (1, 2, 3)]
    term = GpTerminal(card_from_profile(profile(key_sets=[{"kvn": "20", "keys": keys}])))
    assert term.sw("8050200008" + "11" * 8 + "00") == 0x6A88  # SCP02 takes 2-key 3DES only
