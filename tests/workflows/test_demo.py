"""`mcim demo` in-process (issue 7 acceptance): the JSON report, the scripts it writes (which replay on a fresh
card), secrets only in its key files, the human output, and exit 1 when a step fails."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from mcim.keystore import read_key_file
from mcim.refcard import open_card
from mcim.runner import run_script
from mcim.script.loader import load_script
from mcim.transport.inprocess import InProcessTransport

MCIM = [sys.executable, "-m", "mcim.cli"]
STEPS = ["bootstrap", "register", "download", "validate", "change_authorized", "change_unauthorized_refused",
         "replay_refused", "upgrade_keys", "upgrade_algorithm"]  # issue 7: at least these, in this order


def demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MCIM, "demo", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """One `mcim demo --json` run: its JSON document and its work directory."""
    base = tmp_path_factory.mktemp("demo")
    done = demo("--json", "--work", str(base / "work"), cwd=base)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    return json.loads(done.stdout), base / "work"


def test_json_report_has_every_step_in_order_and_all_pass(ran):
    report, work = ran
    assert report["ok"] is True and "refcard" in report["target"]
    assert [s["name"] for s in report["steps"]] == STEPS
    for step in report["steps"]:
        assert step["ok"] is True, step
        assert isinstance(step["detail"], str) and step["detail"], step
        assert isinstance(step["seconds"], float | int) and step["seconds"] >= 0, step
    assert json.loads((work / "report.json").read_text()) == report


def test_the_work_directory_holds_the_scripts_of_the_steps(ran):
    report, work = ran
    scripts = [Path(s["script"]) for s in report["steps"] if "script" in s]
    assert len(scripts) == len(STEPS) - 1  # validation reads the card: no script
    assert sorted(scripts) == sorted((work / "scripts").glob("*.apdu"))
    for path in scripts:
        load_script(str(path))  # each parses and passes the static checks


def test_the_scripts_replay_on_a_fresh_factory_card(ran):
    """The written scripts are the demo: run in order on a fresh card, every one passes again (the refusals
    included, and with counters from the same store, so only going up)."""
    _, work = ran
    card = open_card("factory")
    transport = InProcessTransport(card)
    for path in sorted((work / "scripts").glob("*.apdu")):
        result = run_script(load_script(str(path)), transport)
        failed = [o for o in result.outcomes if o.status.value != "passed"]
        assert result.passed, f"{path.name}: {result.error or failed}"


def test_keys_are_only_in_the_key_files(ran):
    """No key of any of the demo's key files (masters.keys and every key set it made) in report.json or a script;
    the key files are readable by their owner only."""
    _, work = ran
    key_files = sorted((work / "keys").glob("*.keys"))
    assert work / "keys" / "masters.keys" in key_files
    keys = {f"{path.name}:{name}": value for path in key_files for name, value in read_key_file(path).items()}
    assert {"masters.keys:isd_master", "masters.keys:dpf_master", "masters.keys:ro_k_master"} <= set(keys)
    written = [work / "report.json", *(work / "scripts").glob("*.apdu")]
    text = "".join("".join(path.read_text().split()).lower() for path in written)
    assert [name for name, value in keys.items() if value.hex() in text] == []
    assert [p.name for p in key_files if stat.S_IMODE(p.stat().st_mode) != 0o600] == []


def test_human_output_lists_every_step(tmp_path):
    done = demo("--work", str(tmp_path / "work"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name in STEPS:
        assert any(line.startswith("ok") and f" {name} " in line for line in lines), (name, done.stdout)
    assert "all steps passed" in done.stdout


def test_a_relative_work_directory(tmp_path):
    """`--work DIR` relative to the current directory, as people type it."""
    done = demo("--json", "--work", "work", cwd=tmp_path)
    report = json.loads(done.stdout)
    assert (done.returncode, report["ok"]) == (0, True), [(s["name"], s["detail"]) for s in report["steps"]]


def test_a_failing_step_stops_the_demo_with_exit_1(tmp_path):
    """On the default profile the PCID USIM is already personalised, so the factory bootstrap cannot pass."""
    done = demo("--json", "--profile", "default", "--work", str(tmp_path / "work"), cwd=tmp_path)
    report = json.loads(done.stdout)
    assert (done.returncode, report["ok"]) == (1, False)
    names = [s["name"] for s in report["steps"]]
    assert names == STEPS[:len(names)] and len(names) < len(STEPS)
    assert [s["ok"] for s in report["steps"]] == [True] * (len(names) - 1) + [False]
    assert json.loads((tmp_path / "work" / "report.json").read_text())["ok"] is False
    failed = report["steps"][-1]
    assert "script" not in failed or Path(failed["script"]).is_file()  # the failing script is kept to look at
