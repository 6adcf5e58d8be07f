"""`mcim demo --reader` against `mcim card serve --profile factory` through real pcscd + vsmartcard-vpcd + pyscard
(issue 7 acceptance; the private pcscd of tests/pcsc_harness.py, nothing mocked)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from mcim.errors import TransportError
from mcim.refcard import RefCard

from tests.pcsc_harness import wait_for_card

pytestmark = pytest.mark.pcsc
MCIM = [sys.executable, "-m", "mcim.cli"]
SLOT = 1  # slot 0 holds the session's EchoCard
STEPS = ["bootstrap", "register", "download", "validate", "change_authorized", "change_unauthorized_refused",
         "replay_refused", "upgrade_keys", "upgrade_algorithm"]


@pytest.fixture
def served_factory_card(pcscd, tmp_path):
    """The factory reference UICC served into the slot by `mcim card serve`; its state file after the test."""
    state = tmp_path / "card.json"
    server = subprocess.Popen([*MCIM, "card", "serve", "--profile", "factory", "--state", str(state),
                               "--vpcd", f"127.0.0.1:{pcscd.slot_port(SLOT)}"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_card(pcscd.reader(SLOT), present=True)
    except TransportError:
        server.kill()
        raise AssertionError(f"mcim card serve did not come up: {server.communicate()[1].decode()}") from None
    try:
        yield pcscd.reader(SLOT), state
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(10) == 0  # SIGTERM is a clean shutdown
        wait_for_card(pcscd.reader(SLOT), present=False)


def test_demo_over_pcsc_passes_every_step(served_factory_card, tmp_path):
    reader, state = served_factory_card
    done = subprocess.run([*MCIM, "demo", "--reader", reader, "--json", "--work", str(tmp_path / "work")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["target"] == f"pcsc:{reader}"
    assert [(s["name"], s["ok"]) for s in report["steps"]] == [(name, True) for name in STEPS], report["steps"]
    card = RefCard.load(state)  # what the served card kept: SHO B's MCIM in place of SHO A's
    assert card.find_adf(bytes.fromhex("A0000000871002FFFFFFFF8907090002")) is not None
    assert card.find_adf(bytes.fromhex("A0000000871002FFFFFFFF8907090001")) is None
