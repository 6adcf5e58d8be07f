"""The Java Card applets on jCardSim, reached through real pcscd + vpcd + pyscard (mcim's PcscTransport).

Known answers come from the vectors file: EF.IMSI encoding (pySim tables), the AUTHENTICATE of a sysmocom card
(usim_authenticate_example) and the onomondo SoftSIM AES ENVELOPE with the PoR it sent (sms_pp_envelope_examples).
"""

from __future__ import annotations

import pytest
from mcim.perso import BootstrapPersonalisation, McimPersonalisation, OtaTar
from mcim.transport.jcardsim import BOOTSTRAP_AID, MCIM_AID

from tests.conftest import load_vectors

pytestmark = pytest.mark.pcsc

VECTORS = load_vectors()
AUTH = VECTORS["usim_authenticate_example"]
ONOMONDO = VECTORS["sms_pp_envelope_examples"]["onomondo_softsim_envelope_aes"]
IMSI_228062800000208 = next(e["hex"] for e in VECTORS["file_encoding_examples"]["examples"]
                            if e["what"] == "EF.IMSI = 228062800000208")
ICCID = bytes.fromhex("00112233445566778899")  # what onomondo's test card holds: its PoR reads it back
UST_WITH_SERVICE_27 = bytes.fromhex("9eff1f9c")  # service 27 (GSM access): byte 4, bit 3 -> Kc returned
OK = b"\x90\x00"


def select(aid: bytes, p2: int = 0x0C) -> bytes:
    return bytes([0x00, 0xA4, 0x04, p2, len(aid)]) + aid


@pytest.fixture(scope="module")
def card(jcardsim):
    """The MCIM personalised with the sysmocom example subscription, the bootstrap with onomondo's OTA keys."""
    card = jcardsim.card
    assert card.transmit(select(MCIM_AID)) == OK
    files = ((0x6F07, bytes.fromhex(IMSI_228062800000208)), (0x6F38, UST_WITH_SERVICE_27), (0x2FE2, ICCID))
    subscriber = McimPersonalisation(files, bytes.fromhex(AUTH["K"]),
                                     bytes.fromhex(AUTH["derived_computed_here"]["OPc"]))
    for command in subscriber.commands(jcardsim.mcim_perso_key):
        assert card.transmit(command.to_bytes()) == OK

    assert card.transmit(select(BOOTSTRAP_AID)) == OK
    # onomondo's TAR record: b00011, MSL 06 (CC + ciphering), key version 3 (KIc / KID 32), counter 0.
    ota = BootstrapPersonalisation((OtaTar(bytes.fromhex(ONOMONDO["tar"]), 0x06),), key_version=3,
                                   kic=bytes.fromhex(ONOMONDO["kic_key"]), kid=bytes.fromhex(ONOMONDO["kid_key"]))
    for command in ota.commands(jcardsim.bootstrap_perso_key):
        assert card.transmit(command.to_bytes()) == OK
    return card


def test_select_and_read_binary(card):
    fcp = card.transmit(select(MCIM_AID, p2=0x04))
    assert fcp[-2:] == OK and fcp[0] == 0x62 and bytes.fromhex("8410") + MCIM_AID in fcp
    response = card.transmit(bytes.fromhex("00A40004026F07"))
    assert response[-2:] == OK and bytes.fromhex("83026F07") in response[:-2]
    assert card.transmit(bytes.fromhex("00B0000000")) == bytes.fromhex(IMSI_228062800000208) + OK
    assert card.transmit(bytes.fromhex("00B0000900")).hex() == "6b00"
    assert card.transmit(bytes.fromhex("00A4000C026F99")).hex() == "6a82"


def test_authenticate_as_the_sysmocom_card_did(card):
    assert card.transmit(select(MCIM_AID)) == OK
    response = card.transmit(bytes.fromhex(AUTH["c_apdu_computed_here"]))
    assert response == bytes.fromhex(AUTH["response_data_computed_here"]) + OK
    replay = card.transmit(bytes.fromhex(AUTH["c_apdu_computed_here"]))
    assert replay[:2].hex() == "dc0e" and replay[-2:] == OK and len(replay) == 18


def test_onomondo_envelope_through_pcsc(card):
    assert card.transmit(select(BOOTSTRAP_AID)) == OK
    fetched = bytes.fromhex(ONOMONDO["fetch_response_send_sm"])
    onomondo_por = fetched[fetched.index(b"\x02\x71\x00"):]
    assert fetched[-len(onomondo_por) - 1] == len(onomondo_por)  # TP-UDL: the PoR is the whole TP-UD
    assert card.transmit(bytes.fromhex(ONOMONDO["c_apdu"])) == onomondo_por + OK
    # Replayed: counter low (02), refused, PoR in clear with the deciphered counter.
    replay = card.transmit(bytes.fromhex(ONOMONDO["c_apdu"]))
    assert replay.hex() == "027100000b0a" + ONOMONDO["tar"] + ONOMONDO["cntr_in_packet"] + "00" + "02" + "9000"
