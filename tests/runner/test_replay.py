"""Replay transport: recorded traces played back; divergence fails loudly with the exchange and both values."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcim.errors import BadInput, McimError, TransportError
from mcim.runner import run_script, trace_lines
from mcim.script import load_script, parse_script, resolve_includes
from mcim.transport.replay import ReplayDivergence, ReplayTransport, parse_trace

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "apdu" / "examples" / "select_usim.apdu"
TRACE = Path(__file__).parent / "data" / "select_usim.trace.jsonl"


def replay(text, source="t.jsonl"):
    return ReplayTransport(parse_trace(text, source), source)


def test_example_script_replays_from_its_trace():
    transport = ReplayTransport.from_file(str(TRACE))
    result = run_script(load_script(str(EXAMPLE)), transport)
    assert result.passed, result
    transport.verify_complete()
    captures = dict(c for o in result.outcomes for c in o.captures)
    assert captures == {"ICCID": "98100000000000000010", "USIM_AID": "a0000000871002ffffffff8907090000"}


def test_divergence_names_the_exchange_and_both_values():
    transport = replay('{"command": "00b0000001", "response": "019000"}\n'
                       '{"command": "00b0000002", "response": "01029000"}\n')
    assert transport.transmit(bytes.fromhex("00b0000001")) == bytes.fromhex("019000")
    with pytest.raises(ReplayDivergence) as err:
        transport.transmit(bytes.fromhex("00b0000003"))
    assert err.value.where == "t.jsonl:2" and err.value.exit_code == 1
    assert "exchange 2: the host sent 00b0000003, the recording has 00b0000002" in str(err.value)


def test_running_past_the_end_and_stopping_early_diverge():
    transport = replay('{"command": "00b0000001", "response": "9000"}\n{"atr": "3b00"}\n')
    with pytest.raises(ReplayDivergence, match="the recording has 00b0000001"):
        transport.reset()
    transport = replay('{"command": "00b0000001", "response": "9000"}\n{"atr": "3b00"}\n')
    transport.transmit(bytes.fromhex("00b0000001"))
    with pytest.raises(ReplayDivergence, match="the recording has a reset"):
        transport.transmit(bytes.fromhex("00b0000001"))
    transport = replay('{"atr": "3b00"}\n{"command": "00b0000001", "response": "9000"}\n')
    assert transport.reset() == b"\x3b\x00"
    with pytest.raises(ReplayDivergence, match="the host stopped after 1 exchange"):
        transport.verify_complete()
    transport.transmit(bytes.fromhex("00b0000001"))
    with pytest.raises(ReplayDivergence, match="ends after 2 exchange"):
        transport.transmit(bytes.fromhex("00b0000001"))


def test_redacted_bytes_match_any_but_redacted_responses_cannot_be_replayed():
    transport = replay('{"command": "002000010431****34", "response": "9000"}\n'
                       '{"command": "00b0000004", "response": "****9000"}\n')
    assert transport.transmit(bytes.fromhex("0020000104313233" + "34")) == b"\x90\x00"
    with pytest.raises(TransportError, match="redacted") as err:
        transport.transmit(bytes.fromhex("00b0000004"))
    assert err.value.exit_code == 3


def test_a_recorded_run_replays(tmp_path):
    class Card:
        def transmit(self, command):
            return {"00a40004023f0000": bytes.fromhex("6102"), "00c0000002": bytes.fromhex("62009000")}[command.hex()]

        def reset(self):
            return b"\x3b\x00"

        def close(self):
            pass

    script = resolve_includes(parse_script(".reset\n00 A4 00 04 02 3F00 [00] => 9000 data 62 00\n", "r.apdu"))
    recorded = run_script(script, Card())
    path = tmp_path / "r.jsonl"
    path.write_text(trace_lines(recorded.trace))
    replayed = run_script(script, ReplayTransport.from_file(str(path)))
    assert recorded.passed and replayed.passed
    assert [e.command for e in replayed.trace] == [None, "00a40004023f0000", "00c0000002"]


def test_a_diverging_replay_fails_the_run_with_exit_1():
    script = resolve_includes(parse_script("00 B0 00 00 02 => 9000\n", "r.apdu"))
    result = run_script(script, replay('{"command": "00b0000001", "response": "9000"}\n'))
    assert result.exit_code == 1 and "the host sent 00b0000002" in result.outcomes[0].message


@pytest.mark.parametrize("line, message", [
    ("{not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"command": "00b0"}', "needs 'command' and 'response'"),
    ('{"command": "00b*", "response": "9000"}', "'command' is not hex"),
    ('{"command": "00b0", "response": "9z00"}', "not a hex digit"),
    ('{"atr": 5}', "'atr' is not a hex string"),
])
def test_malformed_traces(line, message):
    with pytest.raises(BadInput, match=message) as err:
        parse_trace('{"atr": "3b"}\n' + line + "\n", "bad.jsonl")
    assert err.value.where.startswith("bad.jsonl:2")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=100))
def test_trace_parser_raises_only_mcim_errors(text):
    try:
        parse_trace(text, "fuzz.jsonl")
    except McimError:
        pass
