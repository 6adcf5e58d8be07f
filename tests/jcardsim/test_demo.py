"""`mcim demo --target jcardsim`: the subcase 2b story on the Java Card applets, run through real pcscd + vpcd +
jCardSim (slot 1, like the other jcardsim tests), and the pieces it is made of.

The demo draws its own keys and subscriptions, so the known answers are its own checks (every PoR verified,
RES/CK/IK/Kc and AUTS computed by the host from the SHO's K/OPc); the test checks that the steps that must run
ran and passed, and that the skipped ones say why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from mcim.apdu import CommandApdu
from mcim.errors import UnsupportedError
from mcim.gp.keys import StaticKeys
from mcim.ota import Address, FixedCounter, OtaWrapper, SmsOptions
from mcim.workflows.demo import STEP_NAMES, DemoReport, StepOutcome
from mcim.workflows.demo_jcardsim import DEMO_ICCID, SKIPPED, minimum_spi1, one_sms_packets, select_fid
from mcim.workflows.provision import McimProfile, OtaSession
from mcim.workflows.registry import Registry

from tests.pcsc_harness import wait_for_card

from .conftest import SLOT

RAN = ("bootstrap", "register", "download", "validate", "change_unauthorized_refused", "replay_refused")
SKIPPED_STEPS = ("change_authorized", "upgrade_keys", "upgrade_algorithm")
TIMEOUT = 300  # seconds for the whole story, JVM start included


def mcim(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mcim.cli", "demo", *args], capture_output=True, text=True,
                          timeout=TIMEOUT, env=env)


@pytest.fixture(scope="module")
def story(pcscd, applet_build, tmp_path_factory) -> tuple[dict, Path]:
    """One run of `mcim demo --target jcardsim --json` in the private pcscd's slot 1."""
    wait_for_card(pcscd.reader(SLOT), present=False)
    work = tmp_path_factory.mktemp("demo")
    result = mcim("--target", f"jcardsim:port={pcscd.slot_port(SLOT)}", "--reader", pcscd.reader(SLOT),
                  "--work", str(work), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout), work


@pytest.mark.pcsc
def test_every_step_is_reported_in_order(story):
    report, work = story
    assert report["ok"] is True and report["target"].startswith("jcardsim")
    assert [step["name"] for step in report["steps"]] == list(STEP_NAMES)
    assert json.loads((work / "report.json").read_text()) == report


@pytest.mark.pcsc
def test_the_steps_the_applets_support_ran_and_passed(story):
    report, work = story
    steps = {step["name"]: step for step in report["steps"]}
    for name in RAN:
        assert steps[name]["ok"] is True and "skipped" not in steps[name], steps[name]
    for name in ("bootstrap", "register", "download", "change_unauthorized_refused", "replay_refused"):
        assert Path(steps[name]["script"]).is_file()
    assert "EF.ICCID written" in steps["bootstrap"]["detail"] and "no ISD keys" in steps["bootstrap"]["detail"]
    assert "PoR CC verified" in steps["register"]["detail"]
    registration = Registry(work / "registrations.sqlite").lookup(DEMO_ICCID)
    assert registration is not None and registration.sho == "SHO-A"
    assert "every PoR verified" in steps["download"]["detail"]
    assert "RES/CK/IK/Kc, AUTS" in steps["validate"]["detail"] and "6D00" in steps["validate"]["detail"]
    refused = steps["change_unauthorized_refused"]["detail"]
    assert ("PoR 01, 0A, 02" in refused or "PoR 05, 0A, 02" in refused) and "files unchanged" in refused
    assert "PoR 02 (counter low)" in steps["replay_refused"]["detail"]


@pytest.mark.pcsc
def test_the_steps_the_applets_cannot_do_say_why(story):
    report, _ = story
    steps = {step["name"]: step for step in report["steps"]}
    for name in SKIPPED_STEPS:
        assert steps[name]["skipped"] is True and steps[name]["ok"] is False
        assert steps[name]["detail"] == SKIPPED[name] and steps[name]["detail"].startswith("skipped: ")
    assert "PUT KEY" in steps["change_authorized"]["detail"] and "DELETE" in steps["change_authorized"]["detail"]
    assert "KIK" in steps["upgrade_keys"]["detail"]
    assert "3DES" in steps["upgrade_algorithm"]["detail"]


