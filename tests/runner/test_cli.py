"""`mcim script check|convert` and `mcim run` as a user runs them (subprocess): output and exit codes
0 success, 1 an expectation failed, 2 bad input, 3 card unreachable."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

MCIM = str(Path(sys.executable).parent / "mcim")
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = str(REPO / "apdu" / "examples" / "select_usim.apdu")
TRACE = str(Path(__file__).parent / "data" / "select_usim.trace.jsonl")
PCOM = str(REPO / "tests" / "script" / "data" / "perso.pcom")


def mcim(*args, cwd=None):
    done = subprocess.run([MCIM, *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_check_ok_and_json():
    assert mcim("script", "check", EXAMPLE).returncode == 0
    report = json.loads(mcim("script", "check", EXAMPLE, "--json").stdout)
    assert report["ok"] is True and report["commands"] == 6 and report["steps"] == 4


def test_check_lists_every_error_and_exits_2(tmp_path):
    bad = tmp_path / "bad.apdu"
    bad.write_text("00 A4 0G\nstep\n.nosuch\ncapture X = data\n")
    done = mcim("script", "check", str(bad))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    # the list of known directives grows as modules register theirs: check its start and the built-ins
    assert lines[2].startswith(f"{bad}:3:1: unknown directive .nosuch (expected one of ")
    assert all(name in lines[2] for name in (".echo", ".expect", ".note", ".reset"))
    assert lines[:2] + lines[3:] == [
        f"{bad}:1:8: 'G' is not a hex digit (expected hex digits 0-9 A-F or ${{NAME}})",
        f"{bad}:2:5: expected a title (expected step TITLE)",
        f"{bad}:4:1: capture X does not follow a command (expected capture right after the command whose "
        "response it takes (comments and other captures may come between))",
        f"{bad}: 4 error(s)",
    ]
    report = json.loads(mcim("script", "check", str(bad), "--json").stdout)
    assert [e["where"] for e in report["errors"]] == [f"{bad}:{n}" for n in ("1:8", "2:5", "3:1", "4:1")]


def test_check_reports_directive_errors_once_the_syntax_is_right(tmp_path):
    bad = tmp_path / "bad.apdu"
    bad.write_text("00 B0 00 00 01\n.nosuch\n.reset now\n")
    done = mcim("script", "check", str(bad))
    assert done.returncode == 2
    assert done.stderr.splitlines()[0].startswith(f"{bad}:2:1: unknown directive .nosuch (expected one of ")
    assert done.stderr.splitlines()[1] == f"{bad}:3:1: .reset takes 0 arguments, got 1 (expected .reset)"


def test_convert_to_stdout_and_atomically_to_a_file(tmp_path):
    plain = tmp_path / "plain.apdu"
    plain.write_text("00 A4 00 04 02 3F00 [00] => 9000\n")
    done = mcim("script", "convert", str(plain), "--to", "apdutool")
    assert done.returncode == 0 and done.stdout.startswith("powerup;\n")
    assert "note: apdutool checks no responses" in done.stderr
    out = tmp_path / "perso.apdu"
    assert mcim("script", "convert", PCOM, "--to", "apdu", "-o", str(out)).returncode == 0
    assert "set ICCID = 98100000000000000010" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["perso.apdu", "plain.apdu"]


def test_convert_lists_unsupported_constructs_and_exits_2(tmp_path):
    done = mcim("script", "convert", EXAMPLE, "--to", "pysim", "-o", str(tmp_path / "x.pysim"))
    assert done.returncode == 2 and not (tmp_path / "x.pysim").exists()
    assert f"{EXAMPLE}:16:1: pySim-shell scripts cannot capture response bytes" in done.stderr
    assert f"{EXAMPLE}:21:1: pySim-shell scripts cannot capture response bytes" in done.stderr


def test_convert_from_gpshell_by_option(tmp_path):
    source = tmp_path / "cplc.txt"
    source.write_text("establish_context\ncard_connect\nsend_apdu -sc 0 -APDU 80CA9F7F00\n")
    done = mcim("script", "convert", str(source), "--from", "gpshell", "--to", "apdu")
    assert done.returncode == 0
    assert done.stdout == "# gpshell: establish_context\n# gpshell: card_connect\n80 CA 9F 7F [00] => 9000\n"


def test_run_replay_with_reports_and_record(tmp_path):
    junit, record = tmp_path / "junit.xml", tmp_path / "trace.jsonl"
    done = mcim("run", EXAMPLE, "--target", f"replay:{TRACE}", "--report", str(junit), "--record", str(record))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED: 4 of 4 step(s) passed, 6 command(s), 7 exchange(s)" in done.stdout
    assert ET.parse(junit).getroot().get("tests") == "4"
    recorded = [json.loads(line) for line in record.read_text().splitlines()]
    original = [json.loads(line) for line in Path(TRACE).read_text().splitlines()]
    assert [(r["command"], r["response"]) for r in recorded] == [(o["command"], o["response"]) for o in original]


def test_run_json(tmp_path):
    done = mcim("run", EXAMPLE, "--target", f"replay:{TRACE}", "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["passed"] and report["counts"]["exchanges"] == 7


def test_run_failed_expectation_exits_1(tmp_path):
    script = tmp_path / "wrong.apdu"
    script.write_text("00 A4 00 04 02 3F00 [00] => 6A82\n")
    done = mcim("run", str(script), "--target", f"replay:{TRACE}")
    assert done.returncode == 1 and "status word 9000" in done.stdout


def test_run_stopping_before_the_end_of_a_replay_exits_1(tmp_path):
    script = tmp_path / "short.apdu"
    script.write_text("00 A4 00 04 02 3F00 [00] => 9000\n")
    done = mcim("run", str(script), "--target", f"replay:{TRACE}")
    assert done.returncode == 1 and "the host stopped after 2 exchange(s)" in done.stderr


@pytest.mark.parametrize("args, message", [
    (["--target", "nowhere"], "unknown target 'nowhere'"),
    (["--target", "replay:/nonexistent.jsonl"], "cannot read trace"),
    (["--var", "1X=00"], "'1X' is not NAME=VALUE"),
    (["--var", "X=0G"], "--var X: 'G' at position 1 is not a hex digit"),
    (["--report", "r.txt"], "unknown report format"),
])
def test_run_bad_input_exits_2(args, message):
    done = mcim("run", EXAMPLE, *args)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.splitlines()) == 1


def test_run_unreachable_card_exits_3(tmp_path):
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"command": "00a40004023f0000", "response": "****"}\n')
    done = mcim("run", EXAMPLE, "--target", f"replay:{trace}")
    assert done.returncode == 3 and "the recorded response was redacted" in done.stderr
