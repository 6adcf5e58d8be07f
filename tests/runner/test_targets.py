"""open_target: one vocabulary for --reader / --target."""

import sys
import types

import pytest
from mcim.errors import BadInput
from mcim.targets import open_target
from mcim.transport.replay import ReplayTransport


def test_replay_target(tmp_path):
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"atr": "3b00"}\n')
    assert isinstance(open_target(f"replay:{trace}"), ReplayTransport)


@pytest.mark.parametrize("spec, reader, message", [
    ("replay:", None, "replay needs a trace file"),
    ("replay:/nonexistent/t.jsonl", None, "cannot read trace"),
    ("jcardsim9", None, "unknown target 'jcardsim9'"),
    ("replay:x", "0", "give --reader or --target, not both"),
])
def test_bad_targets(spec, reader, message):
    with pytest.raises(BadInput, match=message):
        open_target(spec, reader)


def test_refcard_hook(monkeypatch):
    monkeypatch.setitem(sys.modules, "mcim.refcard", types.ModuleType("mcim.refcard"))
    with pytest.raises(BadInput, match="reference UICC target is not available yet"):
        open_target(None)
    module = types.ModuleType("mcim.refcard")
    module.open_transport = lambda profile: ("refcard", profile)
    monkeypatch.setitem(sys.modules, "mcim.refcard", module)
    assert open_target("refcard:usim-2b") == ("refcard", "usim-2b")
    assert open_target(None) == ("refcard", None)


def test_reader_index_or_name_goes_to_pcsc(monkeypatch):
    module = types.ModuleType("mcim.transport.pcsc")
    module.PcscTransport = lambda reader, **opts: ("pcsc", reader, opts)
    monkeypatch.setitem(sys.modules, "mcim.transport.pcsc", module)
    assert open_target(None, "1", timeout=2.0) == ("pcsc", 1, {"timeout": 2.0})
    assert open_target(None, "Virtual PCD 00 00") == ("pcsc", "Virtual PCD 00 00", {})