@pytest.mark.pcsc
def test_the_download_travels_one_sms_per_packet(story):
    """The bootstrap applet refuses concatenated SMS: every `.ota` block of the download fits one."""
    _, work = story
    script = (work / "scripts" / "03-download.apdu").read_text()
    assert script.count(".ota begin") == script.count(".ota end") >= 2
    assert "80 E2 A8 01" in script  # K/OPc: the MCIM's last STORE DATA block, enciphered DGI (P1 A8), block 01


def test_without_pcscd_the_demo_exits_3_and_names_it(applet_build, tmp_path):
    env = dict(os.environ, PCSCLITE_CSOCK_NAME=str(tmp_path / "no-pcscd.comm"))
    result = mcim("--target", "jcardsim", "--work", str(tmp_path / "work"), env=env)
    assert result.returncode == 3, result.stderr
    assert "pcscd" in result.stderr and "vsmartcard-vpcd" in result.stderr


@pytest.mark.parametrize("spec, message", [("jcardsim:port=x", "port=N"), ("jcardsim:speed=9", "port=..."),
                                           ("elsewhere", "unknown target")])
def test_bad_targets(spec, message):
    result = mcim("--target", spec)
    assert result.returncode == 2 and message in result.stderr


# ------------------------------------------------------------------------------ the pieces


def test_a_skipped_step_does_not_fail_the_run_but_a_failed_one_does():
    ran = [StepOutcome(name, True, "", 0.0) for name in STEP_NAMES]
    with_skips = [StepOutcome(s.name, False, "why", 0.0, skipped=True) if s.name in SKIPPED_STEPS else s
                  for s in ran]
    assert DemoReport("t", "w", with_skips).ok
    assert [s.get("skipped") for s in DemoReport("t", "w", with_skips).to_json()["steps"]] == \
        [True if name in SKIPPED_STEPS else None for name in STEP_NAMES]
    assert not DemoReport("t", "w", [*with_skips[:-1], StepOutcome(STEP_NAMES[-1], False, "", 0.0)]).ok
    assert not DemoReport("t", "w", [StepOutcome(n, False, "why", 0.0, skipped=True) for n in STEP_NAMES]).ok
    assert not DemoReport("t", "w", with_skips[:-1]).ok


def session() -> OtaSession:
    keys = StaticKeys(1, bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 48)))
    return OtaSession(keys, "keys.keys")


def sms_count(commands: list[CommandApdu]) -> int:
    wrapper = OtaWrapper(session().context("B00011"), FixedCounter(0), SmsOptions(Address.from_digits("0000", 0x81)))
    return len(wrapper.wrap([c.to_bytes() for c in commands]).envelopes)


def test_packets_fit_one_sms_and_keep_units_whole_and_in_order():
    units = [[select_fid(0x6F00 + n), CommandApdu(0x00, 0xD6, 0, 0, bytes([n]) * (5 + 7 * n))] for n in range(8)]
    packets = one_sms_packets(session(), "B00011", units)
    assert sms_count([c for unit in units for c in unit]) > 1 < len(packets)  # one packet would not do
    assert [c for packet in packets for c in packet] == [c for unit in units for c in unit]
    assert all(sms_count(packet) == 1 for packet in packets)
    assert all(packet[i].ins == 0xA4 for packet in packets for i in range(0, len(packet), 2))  # units whole


def test_a_unit_larger_than_one_sms_is_refused():
    with pytest.raises(UnsupportedError, match="fit one SMS"):
        one_sms_packets(session(), "B00011", [[CommandApdu(0x00, 0xD6, 0, 0, bytes(200))]])


def test_the_minimum_security_level_must_be_a_minimum_spi1():
    profile = McimProfile.load()
    assert minimum_spi1(profile) == 0x16  # applet-spec/profiles/mcim.yaml usim.msl "0116"
    with pytest.raises(UnsupportedError, match="minimum SPI1"):
        minimum_spi1(replace(profile, msl=bytes.fromhex("0216")))
