"""Every `.apdu` suite of the reference UICC passes, in process and through pcscd + vsmartcard-vpcd
(`mcim card serve`): the conformance suites (file system, PINs, USIM, AUTHENTICATE, negative cases) and the
security suites (GlobalPlatform secure channel, life cycle, content management; OTA RAM/RFM and refusals)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from mcim.runner import Status, run_script
from mcim.script import load_script
from mcim.targets import open_target

from .test_serve_pcsc import MCIM, SLOT, start_server, stop_server

APDU = Path(__file__).resolve().parents[2] / "apdu"
SUITES = sorted([*APDU.glob("conformance/*.apdu"), *APDU.glob("security/*.apdu")])


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_the_suites_are_all_there():
    names = {_name(p) for p in SUITES}
    assert len([n for n in names if n.startswith("conformance/")]) >= 5
    assert {"security/gp_secure_channel.apdu", "security/gp_life_cycle.apdu", "security/gp_content.apdu",
            "security/ota_ram_rfm.apdu", "security/ota_refusals.apdu"} <= names


@pytest.mark.parametrize("suite", SUITES, ids=_name)
def test_suite_passes_in_process(suite):
    transport = open_target(None)
    try:
        result = run_script(load_script(str(suite)), transport)
    finally:
        transport.close()
    failures = [f"{o.where}: {o.message}" for o in result.outcomes if o.status in (Status.FAILED, Status.ERROR)]
    assert result.passed, failures or result.error


@pytest.mark.pcsc
@pytest.mark.parametrize("suite", SUITES, ids=_name)
def test_suite_passes_over_pcsc(pcscd, suite):
    server = start_server(pcscd)
    try:
        run = subprocess.run([*MCIM, "run", str(suite), "--reader", pcscd.reader(SLOT), "--json"],
                             capture_output=True, text=True, timeout=120)
    finally:
        assert stop_server(pcscd, server) == 0  # SIGTERM is a clean shutdown
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert json.loads(run.stdout)["passed"] is True
