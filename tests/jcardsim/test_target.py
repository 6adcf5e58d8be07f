"""The `jcardsim` target through real pcscd + vpcd + jCardSim: finding the slot, personalising the applets to
mirror the reference UICC, and the errors when no usable slot or no pcscd is there.

Known answers: the AUTHENTICATE of a sysmocom card (vectors file, usim_authenticate_example), whose K/OPc the
default reference profile carries; EF.IMSI of that profile, 001010000000001, encoded as the vectors file's
pySim tables say (`file_encoding_examples`, IMSI rule: length 08, parity nibble 9 for an odd digit count).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcim.errors import BadInput, TransportError
from mcim.jcardsim_target import find_slot, open_jcardsim
from mcim.targets import open_target

from tests.conftest import REPO, load_vectors
from tests.pcsc_harness import wait_for_card

from .conftest import SLOT

pytestmark = pytest.mark.pcsc

AUTH = load_vectors()["usim_authenticate_example"]
OK = b"\x90\x00"
SELECT_USIM = bytes.fromhex("00A4040C07A0000000871002")
IMSI_001010000000001 = bytes.fromhex("080910100000000010")


@pytest.fixture
def conf(pcscd) -> Path:
    """The private pcscd's reader.conf.d; slot 1 empty (a jCardSim of an earlier test may still be leaving)."""
    wait_for_card(pcscd.reader(SLOT), present=False)
    return pcscd.workdir / "reader.conf.d"


def test_found_in_the_free_slot_and_personalised(pcscd, applet_build, conf):
    card = open_jcardsim(reader_conf=conf)
    try:
        assert card.vpcd_port == pcscd.slot_port(SLOT)  # slot 0 holds the harness's echo card
        assert card.transmit(SELECT_USIM) == OK
        assert card.transmit(bytes.fromhex("00A4000C026F07")) == OK
        assert card.transmit(bytes.fromhex("00B0000009")) == IMSI_001010000000001 + OK
        assert card.transmit(bytes.fromhex(AUTH["c_apdu_computed_here"])) == \
            bytes.fromhex(AUTH["response_data_computed_here"]) + OK
        # Personalised means PERSONALISED: a further STORE DATA is refused (personalisation.md, life cycle).
        assert card.transmit(bytes.fromhex("80E2880000")) == bytes.fromhex("6985")
    finally:
        card.close()


def test_a_named_reader_with_its_port(pcscd, applet_build, conf):
    card = open_target(f"jcardsim:port={pcscd.slot_port(SLOT)}", pcscd.reader(SLOT), timeout=5.0)
    try:
        assert card.transmit(SELECT_USIM) == OK
    finally:
        card.close()


def test_slot_errors(pcscd, conf, tmp_path):
    with pytest.raises(TransportError, match="already holds a card"):
        find_slot(pcscd.reader(0), None, conf)  # the echo card's slot
    with pytest.raises(BadInput, match="no vpcd port known"):
        find_slot(pcscd.reader(SLOT), None, tmp_path)  # a reader.conf.d that does not describe it
    with pytest.raises(BadInput, match="no vpcd slot on port 1"):
        find_slot(None, 1, conf)
    with pytest.raises(TransportError, match="pcscd lists no vpcd reader") as refused:
        find_slot(None, None, tmp_path)  # Debian's "Virtual PCD" names none of the private pcscd's readers
    assert "vsmartcard-vpcd" in (refused.value.expected or "")
    assert find_slot(None, None, conf).reader == pcscd.reader(SLOT)


@pytest.mark.parametrize("spec, message", [("jcardsim:port=x", "port=N"), ("jcardsim:speed=9", "profile=")])
def test_bad_options(spec, message):
    with pytest.raises(BadInput, match=message):
        open_target(spec)


def test_without_pcscd_the_message_says_how_to_start_one(applet_build, tmp_path):
    """A client pointed at a socket no pcscd serves: exit 3, and the message names pcscd and vpcd."""
    env = dict(os.environ, PCSCLITE_CSOCK_NAME=str(tmp_path / "no-pcscd.comm"))
    result = subprocess.run([sys.executable, "-m", "mcim.cli", "run", str(REPO / "apdu/suites/mcim_validation.apdu"),
                             "--target", "jcardsim"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    assert "pcscd" in result.stderr and "vsmartcard-vpcd" in result.stderr
