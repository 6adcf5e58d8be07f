"""The jCardSim launcher's own logic, without a JVM or PC/SC: CREATE APPLET bytes, configuration, errors."""

from __future__ import annotations

import pytest
from mcim.errors import BadInput, TransportError
from mcim.transport.jcardsim import (
    BOOTSTRAP_AID,
    BOOTSTRAP_CLASS,
    MCIM_AID,
    MCIM_CLASS,
    AppletInstance,
    JCardSimProcess,
    locate_build,
    mcim_applets,
)

KEY_A = bytes(range(16))
KEY_B = bytes(range(16, 32))


def test_create_applet_command_layout():
    # jcardsim CardManager.dispatchApduImpl: 80 B8, AID length at offset 5, install() gets the data from there on
    # as [Li AID][Lc control][La applet data] (Java Card Applet.install).
    applet = AppletInstance(bytes.fromhex("F000000001"), "x.Y", bytes.fromhex("4F01AA"))
    assert applet.create_command().hex() == "80b800000b" + "05f000000001" + "00" + "034f01aa"


def test_mcim_applets_name_each_other_and_hide_their_keys():
    mcim, bootstrap = mcim_applets(KEY_A, KEY_B)
    assert (mcim.aid, mcim.class_name) == (MCIM_AID, MCIM_CLASS)
    assert (bootstrap.aid, bootstrap.class_name) == (BOOTSTRAP_AID, BOOTSTRAP_CLASS)
    assert mcim.install_data == b"\x80\x10" + KEY_A + b"\x4f" + bytes([len(BOOTSTRAP_AID)]) + BOOTSTRAP_AID
    assert bootstrap.install_data == b"\x80\x10" + KEY_B + b"\x4f" + bytes([len(MCIM_AID)]) + MCIM_AID
    assert KEY_A.hex() not in repr(mcim) and "install_data" not in repr(mcim)
    with pytest.raises(BadInput, match="16 bytes"):
        mcim_applets(KEY_A[:8], KEY_B)
    with pytest.raises(BadInput, match="5..16 bytes"):
        AppletInstance(b"\xf0", "x.Y")


def test_configuration_names_vpcd_applets_and_a_reloader_port_off_the_default():
    process = JCardSimProcess(["classes"], 40001, applets=mcim_applets(KEY_A, KEY_B), reader="r",
                              atr=bytes.fromhex("3B00"))
    lines = dict(line.split("=", 1) for line in process.configuration().splitlines())
    assert lines["com.licel.jcardsim.vsmartcard.host"] == "127.0.0.1"
    assert lines["com.licel.jcardsim.vsmartcard.port"] == "40001"
    assert lines["com.licel.jcardsim.card.ATR"] == "3B00"
    assert lines["com.licel.jcardsim.card.applet.0.AID"] == MCIM_AID.hex().upper()
    assert lines["com.licel.jcardsim.card.applet.1.Class"] == BOOTSTRAP_CLASS
    assert lines["com.licel.jcardsim.vsmartcard.reloader.port"] != "8099"
    assert KEY_A.hex() not in process.configuration().lower()


def test_reader_is_needed_off_the_default_vpcd_ports():
    with pytest.raises(BadInput, match="reader"):
        JCardSimProcess(["classes"], 40001)
    JCardSimProcess(["classes"])  # 35963: "Virtual PCD 00 00"


def test_a_jvm_that_exits_is_reported(tmp_path):
    def no_card():
        raise TransportError("no card in the reader")

    process = JCardSimProcess(["classes"], 40001, connect=no_card, java="false", startup_timeout=30)
    with pytest.raises(TransportError, match="exited with 1"):
        process.start()
    assert not process.running
    with pytest.raises(TransportError, match="cannot run"):
        JCardSimProcess(["classes"], 40001, connect=no_card, java=str(tmp_path / "no-java")).start()


def test_missing_build_says_how_to_make_it(tmp_path):
    with pytest.raises(TransportError, match="mvn -B -q -f"):
        locate_build(tmp_path)
