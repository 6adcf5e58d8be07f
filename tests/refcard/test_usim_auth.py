"""USIM AUTHENTICATE on the reference UICC (3GPP TS 31.102 §7.1.2, TS 33.102 §6.3 and Annex C).

The default profile carries the K/OPc of pySim's sysmocom AUTHENTICATE example, so the real card's answer is
the known answer here (vectors file, `usim_authenticate_example`)."""

from __future__ import annotations

import pytest
from mcim.aka import (
    AuthContext,
    GsmAuthResult,
    Milenage,
    SyncFailure,
    UmtsAuthResult,
    build_authenticate,
    build_autn,
    parse_authenticate_response,
    verify_auts,
)

from tests.conftest import load_vectors

from .helpers import ADM1, Terminal, h

CARD = load_vectors()["usim_authenticate_example"]
MIL = Milenage.from_op(h(CARD["K"]), h(CARD["OP"]))
RAND2 = bytes(range(16))


@pytest.fixture
def usim():
    term = Terminal()
    term.select_usim()
    term.verify_pin1()
    return term


def authenticate(term, rand, autn=None, context=AuthContext.UMTS):
    data, sw = term.send(build_authenticate(rand, autn, context=context).to_bytes().hex())
    return (parse_authenticate_response(data, context) if sw == 0x9000 else None), sw


def sqn_state(term):
    return term.card.adfs[0].app.params.sqn.to_dict()


def test_real_card_answer(usim):
    data, sw = usim.raw(CARD["c_apdu_computed_here"])
    assert sw == 0x6100 | len(h(CARD["response_data_computed_here"]))  # T=0: 61xx, then GET RESPONSE
    data, sw = usim.raw(f"00C00000{sw & 0xFF:02X}")
    assert sw == 0x9000
    want = CARD["expected"]
    assert parse_authenticate_response(data) == UmtsAuthResult(h(want["res"]), h(want["ck"]), h(want["ik"]),
                                                               h(want["kc"]))


def test_bad_mac_is_9862_and_changes_nothing(usim):
    autn = bytearray(h(CARD["AUTN"]))
    autn[15] ^= 0x01
    before = usim.card.to_state()
    assert authenticate(usim, h(CARD["RAND"]), bytes(autn)) == (None, 0x9862)
    assert usim.card.to_state() == before


def test_replay_gives_sync_failure_with_valid_auts(usim):
    authenticate(usim, h(CARD["RAND"]), h(CARD["AUTN"]))
    before = sqn_state(usim)
    answer, sw = authenticate(usim, h(CARD["RAND"]), h(CARD["AUTN"]))
    assert sw == 0x9000 and isinstance(answer, SyncFailure)
    # the AuC side recovers SQN_MS = the highest accepted SQN (000000000020) and checks MAC-S
    assert verify_auts(MIL, h(CARD["RAND"]), answer.auts) == h(CARD["derived_computed_here"]["SQN"])
    assert sqn_state(usim) == before


def test_resynchronised_sqn_is_accepted(usim):
    authenticate(usim, h(CARD["RAND"]), h(CARD["AUTN"]))  # SQN 0x20 (SEQ 1, IND 0)
    stale = build_autn(MIL, RAND2, (0x20).to_bytes(6, "big"), b"\x00\x00")
    answer, _ = authenticate(usim, RAND2, stale)
    sqn_ms = verify_auts(MIL, RAND2, answer.auts)
    fresh = int.from_bytes(sqn_ms, "big") + 0x20  # next SEQ, same IND
    answer, sw = authenticate(usim, RAND2, build_autn(MIL, RAND2, fresh.to_bytes(6, "big"), b"\x80\x00"))
    assert sw == 0x9000 and isinstance(answer, UmtsAuthResult)
    assert answer.res == MIL.f2345(RAND2).res


def test_other_ind_slot_accepts_lower_seq(usim):
    authenticate(usim, RAND2, build_autn(MIL, RAND2, ((5 << 5) | 1).to_bytes(6, "big"), b"\x00\x00"))
    answer, _ = authenticate(usim, RAND2, build_autn(MIL, RAND2, ((3 << 5) | 2).to_bytes(6, "big"), b"\x00\x00"))
    assert isinstance(answer, UmtsAuthResult)  # TS 33.102 C.2.2: each IND has its own SEQ_MS


def test_gsm_context(usim):
    answer, sw = authenticate(usim, RAND2, context=AuthContext.GSM)
    res, ck, ik, _ = MIL.f2345(RAND2)
    assert sw == 0x9000
    assert answer == GsmAuthResult(bytes(a ^ b for a, b in zip(res[:4], res[4:], strict=True)),
                                   bytes(a ^ b ^ c ^ d for a, b, c, d in zip(ck[:8], ck[8:], ik[:8], ik[8:],
                                                                             strict=True)))


def test_without_service_27_no_kc_and_no_gsm_context(usim):
    usim.ok(f"0020000A08{ADM1}")
    usim.ok("00A40004026F38")
    usim.ok("00D600000400000000")  # EF.UST: no services
    answer, sw = authenticate(usim, h(CARD["RAND"]), h(CARD["AUTN"]))
    assert sw == 0x9000 and answer.kc is None
    assert authenticate(usim, RAND2, context=AuthContext.GSM) == (None, 0x9864)


def test_authenticate_needs_pin1():
    term = Terminal()
    term.select_usim()
    assert authenticate(term, h(CARD["RAND"]), h(CARD["AUTN"])) == (None, 0x6982)


def test_authenticate_outside_the_usim():
    term = Terminal()
    term.verify_pin1()
    assert term.sw(CARD["c_apdu_computed_here"]) == 0x6D00


@pytest.mark.parametrize("apdu,sw", [
    ("0088008122" + "10" + "00" * 16 + "10" + "00" * 16, None),  # well-formed: MAC failure below
    ("0088018122" + "10" + "00" * 16 + "10" + "00" * 16, 0x6A86),
    ("0088000122" + "10" + "00" * 16 + "10" + "00" * 16, 0x6A86),  # P2 b8 = 0: global reference
    ("0088008222" + "10" + "00" * 16 + "10" + "00" * 16, 0x9864),  # VGCS/VBS context
    ("0088008111" + "10" + "00" * 16, 0x6700),  # AUTN missing
    ("0088008121" + "0F" + "00" * 15 + "10" + "00" * 16, 0x6A80),  # 15-byte RAND
])
def test_parameter_errors(usim, apdu, sw):
    assert usim.sw(apdu) == (sw or 0x9862)
