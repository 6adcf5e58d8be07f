"""The GlobalPlatform security suites (apdu/security/gp_*.apdu) pass on the reference UICC, in process and through
pcscd + vsmartcard-vpcd (`mcim card serve`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from mcim.runner import run_script
from mcim.script import load_script
from mcim.targets import open_target

from .test_serve_pcsc import MCIM, SLOT, start_server, stop_server

SUITES = sorted((Path(__file__).resolve().parents[2] / "apdu" / "security").glob("gp_*.apdu"))


@pytest.mark.parametrize("suite", SUITES, ids=lambda p: p.name)
def test_security_suite_passes_on_the_reference_uicc(suite):
    transport = open_target(None)
    try:
        result = run_script(load_script(str(suite)), transport)
    finally:
        transport.close()
    assert result.passed, [o.message for o in result.outcomes if o.message]


@pytest.mark.pcsc
@pytest.mark.parametrize("suite", SUITES, ids=lambda p: p.name)
def test_security_suite_over_pcsc(pcscd, suite):
    """The same suites through `mcim card serve` on a vsmartcard-vpcd reader behind a real pcscd."""
    server = start_server(pcscd)
    try:
        run = subprocess.run([*MCIM, "run", str(suite), "--reader", pcscd.reader(SLOT), "--json"],
                             capture_output=True, text=True, timeout=120)
    finally:
        assert stop_server(pcscd, server) == 0
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert json.loads(run.stdout)["passed"] is True
