"""The card's content as a JSON state file: complete, written atomically after each change, loaded back."""

from __future__ import annotations

import json
import os
import stat

import pytest
from mcim.errors import BadInput
from mcim.refcard import RefCard, card_from_profile, open_card

from tests.conftest import load_vectors

from .helpers import ADM1, PIN1, Terminal, h

CARD = load_vectors()["usim_authenticate_example"]


@pytest.fixture
def stored(tmp_path):
    path = tmp_path / "card.json"
    return path, Terminal(card_from_profile(state_path=path))


def test_round_trip_of_the_whole_card():
    card = card_from_profile()
    assert RefCard.load(card.to_state()).to_state() == card.to_state()


def test_profile_build_writes_the_state_file_private(stored):
    path, _ = stored
    assert json.loads(path.read_text())["format"] == "mcim-refcard-state/1"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["card.json"]  # no temporary files left


def test_changes_survive_a_reload(stored):
    path, term = stored
    term.select_usim()
    term.verify_pin1()
    term.ok(CARD["c_apdu_computed_here"])  # accepts SQN 0x20
    term.ok("00D68B000B" + "11" * 11)  # EF.LOCI by SFI (UPDATE PIN1)
    assert term.sw("002000010839393939FFFFFFFF") == 0x63C2
    again = Terminal(RefCard.load(path))
    assert again.raw("0020000100")[1] == 0x63C2  # the PIN counter, not the verification
    again.select_usim()
    again.ok(f"0020000108{PIN1}")
    assert again.ok("00B08B000B") == h("11" * 11)
    data = again.ok(CARD["c_apdu_computed_here"])
    assert data[0] == 0xDC  # the SQN array was persisted: the same challenge is now a replay


def test_reads_do_not_rewrite_the_file(stored):
    path, term = stored
    before = os.stat(path).st_ino
    term.ok("00A40004022FE2")
    term.ok("00B000000A")
    assert os.stat(path).st_ino == before  # os.replace would have given a new inode


def test_state_file_loaded_by_path_keeps_writing(stored):
    path, _ = stored
    card = open_card(str(path))
    term = Terminal(card)
    term.ok(f"0020000A08{ADM1}")
    term.ok("00A40004022F05")
    term.ok("00D6000002AAAA")
    reloaded = Terminal(RefCard.load(path))
    reloaded.ok("00A40004022F05")
    assert reloaded.ok("00B0000002") == h("AAAA")


@pytest.mark.parametrize("state", [{}, {"format": "other"}, {"format": "mcim-refcard-state/1"}])
def test_bad_state_is_bad_input(state):
    with pytest.raises(BadInput):
        RefCard.load(state)


def test_unreadable_state_file(tmp_path):
    with pytest.raises(BadInput):
        RefCard.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(BadInput):
        RefCard.load(tmp_path / "bad.json")


def test_keys_are_not_in_reprs():
    card = card_from_profile()
    app = card.adfs[0].app
    assert CARD["K"] not in repr(app.params) and CARD["K"] not in repr(app)
    assert "31323334" not in repr(card.security.global_pins[1])
