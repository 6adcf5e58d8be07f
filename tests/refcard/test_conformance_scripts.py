"""The conformance suites in apdu/conformance, run on the reference UICC through the script runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcim.refcard import open_transport
from mcim.runner import Status, run_script
from mcim.script.loader import load_script

SUITES = sorted((Path(__file__).resolve().parents[2] / "apdu" / "conformance").glob("*.apdu"))


def test_suites_exist():
    assert len(SUITES) >= 5


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.name)
def test_suite_passes_on_the_reference_uicc(path):
    result = run_script(load_script(str(path)), open_transport())
    failures = [f"{o.where}: {o.message or ''} expected {o.expected} got {o.got}" for o in result.outcomes
                if o.status in (Status.FAILED, Status.ERROR)]
    assert result.passed, failures
