"""The example script on the reference UICC, the default target (in process)."""

from pathlib import Path

from mcim.runner import run_script
from mcim.script import load_script
from mcim.targets import open_target

EXAMPLE = Path(__file__).resolve().parents[2] / "apdu" / "examples" / "select_usim.apdu"


def test_example_passes_on_the_reference_uicc():
    transport = open_target(None)
    try:
        result = run_script(load_script(str(EXAMPLE)), transport)
    finally:
        transport.close()
    assert result.passed, [o.message for o in result.outcomes if o.message]
    captures = dict(c for o in result.outcomes for c in o.captures)
    assert captures["USIM_AID"].startswith("a0000000871002")
