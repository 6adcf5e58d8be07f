"""`mcim card serve` through real pcscd + vsmartcard-vpcd + pyscard (no mocks; the suites run through it in
test_suites.py), and killing the server at any moment never leaves an unreadable or inconsistent state file."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcim.errors import TransportError
from mcim.refcard import RefCard
from mcim.transport.pcsc import PcscTransport

from tests.pcsc_harness import wait_for_card

pytestmark = pytest.mark.pcsc
MCIM = [sys.executable, "-m", "mcim.cli"]
SLOT = 1
ADM1 = "3838383838383838"  # TEST VALUE of the default profile


def start_server(pcscd, state: Path | None = None) -> subprocess.Popen:
    args = [*MCIM, "card", "serve", "--vpcd", f"127.0.0.1:{pcscd.slot_port(SLOT)}"]
    if state is not None:
        args += ["--state", str(state)]
    server = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_card(pcscd.reader(SLOT), present=True)
    except TransportError:
        server.kill()
        raise AssertionError(f"mcim card serve did not come up: {server.communicate()[1].decode()}") from None
    return server


def stop_server(pcscd, server: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    server.send_signal(sig)
    code = server.wait(10)
    wait_for_card(pcscd.reader(SLOT), present=False)
    return code


def test_killed_server_leaves_a_consistent_state_file(pcscd, tmp_path):
    """SIGKILL the server while a writer updates EF.PL (2F05) with a counter; after each kill the state file must
    load, and EF.PL must hold a value the writer sent (the last acknowledged one or the one in flight)."""
    state = tmp_path / "card.json"
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    written = 0
    for _round in range(4):
        server = start_server(pcscd, state)
        card = PcscTransport(pcscd.reader(SLOT), timeout=5.0)
        acknowledged = written
        deadline = time.monotonic() + rng.uniform(0.05, 0.6)
        try:
            assert card.transmit(bytes.fromhex(f"0020000A08{ADM1}"))[-2:] == b"\x90\x00"
            assert card.transmit(bytes.fromhex("00A4000C022F05"))[-2:] == b"\x90\x00"
            while time.monotonic() < deadline:
                written += 1
                answer = card.transmit(bytes.fromhex("00D6000004") + written.to_bytes(4, "big"))
                assert answer[-2:] == b"\x90\x00"
                acknowledged = written
            written += 1
            server.send_signal(signal.SIGKILL)  # mid-command or between commands: either way it must hold
            try:
                card.transmit(bytes.fromhex("00D6000004") + written.to_bytes(4, "big"))
            except TransportError:
                pass
        finally:
            card.close()
            server.kill()
            server.wait(10)
            wait_for_card(pcscd.reader(SLOT), present=False)
        restored = RefCard.load(state)  # raises on a torn or corrupt file
        value = int.from_bytes(_ef_pl(restored), "big")
        assert value in (acknowledged, written), (value, acknowledged, written)
        written = value


def _ef_pl(card: RefCard) -> bytes:
    response = card.process(bytes.fromhex("00A4000C022F05"))
    assert response[-2:] == b"\x90\x00"
    response = card.process(bytes.fromhex("00B0000004"))
    assert response[-2:] == b"\x90\x00"
    return response[:-2]
