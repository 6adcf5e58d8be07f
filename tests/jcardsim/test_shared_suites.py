"""Every suite in apdu/suites on the reference UICC and on jCardSim (real pcscd + vpcd): the expectations hold on
both, and the differential report shows no difference the suite does not declare."""

from __future__ import annotations

import pytest
from mcim.diff import report_lines, run_diff
from mcim.script.loader import check_file
from mcim.targets import open_target

from tests.conftest import REPO
from tests.pcsc_harness import wait_for_card

from .conftest import SLOT

pytestmark = pytest.mark.pcsc

SUITES = sorted((REPO / "apdu" / "suites").glob("*.apdu"))


def test_there_are_shared_suites():
    assert {path.name for path in SUITES} >= {"mcim_validation.apdu", "ota_refusal.apdu"}


@pytest.mark.parametrize("suite", SUITES, ids=lambda path: path.stem)
def test_refcard_and_jcardsim_agree(pcscd, applet_build, suite):
    wait_for_card(pcscd.reader(SLOT), present=False)
    jcardsim = f"jcardsim:port={pcscd.slot_port(SLOT)}"
    loaded, _ = check_file(str(suite))
    report = run_diff(loaded, [("refcard", lambda: open_target("refcard")),
                               (jcardsim, lambda: open_target(jcardsim, pcscd.reader(SLOT), timeout=5.0))])
    assert report.passed, "\n".join(report_lines(report))
    assert report.undeclared == () and all(run.result.passed for run in report.runs)
    assert report.compared == sum(1 for o in report.runs[0].result.outcomes if o.kind == "command")
