"""The onomondo SoftSIM ENVELOPE vector (vectors file `sms_pp_envelope_examples/onomondo_softsim_envelope_aes`,
onomondo/onomondo-uicc@d0fdbff tests/envelope) replayed on a reference UICC configured like that SoftSIM: its
TAR B00011 with MSL 06 and key set 3 (AES), EF.ICCID 00112233445566778899, a 0B notice with SMS-SUBMIT PoRs.

What cannot match byte for byte, and why: onomondo pads ciphered PoRs with 80 00.. (the vector's note), this card
with zeros (as sysmocom cards do, DIGEST §1.5), so the ciphertexts differ while the fields under them agree; and
onomondo answers to TP-OA `03 91 2143` as 4 digits, this card keeps the 3 digits the SMS-DELIVER says.
"""

from __future__ import annotations

import copy

import pytest
from mcim.ota import KeyRef, OtaContext, OtaKeys, PorStatus, PorVerifier, Spi, parse_proactive
from mcim.ota.sms import parse_sms_submit
from mcim.refcard import card_from_profile

from tests.conftest import load_vectors

from .helpers import h
from .test_ota_kit import key_set, ota_profile

VECTOR = load_vectors()["sms_pp_envelope_examples"]["onomondo_softsim_envelope_aes"]
USIM = "A0000000871002FFFFFFFF8907090000"


@pytest.fixture
def card():
    doc = ota_profile([key_set(3, h(VECTOR["kic_key"]), h(VECTOR["kid_key"]))], submit_notice=True,
                      tars=[{"tar": VECTOR["tar"], "service": "rfm", "adf": USIM, "msl": "0106",
                             "access_domain": "00"}])
    iccid = next(f for f in doc["mf"]["files"] if f["fid"] == "2FE2")
    iccid["content"] = {"data": "00112233445566778899"}  # onomondo's EF.ICCID (tests/ota script)
    card = card_from_profile(copy.deepcopy(doc))
    card.power_on()
    return card


def verifier() -> PorVerifier:
    ctx = OtaContext(Spi.from_hex(VECTOR["spi"]), KeyRef.from_byte(int(VECTOR["kic"], 16)),
                     KeyRef.from_byte(int(VECTOR["kid"], 16)), h(VECTOR["tar"]),
                     OtaKeys(h(VECTOR["kic_key"]), h(VECTOR["kid_key"])))
    return PorVerifier(ctx)


def test_onomondo_envelope_runs_and_answers_like_the_softsim(card):
    notice_expected = h(VECTOR["envelope_response_data"])
    assert card.process(h(VECTOR["c_apdu"])) == bytes((0x61, len(notice_expected)))
    response = card.process(bytes((0x00, 0xC0, 0x00, 0x00, len(notice_expected))))
    notice, sw = response[:-2], response[-2:]
    assert sw == h(VECTOR["envelope_sw"])  # 913F: the SEND SHORT MESSAGE waits, as long as onomondo's
    assert notice[:9] == notice_expected[:9] and len(notice) == len(notice_expected)
    for por in (notice, notice_expected):
        answer = verifier().verify(por, expected_cntr=int(VECTOR["cntr_in_packet"], 16))
        assert answer.status is PorStatus.RESPONSE_VIA_SMS_SUBMIT and answer.data == b""

    fetched = card.process(h(VECTOR["fetch_c_apdu"]))
    assert fetched[-2:] == h(VECTOR["fetch_sw"])
    expected_command = h(VECTOR["fetch_response_send_sm"])
    assert fetched[:13] == expected_command[:13]  # D0 3D, details 01 13 00, devices 81 83, TPDU tag and length
    ours, theirs = (parse_sms_submit(parse_proactive(c).sms_tpdu) for c in (fetched[:-2], expected_command))
    assert (ours.pid, ours.dcs, ours.udhi, ours.message_reference) == (theirs.pid, theirs.dcs, True, 0)
    assert ours.destination.digits == "123" and theirs.destination.digits == "1234"
    assert ours.user_data[:9] == theirs.user_data[:9]  # 02 71 00, RPL 0024, RHL 12, TAR B00011
    results = [verifier().verify(p.user_data, expected_cntr=1) for p in (ours, theirs)]
    assert [r.status for r in results] == [PorStatus.POR_OK] * 2
    assert results[0].data == results[1].data == h("039000 00112233445566778899")
    assert results[1].padding == h("80000000") and results[0].padding == bytes(4)

    assert card.process(h(VECTOR["terminal_response_c_apdu"])) == b"\x90\x00"
    again = card.process(h(VECTOR["c_apdu"]))  # the same packet again: a replay, its error PoR by SMS-SUBMIT
    assert again[:1] == b"\x91"
    command = parse_proactive(card.process(b"\x80\x12\x00\x00" + again[1:])[:-2])
    replay = parse_sms_submit(command.sms_tpdu).user_data
    assert verifier().verify(replay, expected_cntr=1).status is PorStatus.CNTR_LOW
