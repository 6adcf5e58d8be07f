"""The harness's own contract: without pcscd/vpcd the PC/SC tests skip on a developer machine, fail under CI."""

import pytest

import tests.pcsc_harness as harness


def test_missing_vpcd_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(harness, "VPCD_DRIVER", tmp_path / "libifdvpcd.so")
    assert "vsmartcard-vpcd" in harness.missing_prerequisites()


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("1", pytest.fail.Exception),
                                             ("", pytest.skip.Exception), ("false", pytest.skip.Exception)])
def test_unavailable_fails_under_ci_and_skips_otherwise(monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="no pcscd here"):
        harness.unavailable("no pcscd here")
